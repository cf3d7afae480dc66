"""Benchmark pinyard's experiment tracker against MLflow (sqlite store), in one run.

This is a benchmark, not a test: it measures and prints, and never fails on a
missed goal. Run it from the repository root with the project's venv; MLflow
runs in its own interpreter (a separate venv, so it does not pollute the
project's test environment)::

    .venv/bin/python bench/bench_tracking.py --quick --mlflow-python /tmp/mlflow-venv/bin/python
    .venv/bin/python bench/bench_tracking.py --mlflow-python /tmp/mlflow-venv/bin/python

Figures (see bench/README.md for what each one means):

1. logging 1,000 runs of 3 params and 2 metrics each, one at a time, through
   the public APIs (pinyard ``tracker.start_run``; MLflow's client API, and
   its fluent API for information): ms per run;
2. over 1,000 runs and over ``--big-runs`` runs (100,000; ``--quick``: 10,000):
   the best run by a metric, a filtered search (AND of a param equality and a
   metric comparison) and an OR search (one query in pinyard; two in MLflow,
   which has no OR, merged by run id). pinyard is measured on a fresh tracker
   (cold in-process caches) and again on the same tracker (warm).

Every library's steps run in fresh subprocesses: pinyard's with this
interpreter, MLflow's with ``--mlflow-python``. Results go to a table on
stdout and to ``bench/results/tracking.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

EXPERIMENT = "bench"
MODELS = ("ridge", "lasso", "tree")
AND_FILTER = "params.model = 'ridge' and metrics.rmse < 0.5"
OR_FILTER = "params.model = 'ridge' or metrics.rmse < 0.5"
OR_PARTS = ("params.model = 'ridge'", "metrics.rmse < 0.5")  # MLflow: two queries, merged
BEST_METRIC = "rmse"
MLFLOW_PAGE = 50_000  # the largest page MLflow's search_runs allows: fewest round trips
SPEEDUP_GOAL = 5.0  # pinyard at least 5x faster than MLflow on each figure
CHILD_TIMEOUT_S = 4 * 3600
GOLDEN = 0.6180339887498949

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results" / "tracking.json"


def log(message: str) -> None:
    """Progress goes to stderr so that stdout holds only the results."""
    print(message, file=sys.stderr, flush=True)


# -- the runs: the same values for run i in both libraries ----------------------


def run_params(i: int) -> dict[str, Any]:
    return {"model": MODELS[i % 3], "alpha": (i % 1000) / 1000, "depth": i % 10}


def run_metrics(i: int) -> dict[str, float]:
    """rmse is distinct for every run (so "the best run" is one run) and uniform in [0, 2)."""
    rmse = 2 * (((i + 1) * GOLDEN) % 1.0)
    return {"rmse": rmse, "r2": 1 - rmse / 4}


def expected_counts(n: int) -> dict[str, int]:
    """How many of runs 0..n-1 each query should find (a correctness check on both sides)."""
    ridge = [run_params(i)["model"] == "ridge" for i in range(n)]
    low = [run_metrics(i)["rmse"] < 0.5 for i in range(n)]
    return {
        "and": sum(a and b for a, b in zip(ridge, low, strict=True)),
        "or": sum(a or b for a, b in zip(ridge, low, strict=True)),
        "or_part_1": sum(ridge),
        "or_part_2": sum(low),
    }


def expected_best(n: int) -> float:
    return min(run_metrics(i)[BEST_METRIC] for i in range(n))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


# -- pinyard side (runs in the project's interpreter) ---------------------------------


class SteppedClock:
    """Replaces ``Tracker._now`` on one tracker instance: the benchmark sets the time.

    ``Tracker._now`` is the one clock runs are stamped and partitioned by; the
    benchmark sets it to past hours so that ``compact()`` can merge them.
    """

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at


def pinyard_log(spec: dict[str, Any]) -> dict[str, Any]:
    """Log runs 0..n-1 one at a time with the real clock; time each one."""
    import pinyard

    warm = pinyard.Tracker(pinyard.board_folder(spec["board_dir"] + "-warm-up"), "warm-up")
    with warm.start_run(params=run_params(0)) as run:  # imports, git state (cached)
        run.log_metrics(run_metrics(0))
    shutil.rmtree(spec["board_dir"] + "-warm-up")
    tracker = pinyard.Tracker(pinyard.board_folder(spec["board_dir"]), EXPERIMENT)
    times = []
    for i in range(spec["n"]):
        params, metrics = run_params(i), run_metrics(i)
        t0 = time.perf_counter()
        with tracker.start_run(params=params) as run:
            for key, value in metrics.items():
                run.log_metric(key, value)
        times.append(time.perf_counter() - t0)
    return {"seconds": times}


def pinyard_build(spec: dict[str, Any]) -> dict[str, Any]:
    """Log runs ``range(start, stop, step)`` through the public API, stamped in past hours.

    Run i starts at ``base + i * dt`` and ends ``dt / 2`` later (the clock is
    ``Tracker._now``, replaced on this tracker instance by `SteppedClock`).
    """
    import pinyard

    tracker = pinyard.Tracker(pinyard.board_folder(spec["board_dir"]), EXPERIMENT)
    clock = SteppedClock()
    tracker._now = clock  # type: ignore[method-assign]  # the benchmark's clock
    base = datetime.fromtimestamp(spec["base"], UTC)
    dt = spec["dt"]
    t0 = time.perf_counter()
    count = 0
    for i in range(spec["start"], spec["stop"], spec["step"]):
        clock.at = base + timedelta(seconds=i * dt)
        with tracker.start_run(params=run_params(i)) as run:
            for key, value in run_metrics(i).items():
                run.log_metric(key, value)
            clock.at = base + timedelta(seconds=i * dt + dt / 2)
        count += 1
    return {"runs": count, "seconds": time.perf_counter() - t0}


def pinyard_compact(spec: dict[str, Any]) -> dict[str, Any]:
    """``compact()`` with the real clock, on a fresh tracker."""
    import pinyard

    tracker = pinyard.Tracker(pinyard.board_folder(spec["board_dir"]), EXPERIMENT)
    seconds, names = timed(tracker.compact)
    return {"seconds": seconds, "segments": names}


def pinyard_query(spec: dict[str, Any]) -> dict[str, Any]:
    """Each query timed on a fresh tracker (cold), then again on the same one (warm)."""
    import pinyard

    def fresh() -> Any:
        return pinyard.Tracker(pinyard.board_folder(spec["board_dir"]), EXPERIMENT)

    ops: dict[str, Callable[[Any], Any]] = {
        "best": lambda t: t.best_run(BEST_METRIC),
        "and": lambda t: t.search(AND_FILTER),
        "or": lambda t: t.search(OR_FILTER),
    }
    # Warm-up, outside the cold/warm figures: lazy imports (pandas, pyarrow, the query
    # module), the OS page cache. On a store of raw records the first query also reads
    # every record and writes the checkpoint later fresh trackers read: it is timed
    # (imports done first) and reported apart.
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import pinyard.tracking._query

    warm_up = fresh()
    first, _ = timed(lambda: ops["and"](warm_up))
    for op in ops.values():
        op(warm_up)
    out: dict[str, Any] = {"cold": {k: [] for k in ops}, "warm": {k: [] for k in ops}}
    out["first_and"] = first
    results: dict[str, Any] = {}
    for _ in range(spec["repeat"]):
        for name, op in ops.items():
            tracker = fresh()
            cold, result = timed(lambda op=op, tracker=tracker: op(tracker))
            warm, _ = timed(lambda op=op, tracker=tracker: op(tracker))
            out["cold"][name].append(cold)
            out["warm"][name].append(warm)
            results[name] = result
    out["found"] = {
        "best": results["best"].metrics[BEST_METRIC],
        "and": len(results["and"]),
        "or": len(results["or"]),
        "runs": len(fresh().runs()),
    }
    return out


# -- MLflow side (runs in --mlflow-python) ------------------------------------------------


def _mlflow_client(db: str) -> Any:
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    return mlflow.MlflowClient()


def mlflow_log(spec: dict[str, Any]) -> dict[str, Any]:
    """Log runs 0..n-1 one at a time, client API (create_run, log_batch, set_terminated)
    or fluent API (start_run, log_params, log_metrics, end of the ``with``)."""
    import mlflow
    from mlflow.entities import Metric, Param

    client = _mlflow_client(spec["db"])
    fluent = spec["api"] == "fluent"
    # Untimed: creates the database and its tables, and the experiments.
    warm_id = client.create_experiment("warm-up")
    client.set_terminated(client.create_run(warm_id).info.run_id)
    exp_id = client.create_experiment(EXPERIMENT)
    if fluent:
        mlflow.set_experiment(EXPERIMENT)
    times = []
    for i in range(spec["n"]):
        params, metrics = run_params(i), run_metrics(i)
        t0 = time.perf_counter()
        if fluent:
            with mlflow.start_run():
                mlflow.log_params(params)
                mlflow.log_metrics(metrics)
        else:
            run_id = client.create_run(exp_id).info.run_id
            now = int(time.time() * 1000)
            client.log_batch(
                run_id,
                metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
                params=[Param(k, str(v)) for k, v in params.items()],
            )
            client.set_terminated(run_id)
        times.append(time.perf_counter() - t0)
    return {"seconds": times, "mlflow": mlflow.__version__, "python": platform.python_version()}


def mlflow_grow_api(spec: dict[str, Any]) -> dict[str, Any]:
    """Add runs ``first..n-1`` to the experiment through the client API (slow: ~10+ ms a run)."""
    from mlflow.entities import Metric, Param

    client = _mlflow_client(spec["db"])
    exp_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    t0 = time.perf_counter()
    for i in range(spec["first"], spec["n"]):
        run_id = client.create_run(exp_id).info.run_id
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, now, 0) for k, v in run_metrics(i).items()],
            params=[Param(k, str(v)) for k, v in run_params(i).items()],
        )
        client.set_terminated(run_id)
    return {"seconds": time.perf_counter() - t0, "method": "client API"}


def mlflow_grow_sql(spec: dict[str, Any]) -> dict[str, Any]:
    """Add runs ``first..n-1`` by cloning, in sqlite directly, the rows MLflow itself
    wrote for one run logged through its API (runs, tags, params, metrics,
    latest_metrics), with a new run id, name and times and run i's values."""
    t0 = time.perf_counter()
    con = sqlite3.connect(spec["db"])
    try:
        (exp_id,) = con.execute(
            "SELECT experiment_id FROM experiments WHERE name = ?", (EXPERIMENT,)
        ).fetchone()
        (template,) = con.execute(
            "SELECT run_uuid FROM runs WHERE experiment_id = ? ORDER BY start_time LIMIT 1",
            (exp_id,),
        ).fetchone()
        tables = ("runs", "tags", "params", "metrics", "latest_metrics")
        shapes: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
        for table in tables:
            cursor = con.execute(f"SELECT * FROM {table} WHERE run_uuid = ?", (template,))
            shapes[table] = ([d[0] for d in cursor.description], cursor.fetchall())
        if sorted(r[0] for r in shapes["params"][1]) != sorted(run_params(0)):
            raise RuntimeError(f"unexpected params in MLflow's template run: {shapes['params']}")
        (start0,) = con.execute(
            "SELECT start_time FROM runs WHERE run_uuid = ?", (template,)
        ).fetchone()
        con.execute("PRAGMA synchronous = OFF")  # setup only; queries use MLflow as it is
        rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in tables}
        for i in range(spec["first"], spec["n"]):
            new_id = uuid.uuid4().hex
            name = f"bulk-{i}"
            values: dict[str, Any] = {
                **{k: str(v) for k, v in run_params(i).items()},
                **run_metrics(i),
            }
            for table, (columns, template_rows) in shapes.items():
                for template_row in template_rows:
                    row = dict(zip(columns, template_row, strict=True))
                    for column, value in row.items():
                        if isinstance(value, str) and template in value:
                            row[column] = value.replace(template, new_id)
                    if table == "runs":
                        row["name"] = name
                        row["start_time"] = start0 + i * 10
                        row["end_time"] = start0 + i * 10 + 5
                    elif table == "tags" and row["key"] == "mlflow.runName":
                        row["value"] = name
                    elif table in ("params", "metrics", "latest_metrics"):
                        row["value"] = values[row["key"]]
                    rows[table].append(tuple(row[c] for c in columns))
            if len(rows["runs"]) >= 10_000:
                _insert(con, shapes, rows)
        _insert(con, shapes, rows)
        con.commit()
    finally:
        con.close()
    return {"seconds": time.perf_counter() - t0, "method": "sqlite insert cloning an API run"}


def _insert(
    con: sqlite3.Connection,
    shapes: dict[str, tuple[list[str], list[tuple[Any, ...]]]],
    rows: dict[str, list[tuple[Any, ...]]],
) -> None:
    for table, batch in rows.items():
        columns = shapes[table][0]
        quoted = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" for _ in columns)
        con.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", batch)
        batch.clear()


def mlflow_query(spec: dict[str, Any]) -> dict[str, Any]:
    """Best run (order_by, max_results=1), AND search, and OR as two searches merged by
    run id; all results fetched (pages of 50,000). Each query is repeated up to
    ``repeat`` times while its total time stays under ``budget`` seconds."""
    import mlflow

    client = _mlflow_client(spec["db"])
    exp_id = client.get_experiment_by_name(EXPERIMENT).experiment_id

    def search_all(where: str) -> list[Any]:
        found: list[Any] = []
        token = None
        while True:
            page = client.search_runs([exp_id], where, max_results=MLFLOW_PAGE, page_token=token)
            found.extend(page)
            token = page.token
            if not token:
                return found

    def best() -> Any:
        return client.search_runs(
            [exp_id], order_by=[f"metrics.{BEST_METRIC} ASC"], max_results=1
        )[0]

    def either() -> dict[str, Any]:
        t0 = time.perf_counter()
        first = search_all(OR_PARTS[0])
        t1 = time.perf_counter()
        second = search_all(OR_PARTS[1])
        t2 = time.perf_counter()
        merged = {r.info.run_id: r for r in first}
        merged.update((r.info.run_id, r) for r in second)
        return {"merged": merged, "parts": [t1 - t0, t2 - t1, len(first), len(second)]}

    client.search_runs([exp_id], max_results=1)  # untimed: engine, connection, imports
    ops: dict[str, Callable[[], Any]] = {
        "best": best,
        "and": lambda: search_all(AND_FILTER),
        "or": either,
    }
    out: dict[str, Any] = {k: [] for k in ops}
    out["or_parts"] = []
    results: dict[str, Any] = {}
    for name, op in ops.items():
        spent = 0.0
        while len(out[name]) < spec["repeat"] and (not out[name] or spent < spec["budget"]):
            seconds, results[name] = timed(op)
            out[name].append(seconds)
            spent += seconds
            if name == "or":
                out["or_parts"].append(results[name]["parts"])
    (count,) = _count_runs(spec["db"])
    out["found"] = {
        "best": results["best"].data.metrics[BEST_METRIC],
        "and": len(results["and"]),
        "or": len(results["or"]["merged"]),
        "or_part_1": results["or"]["parts"][2],
        "or_part_2": results["or"]["parts"][3],
        "runs": count,
    }
    out["mlflow"] = mlflow.__version__
    return out


def _count_runs(db: str) -> tuple[int]:
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "SELECT COUNT(*) FROM runs JOIN experiments USING (experiment_id)"
            " WHERE experiments.name = ?",
            (EXPERIMENT,),
        ).fetchone()
    finally:
        con.close()


CHILD_OPS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "pinyard-log": pinyard_log,
    "pinyard-build": pinyard_build,
    "pinyard-compact": pinyard_compact,
    "pinyard-query": pinyard_query,
    "mlflow-log": mlflow_log,
    "mlflow-grow-api": mlflow_grow_api,
    "mlflow-grow-sql": mlflow_grow_sql,
    "mlflow-query": mlflow_query,
}


def child_main(spec: dict[str, Any]) -> None:
    """Run one step (in a fresh interpreter) and print its result as one JSON line."""
    print(json.dumps(CHILD_OPS[spec["op"]](spec)))


def start_child(python: str, spec: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [python, __file__, "_child", json.dumps(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_child(proc: subprocess.Popen[str], spec: dict[str, Any]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=CHILD_TIMEOUT_S)
    if proc.returncode != 0:
        raise RuntimeError(f"step {spec['op']} failed:\n{err}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def run_child(python: str, spec: dict[str, Any]) -> dict[str, Any]:
    return finish_child(start_child(python, spec), spec)


# -- the run --------------------------------------------------------------------------


@dataclass
class Config:
    log_runs: int
    big_runs: int
    repeat: int
    rounds: int
    big_rounds: int
    budget_s: float
    workers: int
    runs_per_hour: int
    mlflow_python: str
    mlflow_big_setup: str
    fluent: bool
    tmp_dir: str
    quick: bool


@dataclass
class Raw:
    """Every individual measurement, for the JSON file."""

    log: dict[str, Any] = field(default_factory=dict)
    setup: dict[str, Any] = field(default_factory=dict)
    queries: dict[str, list[Any]] = field(default_factory=dict)  # store -> one per round
    sizes: dict[str, int] = field(default_factory=dict)


def build_pinyard(cfg: Config, board_dir: str, n: int) -> dict[str, Any]:
    """n runs stamped in past hours by ``cfg.workers`` processes, then compacted."""
    import pinyard

    pinyard.board_folder(board_dir)  # create the board once, before the workers
    dt = 3600 / cfg.runs_per_hour
    hours = int(n * dt // 3600) + 1
    now_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    base = now_hour - timedelta(hours=hours + 3)  # every run ends before compact's cutoff
    workers = min(cfg.workers, n)
    specs = [
        {
            "op": "pinyard-build",
            "board_dir": board_dir,
            "start": w,
            "stop": n,
            "step": workers,
            "base": base.timestamp(),
            "dt": dt,
        }
        for w in range(workers)
    ]
    t0 = time.perf_counter()
    procs = [start_child(sys.executable, s) for s in specs]
    built = [finish_child(p, s) for p, s in zip(procs, specs, strict=True)]
    wall = time.perf_counter() - t0
    compacted = run_child(sys.executable, {"op": "pinyard-compact", "board_dir": board_dir})
    return {
        "runs": sum(b["runs"] for b in built),
        "workers": workers,
        "hours": hours,
        "log_wall_seconds": wall,
        "compact_seconds": compacted["seconds"],
        "segments": compacted["segments"],
        "bytes": folder_bytes(board_dir),
    }


def folder_bytes(folder: str) -> int:
    return sum(
        os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files
    )


def measure(cfg: Config, root: str) -> Raw:
    raw = Raw()
    n_small, n_big = cfg.log_runs, cfg.big_runs
    raw.sizes = {"small": n_small, "big": n_big}
    started = time.perf_counter()

    def step(message: str) -> None:
        log(f"[{time.perf_counter() - started:6.0f} s] {message}")

    # 1. Logging, one run at a time, each library in its own process.
    small_y = os.path.join(root, "pinyard-logged")
    small_m = os.path.join(root, "mlflow-logged.db")
    step(f"pinyard: log {n_small} runs")
    raw.log["pinyard"] = run_child(
        sys.executable, {"op": "pinyard-log", "board_dir": small_y, "n": n_small}
    )
    step(f"MLflow: log {n_small} runs (client API)")
    raw.log["mlflow_client"] = run_child(
        cfg.mlflow_python, {"op": "mlflow-log", "db": small_m, "n": n_small, "api": "client"}
    )
    if cfg.fluent:
        step(f"MLflow: log {n_small} runs (fluent API)")
        fluent_db = os.path.join(root, "mlflow-fluent.db")
        raw.log["mlflow_fluent"] = run_child(
            cfg.mlflow_python, {"op": "mlflow-log", "db": fluent_db, "n": n_small, "api": "fluent"}
        )
        os.unlink(fluent_db)

    # 2. Stores to query. pinyard: the logged board as it is (raw JSON records of the
    # current hour), and boards of past-hour runs, compacted. MLflow: the logged
    # database, and a copy grown to the big size.
    step(f"pinyard: {n_small} runs in past hours ({cfg.workers} processes), compact")
    small_c = os.path.join(root, "pinyard-small-compacted")
    raw.setup["pinyard_small"] = build_pinyard(cfg, small_c, n_small)
    step(f"pinyard: {n_big} runs in past hours ({cfg.workers} processes), compact")
    big_y = os.path.join(root, "pinyard-big")
    raw.setup["pinyard_big"] = build_pinyard(cfg, big_y, n_big)
    step(
        f"pinyard: built in {raw.setup['pinyard_big']['log_wall_seconds']:.0f} s, "
        f"compacted in {raw.setup['pinyard_big']['compact_seconds']:.1f} s"
    )
    big_m = os.path.join(root, "mlflow-big.db")
    shutil.copyfile(small_m, big_m)
    grow = "mlflow-grow-sql" if cfg.mlflow_big_setup == "sql" else "mlflow-grow-api"
    step(f"MLflow: grow a copy to {n_big} runs ({cfg.mlflow_big_setup})")
    raw.setup["mlflow_big"] = run_child(
        cfg.mlflow_python, {"op": grow, "db": big_m, "first": n_small, "n": n_big}
    )
    raw.setup["mlflow_big"]["bytes"] = os.path.getsize(big_m)
    raw.setup["mlflow_small"] = {"bytes": os.path.getsize(small_m)}
    raw.setup["pinyard_logged"] = {"bytes": folder_bytes(small_y)}
    step(f"MLflow: grown in {raw.setup['mlflow_big']['seconds']:.0f} s")

    # 3. Queries, in rounds: each round queries every store of one size in a fresh
    # process per library, one library right after the other (which goes first
    # alternates), so both meet the machine in the same state and each round gives
    # one ratio. The big stores get one round unless --big-rounds says otherwise (an
    # MLflow best-run query at 100,000 runs takes about 20 minutes).
    sizes = [
        (cfg.rounds, {"pinyard_small_logged": ("pinyard", small_y),
                      "pinyard_small_compacted": ("pinyard", small_c),
                      "mlflow_small": ("mlflow", small_m)}),
        (cfg.big_rounds, {"pinyard_big": ("pinyard", big_y), "mlflow_big": ("mlflow", big_m)}),
    ]  # fmt: skip
    for rounds, stores in sizes:
        for r in range(rounds):
            order = list(stores.items())
            for key, (lib, where) in order if r % 2 == 0 else order[::-1]:
                step(f"queries: {key}, round {r + 1} of {rounds}")
                raw.queries.setdefault(key, []).append(query_child(cfg, lib, where))
    step("done")
    return raw


def query_child(cfg: Config, lib: str, where: str) -> dict[str, Any]:
    if lib == "pinyard":
        spec = {"op": "pinyard-query", "board_dir": where, "repeat": cfg.repeat}
        return run_child(sys.executable, spec)
    spec = {"op": "mlflow-query", "db": where, "repeat": cfg.repeat, "budget": cfg.budget_s}
    return run_child(cfg.mlflow_python, spec)


# -- summary and table -----------------------------------------------------------------


@dataclass
class Row:
    operation: str
    pinyard: str
    mlflow: str
    ratio: str = ""
    goal: str = ""
    met: str = ""
    values: dict[str, Any] = field(default_factory=dict)


def med(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def spread(xs: Sequence[float], scale: float = 1000.0) -> str:
    """``median [min-max]`` (in ms by default) when there are several values."""
    fmt = _fmt(med(xs) * scale)
    if len(xs) == 1:
        return fmt
    return f"{fmt} [{_fmt(min(xs) * scale)}-{_fmt(max(xs) * scale)}]"


def _fmt(ms: float) -> str:
    if ms >= 100:
        return f"{ms:,.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    return f"{ms:.2f}"


def yes_no(ok: bool) -> str:
    return "yes" if ok else "NO"


def goal_row(
    label: str, ys: Sequence[float], ms: Sequence[float], mtext: str = "", goal: bool = True
) -> Row:
    y, m = med(ys), med(ms)
    ratio = m / y
    return Row(
        label,
        spread(ys),
        mtext or spread(ms),
        f"{ratio:.2f}x",
        f">= {SPEEDUP_GOAL:g}x" if goal else "info",
        yes_no(ratio >= SPEEDUP_GOAL) if goal else "",
        {"pinyard_s": y, "mlflow_s": m, "ratio": ratio},
    )


def paired_goal_row(
    label: str, ys: Sequence[Sequence[float]], ms: Sequence[Sequence[float]], mtext: str = ""
) -> Row:
    """A goal row from rounds: times pooled over the rounds; the ratio is the median of
    the rounds' ratios (each round's medians, measured back to back), with their range."""
    if len(ys) == 1:
        return goal_row(label, ys[0], ms[0], mtext)
    ratios = [med(m) / med(y) for y, m in zip(ys, ms, strict=True)]
    ratio = med(ratios)
    pooled_y, pooled_m = [t for y in ys for t in y], [t for m in ms for t in m]
    return Row(
        label,
        spread(pooled_y),
        mtext or spread(pooled_m),
        f"{ratio:.2f}x [{min(ratios):.1f}-{max(ratios):.1f}]",
        f">= {SPEEDUP_GOAL:g}x",
        yes_no(ratio >= SPEEDUP_GOAL),
        {"pinyard_s": med(pooled_y), "mlflow_s": med(pooled_m), "ratio": ratio,
         "round_ratios": ratios},
    )  # fmt: skip


def summarize(cfg: Config, raw: Raw) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    n_small, n_big = raw.sizes["small"], raw.sizes["big"]
    ly = raw.log["pinyard"]["seconds"]
    lm = raw.log["mlflow_client"]["seconds"]
    rows.append(goal_row(f"log {n_small:,} runs, per run (ms), MLflow client API", ly, lm))
    if "mlflow_fluent" in raw.log:
        lf = raw.log["mlflow_fluent"]["seconds"]
        rows.append(goal_row("  same, MLflow fluent API (info)", ly, lf, goal=False))
    total_y, total_m = sum(ly), sum(lm)
    rows.append(
        Row(
            f"  total for {n_small:,} runs (s)",
            f"{total_y:.2f}",
            f"{total_m:.2f}",
            f"{total_m / total_y:.2f}x",
            "info",
            "",
            {"pinyard_s": total_y, "mlflow_s": total_m},
        )
    )

    checks: dict[str, Any] = {}
    sections = [
        (n_small, "as logged: raw records", "pinyard_small_logged", "mlflow_small"),
        (n_small, "compacted", "pinyard_small_compacted", "mlflow_small"),
        (n_big, "compacted", "pinyard_big", "mlflow_big"),
    ]
    for n, state, ykey, mkey in sections:
        ry, rm = raw.queries[ykey], raw.queries[mkey]  # rounds
        qy, qm = ry[0], rm[0]
        want = expected_counts(n)
        best = expected_best(n)
        ok = {
            "pinyard": all(
                q["found"]["runs"] == n
                and q["found"]["and"] == want["and"]
                and q["found"]["or"] == want["or"]
                and q["found"]["best"] == best
                for q in ry
            ),
            "mlflow": all(
                q["found"]["runs"] == n
                and q["found"]["and"] == want["and"]
                and q["found"]["or"] == want["or"]
                and abs(q["found"]["best"] - best) < 1e-12
                for q in rm
            ),
        }
        checks[ykey] = {
            "expected": {**want, "best": best},
            "pinyard": qy["found"],
            "mlflow": qm["found"],
            "ok": ok,
        }
        rows.append(Row(f"-- {n:,} runs (pinyard: {state}) --", "", "", "", "", ""))
        if "first_and" in qy:  # round 1 on raw records: reads them all, writes a checkpoint
            rows.append(
                Row(
                    "first AND search of a process, on the store as found (ms)",
                    _fmt(qy["first_and"] * 1000),
                    "",
                    "",
                    "info",
                    "",
                    {"pinyard_s": qy["first_and"]},
                )
            )
        labels = {
            "best": f"best run by metrics.{BEST_METRIC} (ms)",
            "and": f"search AND, {want['and']:,} found (ms)",
            "or": f"search OR, {want['or']:,} found (ms)",
        }
        for op, text in labels.items():
            label = text
            mtext = ""
            if op == "or":
                parts = [p for q in rm for p in q["or_parts"]]
                mtext = (
                    f"{spread([t for q in rm for t in q['or']])} = "
                    f"{_fmt(med([p[0] for p in parts]) * 1000)}"
                    f" + {_fmt(med([p[1] for p in parts]) * 1000)}"
                )
            if op == "or":
                label = f"{label}, MLflow: 2 queries"
            for temp in ("cold", "warm"):
                ys, ms = [q[temp][op] for q in ry], [q[op] for q in rm]
                rows.append(paired_goal_row(f"{label}, {temp}", ys, ms, mtext))
        rows.append(
            Row(
                "  results agree with the expected ones",
                "yes" if ok["pinyard"] else "NO",
                "yes" if ok["mlflow"] else "NO",
                "",
                "",
                "",
                {"ok": ok},
            )
        )
    sy, sb = raw.setup["pinyard_big"], raw.setup["mlflow_big"]
    rows.append(Row("-- setup (info) --", "", "", "", "", ""))
    rows.append(
        Row(
            f"create {n_big:,} runs (s)",
            f"{sy['log_wall_seconds']:.0f} ({sy['workers']} processes, public API)",
            f"{sb['seconds']:.0f} ({sb['method']})",
            "",
            "info",
            "",
        )
    )
    rows.append(
        Row(f"compact {n_big:,} runs (s)", f"{sy['compact_seconds']:.1f}", "", "", "info", "")
    )
    rows.append(
        Row(
            f"store size, {n_big:,} runs (MB)",
            f"{sy['bytes'] / 1e6:.0f}",
            f"{sb['bytes'] / 1e6:.0f}",
            "",
            "info",
            "",
        )
    )
    met = [r.met for r in rows if r.met]
    extra = {
        "checks": checks,
        "goals_met": met.count("yes"),
        "goals": len(met),
    }
    return rows, extra


COLUMNS = ("operation", "pinyard", "MLflow", "ratio", "goal", "met?")


def render(rows: list[Row]) -> str:
    cells = [list(COLUMNS)] + [
        [r.operation, r.pinyard, r.mlflow, r.ratio, r.goal, r.met] for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    lines = []
    for n, c in enumerate(cells):
        lines.append(" | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def default_mlflow_python() -> str | None:
    """This interpreter if it can import mlflow, else None (then --mlflow-python is needed)."""
    return sys.executable if importlib.util.find_spec("mlflow") is not None else None


def parse_args(argv: Sequence[str]) -> tuple[Config, Path, bool]:
    parser = argparse.ArgumentParser(
        description="Benchmark pinyard's tracker against MLflow's sqlite store (same run)."
    )
    parser.add_argument(
        "--mlflow-python",
        help="the Python interpreter of a venv with mlflow installed "
        "(default: this one, if it can import mlflow)",
    )
    parser.add_argument("--quick", action="store_true", help="big size 10,000 (a few minutes)")
    parser.add_argument("--big-runs", type=int, help="runs in the big store (default 100000)")
    parser.add_argument("--log-runs", type=int, default=1000, help="runs logged and timed")
    parser.add_argument(
        "--repeat", type=int, default=10, help="repetitions of each query in each round"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds of queries on the 1,000-run stores"
    )
    parser.add_argument(
        "--big-rounds", type=int, default=1, help="rounds of queries on the big stores"
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        default=60.0,
        help="stop repeating an MLflow query once its calls took this long (default 60)",
    )
    parser.add_argument(
        "--workers", type=int, default=8, help="processes logging pinyard's past-hour runs"
    )
    parser.add_argument(
        "--runs-per-hour", type=int, default=2000, help="past-hour runs stamped per hour"
    )
    parser.add_argument(
        "--mlflow-big-setup",
        choices=("sql", "api"),
        default="sql",
        help="how MLflow's big store is grown: sqlite inserts cloning an API-logged run "
        "(default), or the client API (about 10-40 ms a run)",
    )
    parser.add_argument("--no-fluent", action="store_true", help="skip timing MLflow's fluent API")
    parser.add_argument("--tmp-dir", help="where to make the temporary stores (default: $TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="keep the stores (for profiling)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    args = parser.parse_args(argv)
    mlflow_python = args.mlflow_python or default_mlflow_python()
    if mlflow_python is None:
        parser.error(
            "mlflow is not importable here: pass --mlflow-python /path/to/venv/bin/python"
        )
    big = args.big_runs or (10_000 if args.quick else 100_000)
    cfg = Config(
        log_runs=args.log_runs,
        big_runs=big,
        repeat=args.repeat,
        rounds=args.rounds,
        big_rounds=args.big_rounds,
        budget_s=args.budget_s,
        workers=args.workers,
        runs_per_hour=args.runs_per_hour,
        mlflow_python=mlflow_python,
        mlflow_big_setup=args.mlflow_big_setup,
        fluent=not args.no_fluent,
        tmp_dir=args.tmp_dir or tempfile.gettempdir(),
        quick=bool(args.quick),
    )
    if cfg.log_runs < 10 or cfg.big_runs < cfg.log_runs or cfg.workers < 1:
        parser.error("need --log-runs >= 10, --big-runs >= --log-runs, --workers >= 1")
    if min(cfg.repeat, cfg.rounds, cfg.big_rounds) < 1:
        parser.error("need --repeat, --rounds and --big-rounds >= 1")
    return cfg, args.json, bool(args.keep)


def main(argv: Sequence[str]) -> int:
    cfg, json_path, keep = parse_args(argv)
    import pinyard

    started = time.perf_counter()
    root = tempfile.mkdtemp(prefix="pinyard-bench-tracking-", dir=cfg.tmp_dir)
    try:
        raw = measure(cfg, root)
    finally:
        if keep:
            log(f"stores kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    wall = time.perf_counter() - started
    rows, extra = summarize(cfg, raw)
    mlflow_version = raw.log["mlflow_client"]["mlflow"]
    mlflow_py = raw.log["mlflow_client"]["python"]

    print(
        f"pinyard {pinyard.__version__} (Python {platform.python_version()}) vs MLflow "
        f"{mlflow_version} (Python {mlflow_py}, sqlite store, client API) | "
        f"{os.cpu_count()} CPUs | load avg {os.getloadavg()[0]:.1f} | "
        f"{cfg.log_runs:,} logged runs, {cfg.big_runs:,} big | "
        f"median [min-max] of {cfg.rounds} rounds ({cfg.big_rounds} big) of up to "
        f"{cfg.repeat} | temp dir {cfg.tmp_dir} | {wall:.0f} s"
    )
    print(
        f"MLflow's {cfg.big_runs:,} runs: the {cfg.log_runs:,} logged ones + "
        f"{raw.setup['mlflow_big']['method']}; pinyard's: logged through the public API "
        f"with Tracker._now replaced by a clock in past hours, then compact()"
    )
    print(
        "ratio: MLflow time / pinyard time (>1 = pinyard faster), the median [min-max] of "
        "the rounds' ratios; cold = fresh Tracker, warm = the same Tracker again; MLflow "
        "figure is the same for both"
    )
    print(render(rows))
    print(f"goals met: {extra['goals_met']}/{extra['goals']}")

    json_path.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "config": asdict(cfg),
        "environment": {
            "pinyard": pinyard.__version__,
            "mlflow": mlflow_version,
            "python": platform.python_version(),
            "mlflow_python": mlflow_py,
            "cpus": os.cpu_count(),
            "load_avg_end": os.getloadavg(),
            "platform": platform.platform(),
            "wall_seconds": wall,
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "summary": [asdict(r) for r in rows],
        "extra": extra,
        "raw": asdict(raw),
    }
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    log(f"results written to {json_path}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_child":
        child_main(json.loads(sys.argv[2]))
    else:
        sys.exit(main(sys.argv[1:]))
