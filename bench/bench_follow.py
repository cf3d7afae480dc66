"""Benchmark a server that follows an alias: how soon a promotion or a rollback is served,
and how many requests fail while the model is swapped (the goal is 0).

This is a benchmark, not a test: it measures and prints, and never fails on a
missed goal (it does fail when a response names a version that did not
compute it). Run it from the repository root with the project's venv:

    .venv/bin/python bench/bench_follow.py --quick            # about 1 minute
    .venv/bin/python bench/bench_follow.py                    # about 3 minutes
    .venv/bin/python bench/bench_follow.py --backend folder --interval 5

A board (a folder, and S3 on a ``moto_server`` subprocess with ``--backend
s3`` or ``both``) holds ``cycles + 1`` versions of one scikit-learn
LinearRegression on 8 float columns, each with its own slope, so a response
shows which version computed it. A server subprocess runs
``pinyard.serving.serve(board, "m", follow="champion", interval=...)``, and
``--clients`` threads in this process post one row at a time over keep-alive
connections for the whole run. Each cycle promotes the next version
(``set_alias``: the new holder is loaded and verified) and then rolls back
(``rollback``: the model swapped out is still in memory), each at a random
moment relative to the server's polling. Figures:

* promote -> served: from ``set_alias`` returning to the first response from
  the new version (a poll comes within ``interval``, so expect about
  interval/2 plus the load);
* rollback -> served: the same for ``rollback``;
* failed requests: errors, non-200 answers, and answers whose value is not
  the one the version in their ``X-Pinyard-Version`` header computes;
* latency of the requests in flight across a swap against the p99 of all.

Results go to a table on stdout and to ``bench/results/follow.json``.
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ["AWS_DEFAULT_REGION"] = "us-east-1"  # s3fs against moto needs it

from bench_board import log, med, spread  # the sibling benchmark (bench/ is on sys.path)
from bench_serving import free_port  # the sibling benchmark

REPO = Path(__file__).resolve().parents[1]
DEFAULT_JSON = REPO / "bench" / "results" / "follow.json"
HOST = "127.0.0.1"
NAME, ALIAS = "m", "champion"
COLUMNS = [f"f{i}" for i in range(8)]
ROW = dict.fromkeys(COLUMNS, 0.5)
BODY = json.dumps([ROW]).encode()
S3_OPTIONS = {"key": "testing", "secret": "testing"}


def write_versions(board: Any, count: int) -> dict[str, float]:
    """``count`` versions, version i answering ``(i + 1) * sum(row)``; their answers to ROW."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    from pinyard.models import ModelBundle

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(200, 8)), columns=COLUMNS)
    answers = {}
    for i in range(count):
        model = LinearRegression().fit(frame, (i + 1) * frame.sum(axis=1))
        version = board.pin_write(ModelBundle(model, prototype=frame), NAME).version
        answers[version] = round(float(model.predict(pd.DataFrame([ROW]))[0]), 6)
    return answers


def server_main(spec: dict[str, Any]) -> None:
    """The server subprocess: follow the alias until terminated."""
    import pinyard
    from pinyard.serving import serve

    board = pinyard.board(spec["url"], create=False, **spec["options"])
    serve(board, NAME, follow=ALIAS, interval=spec["interval"], port=spec["port"])


@contextmanager
def server(
    url: str, options: dict[str, Any], interval: float, root: str
) -> Iterator[tuple[int, Path]]:
    """A following server subprocess: its port and its log file."""
    port = free_port()
    spec = {"url": url, "options": options, "interval": interval, "port": port}
    log_path = os.path.join(root, f"server-{port}.log")
    with open(log_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, __file__, "_server", json.dumps(spec)],
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{Path(log_path).read_text()}")
            try:
                conn = http.client.HTTPConnection(HOST, port, timeout=2)
                conn.request("GET", "/ping")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        yield port, Path(log_path)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@dataclass
class Reply:
    sent: float
    received: float
    version: str


@dataclass
class Load:
    """Client threads posting ROW until stopped; every failure is counted."""

    port: int
    answers: dict[str, float]
    clients: int
    replies: list[Reply] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client) for _ in range(self.clients)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _client(self) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        while not self._stop.is_set():
            sent = time.monotonic()
            try:
                conn.request("POST", "/predict", BODY, headers)
                response = conn.getresponse()
                body = response.read()
                version = response.getheader("x-pinyard-version") or "?"
                value = round(float(json.loads(body)["predict"][0]), 6)
                if response.status != 200 or self.answers.get(version) != value:
                    raise AssertionError(f"{response.status} {version} {value}")
            except Exception as exc:
                with self._lock:
                    self.failures.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
                continue
            with self._lock:
                self.replies.append(Reply(sent, time.monotonic(), version))
        conn.close()

    def first_from(self, version: str, after: float, deadline: float) -> float:
        """When the first response from ``version`` sent after ``after`` arrived."""
        while time.monotonic() < deadline:
            with self._lock:
                found = [r.received for r in self.replies if r.version == version
                         and r.received > after]  # fmt: skip
            if found:
                return min(found)
            time.sleep(0.002)
        raise RuntimeError(f"no response from {version} within the deadline")


@dataclass
class Result:
    backend: str
    interval_s: float
    clients: int
    promote_s: list[float] = field(default_factory=list)
    rollback_s: list[float] = field(default_factory=list)
    set_alias_ms: list[float] = field(default_factory=list)
    requests: int = 0
    failed: int = 0
    first_failure: str = ""
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    across_swap_max_ms: float = 0.0
    server_swap_ms: list[float] = field(default_factory=list)  # check + load + swap


def run(backend: str, url: str, options: dict[str, Any], cfg: argparse.Namespace,
        root: str) -> Result:  # fmt: skip
    import pinyard

    board = pinyard.board(url, **options)
    answers = write_versions(board, cfg.cycles + 1)
    versions = list(answers)
    registry = pinyard.Registry(board, user="bench")
    registry.set_alias(NAME, ALIAS, versions[0], reason="start")
    result = Result(backend, cfg.interval, cfg.clients)
    swaps: list[float] = []
    with (
        server(url, options, cfg.interval, root) as (port, log_path),
        Load(port, answers, cfg.clients) as load,
    ):
        load.first_from(versions[0], 0, time.monotonic() + 60)
        for new in versions[1:]:
            old = registry.aliases(NAME)[ALIAS]
            for move, target, out in (("promote", new, result.promote_s),
                                      ("rollback", old, result.rollback_s)):  # fmt: skip
                time.sleep(random.uniform(0.2, 0.2 + cfg.interval))
                start = time.monotonic()
                if move == "promote":
                    registry.set_alias(NAME, ALIAS, target, reason="bench")
                else:
                    registry.rollback(NAME, ALIAS, reason="bench")
                done = time.monotonic()
                result.set_alias_ms.append((done - start) * 1000)
                first = load.first_from(target, done, done + cfg.interval + 60)
                out.append(first - done)
                swaps.append(first)
                log(f"  {backend}: {move} served after {first - done:.3f} s")
        time.sleep(0.5)
    latencies = sorted((r.received - r.sent) * 1000 for r in load.replies)
    result.requests = len(load.replies) + len(load.failures)
    result.failed = len(load.failures)
    result.first_failure = load.failures[0] if load.failures else ""
    result.p50_ms = latencies[len(latencies) // 2]
    result.p99_ms = latencies[int(len(latencies) * 0.99)]
    across = [(r.received - r.sent) * 1000 for r in load.replies
              if any(r.sent <= s <= r.received for s in swaps)]  # fmt: skip
    result.across_swap_max_ms = max(across, default=0.0)
    took = re.findall(r"swapped in (\d+) ms", log_path.read_text())
    result.server_swap_ms = [float(t) for t in took]
    return result


@contextmanager
def moto() -> Iterator[str]:
    """A moto_server subprocess (the test suite's), its endpoint URL."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    servers = importlib.import_module("tests.backends._servers")
    started = servers.MotoServer().start()
    try:
        yield started.endpoint_url
    finally:
        started.stop()


def render(results: Sequence[Result]) -> str:
    lines = [
        "| backend | interval | promote -> served (s) | rollback -> served (s) | "
        "server: check+load+swap ms | failed / requests | p50 / p99 ms | max ms across a swap |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.interval_s:g} s | {spread(r.promote_s, '.3f')} | "
            f"{spread(r.rollback_s, '.3f')} | {spread(r.server_swap_ms or [0.0], '.0f')} | "
            f"{r.failed} / {r.requests} | "
            f"{r.p50_ms:.1f} / {r.p99_ms:.1f} | {r.across_swap_max_ms:.1f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["_server"]:
        server_main(json.loads(argv[1]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 cycles per backend")
    parser.add_argument("--cycles", type=int, help="promote+rollback cycles (default 8)")
    parser.add_argument("--interval", type=float, default=1.0, help="follow interval (1 s)")
    parser.add_argument("--clients", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--backend", choices=["folder", "s3", "both"], default="both")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where results go")
    cfg = parser.parse_args(argv)
    cfg.cycles = cfg.cycles or (3 if cfg.quick else 8)
    results = []
    with tempfile.TemporaryDirectory(prefix="pinyard-bench-follow-") as root:
        if cfg.backend in ("folder", "both"):
            log("folder board")
            results.append(run("folder", os.path.join(root, "board"), {}, cfg, root))
        if cfg.backend in ("s3", "both"):
            log("S3 board on moto")
            with moto() as endpoint:
                import s3fs  # type: ignore[import-untyped]

                options = {**S3_OPTIONS, "endpoint_url": endpoint}
                s3fs.S3FileSystem(**options, skip_instance_cache=True).mkdir("follow")
                results.append(run("s3", "s3://follow/team", options, cfg, root))
    table = render(results)
    print(table)
    print(f"(promote/rollback -> served: median [min-max] of {cfg.cycles} each; "
          f"set_alias/rollback call itself: median "
          f"{med([x for r in results for x in r.set_alias_ms]):.1f} ms)")  # fmt: skip
    cfg.json.parent.mkdir(parents=True, exist_ok=True)
    cfg.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
