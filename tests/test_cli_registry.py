"""``pinyard registry ...`` on a folder board and on S3 (moto), as text and as --json:
what each action prints, the exit codes, and one-line errors for every bad input."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LinearRegression

import pinyard
from pinyard.cli import main
from pinyard.models import ModelBundle
from tests.backends import conftest as backends
from tests.cli_support import Result, cli_environment, open_cli_board, overwrite, run_cli

# The emulator of tests/backends, for the S3 half of the matrix.
moto_server = backends.moto_server

TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class CliBoard:
    """A board with two fitted models (``weak``, ``strong``) and a frozen evaluation set."""

    url: str
    board: pinyard.Board
    fs: Any
    root: str
    capsys: pytest.CaptureFixture[str]
    weak: str = ""
    strong: str = ""
    data: str = ""
    runs: dict[str, str] = field(default_factory=dict)

    def __call__(self, action: str, *args: str, json_mode: bool = False) -> Result:
        argv = ["registry", action, self.url, *args, *(["--json"] if json_mode else [])]
        return run_cli(self.capsys, argv)

    @property
    def registry(self) -> pinyard.Registry:
        return pinyard.Registry(self.board, user="setup")

    def overwrite(self, relative: str, data: bytes) -> None:
        """Tamper with a stored file, as someone with write access to the storage could."""
        overwrite(self.fs, self.root, relative, data)


def _frame(seed: int, n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    return x.assign(y=3 * x["a"] - 2 * x["b"] + rng.normal(scale=0.3, size=n))


def _fill(where: CliBoard) -> CliBoard:
    train, holdout = _frame(1), _frame(2)
    features = train.drop(columns=["y"])
    where.data = where.board.pin_write(holdout, "holdout", type="parquet").version
    tracker = pinyard.Tracker(where.board, "fits")
    for label, model in (("weak", DummyRegressor()), ("strong", LinearRegression())):
        with tracker.start_run(params={"model": label}) as run:
            model.fit(features, train["y"])
            run.log_metric("train_r2", float(model.score(features, train["y"])))
            version = run.log_model(ModelBundle(model, prototype=features), "m").version
        setattr(where, label, version)
        where.runs[label] = run.run_id
    return where


@pytest.fixture(params=["folder", "s3"])
def board(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> CliBoard:
    cli_environment(monkeypatch, tmp_path / "cache")
    opened = open_cli_board(request.param, tmp_path, monkeypatch, request, request.node.name)
    where = CliBoard(opened.url, opened.board, opened.fs, opened.root, capsys)
    return _fill(where)


@pytest.fixture(params=[False, True], ids=["text", "json"])
def json_mode(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def gate(where: CliBoard, *more: str) -> list[str]:
    return ["--data", "holdout", "--data-version", where.data, "--target", "y",
            "--allow-pickle-read", *more]  # fmt: skip


def hash5(version: str) -> str:
    return version.rsplit("-", 1)[1]


# -- the actions, on both boards, as text and as JSON ------------------------------------


def test_stage_order_then_gated_promotions(board: CliBoard, json_mode: bool) -> None:
    b, j = board, json_mode
    r = b("transition", "m", b.weak, "staging", "--reason", "first fit", json_mode=j)
    assert r.code == 0, r.err
    if j:
        assert (r.doc["op"], r.doc["version"], r.doc["actor"], r.doc["changed"]) == (
            "transition", b.weak, "alice", True)  # fmt: skip
    else:
        assert re.fullmatch(rf'#1 {TIME} alice: m:{b.weak} -> stage staging -- "first fit"\n',
                            r.out)  # fmt: skip

    r = b("promote", "m", b.weak, "production", *gate(b, "--threshold", "5"), json_mode=j)
    assert r.code == 0, r.err
    data_sha = b.board.pin_meta("holdout", b.data).files[0].sha256
    if j:
        evidence = r.doc["gate"]
        assert (r.doc["promoted"], evidence["holder"], evidence["threshold"]) == (True, None, 5.0)
        assert evidence["candidate_score"] < 5
        assert (evidence["data_version"], evidence["data_sha256"]) == (b.data, [data_sha])
    else:
        first, gate_line, data_line = r.out.splitlines()
        assert re.fullmatch(rf"#2 {TIME} alice: m:{b.weak} promoted to production", first)
        assert re.fullmatch(rf"  gate: rmse [\d.]+ for {b.weak}: passes \(rmse must reach "
                            r"5\.0 \(nothing holds the target\)\)", gate_line)  # fmt: skip
        assert data_line.startswith(f"  evaluation set: holdout:{b.data} (sha256 {data_sha[:12]}")
        assert "120 rows" in data_line

    assert b("transition", "m", b.strong, "staging").code == 0
    r = b("promote", "m", b.strong, "production", *gate(b, "--min-improvement", "0.5"),
          "--reason", "beats the mean", json_mode=j)  # fmt: skip
    assert r.code == 0, r.err
    if j:
        evidence = r.doc["gate"]
        assert (r.doc["previous"], r.doc["displaced"], evidence["holder"]) == (
            b.weak, b.weak, b.weak)  # fmt: skip
        assert evidence["candidate_score"] < evidence["holder_score"] - 0.5
    else:
        assert f"promoted to production (was {b.weak}); {b.weak} -> archived" in r.out
        assert re.search(rf"gate: rmse [\d.]+ for {b.strong} vs [\d.]+ for {b.weak}: passes",
                         r.out)  # fmt: skip

    # The mean model again, as a new candidate: the gate refuses it, and says both scores.
    assert b("transition", "m", b.weak, "staging").code == 0
    r = b("promote", "m", b.weak, "production", *gate(b), json_mode=j)
    err = r.one_line_error(7, f"promotion of m:{b.weak} to 'production' refused", "Recorded")
    candidate, holder = (float(s) for s in re.findall(r"([-\d.e+]+) for \d{8}T", err))
    assert candidate > holder
    if j:
        assert r.doc["promoted"] is False
        scores = (r.doc["evidence"]["candidate_score"], r.doc["evidence"]["holder_score"])
        assert scores[0] > scores[1]
    else:
        assert r.out == ""
    assert b.registry.stages("m") == {"production": b.strong, "staging": b.weak}
    assert b.registry.history("m")[-1].op == "refused"  # type: ignore[union-attr]


def test_aliases_and_rollback(board: CliBoard, json_mode: bool) -> None:
    b, j = board, json_mode
    r = b("set-alias", "m", "champion", hash5(b.weak), "--reason", "baseline", json_mode=j)
    assert r.code == 0, r.err
    if j:
        assert (r.doc["op"], r.doc["slot"], r.doc["version"], r.doc["reason"]) == (
            "set_alias", "champion", b.weak, "baseline")  # fmt: skip
    else:
        assert re.fullmatch(rf'#1 {TIME} alice: m@champion -> {b.weak} -- "baseline"\n', r.out)
    r = b("set-alias", "m", "champion", b.strong, "--user", "bob", json_mode=j)
    if j:
        assert (r.doc["actor"], r.doc["previous"], r.doc["changed"]) == ("bob", b.weak, True)
    else:
        assert re.fullmatch(rf"#2 {TIME} bob: m@champion -> {b.strong} \(was {b.weak}\)\n",
                            r.out)  # fmt: skip
    r = b("set-alias", "m", "champion", b.strong, json_mode=j)  # what it holds: no event
    assert r.code == 0
    if j:
        assert (r.doc["seq"], r.doc["changed"]) == (2, False)
    else:
        assert r.out == f"m@champion already holds {b.strong} (event 2); nothing recorded\n"
    r = b("rollback", "m", "champion", "--reason", "strong misbehaves", json_mode=j)
    assert r.code == 0, r.err
    if j:
        assert (r.doc["op"], r.doc["version"], r.doc["previous"]) == ("rollback", b.weak, b.strong)
    else:
        assert f"m@champion rolled back to {b.weak} (was {b.strong})" in r.out
    assert b("rollback", "m", "champion", "--to", b.strong).code == 0
    r = b("remove-alias", "m", "champion", json_mode=j)
    assert r.code == 0, r.err
    if j:
        assert (r.doc["op"], r.doc["version"], r.doc["previous"]) == (
            "remove_alias",
            None,
            b.strong,
        )
    else:
        assert re.fullmatch(rf"#5 {TIME} alice: m@champion removed \(was {b.strong}\)\n", r.out)
    assert b.registry.aliases("m") == {}
    b("resolve", "m@champion").one_line_error(3, "no version of 'm' holds 'champion'",
                                              "pinyard registry set-alias")  # fmt: skip


def _promoted(b: CliBoard) -> None:
    """weak went to production first, then strong replaced it (events 1-4)."""
    registry = b.registry
    for version in (b.weak, b.strong):
        registry.transition("m", version, "staging")
        registry.promote("m", version, "production", reason=f"{version} ready")


def test_resolve_history_and_lineage(board: CliBoard, json_mode: bool) -> None:
    b, j = board, json_mode
    _promoted(b)
    r = b("resolve", "m@production", json_mode=j)
    assert r.code == 0, r.err
    if j:
        meta = b.board.pin_meta("m", b.strong)
        assert (r.doc["version"], r.doc["slot"], r.doc["seq"]) == (b.strong, "production", 4)
        assert r.doc["meta_sha256"] == b.board.meta_sha256("m", b.strong)
        assert r.doc["files"] == {f.name: f.sha256 for f in meta.files}
        assert all(HEX64.match(sha) for sha in r.doc["files"].values())
    else:
        assert r.out == f"{b.strong}\n"  # just the id, for $(...) in scripts
    events = b.registry.history("m")
    when = events[1].time  # type: ignore[union-attr]
    r = b("resolve", "m@production", "--as-of", when, json_mode=j)
    assert (r.code, r.doc["version"] if j else r.out.strip()) == (0, b.weak)
    r = b("resolve", f"m:{hash5(b.strong)}", json_mode=j)
    assert (r.code, r.doc["slot"] if j else r.out.strip()) == (0, None if j else b.strong)

    r = b("history", "m", json_mode=j)
    assert r.code == 0, r.err
    if j:
        assert [(e["seq"], e["op"], e["version"]) for e in r.doc] == [
            (1, "transition", b.weak), (2, "promote", b.weak),
            (3, "transition", b.strong), (4, "promote", b.strong)]  # fmt: skip
    else:
        header, *rows = r.out.splitlines()
        assert header.split() == ["SEQ", "TIME", "ACTOR", "OP", "SLOT", "VERSION", "WAS", "NOTE"]
        assert [row.split()[4] for row in rows] == ["transition", "promote"] * 2
        assert rows[3].split()[6:8] == [b.strong, b.weak]
        assert rows[3].endswith(f'"{b.strong} ready"')

    r = b("lineage", "m@production", json_mode=j)
    assert r.code == 0, r.err
    if j:
        assert (r.doc["version"], r.doc["run_id"], r.doc["experiment"]) == (
            b.strong, b.runs["strong"], "fits")  # fmt: skip
        assert (r.doc["params"], r.doc["holders"], r.doc["run_status"]) == (
            {"model": "strong"}, ["stage production"], "finished")  # fmt: skip
        assert r.doc["metrics"]["train_r2"] > 0.9
    else:
        lines = r.out.splitlines()
        assert lines[0] == f"m:{b.strong}"
        assert f"  run:             {b.runs['strong']} (experiment fits, finished)" in lines
        assert "  params:          model=strong" in lines
        assert "  held by:         stage production" in lines
        assert any(line.startswith("  metrics:         train_r2=0.9") for line in lines)


def test_verify_names_what_is_damaged(
    board: CliBoard, json_mode: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    b, j = board, json_mode
    _promoted(b)
    r = b("verify", json_mode=j)
    assert r.code == 0, r.err
    if j:
        assert [(d["name"], d["ok"], d["events"]) for d in r.doc] == [
            (".board", True, 0), ("m", True, 4)]  # fmt: skip
    else:
        assert r.out.splitlines() == [
            "board settings (.board): ok (0 events)",
            "m: ok (4 events, 1 held version re-hashed)",
            "2 chains checked, all intact",
        ]
    # The version production holds is edited behind the registry's back: exit 4.
    meta = f"pins/m/{b.strong}/data.txt"
    b.overwrite(
        meta, b.fs.cat_file(f"{b.root}/{meta}").replace(b"description: null", b"description: x")
    )
    r = b("verify", "m", json_mode=j)
    r.one_line_error(
        4, "1 chain checked, 1 damaged (m): 1 problem(s)", "pinyard registry rollback"
    )
    problems = r.doc[0]["problems"] if j else [r.out.splitlines()[1]]
    # On a remote board data.txt's own digest catches the edit first, naming the board's
    # copy (decision 0018); on a folder the registry's record of it does.
    remote = b.url.startswith("s3://")
    caught = (
        f"data.txt of pin 'm' version {b.strong} (the board's copy"
        if remote
        else f"m version {b.strong} (m:{b.strong}) has changed since the registry"
    )
    assert caught in problems[0]
    assert j or r.out.startswith("m: DAMAGED, held versions damaged (4 events)")
    # resolve refuses it too, read from the board (this machine's cache holds a good copy,
    # which resolve may use, checked against the event; verify never does).
    monkeypatch.setenv("PINYARD_CACHE_DIR", str(tmp_path / "cold-cache"))
    b("resolve", "m@production").one_line_error(
        4, *(["the board's copy", "restore data.txt from a backup"] if remote else
             ["has changed since the registry recorded", "pinyard registry verify"]))  # fmt: skip
    # An event is edited too: a broken chain, exit 8.
    event = "registry/m/events/000000000002.json"
    b.overwrite(event, b.fs.cat_file(f"{b.root}/{event}").replace(b'"setup"', b'"mallory"'))
    r = b("verify", json_mode=j)
    r.one_line_error(8, "2 chains checked, 1 damaged (m)")
    if j:
        assert r.doc[1]["chain_broken"] is True
        assert "000000000002.json was edited" in r.doc[1]["problems"][0]
    else:
        assert "m: DAMAGED, chain broken" in r.out
        assert "000000000002.json was edited" in r.out
    # history walks the whole chain, so it refuses too (resolve starts from the snapshot).
    b("history", "m").one_line_error(8, "000000000002.json was edited")


@pytest.fixture
def http_sink() -> Iterator[tuple[str, list[bytes]]]:
    """A local HTTP endpoint that keeps the body of every POST."""
    bodies: list[bytes] = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", bodies
    server.shutdown()
    server.server_close()


def test_watch_streams_events_and_runs_hooks(
    board: CliBoard, json_mode: bool, tmp_path: Path, http_sink: tuple[str, list[bytes]]
) -> None:
    b, j = board, json_mode
    b.registry.set_alias("m", "champion", b.weak, reason="baseline")
    b.registry.set_alias("m", "canary", b.strong)
    r = b("watch", "m", "--since", "0", "--timeout", "0", json_mode=j)
    assert r.code == 0, r.err
    if j:
        lines = [json.loads(line) for line in r.out.splitlines()]
        assert [(d["seq"], d["slot"], d["version"]) for d in lines] == [
            (1, "champion", b.weak), (2, "canary", b.strong)]  # fmt: skip
        assert lines[0]["board"] == b.board.store.url
    else:
        assert re.fullmatch(rf'#1 {TIME} setup: m@champion -> {b.weak} -- "baseline"\n'
                            rf"#2 {TIME} setup: m@canary -> {b.strong}\n", r.out)  # fmt: skip

    # Following from the head: the next event is printed and handed to both hooks.
    url, posted = http_sink
    drop = tmp_path / "hook"
    drop.mkdir()
    command = f"sh -c 'cat > {drop}/event-$PINYARD_EVENT_SEQ-$PINYARD_EVENT_OP.json'"
    argv = [
        "registry",
        "watch",
        b.url,
        "m",
        "--since",
        "2",
        "--interval",
        "0.05",
        "--count",
        "1",
        "--timeout",
        "60",
        "--exec",
        command,
        "--post",
        url,
    ]
    argv += ["--json"] if j else []
    codes: list[int] = []
    watcher = threading.Thread(target=lambda: codes.append(main(argv)))
    watcher.start()
    b.registry.remove_alias("m", "canary")
    watcher.join(timeout=90)
    assert not watcher.is_alive()
    out, err = b.capsys.readouterr()
    assert (codes, err) == ([0], "")
    if j:
        assert json.loads(out)["op"] == "remove_alias"
    else:
        assert re.fullmatch(rf"#3 {TIME} setup: m@canary removed \(was {b.strong}\)\n", out)
    (dropped,) = drop.iterdir()
    assert dropped.name == "event-3-remove_alias.json"
    assert json.loads(dropped.read_bytes())["board"] == b.board.store.url
    assert [json.loads(body)["seq"] for body in posted] == [3]


def test_a_failing_hook_is_reported_and_the_watch_goes_on(board: CliBoard) -> None:
    board.registry.set_alias("m", "champion", board.weak)
    board.registry.set_alias("m", "champion", board.strong)
    r = board("watch", "m", "--since", "0", "--timeout", "0", "--exec", "false")
    assert r.code == 0
    assert len(r.out.splitlines()) == 2
    warnings = r.err.splitlines()
    assert len(warnings) == 2
    assert warnings[0].startswith("pinyard: warning: hook --exec 'false' failed for event 1 of")


def test_configure_stages_and_required_reasons(board: CliBoard, json_mode: bool) -> None:
    b, j = board, json_mode
    r = b("configure", json_mode=j)  # no flags: show
    default = {"stages": ["staging", "production"], "archive": "archived",
               "require_reason": False}  # fmt: skip
    if j:
        assert r.doc == default
    else:
        assert r.out == ("stages staging -> production -> archived (archive archived); "
                         "reasons optional\n")  # fmt: skip
    assert b.registry.history("m") == []  # showing wrote nothing
    r = b("configure", "--stages", "dev, staging,production", "--archive", "retired",
          "--require-reason", "--reason", "audit rules", json_mode=j)  # fmt: skip
    assert r.code == 0, r.err
    if j:
        assert r.doc == {"stages": ["dev", "staging", "production"], "archive": "retired",
                         "require_reason": True}  # fmt: skip
    else:
        assert r.out == ("stages dev -> staging -> production -> retired (archive retired); "
                         "a reason is required\n")  # fmt: skip
    b("transition", "m", b.weak, "dev").one_line_error(
        2, "requires a reason for every registry change", "pass --reason '...'")  # fmt: skip
    b("transition", "m", b.weak, "dev", "--reason", "  ").one_line_error(2, "--reason")
    assert b("transition", "m", b.weak, "dev", "--reason", "smoke test").code == 0
    b("transition", "m", b.weak, "production", "--reason", "skip").one_line_error(
        2, "the order is dev -> staging -> production -> retired", "Pass --force")  # fmt: skip
    r = b("transition", "m", b.weak, "production", "--reason", "hotfix", "--force", json_mode=j)
    assert r.code == 0, r.err
    assert (r.doc["forced"] if j else r.out.rstrip().endswith('[forced] -- "hotfix"')) is True
    r = b("configure", "--no-require-reason", "--reason", "relaxed", json_mode=j)
    if j:
        assert r.doc["require_reason"] is False
    else:
        assert r.out.endswith("(archive retired); reasons optional\n")
    assert b.registry.config.require_reason is False


# -- bad input: one line naming the thing and what to do, and the documented code ---------

BAD_INPUT = {
    "unknown name": (["resolve", "modle@production"], 3,
                     ["modle does not exist", "pins there: holdout, m"]),
    "unknown name in history": (["history", "modle"], 3, ["modle does not exist"]),
    "unknown version": (["set-alias", "m", "champion", "20200101T000000Z-abcde"], 3,
                        ["pin 'm' has no version '20200101T000000Z-abcde'", "the latest is",
                         "see `pinyard pins versions "]),
    "unknown hash": (["resolve", "m:00000"], 3, ["pin 'm' has no version with hash '00000'"]),
    "alias that is a stage name": (["set-alias", "m", "production", "{weak}"], 2,
                                   ["'production' is a stage of this board",
                                    "pinyard registry transition"]),
    "stage out of order": (["transition", "m", "{weak}", "production"], 2,
                           ["the order is staging -> production -> archived", "--force"]),
    "reference syntax": (["resolve", "m:latest"], 2,
                         ["'latest' is neither a version id", "'name@alias'"]),
    "reference with two slots": (["lineage", "m@champion:{weak}"], 2, ["more than one of"]),
    "as_of before the first event": (["resolve", "m@champion", "--as-of", "2000-01-01T00:00Z"],
                                     3, ["is before the first registry event of 'm'"]),
    "as_of not a time": (["resolve", "m@champion", "--as-of", "yesterday"], 2,
                         ["is not an ISO 8601 time"]),
    "evaluation data lacking a column": (["promote", "m", "{weak}", "canary", "--data",
                                          "holdout", "--data-version", "{data}", "--target",
                                          "churned", "--allow-pickle-read"], 2,
                                         ["has no column 'churned'", "columns: a, b, y"]),
    "gate without leave to unpickle": (["promote", "m", "{weak}", "canary", "--data",
                                        "holdout", "--data-version", "{data}", "--target",
                                        "y"], 2,
                                       ["pass --allow-pickle-read", "PINS_ALLOW_PICKLE_READ=1"]),
    "gate without a data version": (["promote", "m", "{weak}", "canary", "--data",
                                     "holdout", "--target", "y"], 2, ["--data-version"]),
    "unknown metric": (["promote", "m", "{weak}", "canary", "--data", "holdout",
                        "--data-version", "{data}", "--target", "y", "--metric", "f1"], 2,
                       ["unknown metric 'f1'"]),
    "nothing to roll back to": (["rollback", "m", "champion"], 2,
                                ["has held only", "nothing to roll back to"]),
    "archive is not a reference": (["resolve", "m@archived"], 2,
                                   ["holds many versions", "pinyard registry history"]),
    "bad alias name": (["set-alias", "m", "Champion!", "{weak}"], 2, ["invalid alias name"]),
    "archive and no archive": (["configure", "--archive", "old", "--no-archive"], 2,
                               ["either --archive STAGE or --no-archive"]),
    "no board there": (["history", "m"], 3, ["no pinyard board"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_with_its_exit_code(board: CliBoard, case: str) -> None:
    argv, code, needles = BAD_INPUT[case]
    board.registry.set_alias("m", "champion", board.weak)
    if case == "no board there":
        board.url = f"{board.url}/nowhere"
    args = [a.format(weak=board.weak, data=board.data) for a in argv]
    board(*args).one_line_error(code, *needles)
    board(*args, json_mode=True).one_line_error(code, *needles)
    assert len(board.registry.history("m")) == 1  # nothing was recorded


def test_an_ambiguous_hash_lists_the_versions_sharing_it(board: CliBoard) -> None:
    # Equal bytes written twice (as two runs logging the same model do) share the hash.
    versions = [
        board.board.pin_write({"k": 1}, "twin", force_identical_write=True).version
        for _ in range(2)
    ]
    assert versions[0] != versions[1]
    assert hash5(versions[0]) == hash5(versions[1])
    shared = hash5(versions[0])
    for argv in (["set-alias", "twin", "champion", shared], ["resolve", f"twin:{shared}"]):
        err = board(*argv).one_line_error(2, f"hash {shared!r} is ambiguous", "full version id")
        assert all(v in err for v in versions)
