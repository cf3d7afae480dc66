"""The fsck-style check of a board after workers crashed or raced, through the public
API only (pin listings and verified reads, tracker reads, `Registry.verify`), against
the oracle logs the workers wrote (see `tests.reliability._workers`)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pinyard
from pinyard.errors import RunNotFoundError

TEMPORARY = re.compile(r"\.[0-9a-f]{32}\.tmp$")


@dataclass
class Oracle:
    """What the workers' logs say they began and saw committed."""

    begun_pins: dict[str, set[tuple[str, int]]] = field(default_factory=lambda: defaultdict(set))
    pads: dict[tuple[str, int], int] = field(default_factory=dict)
    committed_pins: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    started_runs: dict[str, tuple[str, int]] = field(default_factory=dict)
    committed_runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    committed_events: dict[str, dict[str, Any]] = field(default_factory=dict)
    begun_reasons: set[str] = field(default_factory=set)
    pruned: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    reads: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    in_flight: Counter[str] = field(default_factory=Counter)  # killed inside an operation
    killed_idle: Counter[str] = field(default_factory=Counter)  # killed between operations

    @classmethod
    def from_logs(cls, logs: list[tuple[list[dict[str, Any]], int | str]]) -> Oracle:
        oracle = cls()
        for lines, code in logs:
            open_op: str | None = None
            for line in lines:
                ev, w = line["ev"], line["w"]
                if ev == "begin":
                    open_op = line["kind"]
                    if line["kind"] == "pin":
                        oracle.begun_pins[line["name"]].add((w, line["k"]))
                        oracle.pads[(w, line["k"])] = line["pad"]
                    elif line["kind"] == "alias":
                        oracle.begun_reasons.add(line["reason"])
                elif ev == "started":
                    oracle.started_runs[line["run_id"]] = (w, line["k"])
                elif ev == "commit":
                    open_op = None
                    if line["kind"] == "pin":
                        key = (line["name"], line["version"])
                        if line["written"]:
                            assert key not in oracle.committed_pins, f"two writes made {key}"
                        oracle.committed_pins.setdefault(key, (w, line["k"]))
                    elif line["kind"] == "run":
                        oracle.committed_runs[line["run_id"]] = line
                    else:
                        if line["mine"]:
                            oracle.committed_events[line["id"]] = line
                elif ev == "pruned":
                    oracle.pruned[line["name"]].update(line["versions"])
                elif ev == "read":
                    oracle.reads.append(line)
                elif ev == "error":
                    oracle.errors.append(line)
                    open_op = None
            if code == -9:
                if open_op is None:
                    oracle.killed_idle["any"] += 1
                else:
                    oracle.in_flight[open_op] += 1
        return oracle


@dataclass
class Seen:
    """What the board holds, read back."""

    versions: dict[str, list[str]]
    values: dict[tuple[str, str], tuple[str, int] | None]
    runs: dict[str, str]  # run id -> status
    events: int


def read_back(
    board: pinyard.Board,
    oracle: Oracle,
    experiment: str | None,
    registry_names: list[str],
    statuses: tuple[str, ...] = ("finished", "killed"),
) -> Seen:
    """Read every visible item (each read verifies) and compare it with the oracle."""
    versions: dict[str, list[str]] = {}
    values: dict[tuple[str, str], tuple[str, int] | None] = {}
    for name in board.pin_list():
        listed = [v.version for v in board.pin_versions(name, as_df=False)]
        assert len(set(listed)) == len(listed), f"{name}: a version listed twice"
        versions[name] = listed
        owners: Counter[tuple[str, int]] = Counter()
        for version in listed:
            value = board.pin_read(name, version=version)  # verifies its digest
            if isinstance(value, dict) and "w" in value:
                owner = (value["w"], value["k"])
                assert owner in oracle.begun_pins[name], (
                    f"{name}@{version} holds {owner}, which no worker began writing"
                )
                owners[owner] += 1
                values[(name, version)] = owner
            else:
                values[(name, version)] = None
        twice = [o for o, n in owners.items() if n > 1]
        assert not twice, f"{name}: one write stored as several versions: {twice}"
        if listed:
            assert board.pin_meta(name).version == listed[-1], f"{name}: latest is wrong"
    for (name, version), owner in oracle.committed_pins.items():
        if version in oracle.pruned.get(name, set()):
            continue
        assert version in versions.get(name, []), f"committed {name}@{version} is lost"
        assert values[(name, version)] == owner, f"{name}@{version} holds another value"
    for name, gone in oracle.pruned.items():
        assert not gone & set(versions.get(name, [])), f"{name}: a pruned version is back"

    runs: dict[str, str] = {}
    if experiment is not None:
        tracker = pinyard.Tracker(board, experiment)
        frame = tracker.runs()
        listed_runs = list(frame["run_id"]) if len(frame) else []
        assert len(set(listed_runs)) == len(listed_runs), "a run listed twice"
        for run_id in listed_runs:
            run = tracker.get_run(run_id)
            points = tracker.history(run_id)  # every series chunk reads
            steps = list(zip(points["key"], points["step"], strict=True))
            assert len(set(steps)) == len(steps), f"run {run_id}: a metric step logged twice"
            runs[run_id] = run.status
            assert run.status in statuses, f"run {run_id} is {run.status}"
        for run_id, line in oracle.committed_runs.items():
            assert run_id in runs, f"committed run {run_id} is lost"
            run = tracker.get_run(run_id)
            assert run.status == "finished"
            assert run.params == {"w": line["w"], "k": line["k"]}
            losses = list(tracker.history(run_id, "loss")["value"])
            assert losses == [float(line["k"] * 1000 + s) for s in range(line["steps"])]
            assert tracker.artifact(run_id, "who") == f"{line['w']}/{line['k']}".encode()
        for run_id in oracle.started_runs:
            if run_id not in runs:  # a start record not written before the kill is fine
                try:
                    tracker.get_run(run_id)
                except RunNotFoundError:
                    continue
                raise AssertionError(f"run {run_id} reads but is not listed")

    for read in oracle.reads:  # no read saw a half-written or foreign version
        owner = (read["writer"], read["wk"])
        assert owner in oracle.begun_pins[read["name"]], f"read of an unknown value: {read}"
        assert read["pad"] == oracle.pads[owner], f"read of a partial value: {read}"
        if (read["name"], read["version"]) in values:
            assert values[(read["name"], read["version"])] == owner, f"read mismatch: {read}"
    by_reader: dict[tuple[str, str], list[str]] = defaultdict(list)
    for read in oracle.reads:
        by_reader[(read["w"], read["name"])].append(read["version"])
    for (reader, name), seen_versions in by_reader.items():
        assert seen_versions == sorted(seen_versions), f"{reader} saw {name}'s latest go back"

    events = 0
    if registry_names:
        registry = pinyard.Registry(board)
        reports = registry.verify()
        bad = [(r.name, r.problems) for r in reports if not r.ok]
        assert not bad, f"registry verify found problems: {bad}"
        for name in registry_names:
            history = registry.history(name)
            events += len(history)
            ids = {e.id: e for e in history}
            reasons = Counter(e.reason for e in history)
            assert all(n == 1 for n in reasons.values()), "an event recorded twice"
            seqs = [e.seq for e in history]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"{name}: seq gaps"
            for event_id, line in oracle.committed_events.items():
                assert event_id in ids, f"committed event {event_id} is lost"
                assert ids[event_id].seq == line["seq"]
                assert ids[event_id].version == line["version"]
            for event in history:
                assert event.reason in oracle.begun_reasons or "/" not in event.reason
    return Seen(versions, values, runs, events)


def leftovers(files: list[str], seen: Seen) -> list[str]:
    """Stored files that are no part of a visible item: temporary files of small writes,
    staging, and version folders without a committed version."""
    found = []
    for rel in files:
        parts = rel.split("/")
        if (
            TEMPORARY.search(rel)
            or parts[0] == "staging"
            or (
                parts[0] == "pins"
                and len(parts) >= 4
                and parts[2] not in seen.versions.get(parts[1], [])
            )
        ):
            found.append(rel)
    return found


def fsck(
    target: Any,
    oracle: Oracle,
    *,
    experiment: str | None = None,
    registry_names: list[str] | None = None,
    statuses: tuple[str, ...] = ("finished", "killed"),
) -> dict[str, int]:
    """Read back, gc, read back again: nothing visible changes, gc removes every leftover
    and a second gc finds nothing. Returns figures (versions, runs, events, leftovers)."""
    board = target.board()
    names = registry_names or []
    seen = read_back(board, oracle, experiment, names, statuses)
    before = leftovers(target.files(), seen)
    report = board.gc(older_than=timedelta(0))
    after = leftovers(target.files(), seen)
    assert not after, f"gc left {after} (report: {report})"
    again = board.gc(older_than=timedelta(0))
    assert str(again).startswith("0 stale staging entries, 0 orphan"), str(again)
    assert not again.staging
    assert not again.orphan_versions
    assert not again.temporary
    assert not again.uploads
    board = target.board()
    listed = {n: [v.version for v in board.pin_versions(n, as_df=False)] for n in board.pin_list()}
    assert listed == seen.versions, "gc removed or changed a visible version"
    if experiment is not None:
        frame = pinyard.Tracker(board, experiment).runs()
        runs = dict(zip(frame["run_id"], frame["status"], strict=True)) if len(frame) else {}
        assert runs == seen.runs, "gc changed a run"
    return {
        "versions": sum(len(v) for v in seen.versions.values()),
        "runs": len(seen.runs),
        "events": seen.events,
        "leftovers_removed": len(before),
        "uploads_aborted": len(report.uploads),
    }
