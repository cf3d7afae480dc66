"""Concurrency: 16 processes, each mixing pin writes, reads of the latest version,
prunes, alias moves and run logging for a fixed time on one board; the oracle log of
what each process saw committed is checked against the board afterwards: nothing
lost, nothing duplicated, no read of a half-written version, the latest correct."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import pinyard
from tests._forks import together
from tests.reliability._check import Oracle, fsck
from tests.reliability._workers import read_log
from tests.reliability.conftest import Target, record, scale

#: longer runs (--torture) take proportionally longer
pytestmark = pytest.mark.timeout(300 * scale())

PROCESSES = 16
SECONDS = 4.0
WEIGHTS = {"writer": 4, "reader": 3, "pruner": 1, "mover": 2, "logger": 2}
#: errors a racing operation may meet and report cleanly: a version pruned between
#: reading the latest's metadata and reading its data
ALLOWED = {"reader": {"VersionNotFoundError"}}


def test_sixteen_processes_mixing_every_operation_lose_nothing(
    target: Target, workers: Any, tmp_path: Path
) -> None:
    seconds = SECONDS * scale()
    board = target.board()
    seeds = [board.pin_write({"seed": i}, "model", type="json").version for i in range(4)]
    for name in ("alpha", "beta"):
        board.pin_write({"w": "seed", "k": 0, "pad": ""}, name, type="json")
    pinyard.Registry(board).set_alias("model", "champion", seeds[0], reason="seed")
    helper = workers.for_target(target)
    rng = random.Random(16)
    common = {"job": "mixed", "weights": WEIGHTS, "catch": True, "seconds": seconds,
              "pins": ["alpha", "beta"], "pad": 5_000, "keep": 3,
              "experiment": "race", "steps": 3, "name": "model", "alias": "champion",
              "versions": seeds}  # fmt: skip
    specs = [
        target.spec(
            worker=f"p{i}",
            seed=rng.random(),
            log=str(tmp_path / f"p{i}.log"),
            err=str(tmp_path / f"p{i}.err"),
            **common,
        )
        for i in range(PROCESSES)
    ]
    # all 16 open their boards first, then race for `seconds`
    codes = helper.batch(together(specs, tmp_path / "together"), timeout=seconds + 240)
    for spec, code in zip(specs, codes, strict=True):
        err = Path(spec["err"]).read_text() if Path(spec["err"]).exists() else ""
        assert code == 0, f"{spec['worker']} ended {code}:\n{err}"
    logs = [(read_log(spec["log"]), 0) for spec in specs]
    oracle = Oracle.from_logs(logs)
    oracle.begun_pins["alpha"].add(("seed", 0))
    oracle.begun_pins["beta"].add(("seed", 0))
    oracle.pads[("seed", 0)] = 0
    unexpected = [e for e in oracle.errors if e["type"] not in ALLOWED.get(e["step"], set())]
    assert not unexpected, f"operations failed: {unexpected[:5]}"
    figures = fsck(target, oracle, experiment="race", registry_names=["model"])
    done = Counter(line["ev"] for lines, _ in logs for line in lines)
    assert done["commit"] > PROCESSES
    assert done["read"] > 0
    assert done["pruned"] > 0
    assert sum(len(v) for v in oracle.pruned.values()) > 0, "no prune deleted anything"
    record(
        f"concurrency[{target.kind}]",
        processes=PROCESSES,
        seconds=seconds,
        commits=done["commit"],
        reads=done["read"],
        prunes=done["pruned"],
        pruned_versions=sum(len(v) for v in oracle.pruned.values()),
        raced_reads=len(oracle.errors),
        lost=0,
        **figures,
    )
