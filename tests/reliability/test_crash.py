"""Crash consistency: pin writers, run loggers and registry movers SIGKILLed at random
points, in batches of short-lived forked processes; afterwards every committed item
reads back and verifies, nothing corrupt is visible, what is left over is only what gc
removes, and gc removes it.

A kill's delay counts from the moment the worker's board is open, and a kill counts
when it lands after the worker's first operation began; batches go on until every kind
has its count, so the number of kills does not depend on how loaded the machine is.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest

import pinyard
from tests.reliability._check import Oracle, fsck
from tests.reliability._workers import read_log
from tests.reliability.conftest import Target, record, scale

#: longer runs (--torture) take proportionally longer
pytestmark = pytest.mark.timeout(300 * scale())

KINDS = ("writer", "logger", "mover")
PER_BATCH = 6  # workers of each kind in one batch
#: kill delays (seconds after the worker's board is open), by backend
WINDOW = {"local": (0.0, 0.6), "s3": (0.0, 0.6), "az": (0.0, 0.6)}


def test_killed_workers_leave_only_what_gc_removes(
    target: Target, workers: Any, tmp_path: Path
) -> None:
    kills_needed = 50 * scale()
    board = target.board()
    seeds = [board.pin_write({"seed": i}, "model", type="json").version for i in range(3)]
    pinyard.Registry(board).set_alias("model", "champion", seeds[0], reason="seed")
    helper = workers.for_target(target)
    rng = random.Random(13)
    logs: list[tuple[list[dict[str, Any]], int | str]] = []
    kills = dict.fromkeys(KINDS, 0)
    batches = 0
    lo, hi = WINDOW[target.kind]
    while min(kills.values()) < kills_needed:
        batches += 1
        assert batches <= 4 * (kills_needed // PER_BATCH + 1), f"too few kills landed: {kills}"
        specs = []
        for kind in KINDS:
            if kills[kind] >= kills_needed:
                continue
            common = {"job": kind, "deadline": time.time() + 60, "pins": ["alpha", "beta"],
                      "pad": 20_000, "experiment": "crash", "steps": 4, "name": "model",
                      "alias": "champion", "versions": seeds}  # fmt: skip
            for i in range(PER_BATCH):
                worker = f"{kind[0]}{batches}-{i}"
                log, err = tmp_path / f"{worker}.log", tmp_path / f"{worker}.err"
                when = rng.uniform(lo, hi)
                spec = target.spec(worker=worker, seed=rng.random(), log=str(log),
                                   err=str(err), kill_at=when, **common)  # fmt: skip
                specs.append(spec)
        codes = helper.batch(specs, timeout=hi + 30)
        for spec, code in zip(specs, codes, strict=True):
            lines = read_log(spec["log"])
            err = Path(spec["err"]).read_text() if Path(spec["err"]).exists() else ""
            assert code == -9, f"{spec['worker']} ended {code} before its kill:\n{err}"
            logs.append((lines, code))
            if any(line["ev"] == "begin" for line in lines):
                kills[spec["job"]] += 1
    oracle = Oracle.from_logs(logs)
    figures = fsck(target, oracle, experiment="crash", registry_names=["model"])
    assert figures["versions"] > 3
    assert figures["runs"] > 0
    assert figures["events"] > 1
    record(
        f"crash[{target.kind}]",
        kills=sum(kills.values()),
        kills_in_flight=sum(oracle.in_flight.values()),
        committed=len(oracle.committed_pins) + len(oracle.committed_runs)
        + len(oracle.committed_events),
        lost=0,
        **figures,
    )  # fmt: skip
