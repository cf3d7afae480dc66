"""The registry under racing and killed writers, on a folder and on each object store.

8 processes move one alias (``production``) of one name at once, by
`Registry.set_alias` and by `Registry.promote` through a custom gate, on a local
folder, S3 (moto), Azure (Azurite) and GCS (fake-gcs-server, which honours the
``ifGenerationMatch=0`` that exclusive creates send: checked below). Then movers
are SIGKILLed at random moments and at exact points of a write, and the answer
to an event's PUT is lost after the server stored it. Every time the chain must
be whole, and hold each call's event exactly once.

``PINYARD_REGISTRY_KILLS`` (default 3) sets the timed kills per backend; the
self-kills at exact points come on top (3 on a folder, 2 on an object store).
``PINYARD_REGISTRY_SEED`` replays the timed kills' draw that a failure names.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import pinyard
from pinyard.registry import Event, Registry
from tests._forks import together
from tests.backends._movers import Movers, read_log

BACKENDS = ["local", "s3_bucket", "azure_container", "gcs_bucket"]
REMOTE = BACKENDS[1:]
VIA_PROXY = ["s3_bucket_via_proxy", "azure_container_via_proxy", "gcs_bucket_via_proxy"]
NAME, ALIAS = "churn", "production"
MOVERS = 8
CALLS = {"local": 12, "s3_bucket": 5, "azure_container": 5, "gcs_bucket": 5}
TIMED_KILLS = int(os.environ.get("PINYARD_REGISTRY_KILLS", "3"))
# An event's exclusive create: S3 and Azure name the object in the path; GCS uploads it
# with a POST whose name is in the body, but only exclusive creates ask ifGenerationMatch=0.
EVENT_PUT = re.compile(r"events(/|%2F)\d{12}\.json|ifGenerationMatch=0")
WAIT_S = 120.0


@dataclass
class Place:
    """Where a test's board is, in a form a forked mover can open again."""

    url: str
    options: dict[str, Any]
    protocol: str
    tmp: Path

    def board(self, cache: str = "cache") -> pinyard.Board:
        if self.protocol == "file":
            return pinyard.board_folder(self.url)
        return pinyard.board(self.url, cache=pinyard.Cache(self.tmp / cache), **self.options)


@pytest.fixture(scope="module")
def movers() -> Iterator[Movers]:
    helper = Movers()
    yield helper
    helper.stop()


def open_place(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    if backend == "local":
        return Place(str(tmp_path / "board"), {}, "file", tmp_path)
    bucket = request.getfixturevalue(backend)
    return Place(f"{bucket.url}/team", bucket.storage_options, bucket.protocol, tmp_path)


def set_up(board: pinyard.Board) -> tuple[Registry, list[str], dict[str, float]]:
    """Four versions with distinct scores; ``production`` an alias (not a stage) that
    holds the first version."""
    versions = [board.pin_write({"model": i}, NAME, type="json").version for i in range(4)]
    registry = Registry(board, user="setup")
    registry.configure(stages=["candidate", "staging"], reason="production is an alias here")
    registry.set_alias(NAME, ALIAS, versions[0], reason="setup")
    scores = {
        v: float(s) for v, s in zip(versions, random.Random(7).sample(range(4), 4), strict=False)
    }
    return registry, versions, scores


def mover_spec(
    place: Place, worker: str, versions: list[str], scores: dict[str, float], **more: Any
) -> dict[str, Any]:
    now = time.time()
    spec = {
        "url": place.url,
        "options": place.options,
        "cache": str(place.tmp / f"cache-{worker}"),
        "name": NAME,
        "alias": ALIAS,
        "versions": versions,
        "scores": scores,
        "worker": worker,
        "log": str(place.tmp / f"{worker}.jsonl"),
        "err": str(place.tmp / f"{worker}.err"),
        "seed": random.randrange(2**32),
        "promote_share": 0.5,
        "count": 10,
        "deadline": now + 60.0,
    }
    spec.update(more)
    return spec


def finish(movers: Movers, specs: list[dict[str, Any]], pids: list[int]) -> dict[str, int | str]:
    """Wait for every mover; the exit code of each, by worker."""
    codes = movers.wait(pids, WAIT_S)
    return {spec["worker"]: codes[pid] for spec, pid in zip(specs, pids, strict=True)}


def failure_output(specs: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"--- {s['worker']}:\n{Path(s['err']).read_text()}"
        for s in specs
        if Path(s["err"]).exists() and Path(s["err"]).read_text()
    )


def check_chain(
    registry: Registry,
    logs: dict[str, list[dict[str, Any]]],
    scores: dict[str, float],
    killed: Collection[str] = (),
) -> list[Event]:
    """Everything the movers say they committed is in the chain once, nothing else is
    (but one in-flight event per killed mover), each event was planned against the
    state it follows, the snapshot equals the replay, and every view was a true one."""
    history = registry.history(NAME)
    assert isinstance(history, list)
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    [report] = registry.verify(NAME)
    assert report.ok, report.problems
    assert report.events == len(history)

    twice = [reason for reason, n in Counter(e.reason for e in history).items() if n > 1]
    assert not twice, f"calls that made more than one event: {twice}"
    by_reason = {e.reason: e for e in history}
    by_id = {e.id: e for e in history}
    logged = {rec["reason"]: rec for log in logs.values() for rec in log}
    for reason, rec in logged.items():
        if rec["op"] == "unchanged":  # nothing written: the event that set the version
            assert reason not in by_reason, f"{reason} wrote an event for no change"
            assert by_id[rec["id"]].version == rec["version"]
            continue
        event = by_reason.get(reason)
        assert event is not None, f"{reason} committed {rec} but the chain lost it"
        assert event.op == rec["op"]
        assert event.actor == reason.split("/")[0]
        if rec["op"] == "refused":
            assert event.gate is not None
            assert event.gate["candidate"] == rec["version"]
        else:
            assert (event.id, event.seq, event.version) == (rec["id"], rec["seq"], rec["version"])
    unlogged = Counter(e.actor for e in history if e.actor != "setup" and e.reason not in logged)
    assert set(unlogged) <= set(killed), f"events no mover logged: {unlogged}"
    assert all(n == 1 for n in unlogged.values()), f"more than the in-flight event: {unlogged}"

    holder: str | None = None
    holder_after = {0: None}
    for event in history:
        if event.slot == ALIAS:
            assert event.previous == holder, f"event {event.seq} was planned on a stale state"
            if event.op == "promote":
                assert event.gate
                assert event.gate["passed"]
                assert holder is None or scores[str(event.version)] > scores[holder]
            if event.op == "refused":
                assert event.gate
                assert not event.gate["passed"]
                assert holder is not None
                assert scores[str(event.version)] <= scores[holder]
            else:
                holder = event.version
        holder_after[event.seq] = holder
    assert registry.aliases(NAME)[ALIAS] == holder
    # the state keeps the newest changes of each slot; the replay has all of them
    assert registry.state(NAME).agrees_with(registry._chain(NAME).replay())

    for worker, log in logs.items():
        seen = 0
        for rec in log:
            assert rec["view_seq"] >= max(seen, rec.get("seq", 0)), f"{worker} went back"
            seen = rec["view_seq"]
            assert holder_after[seen] == rec["view_holder"], f"{worker}'s view at {seen}"
    return history


@pytest.mark.parametrize("backend", BACKENDS)
def test_racing_movers_commit_every_event_once(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, movers: Movers
) -> None:
    place = open_place(backend, request, tmp_path)
    _registry, versions, scores = set_up(place.board())
    movers.prepare(place.protocol)
    specs = [
        mover_spec(place, f"m{i}", versions, scores, count=CALLS[backend]) for i in range(MOVERS)
    ]
    pids = movers.spawn(together(specs, tmp_path / "together"))
    codes = finish(movers, specs, pids)
    assert set(codes.values()) == {0}, f"{codes}\n{failure_output(specs)}"
    logs = {s["worker"]: read_log(s["log"]) for s in specs}
    assert all(len(log) == CALLS[backend] for log in logs.values())
    history = check_chain(Registry(place.board("reader")), logs, scores)
    records = [rec for log in logs.values() for rec in log]
    seconds = max(r["t1"] for r in records) - min(r["t0"] for r in records)
    ops = Counter(e.op for e in history if e.actor != "setup")
    events = ops.total()
    print(f"{backend}: {events} events ({len(records) - events} calls changed nothing) in "
          f"{seconds:.2f} s ({events / seconds:.1f}/s), lost 0, {dict(ops)}")  # fmt: skip
    assert ops["refused"] + ops["promote"] > 0
    assert ops["set_alias"] > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_killed_movers_leave_a_whole_chain(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, movers: Movers
) -> None:
    place = open_place(backend, request, tmp_path)
    board = place.board()
    _registry, versions, scores = set_up(board)
    movers.prepare(place.protocol)
    seed = int(os.environ.get("PINYARD_REGISTRY_SEED") or random.randrange(2**32))
    rng = random.Random(seed)
    points = ["after-event", "before-snapshot"]
    if place.protocol == "file":
        points += ["event-tmp", "snapshot-tmp"]
        points.remove("after-event")
    specs = [mover_spec(place, "survivor", versions, scores, count=CALLS[backend])]
    specs += [
        mover_spec(place, f"timed{i}", versions, scores, count=10**6) for i in range(TIMED_KILLS)
    ]
    specs += [
        mover_spec(place, f"self-{p}", versions, scores, count=10**6, kill_at=p, kill_after=2)
        for p in points
    ]
    pids = movers.spawn(together(specs, tmp_path / "together"))
    for spec, pid in zip(specs[1 : 1 + TIMED_KILLS], pids[1 : 1 + TIMED_KILLS], strict=True):
        wait_for_lines(spec["log"], 1 + rng.randrange(2))
        time.sleep(rng.uniform(0, 0.05))  # a random point of the next call
        Movers.kill(pid)
    codes = finish(movers, specs, pids)
    context = f"seed {seed}, codes {codes}\n{failure_output(specs)}"
    assert codes.pop("survivor") == 0, context
    assert set(codes.values()) == {-9}, context
    logs = {s["worker"]: read_log(s["log"]) for s in specs}

    reader = Registry(place.board("reader"), user="after")
    history = check_chain(reader, logs, scores, killed=set(codes))
    logged = {rec["reason"] for log in logs.values() for rec in log}
    in_flight = [e.actor for e in history if e.actor != "setup" and e.reason not in logged]
    if place.protocol == "file":
        events = Path(place.url) / "registry" / NAME / "events"
        left = [p.name for p in events.iterdir() if p.name.endswith(".tmp")]
        assert left, "the event-tmp kill should leave the event's temporary file"
        assert list((events.parent).glob("state.json.*.tmp")), "and snapshot-tmp its own"
    # the chain goes on after the killed writers, and gc takes what they left
    other = next(v for v in versions if v != reader.aliases(NAME)[ALIAS])
    after = reader.set_alias(NAME, ALIAS, other, reason="after the kills")
    assert (after.seq, after.reason) == (len(history) + 1, "after the kills")
    report = reader.board.gc(older_than=timedelta(0))
    if place.protocol == "file":
        assert report.temporary, report
        assert not list(Path(place.url).rglob("*.tmp")), report
    assert reader.verify(NAME)[0].ok
    print(f"{backend}: {len(codes)} movers killed ({TIMED_KILLS} timed, seed {seed}; "
          f"{', '.join(points)}), chain of {after.seq} events whole, in-flight events "
          f"committed: {sorted(in_flight)}")  # fmt: skip


def wait_for_lines(path: str, lines: int, timeout: float = 60.0) -> None:
    """Until a mover has logged ``lines`` calls (it is then inside its next one)."""
    deadline = time.monotonic() + timeout
    while len(read_log(path)) < lines:
        assert time.monotonic() < deadline, f"{path}: no progress in {timeout} s"
        time.sleep(0.005)


@pytest.mark.parametrize("backend", VIA_PROXY)
def test_a_lost_answer_to_an_event_is_taken_as_committed(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    bucket = request.getfixturevalue(backend)
    board = pinyard.board(
        f"{bucket.url}/team", cache=pinyard.Cache(tmp_path / "c"), **bucket.storage_options
    )
    registry, versions, scores = set_up(board)
    before = len(registry.history(NAME))
    bucket.proxy.fail_next("drop_after", methods=["PUT", "POST"], path_regex=EVENT_PUT.pattern)
    with bucket.proxy.measure() as window:
        event = registry.set_alias(NAME, ALIAS, versions[2], reason="answer lost")
    sends = [
        (r.fault, r.status)
        for r in window.records
        if r.method in ("PUT", "POST") and EVENT_PUT.search(f"{r.path}?{r.query}")
    ]
    # stored, its answer lost; sent again, the store says it exists: that is our event
    assert [fault for fault, _ in sends] == ["drop_after", None], window.records
    assert sends[1][1] in (409, 412), sends
    assert event.seq == before + 1
    history = check_chain(Registry(board), {"setup": []}, scores)
    assert [e.id for e in history if e.reason == "answer lost"] == [event.id]
    assert registry.resolve(f"{NAME}@{ALIAS}").version == versions[2]


@pytest.mark.parametrize("backend", REMOTE)
def test_event_files_are_created_exclusively(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """What the registry rests on, on each emulator: a second create of an event fails
    unless it carries the same bytes (then it is the writer's own, whose answer was lost)."""
    store = open_place(backend, request, tmp_path).board().store
    path = f"registry/{NAME}/events/000000000001.json"
    store.write_exclusive(path, b'{"a":1}')
    with pytest.raises(FileExistsError):
        store.write_exclusive(path, b'{"a":2}')
    store.write_exclusive(path, b'{"a":1}')
    assert store.read_bytes(path) == b'{"a":1}'


def test_resolving_an_alias_on_s3_costs_one_request_once_warm(
    s3_bucket_via_proxy: Any, tmp_path: Path
) -> None:
    """``name@alias`` cold: the snapshot, the probe that no event follows it and the
    version's data.txt (its sha256 checked against the event); warm, the probe alone.
    No board settings."""
    bucket = s3_bucket_via_proxy
    place = Place(f"{bucket.url}/team", bucket.storage_options, bucket.protocol, tmp_path)
    _, versions, _ = set_up(place.board("writer"))
    reader = Registry(place.board("reader"))
    seen = []
    for _ in ("cold", "warm", "warm"):
        with bucket.proxy.measure() as window:
            assert reader.resolve(f"{NAME}@{ALIAS}").version == versions[0]
        seen.append([(r.method, r.path.split("/team/", 1)[1], r.status) for r in window.records])
    meta = f"pins/{NAME}/{versions[0]}/data.txt"
    head = [("GET", f"registry/{NAME}/state.json", 200),
            ("GET", f"registry/{NAME}/events/000000000002.json", 404)]  # fmt: skip
    assert seen == [[*head, ("GET", meta, 200)], head[1:], head[1:]]
    with pytest.raises(pinyard.errors.InvalidReferenceError, match="archived"):
        reader.resolve(f"{NAME}@archived")  # a stage: the board's settings are read for it


@pytest.mark.parametrize("change", ["removed", "replaced"])
def test_no_writer_appends_past_a_removed_or_replaced_newest_event(
    change: str, tmp_path: Path
) -> None:
    """state.json still names the newest event after it is removed (or swapped for
    another valid one); a writer that trusted it would make the hole permanent."""
    board = pinyard.board_folder(tmp_path / "board")
    registry, versions, _ = set_up(board)
    registry.set_alias(NAME, ALIAS, versions[1], reason="newest")
    events = tmp_path / "board" / "registry" / NAME / "events"
    newest = sorted(events.iterdir())[-1]
    if change == "removed":
        newest.unlink()
    else:  # a well-formed event of the same number, of another writer's making
        other, theirs, _ = set_up(pinyard.board_folder(tmp_path / "other"))
        made = other.set_alias(NAME, ALIAS, theirs[1], reason="elsewhere")
        assert made.seq == int(newest.stem)
        newest.write_bytes(
            (tmp_path / "other" / newest.relative_to(tmp_path / "board")).read_bytes()
        )
    before = sorted(p.name for p in events.iterdir())
    with pytest.raises(pinyard.errors.ChainError, match="Nothing was written") as caught:
        registry.set_alias(NAME, ALIAS, versions[2], reason="after the change")
    assert caught.value.seq == int(newest.stem)
    assert sorted(p.name for p in events.iterdir()) == before
