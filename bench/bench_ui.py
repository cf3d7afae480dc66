"""How fast the web UI shows an experiment of 10,000 runs (goal: each page under 1 s).

A benchmark, not a test: it reports and never fails. It logs ``--runs`` runs
(default 10,000; kept between invocations in ``--board-dir``) with three
params and two metrics, serves the UI with uvicorn on 127.0.0.1 in this
process, and times, over HTTP from a fresh client, the first load of the runs
table (cold: a new app on the board, the runs not yet read), then ``--repeat``
loads each of the table, a sorted table, a filtered table, a later page and
the JSON API. The table shows the median ``[min-max]`` in milliseconds.

    .venv/bin/python bench/bench_ui.py            # about 40 s the first time, then ~10 s
    .venv/bin/python bench/bench_ui.py --runs 2000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

import pinyard
from pinyard.ui import create_ui_app

EXPERIMENT = "sweep"
GOAL_MS = 1000.0


def populate(root: Path, runs: int) -> pinyard.Board:
    board = pinyard.board_folder(root)
    tracker = pinyard.Tracker(board, EXPERIMENT)
    have = len(tracker.runs()) if EXPERIMENT in pinyard.Tracker.experiments(board) else 0
    started = time.perf_counter()
    for i in range(have, runs):
        params = {"lambda": 10 ** (i % 7 - 3), "fold": i % 5, "model": "lasso"}
        with tracker.start_run(params=params) as run:
            run.log_metrics({"val_rmse": 1 + (i * 7919 % 1000) / 1000, "test_rmse": i % 13})
    if runs > have:
        print(
            f"logged {runs - have} runs in {time.perf_counter() - started:.1f} s", file=sys.stderr
        )
    return board


def serve(board: pinyard.Board) -> tuple[uvicorn.Server, int]:
    config = uvicorn.Config(create_ui_app(board), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, server.servers[0].sockets[0].getsockname()[1]


def timed(client: httpx.Client, url: str, params: dict[str, str]) -> float:
    started = time.perf_counter()
    response = client.get(url, params=params)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url} {params}: HTTP {response.status_code}: {response.text[:300]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--board-dir",
        default=os.path.join(tempfile.gettempdir(), "pinyard-bench-ui"),
        help="where the board of runs is kept between invocations",
    )
    args = parser.parse_args()
    board = populate(Path(args.board_dir) / f"runs-{args.runs}", args.runs)
    server, port = serve(board)
    url = f"/runs/{EXPERIMENT}"
    cases = {
        "table, first page": {},
        "sorted by a metric": {"sort": "metrics.val_rmse", "desc": "1"},
        "filtered (AND)": {"where": "params.fold = 2 and metrics.val_rmse < 1.5"},
        "page 50": {"page": "50"},
    }
    rows = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        rows.append(("table, cold (first request)", [timed(client, url, {})]))
        for label, params in cases.items():
            rows.append((label, [timed(client, url, params) for _ in range(args.repeat)]))
        api = f"/api/runs/{EXPERIMENT}"
        rows.append(("JSON API, one page", [timed(client, api, {}) for _ in range(args.repeat)]))
    server.should_exit = True
    print(f"\npinyard UI over {args.runs:,} runs (ms, median [min-max]; goal < {GOAL_MS:.0f})")
    for label, values in rows:
        median = statistics.median(values)
        met = "met" if median < GOAL_MS else "NOT met"
        print(f"  {label:<30} {median:8.1f}  [{min(values):.1f}-{max(values):.1f}]  {met}")


if __name__ == "__main__":
    main()
