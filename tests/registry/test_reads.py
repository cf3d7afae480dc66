"""Reading the registry: as_of, history, lineage, watch, hooks and who acted."""

from __future__ import annotations

import getpass
import http.server
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import pinyard
from pinyard.models import ModelBundle
from pinyard.registry import CommandHook, Event, HttpHook, Registry
from pinyard.registry._reads import HISTORY_COLUMNS
from pinyard.tracking import _context
from pinyard.tracking._context import data_fingerprint
from tests.registry.conftest import regression_data

WAIT = 10.0  # seconds a test waits for a background thread before it fails


def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {WAIT} s waiting for {what}")
        time.sleep(0.01)


def between(earlier: Event, later: Event) -> datetime:
    return earlier.at + (later.at - earlier.at) / 2


# -- as_of -------------------------------------------------------------------------------


def test_what_held_production_at_a_time_between_events(
    registry: Registry, versions: list[str]
) -> None:
    v0, v1, v2 = versions[:3]
    events = [
        registry.transition("m", v0, "staging"),
        registry.transition("m", v0, "production"),
        registry.transition("m", v1, "staging"),
        registry.transition("m", v1, "production"),
        registry.rollback("m", "production"),
        registry.transition("m", v2, "staging"),
    ]
    asked = [
        (between(events[1], events[2]), v0),
        (between(events[2], events[3]), v0),
        (between(events[3], events[4]), v1),
        (between(events[4], events[5]), v0),
        (events[5].at + timedelta(hours=1), v0),
    ]
    for moment, holder in asked:
        assert registry.resolve("m@production", as_of=moment).version == holder
    assert registry.resolve("m@production", as_of=events[3].at).version == v1  # at an event
    with pytest.raises(pinyard.errors.AliasNotFoundError, match="holds 'production' at"):
        registry.resolve("m@production", as_of=between(events[0], events[1]))
    assert registry.resolve("m@staging", as_of=between(events[0], events[1])).version == v0


def test_as_of_takes_iso_text_and_local_times(registry: Registry, versions: list[str]) -> None:
    first = registry.set_alias("m", "champion", versions[0])
    second = registry.set_alias("m", "champion", versions[1])
    moment = between(first, second)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert registry.resolve("m@champion", as_of=text).version == versions[0]
    naive_local = moment.astimezone().replace(tzinfo=None)  # a naive time is local time
    assert registry.resolve("m@champion", as_of=naive_local).version == versions[0]
    assert registry.read("m@champion", as_of=moment) == {"v": 0}
    assert registry.read("m@champion") == {"v": 1}


# -- history -------------------------------------------------------------------------------


def test_history_as_objects_and_as_a_frame(registry: Registry, versions: list[str]) -> None:
    registry.set_alias("m", "champion", versions[0], reason="first")
    registry.transition("m", versions[1], "production", force=True, reason="hotfix")
    registry.remove_alias("m", "champion", reason="gone")
    events = registry.history("m")
    assert isinstance(events, list)
    assert [(e.seq, e.op) for e in events] == [
        (1, "set_alias"), (2, "transition"), (3, "remove_alias"),
    ]  # fmt: skip
    assert all(isinstance(e, Event) for e in events)
    assert [e.at for e in events] == sorted(e.at for e in events)
    frame = registry.history("m", as_df=True)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == HISTORY_COLUMNS
    assert frame["seq"].tolist() == [1, 2, 3]
    assert frame["op"].tolist() == ["set_alias", "transition", "remove_alias"]
    assert frame["version"].tolist()[:2] == [versions[0], versions[1]]
    assert frame["version"].isna().tolist() == [False, False, True]
    assert frame["slot"].tolist() == ["champion", "production", "champion"]
    assert frame["kind"].tolist() == ["alias", "stage", "alias"]
    assert frame["forced"].tolist() == [False, True, False]
    assert frame["reason"].tolist() == ["first", "hotfix", "gone"]
    assert frame["actor"].tolist() == ["ana"] * 3
    assert isinstance(frame["time"].dtype, pd.DatetimeTZDtype)
    assert str(frame["time"].dt.tz) == "UTC"
    assert frame["time"].tolist() == [pd.Timestamp(e.at) for e in events]
    assert frame["id"].tolist() == [e.id for e in events]


def test_history_of_a_pin_nothing_registered_is_empty(
    registry: Registry, versions: list[str]
) -> None:
    frame = registry.history("m", as_df=True)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == HISTORY_COLUMNS
    assert frame.empty


# -- lineage -------------------------------------------------------------------------------


def test_lineage_through_a_tracked_run(
    registry: Registry, board: pinyard.Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    monkeypatch.setattr(_context, "git_state", lambda cwd=None: (commit, False))
    frame = regression_data()
    features = frame[["a", "b"]]
    tracker = pinyard.Tracker(board, "exp")
    with tracker.start_run(params={"fit_intercept": True}, data=frame, seed=7) as run:
        model = LinearRegression().fit(features, frame["y"])
        run.log_metric("rmse", 0.1)
        written = run.log_model(ModelBundle(model, prototype=features), "m")
        run.log_metric("r2", 0.99)  # after the model: the run's record still has it
    registry.set_alias("m", "champion", written.version, reason="from the run")
    lineage = registry.lineage("m@champion")
    assert lineage.version == written.version
    assert lineage.meta_sha256 == board.meta_sha256("m", written.version)
    assert lineage.files == {f.name: f.sha256 for f in board.pin_meta("m", written.version).files}
    assert (lineage.run_id, lineage.experiment) == (run.run_id, "exp")
    assert lineage.params == {"fit_intercept": True}
    assert lineage.metrics == {"rmse": 0.1, "r2": 0.99}
    assert lineage.data == data_fingerprint(frame)
    assert lineage.data["sha256"]
    assert lineage.code_commit == commit
    assert lineage.holders == ["alias @champion"]
    assert lineage.run is not None
    assert lineage.run.status == "finished"
    doc = lineage.as_dict()
    assert doc["run_status"] == "finished"
    assert json.loads(json.dumps(doc)) == doc  # plain JSON for the CLI


def test_lineage_of_a_version_no_run_made(registry: Registry, versions: list[str]) -> None:
    lineage = registry.lineage(f"m:{versions[0]}")
    assert (lineage.run_id, lineage.run, lineage.params, lineage.holders) == (None, None, {}, [])


# -- watch ---------------------------------------------------------------------------------


def other_process(board: pinyard.Board) -> Registry:
    """A registry on another Board object over the same folder, as another process has."""
    return Registry(pinyard.board_folder(board.store.url), user="bob")


def test_watch_yields_events_another_writer_commits(
    registry: Registry, board: pinyard.Board, versions: list[str]
) -> None:
    registry.set_alias("m", "champion", versions[0])  # before the watch: not yielded
    writer = other_process(board)

    def write() -> None:
        time.sleep(0.1)
        for version in versions[1:]:
            writer.set_alias("m", "champion", version)

    thread = threading.Thread(target=write)
    got: list[Event] = []
    started = time.monotonic()
    stream = registry.watch("m", interval=0.02, timeout=WAIT)
    thread.start()
    for event in stream:
        got.append(event)
        if len(got) == 3:
            break
    thread.join()
    assert time.monotonic() - started < WAIT
    assert [(e.seq, e.version, e.actor) for e in got] == [
        (2, versions[1], "bob"), (3, versions[2], "bob"), (4, versions[3], "bob"),
    ]  # fmt: skip


def test_watch_stops_at_its_timeout_and_replays_since(
    registry: Registry, versions: list[str]
) -> None:
    for version in versions[:3]:
        registry.set_alias("m", "champion", version)
    started = time.monotonic()
    assert list(registry.watch("m", interval=0.01, timeout=0.2)) == []
    assert 0.2 <= time.monotonic() - started < 5
    since = list(registry.watch("m", since=1, interval=0.01, timeout=0.05))
    assert [e.seq for e in since] == [2, 3]


def test_watch_of_every_name_sees_a_new_name_from_its_first_event(
    registry: Registry, board: pinyard.Board, versions: list[str]
) -> None:
    """Found writing this test: a name that appeared after the watch started was first
    seen at its head, so its first events were never yielded."""
    registry.set_alias("m", "champion", versions[0])
    other = pinyard.board_folder(board.store.url)
    fresh = other.pin_write({"n": 1}, "n", type="json").version
    writer = other_process(board)
    stream = registry.watch(interval=0.02, timeout=WAIT)

    def write() -> None:
        time.sleep(0.1)
        writer.set_alias("n", "champion", fresh)
        writer.set_alias("m", "champion", versions[1])

    thread = threading.Thread(target=write)
    thread.start()
    got: list[tuple[str, int]] = []
    for event in stream:
        got.append((event.name, event.seq))
        if len(got) == 2:
            break
    thread.join()
    assert sorted(got) == [("m", 2), ("n", 1)]


# -- hooks ---------------------------------------------------------------------------------


def test_a_command_hook_gets_the_event_on_stdin_and_in_its_environment(
    board: pinyard.Board, versions: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "hook.json"
    script = (
        "import json, os, sys; event = json.load(sys.stdin); "
        "env = {k: v for k, v in os.environ.items() if k.startswith('PINYARD_EVENT_')}; "
        f"open({str(out)!r}, 'w').write(json.dumps({{'event': event, 'env': env}}))"
    )
    registry = Registry(board, user="ana", hooks=[CommandHook([sys.executable, "-c", script])])
    event = registry.set_alias("m", "champion", versions[0], reason="hooked")
    wait_for(lambda: out.exists() and out.stat().st_size, "the command hook")
    got = json.loads(out.read_text())
    assert got["event"]["seq"] == event.seq
    assert got["event"]["op"] == "set_alias"
    assert got["event"]["reason"] == "hooked"
    assert got["event"]["target"]["version"] == versions[0]
    # found writing this test: the board was always "" unless the hook was built with it
    assert got["event"]["board"] == board.store.url
    assert got["env"] == {
        "PINYARD_EVENT_NAME": "m", "PINYARD_EVENT_OP": "set_alias",
        "PINYARD_EVENT_SLOT": "champion", "PINYARD_EVENT_VERSION": versions[0],
        "PINYARD_EVENT_SEQ": "1", "PINYARD_EVENT_ACTOR": "ana",
    }  # fmt: skip


@pytest.fixture
def http_sink() -> Iterator[tuple[str, list[tuple[dict[str, str], Any]]]]:
    """A tiny HTTP server on 127.0.0.1 that records each POST (headers, JSON body)."""
    received: list[tuple[dict[str, str], Any]] = []

    class Sink(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def test_an_http_hook_posts_the_event(
    board: pinyard.Board,
    versions: list[str],
    http_sink: tuple[str, list[tuple[dict[str, str], Any]]],
) -> None:
    url, received = http_sink
    hook = HttpHook(url, headers={"Authorization": "Bearer t0k"})
    registry = Registry(board, user="ana", hooks=[hook])
    registry.transition("m", versions[0], "staging", reason="candidate")
    registry.transition("m", versions[0], "production", reason="signed off")
    wait_for(lambda: len(received) == 2, "two POSTs")
    (headers, first), (_, second) = received
    assert headers["Authorization"] == "Bearer t0k"
    assert headers["Content-Type"] == "application/json"
    assert (first["seq"], first["slot"], second["seq"], second["slot"]) == (
        1, "staging", 2, "production",
    )  # fmt: skip
    assert second["from_stage"] == "staging"
    assert second["board"] == board.store.url


def test_a_failing_hook_never_fails_or_blocks_the_event(
    board: pinyard.Board, versions: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()
    seen: list[int] = []

    def raises(event: Event) -> None:
        raise RuntimeError("hook broke")

    def blocks(event: Event) -> None:
        release.wait(WAIT)

    hooks = [
        raises,
        CommandHook([sys.executable, "-c", "raise SystemExit(3)"]),
        HttpHook("http://127.0.0.1:9/nothing-listens", timeout=1),
        blocks,
        lambda event: seen.append(event.seq),
    ]
    registry = Registry(board, user="ana", hooks=hooks)
    caplog.set_level(logging.WARNING, logger="pinyard.registry")
    started = time.monotonic()
    event = registry.set_alias("m", "champion", versions[0])
    assert time.monotonic() - started < WAIT / 2  # the blocked hook does not hold the caller
    assert registry.aliases("m") == {"champion": versions[0]}
    assert event.seq == 1
    assert seen == []
    release.set()
    wait_for(lambda: seen == [1], "the last hook")
    failures = [r.getMessage() for r in caplog.records if "registry hook" in r.getMessage()]
    assert len(failures) == 3
    assert "hook broke" in failures[0]
    assert all("for event 1 of 'm'" in f for f in failures)


# -- who acted -----------------------------------------------------------------------------


def test_the_actor_comes_from_user_then_pinyard_user_then_the_login(
    board: pinyard.Board, versions: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PINYARD_USER", "ci-bot")
    assert Registry(board).set_alias("m", "a", versions[0]).actor == "ci-bot"
    assert Registry(board, user="ana").set_alias("m", "b", versions[0]).actor == "ana"
    monkeypatch.delenv("PINYARD_USER")
    assert Registry(board).set_alias("m", "c", versions[0]).actor == getpass.getuser()
    assert [e.actor for e in Registry(board).history("m")] == [  # type: ignore[union-attr]
        "ci-bot", "ana", getpass.getuser(),
    ]  # fmt: skip
