"""Benchmark pinyard's registry against MLflow's model registry (sqlite store), in one run.

This is a benchmark, not a test: it measures and prints, and never fails on a
missed goal. Run it from the repository root with the project's venv; MLflow
runs in its own interpreter (see bench/README.md)::

    .venv/bin/python bench/bench_registry.py --quick --mlflow-python /tmp/mlflow-venv/bin/python
    .venv/bin/python bench/bench_registry.py --mlflow-python /tmp/mlflow-venv/bin/python

Figures (bench/README.md says what each one means):

1. moving an alias on a local folder board (`Registry.set_alias`) against MLflow's
   ``set_registered_model_alias``, at each of ``--histories`` events of history;
   MLflow's register + alias for information;
2. resolving ``name@alias`` on S3 (moto, every request counted at the test
   suite's proxy), cold (a fresh board, empty cache) and warm (the same
   registry again), at each of ``--histories`` events, against MLflow's
   ``get_model_version_by_alias`` (what ``models:/name@alias`` resolves with);
3. 8 processes racing to move one alias (set_alias and gated promote) on a
   folder, S3 (moto), Azure (Azurite) and GCS (fake-gcs-server): events
   committed per second, and events lost or duplicated (checked in the chain).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# s3fs against moto needs the region from the environment; gcsfs must not wait on gRPC.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_JSON = HERE / "results" / "registry.json"
NAME, ALIAS = "churn", "production"
SET_ALIAS_GOAL = 15.0  # pinyard at least 15x faster than MLflow's set_registered_model_alias
RESOLVE_REQUESTS_GOAL = 2
MOVERS = 8
RACE_VERSIONS = 8
CHILD_TIMEOUT_S = 3600


def log(message: str) -> None:
    """Progress goes to stderr so that stdout holds only the results."""
    print(message, file=sys.stderr, flush=True)


def median_ms(seconds: Sequence[float]) -> float:
    return statistics.median(seconds) * 1000


def test_helpers() -> tuple[Any, Any, Any]:
    """The test suite's ``FaultProxy``, emulators and forked movers (tests/backends/)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    # Through importlib, so that type checking bench/ does not descend into tests/.
    proxy = importlib.import_module("tests.backends._proxy")
    servers = importlib.import_module("tests.backends._servers")
    movers = importlib.import_module("tests.backends._movers")
    return proxy, servers, movers


# -- a registry with a long history, made cheaply ----------------------------------------


def set_up(board: Any, count: int = 3) -> tuple[Any, list[str]]:
    """``count`` versions of NAME; ``production`` an alias holding the first."""
    import pinyard

    versions = [board.pin_write({"model": i}, NAME, type="json").version for i in range(count)]
    registry = pinyard.Registry(board, user="bench")
    registry.configure(stages=["candidate", "staging"], reason="production is an alias here")
    registry.set_alias(NAME, ALIAS, versions[0], reason="first")
    return registry, versions


def grow_history(registry: Any, versions: list[str], events: int) -> dict[str, bytes]:
    """The event files (and state.json) that take NAME's chain to ``events`` alias moves.

    They are what `Registry.set_alias` writes, made without its per-event round
    trips: the same `Event`, its canonical bytes, each naming the sha256 of the
    one before, applied to the same `State`, then one snapshot of the end. The
    caller writes them straight to the store (not through the counting proxy).
    """
    from pinyard.registry._chain import snapshot_bytes
    from pinyard.registry._events import Event, event_file, event_sha256, utc_text

    state = registry.state(NAME)
    targets = {v: registry.fingerprint(NAME, registry.board.pin_meta(NAME, v)) for v in versions}
    start = datetime.now(UTC) - timedelta(microseconds=events + 1)
    files = {}
    for seq in range(state.seq + 1, events + 1):
        version = versions[seq % len(versions)]
        event = Event(
            seq=seq, prev=state.head, id=uuid.uuid4().hex,
            time=utc_text(max(start + timedelta(microseconds=seq), _after(state.time))),
            actor="bench", reason="history", op="set_alias", name=NAME, slot=ALIAS,
            kind="alias", target=targets[version], previous=state.aliases.get(ALIAS),
        )  # fmt: skip
        raw = event.to_bytes()
        state.apply(event, event_sha256(raw))
        files[f"registry/{NAME}/events/{event_file(seq)}"] = raw
    state.trim()  # as `Chain.write_snapshot` does
    files[f"registry/{NAME}/state.json"] = snapshot_bytes(state)
    return files


def _after(moment: str | None) -> datetime:
    from pinyard.registry._events import parse_utc

    return parse_utc(moment) + timedelta(microseconds=1) if moment else datetime.min.replace(
        tzinfo=UTC
    )  # fmt: skip


def write_local(root: str, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        target = Path(root, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


# -- 1. moving an alias locally ------------------------------------------------------------


def pinyard_moves(tmp: str, history: int, moves: int) -> dict[str, Any]:
    """ms per `set_alias` on a folder board whose name has ``history`` events."""
    import pinyard

    board = pinyard.board_folder(f"{tmp}/moves-{history}")
    registry, versions = set_up(board)
    write_local(f"{tmp}/moves-{history}", grow_history(registry, versions, history))
    assert registry.state(NAME).seq == history
    times, cpu, floor, snapshot = [], [], [], []
    state_size = len(Path(tmp, f"moves-{history}", "registry", NAME, "state.json").read_bytes())
    for i in range(moves):
        t0, c0 = time.perf_counter(), time.process_time()
        registry.set_alias(NAME, ALIAS, versions[i % 3], reason="move")
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        floor.append(fsynced_create(f"{tmp}/moves-{history}/floor-{i}.json"))
        snapshot.append(replaced(f"{tmp}/moves-{history}/floor-state.json", state_size))
    register = []
    for i in range(min(moves, 20)):
        t0 = time.perf_counter()
        version = board.pin_write({"model": 100 + i}, NAME, type="json").version
        registry.set_alias(NAME, ALIAS, version, reason="register and move")
        register.append(time.perf_counter() - t0)
    assert registry.verify(NAME)[0].ok
    resolve = []
    for _ in range(20):
        t0 = time.perf_counter()
        registry.resolve(f"{NAME}@{ALIAS}")
        resolve.append(time.perf_counter() - t0)
    return {"history": history, "move_s": times, "cpu_s": cpu, "floor_s": floor,
            "snapshot_s": snapshot,
            "register_s": register, "resolve_s": resolve}  # fmt: skip


def fsynced_create(path: str, size: int = 700) -> float:
    """Seconds for what one event costs the disk, and no more: create a temporary file,
    link it to ``path`` and fsync it (as `LocalStore.write_exclusive`), taken between
    the moves so that both see the same load."""
    t0 = time.perf_counter()
    fd = os.open(f"{path}.tmp", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    try:
        os.write(fd, b"x" * size)
        os.link(f"{path}.tmp", path)
        os.unlink(f"{path}.tmp")
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - t0


def replaced(path: str, size: int) -> float:
    """Seconds to replace a file of ``size`` bytes by rename, as state.json is replaced
    (`LocalStore.replace_small`: not synced; ext4 still starts writing the new file's
    blocks when a rename replaces a file, its auto_da_alloc)."""
    t0 = time.perf_counter()
    with open(f"{path}.tmp", "wb") as out:
        out.write(b"y" * size)
    os.replace(f"{path}.tmp", path)
    return time.perf_counter() - t0


# -- MLflow side (runs in --mlflow-python) -------------------------------------------------


def _mlflow_client(db: str) -> Any:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    mlflow.set_registry_uri(f"sqlite:///{db}")
    return mlflow.MlflowClient()


def mlflow_registry(spec: dict[str, Any]) -> dict[str, Any]:
    """ms of set_registered_model_alias, of register + alias, and of
    get_model_version_by_alias (what ``models:/name@alias`` resolves with)."""
    import mlflow

    client = _mlflow_client(spec["db"])
    client.create_registered_model(NAME)  # untimed: creates the database and its tables
    art = spec["artifacts"]
    versions = [client.create_model_version(NAME, f"{art}/v{i}").version for i in range(3)]
    client.set_registered_model_alias(NAME, ALIAS, versions[0])
    moves, register = [], []
    for i in range(spec["moves"]):
        t0 = time.perf_counter()
        client.set_registered_model_alias(NAME, ALIAS, versions[i % 3])
        moves.append(time.perf_counter() - t0)
    for i in range(min(spec["moves"], 20)):
        t0 = time.perf_counter()
        version = client.create_model_version(NAME, f"{art}/r{i}").version
        client.set_registered_model_alias(NAME, ALIAS, version)
        register.append(time.perf_counter() - t0)
    # MLflow updates one alias row in place and keeps no history of it: the lookup after
    # these moves is its figure for any length of history.
    lookups = []
    for _ in range(spec["repeat"]):
        t0 = time.perf_counter()
        found = client.get_model_version_by_alias(NAME, ALIAS)
        lookups.append(time.perf_counter() - t0)
    assert ALIAS in found.aliases
    return {"mlflow": mlflow.__version__, "python": platform.python_version(),
            "move_s": moves, "register_s": register, "lookup_s": lookups,
            "alias_changes": len(moves) + len(register) + 1}  # fmt: skip


def child_main(spec: dict[str, Any]) -> None:
    print(json.dumps(mlflow_registry(spec)))


def run_mlflow(python: str, spec: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [python, __file__, "_child", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the MLflow step failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# -- 2. resolving on S3, counted at the proxy ------------------------------------------------


def s3_resolves(moto: Any, proxy: Any, tmp: str, history: int, repeat: int) -> dict[str, Any]:
    """Requests and ms of ``resolve(name@alias)`` with ``history`` events, cold and warm."""
    import pinyard

    servers = test_helpers()[1]
    bucket = moto.make_bucket(servers.unique_name(f"resolve-{history}"))
    url = f"s3://{bucket}/root"

    def open_registry(cache: str) -> Any:
        board = pinyard.board(url, cache=pinyard.Cache(f"{tmp}/{cache}"),
                              **moto.storage_options(proxy.url))  # fmt: skip
        return pinyard.Registry(board)

    registry, versions = set_up(open_registry(f"c-{history}-setup").board)
    files = grow_history(registry, versions, history)
    direct = moto.filesystem()
    direct.pipe({f"{bucket}/root/{path}": data for path, data in files.items()})
    cold: list[float] = []
    warm: list[float] = []
    requests: dict[str, list[str]] = {}
    for round_ in range(repeat):
        reader = open_registry(f"c-{history}-{round_}")  # a fresh board, an empty cache
        for label, times in (("cold", cold), ("warm", warm)):
            with proxy.measure() as window:
                t0 = time.perf_counter()
                found = reader.resolve(f"{NAME}@{ALIAS}")
                times.append(time.perf_counter() - t0)
            assert found.version == versions[history % 3], (found, history)
            requests.setdefault(label, [f"{r.method} {_short(r, bucket)}" for r in window.records])
            if label == "warm":
                for _ in range(4):  # more warm calls on the same registry
                    t0 = time.perf_counter()
                    reader.resolve(f"{NAME}@{ALIAS}")
                    warm.append(time.perf_counter() - t0)
    return {"history": history, "cold_s": cold, "warm_s": warm, "requests": requests}


def _short(record: Any, bucket: str) -> str:
    path = record.path.split(f"/{bucket}", 1)[-1] or "/"
    return f"{path}?{record.query}" if record.query else path


# -- 3. racing movers ----------------------------------------------------------------------


def race(movers: Any, place: dict[str, Any], calls: int, tmp: str) -> dict[str, Any]:
    """8 forked movers on one board; events/s, and what the chain lost or doubled."""
    import pinyard

    board = open_place(place, f"{tmp}/setup-cache")
    # 8 versions: a mover's pick then rarely is the holder (a move to it writes nothing)
    _, versions = set_up(board, RACE_VERSIONS)
    ranks = random.Random(3).sample(versions, RACE_VERSIONS)
    scores = {v: float(i) for i, v in enumerate(ranks)}
    movers.prepare(place["protocol"])
    now = time.time()
    specs = [
        {"url": place["url"], "options": place["options"], "cache": f"{tmp}/cache-m{i}",
         "name": NAME, "alias": ALIAS, "versions": versions, "scores": scores,
         "worker": f"m{i}", "log": f"{tmp}/m{i}.jsonl", "err": f"{tmp}/m{i}.err",
         "seed": i, "promote_share": 0.5, "count": calls, "deadline": now + 300.0}
        for i in range(MOVERS)
    ]  # fmt: skip
    forks = importlib.import_module("tests._forks")  # the movers start once all are ready
    pids = movers.spawn(forks.together(specs, Path(tmp, "together")))
    codes = movers.wait(pids, 600.0)
    failed = {s["worker"]: Path(s["err"]).read_text() for s, p in zip(specs, pids, strict=True)
              if codes[p] != 0}  # fmt: skip
    if failed:
        raise RuntimeError(f"movers failed: {failed}")
    read_log = test_helpers()[2].read_log
    records = [rec for s in specs for rec in read_log(s["log"])]
    reader = pinyard.Registry(open_place(place, f"{tmp}/reader-cache"))
    history = reader.history(NAME)
    in_chain = Counter(e.reason for e in history)
    seconds = max(r["t1"] for r in records) - min(r["t0"] for r in records)
    committed = [r for r in records if r["op"] != "unchanged"]  # a move to the holder writes none
    logged = {r["reason"] for r in committed}
    return {
        "backend": place["label"],
        "events": len(committed),
        "unchanged": len(records) - len(committed),
        "seconds": seconds,
        "events_per_s": len(committed) / seconds,
        "lost": sum(1 for r in logged if in_chain[r] == 0),
        "unchanged_wrote": sum(in_chain[r["reason"]] for r in records if r["op"] == "unchanged"),
        "duplicated": sum(n - 1 for n in in_chain.values() if n > 1),
        "unlogged": sum(1 for e in history if e.actor != "bench" and e.reason not in logged),
        "ops": dict(Counter(r["op"] for r in records)),
        "chain_ok": reader.verify(NAME)[0].ok,
        "consecutive": [e.seq for e in history] == list(range(1, len(history) + 1)),
    }


def open_place(place: dict[str, Any], cache: str) -> Any:
    import pinyard

    if place["protocol"] == "file":
        return pinyard.board_folder(place["url"])
    return pinyard.board(place["url"], cache=pinyard.Cache(cache), **place["options"])


# -- the run -----------------------------------------------------------------------------------


def fmt_range(seconds: Sequence[float]) -> str:
    return f"{median_ms(seconds):.2f} [{min(seconds) * 1000:.2f}-{max(seconds) * 1000:.2f}]"


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    import pinyard

    proxy_mod, servers, movers_mod = test_helpers()
    started = time.perf_counter()
    root = tempfile.mkdtemp(prefix="pinyard-bench-registry-", dir=args.tmp_dir)
    report: dict[str, Any] = {"config": vars(args) | {"json": str(args.json)}}
    stack: list[Callable[[], None]] = []
    try:
        log("MLflow: set_registered_model_alias, register + alias, get_model_version_by_alias")
        report["mlflow"] = run_mlflow(args.mlflow_python, {
            "db": f"{root}/mlflow.db", "artifacts": f"{root}/mlflow-artifacts",
            "moves": args.moves, "repeat": args.repeat * 5})  # fmt: skip
        report["local"] = []
        for h in args.histories:
            # MLflow's moves again right before each row, so that both see the same load
            log(f"MLflow moves, then pinyard set_alias on a folder board ({h:,} events)")
            paired = run_mlflow(args.mlflow_python, {
                "db": f"{root}/mlflow-{h}.db", "artifacts": f"{root}/mlflow-artifacts-{h}",
                "moves": args.moves, "repeat": 1})  # fmt: skip
            row = pinyard_moves(root, h, args.moves if h <= 1000 else min(args.moves, 30))
            report["local"].append(row | {"mlflow_move_s": paired["move_s"]})
        log("starting moto and the counting proxy")
        moto = servers.MotoServer().start()
        stack.append(moto.stop)
        proxy = proxy_mod.FaultProxy(moto.endpoint_url).start()
        stack.append(proxy.stop)
        report["s3_resolve"] = []
        for history in args.histories:
            log(f"pinyard: resolve on S3 with {history:,} events")
            report["s3_resolve"].append(s3_resolves(moto, proxy, root, history, args.repeat))
        report["race"] = []
        if args.backends:
            movers = movers_mod.Movers()
            stack.append(movers.stop)
            for label in args.backends:
                log(f"pinyard: {MOVERS} racing movers on {label}")
                place = start_backend(label, root, servers, stack)
                tmp = f"{root}/race-{label}"
                os.makedirs(tmp)
                calls = args.race_calls * (3 if label == "local" else 1)
                report["race"].append(race(movers, place, calls, tmp))
    finally:
        for stop in reversed(stack):
            stop()
        shutil.rmtree(root, ignore_errors=True)
    report["wall_s"] = time.perf_counter() - started
    print_report(report, pinyard.__version__)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n")
    log(f"results written to {args.json}")
    return 0


def start_backend(label: str, root: str, servers: Any, stack: list[Callable[[], None]]) -> Any:
    if label == "local":
        return {"label": label, "protocol": "file", "url": f"{root}/race-board", "options": {}}
    kind = {"s3": servers.MotoServer, "azure": servers.Azurite, "gcs": servers.FakeGcs}[label]
    server = kind().start()
    stack.append(server.stop)
    bucket = server.make_bucket(servers.unique_name(f"race-{label}"))
    protocol = {"s3": "s3", "azure": "az", "gcs": "gs"}[label]
    if protocol == "az":
        stack.append(servers.patch_adlfs_retry().__enter__().__exit__)
    return {"label": label, "protocol": protocol, "url": f"{protocol}://{bucket}/team",
            "options": server.storage_options()}  # fmt: skip


def print_report(report: dict[str, Any], version: str) -> None:
    mlflow = report["mlflow"]
    print(
        f"pinyard {version} vs MLflow {mlflow['mlflow']} (sqlite registry) | "
        f"{os.cpu_count()} CPUs | load avg {os.getloadavg()[0]:.1f} | {report['wall_s']:.0f} s"
    )
    print("times: median [min-max] ms; ratio = MLflow / pinyard (>1: pinyard faster)")
    m_move = median_ms(mlflow["move_s"])
    print(
        f"\n1. move an alias, local folder board vs MLflow set_registered_model_alias "
        f"(goal >= {SET_ALIAS_GOAL:.0f}x)"
    )
    print(f"   MLflow set_registered_model_alias   {fmt_range(mlflow['move_s'])}")
    print(f"   MLflow register + alias (info)      {fmt_range(mlflow['register_s'])}")
    for row in report["local"]:
        m_move = median_ms(row.get("mlflow_move_s", mlflow["move_s"]))
        print(f"   MLflow set_registered_model_alias just before: {m_move:.2f} ms")
        ratio = m_move / median_ms(row["move_s"])
        met = "met" if ratio >= SET_ALIAS_GOAL else "NOT met"
        print(
            f"   pinyard set_alias, {row['history']:>6,} events  {fmt_range(row['move_s'])}"
            f"  ratio {ratio:.1f}x  {met}"
        )
        if "floor_s" in row:
            floor = median_ms(row["floor_s"])
            print(
                f"     of which CPU {fmt_range(row['cpu_s'])}; one fsynced create (the "
                f"floor of a durable event) {fmt_range(row['floor_s'])}: at most "
                f"{m_move / floor:.1f}x is reachable on this disk now"
            )
        if "snapshot_s" in row:
            both = floor + median_ms(row["snapshot_s"])
            print(
                f"     and a state.json-sized replace by rename {fmt_range(row['snapshot_s'])}"
                f": with both, at most {m_move / both:.1f}x"
            )
        print(
            f"   pinyard pin_write + set_alias (info) {fmt_range(row['register_s'])}  "
            f"ratio {median_ms(mlflow['register_s']) / median_ms(row['register_s']):.1f}x "
            "(back to back: a write waits for the clock's next second after a version of the "
            "same pin in this second, decision 0016)"
        )
        print(f"   pinyard resolve local (info)         {fmt_range(row['resolve_s'])}")
    print(
        f"\n2. resolve {NAME}@{ALIAS} on S3 (moto, counted at the proxy; goal <= "
        f"{RESOLVE_REQUESTS_GOAL} requests, flat latency) vs MLflow get_model_version_by_alias"
    )
    for row in report["s3_resolve"]:
        h = row["history"]
        peer = mlflow["lookup_s"]
        for label in ("cold", "warm"):
            n = len(row["requests"][label])
            ok = "met" if n <= RESOLVE_REQUESTS_GOAL else "NOT met"
            ratio = median_ms(peer) / median_ms(row[f"{label}_s"]) if peer else float("nan")
            print(
                f"   {h:>6,} events, {label}: {n} requests ({ok}), "
                f"{fmt_range(row[f'{label}_s'])} ms; MLflow {fmt_range(peer or [0.0])} ms, "
                f"ratio {ratio:.2f}x"
            )
    for label in ("cold", "warm"):
        print(
            f"   requests of a {label} resolve: "
            + "; ".join(report["s3_resolve"][-1]["requests"][label])
        )
    if report["race"]:
        print(f"\n3. {MOVERS} racing movers (set_alias and gated promote of one alias)")
    for row in report["race"]:
        print(
            f"   {row['backend']:<6} {row['events']:>4} events in {row['seconds']:6.2f} s = "
            f"{row['events_per_s']:6.1f} events/s ({row['unchanged']} calls changed nothing, "
            f"{row['unchanged_wrote']} of them wrote); lost {row['lost']}, duplicated "
            f"{row['duplicated']}, unlogged {row['unlogged']}; chain ok {row['chain_ok']}, "
            f"consecutive {row['consecutive']}; {row['ops']}"
        )


def default_mlflow_python() -> str | None:
    return sys.executable if importlib.util.find_spec("mlflow") is not None else None


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark pinyard's registry against MLflow's sqlite registry."
    )
    parser.add_argument("--mlflow-python", help="a venv's interpreter that imports mlflow")
    parser.add_argument("--quick", action="store_true", help="histories 10 and 1,000")
    parser.add_argument("--histories", type=int, nargs="+", help="default 10 1000 10000")
    parser.add_argument("--moves", type=int, default=100, help="timed alias moves per board")
    parser.add_argument("--repeat", type=int, default=5, help="cold resolves per history")
    parser.add_argument("--race-calls", type=int, default=8,
                        help="calls per racing mover on object stores (x3 locally)")  # fmt: skip
    parser.add_argument("--backends", nargs="*", default=["local", "s3", "azure", "gcs"],
                        choices=["local", "s3", "azure", "gcs"])  # fmt: skip
    parser.add_argument("--tmp-dir", default=None)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args(argv)
    args.mlflow_python = args.mlflow_python or default_mlflow_python()
    if args.mlflow_python is None:
        parser.error("mlflow is not importable here: pass --mlflow-python /path/to/bin/python")
    default = [10, 1000] if args.quick else [10, 1000, 10000]
    args.histories = sorted(set(args.histories or default))
    if args.quick:
        args.moves = min(args.moves, 50)
    return args


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_child":
        child_main(json.loads(sys.argv[2]))
    else:
        sys.exit(main(sys.argv[1:]))
