"""Faults: a loopback TCP proxy in front of moto and Azurite drops connections (before
the request reaches the store, and after it was served: the lost answer), stalls,
truncates answers and injects 500/503 at set rates while pin writes, reads, listings,
alias moves and run logging go through it. Every operation either completes correctly
or fails with a typed `PinyardError`; afterwards, read directly, nothing is
half-visible, every completed write is there once, and no retry made a second version
or a second event."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

import pinyard
from tests.reliability._check import Oracle, fsck
from tests.reliability._workers import read_log, work
from tests.reliability.conftest import Target, record, scale

#: longer runs (--torture) take proportionally longer
pytestmark = pytest.mark.timeout(300 * scale())

OPERATIONS = 60
WEIGHTS = {"writer": 4, "reader": 3, "mover": 2, "logger": 1}
RATES = {"error_rate": 0.06, "drop_before": 0.03, "drop_after": 0.03, "truncate_rate": 0.03,
         "delay_s": 0.4, "delay_rate": 0.03}  # fmt: skip


@pytest.fixture(params=["s3", "az"])
def through_proxy(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Target, Target]:
    """(the board through the fault proxy, the same board reached directly)."""
    kind = request.param
    bucket = request.getfixturevalue("s3_bucket_via_proxy" if kind == "s3" else
                                     "azure_container_via_proxy")  # fmt: skip
    url = f"{bucket.url}/board"
    proxied = Target(kind, url, bucket.storage_options, tmp_path / "cache", bucket.fs, bucket)
    server = bucket.server
    direct = Target(kind, url, server.storage_options(), tmp_path / "cache-direct",
                    server.filesystem(), bucket)  # fmt: skip
    return proxied, direct


def test_every_operation_through_faults_completes_or_fails_cleanly(
    through_proxy: tuple[Target, Target], tmp_path: Path
) -> None:
    proxied, direct = through_proxy
    proxy = proxied.bucket.proxy
    board = proxied.board()
    seeds = [board.pin_write({"seed": i}, "model", type="json").version for i in range(3)]
    pinyard.Registry(board).set_alias("model", "champion", seeds[0], reason="seed")
    proxy.reset_counters()
    proxy.set_faults(**RATES, seed=13)
    spec = proxied.spec(
        job="mixed", worker="f", seed=random.Random(13).random(), weights=WEIGHTS, catch=True,
        log=str(tmp_path / "f.log"), err=str(tmp_path / "f.err"), count=OPERATIONS * scale(),
        deadline=time.time() + 600, pins=["alpha", "beta"], pad=3_000, experiment="faults",
        steps=3, name="model", alias="champion", versions=seeds,
    )  # fmt: skip
    try:
        work(spec)  # a PinyardError is logged and the next operation goes on; any other ends it
    finally:
        stats = proxy.stats()
        proxy.clear_faults()
    lines = read_log(spec["log"])
    oracle = Oracle.from_logs([(lines, 0)])
    figures = fsck(direct, oracle, experiment="faults", registry_names=["model"],
                   statuses=("finished", "failed", "running"))  # fmt: skip
    injected = sum(stats["faults"].values())
    assert injected > 10, stats
    assert stats["requests"] > 100
    ok = sum(1 for line in lines if line["ev"] in ("commit", "read"))
    assert ok > OPERATIONS // 2, f"only {ok} operations succeeded"
    record(
        f"faults[{proxied.kind}]",
        operations=OPERATIONS * scale(),
        succeeded=ok,
        failed_cleanly=len(oracle.errors),
        failed_as=sorted({f"{e['step']}:{e['type']}" for e in oracle.errors}),
        requests=stats["requests"],
        faults_injected=injected,
        lost=0,
        **{f"fault_{kind}": n for kind, n in sorted(stats["faults"].items())},
        **figures,
    )
