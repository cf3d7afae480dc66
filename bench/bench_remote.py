"""Benchmark pinyard's S3 board against pins-python 0.9.2, in one run, on moto's S3 server.

This is a benchmark, not a test: it measures and prints, and never fails on a
missed goal. Run it from the repository root with the project's venv (it needs
the test extra: s3fs, moto[server] and aiohttp):

    .venv/bin/python bench/bench_remote.py --quick          # 64 MiB, 2 repeats
    .venv/bin/python bench/bench_remote.py                  # 512 MiB, 3 repeats

One ``moto_server`` subprocess serves S3 on a free 127.0.0.1 port; every
board of both libraries gets its own bucket, so the two never share a key.
Figures (see bench/README.md for what each one means):

1. requests per operation, counted by a loopback proxy with no faults
   (``tests/backends/_proxy.py``) that both libraries talk through: a small
   pin write (a dict as json), ``pin_versions``, a read of a named version and
   of the latest with a fresh board and an empty cache (cold), then again on
   the same board (warm), and listing pins of 10, 300 and 3,000 versions
   (``--versions``): each listing on a fresh board, pinyard's first listing of
   each pin (it writes the listing index) on a row of its own;
2. the time of those operations (through the proxy);
3. write and read of one large numpy float64 array as type ``joblib``,
   straight to moto, each in a fresh subprocess: MiB/s, peak extra memory
   (RSS) and the requests moto logged for it.

Results go to a table on stdout and to ``bench/results/remote.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import importlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

# s3fs talking to moto needs the region from the environment (a region_name client kwarg
# makes bucket creation fail); set before s3fs is imported, here and in the children.
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

from bench_board import (  # the sibling benchmark (bench/ is on sys.path)
    Row,
    SkippedWaits,
    lib_order,
    log,
    make_array,
    med,
    peak_rss,
    render,
    spread,
    time_sha256,
    write_report,
    yes_no,
)

MIB = 1024 * 1024
ROOT = "root"  # pinyard board at s3://<bucket>/root; pins board at <bucket>/root/pins
SMALL_PIN = "small"
MANY_PIN = "many"
BIG_PIN = "big"
FURTHER_WRITES = 3  # small versions written after the pin's first one, each counted
CHILD_TIMEOUT_S = 1800

SMALL_WRITE_GOAL = 4  # requests per small pin write
NAMED_COLD_GOAL = 2  # requests for a read of a named version, fresh board and empty cache
SPEEDUP_GOAL = 2.0  # pinyard MiB/s >= 2x pins, write and read
MEMORY_GOAL_MIB = 64.0  # extra memory during a pinyard write or read (the result excluded)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_JSON = HERE / "results" / "remote.json"
KEY = SECRET = "testing"  # moto accepts any credentials

Lib = Literal["pinyard", "pins"]


def load_test_servers() -> tuple[Any, Any]:
    """The test suite's ``FaultProxy`` and ``MotoServer`` (tests/backends/)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    # Through importlib, so that type checking bench/ does not descend into tests/.
    proxy = importlib.import_module("tests.backends._proxy")
    servers = importlib.import_module("tests.backends._servers")
    return proxy.FaultProxy, servers.MotoServer


# -- requests: what each one is ------------------------------------------------

KINDS = ("LIST", "GET", "HEAD", "PUT", "PUT part", "POST", "DELETE")


def classify(method: str, query: str) -> str:
    """A request's kind: a LIST (bucket GET with ``list-type``), a multipart part, or its
    HTTP method."""
    if method == "GET" and "list-type=" in query:
        return "LIST"
    if method == "PUT" and "partNumber=" in query:
        return "PUT part"
    return method


@dataclass
class Requests:
    """The requests one operation made (``log`` holds "METHOD path?query" lines)."""

    total: int
    kinds: dict[str, int]
    log: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, calls: Iterable[tuple[str, str, str]]) -> Requests:
        """From (method, path, query) triples."""
        calls = list(calls)
        kinds = Counter(classify(m, q) for m, _, q in calls)
        order = {k: i for i, k in enumerate(KINDS)}
        ordered = dict(sorted(kinds.items(), key=lambda kv: order.get(kv[0], len(KINDS))))
        lines = [f"{m} {p}{'?' + q if q else ''}" for m, p, q in calls]
        return cls(len(calls), ordered, lines)

    def breakdown(self) -> str:
        return ", ".join(f"{k} {n}" for k, n in self.kinds.items()) or "none"

    def list_chain_and_index(self) -> bool:
        """One LIST page chain (one prefix, one first page, the rest continuations) and
        at most one GET (the listing index): nothing per version."""
        lists = [line for line in self.log if "list-type=" in line]
        if not lists or set(self.kinds) - {"LIST", "GET"} or self.kinds.get("GET", 0) > 1:
            return False
        found = (re.search(r"[?&]prefix=([^&]*)", line) for line in lists)
        names = {m.group(1) if m else "" for m in found}
        first_pages = [line for line in lists if "continuation-token=" not in line]
        return len(names) == 1 and len(first_pages) == 1


# -- boards --------------------------------------------------------------------


def open_board(lib: Lib, endpoint: str, bucket: str, cache_dir: str) -> Any:
    """A board of either library at ``bucket`` with its own cache folder.

    pins-python takes the cache folder only from ``PINS_CACHE_DIR`` (read when the board
    is made) and the endpoint as an s3fs storage option, like pinyard.
    """
    if lib == "pinyard":
        import pinyard

        return pinyard.board(
            f"s3://{bucket}/{ROOT}",
            allow_pickle_read=True,  # as pins' board below: the big pin is a joblib
            cache=pinyard.Cache(cache_dir),
            progress=False,
            endpoint_url=endpoint,
            key=KEY,
            secret=SECRET,
        )
    import pins
    from pins.config import pins_options

    pins_options.quiet = True
    os.environ["PINS_CACHE_DIR"] = cache_dir
    return pins.board_s3(
        f"{bucket}/{ROOT}/pins",
        allow_pickle_read=True,
        endpoint_url=endpoint,
        key=KEY,
        secret=SECRET,
    )


def version_of(lib: Lib, written: Any) -> str:
    """The version id a ``pin_write`` returned (pins wraps it in a Version object)."""
    return str(written.version if lib == "pinyard" else written.version.version)


def make_bucket(endpoint: str, name: str) -> str:
    req = urllib.request.Request(f"{endpoint}/{name}", method="PUT")
    with urllib.request.urlopen(req, timeout=30):  # moto accepts unsigned requests
        pass
    return name


def direct_fs(endpoint: str) -> Any:
    """An s3fs file system straight to moto (not instance-cached): setup and cleanup."""
    import s3fs  # type: ignore[import-untyped]

    fs = s3fs.S3FileSystem(endpoint_url=endpoint, key=KEY, secret=SECRET, skip_instance_cache=True)
    return fs


def small_payload(i: int) -> dict[str, Any]:
    return {"version": i, "metric": 0.5 + i / 1000, "params": {"alpha": 0.1, "depth": 6}}


# -- 1. and 2.: request counts and times through the proxy ------------------------


@dataclass
class Measured:
    """One operation: its requests (at the proxy) and its time in seconds."""

    op: str
    requests: Requests
    seconds: float
    correct: bool | None = None  # did a read return what was written (None: not a read)


@dataclass
class SmallRun:
    """Every counted operation of one library in one repetition."""

    lib: str
    ops: list[Measured] = field(default_factory=list)

    def get(self, op: str) -> list[Measured]:
        return [m for m in self.ops if m.op == op]


class Counting:
    """Runs operations inside ``proxy.measure()`` and keeps what each one sent."""

    def __init__(self, proxy: Any, run: SmallRun) -> None:
        self.proxy = proxy
        self.run = run

    @contextlib.contextmanager
    def op(self, name: str) -> Iterator[Measured]:
        """Yields the `Measured` record, whose ``correct`` the block may set."""
        measured = Measured(name, Requests(0, {}), 0.0)
        with self.proxy.measure() as window:
            t0 = time.perf_counter()
            yield measured
            measured.seconds = time.perf_counter() - t0
        measured.requests = Requests.of((r.method, r.path, r.query) for r in window.records)
        self.run.ops.append(measured)


def check(ok: bool, what: str) -> None:
    if not ok:
        raise RuntimeError(f"wrong result: {what}")


def run_small(lib: Lib, proxy: Any, moto: Any, root: str, tag: str) -> SmallRun:
    """Open, write, list and read a small pin, counting every request at the proxy
    (pinyard's waits for the next second skipped: `bench_board.SkippedWaits`)."""
    if lib != "pinyard":
        return _run_small(lib, proxy, moto, root, tag)
    from pinyard.boards import _writing

    real, _writing.clock = _writing.clock, SkippedWaits()
    try:
        return _run_small(lib, proxy, moto, root, tag)
    finally:
        _writing.clock = real


def _run_small(lib: Lib, proxy: Any, moto: Any, root: str, tag: str) -> SmallRun:
    bucket = make_bucket(moto.endpoint_url, f"{lib}-small-{tag}")
    caches = iter(os.path.join(root, f"cache-{lib}-{tag}-{i}") for i in range(100))
    run = SmallRun(lib)
    count = Counting(proxy, run)
    url = proxy.url

    with count.op("open, new board"):
        writer = open_board(lib, url, bucket, next(caches))
    with count.op("write, first version of a pin"):
        writer.pin_write(small_payload(0), SMALL_PIN, type="json")
    versions = []
    for i in range(1, FURTHER_WRITES + 1):
        with count.op("write, a further version"):
            written = writer.pin_write(small_payload(i), SMALL_PIN, type="json")
        versions.append(version_of(lib, written))
    with count.op("pin_versions"):
        listed = writer.pin_versions(SMALL_PIN)
    check(len(listed) == FURTHER_WRITES + 1, f"{lib} listed {len(listed)} versions")

    named = versions[0]  # not the latest
    with count.op("open, existing board"):
        reader = open_board(lib, url, bucket, next(caches))
    for op in ("read named version, cold", "read named version, warm"):
        with count.op(op) as m:
            m.correct = reader.pin_read(SMALL_PIN, version=named) == small_payload(1)
    # The versions were written within a second or two: pins-python then often takes an
    # older one for the latest. That is recorded (a row of the table), not an error.
    reader = open_board(lib, url, bucket, next(caches))
    for op in ("read latest, cold", "read latest, warm"):
        with count.op(op) as m:
            m.correct = reader.pin_read(SMALL_PIN) == small_payload(FURTHER_WRITES)
    direct_fs(moto.endpoint_url).rm(bucket, recursive=True)
    return run


def make_many_versions(lib: Lib, moto: Any, root: str, n: int) -> str:
    """A bucket whose pin ``many`` has one real version and ``n`` more made cheaply: each
    a copy of the real version's data.txt and data file in its own version folder,
    written straight to moto (not through the proxy) in the board's own layout."""
    bucket = make_bucket(moto.endpoint_url, f"{lib}-many-{n}")
    cache = os.path.join(root, f"cache-{lib}-many-{n}")
    board = open_board(lib, moto.endpoint_url, bucket, cache)
    real = version_of(lib, board.pin_write(small_payload(-1), MANY_PIN, type="json"))
    fs = direct_fs(moto.endpoint_url)
    pin_dir = f"{bucket}/{ROOT}/pins/{MANY_PIN}"  # the same keys for both libraries
    files = {name: fs.cat_file(f"{pin_dir}/{real}/{name}")
             for name in ("data.txt", f"{MANY_PIN}.json")}  # fmt: skip
    # Version ids of 2020, one second apart: all older than the real one (the latest).
    names = [f"20200101T{i // 3600:02d}{i // 60 % 60:02d}{i % 60:02d}Z-{i % 0xFFFFF:05x}"
             for i in range(n)]  # fmt: skip
    items = [(f"{pin_dir}/{v}/{name}", data) for v in names for name, data in files.items()]
    for start in range(0, len(items), 1000):
        fs.pipe(dict(items[start : start + 1000]))
    return bucket


def many_op(n: int, first: bool = False) -> str:
    """The name of the listing operation for a pin of ``n`` extra versions."""
    return f"pin_versions, {n + 1} versions" + (", first listing" if first else "")


def run_many(
    lib: Lib, proxy: Any, bucket: str, run: SmallRun, root: str, n: int, first: bool = False
) -> None:
    """List the ``n + 1`` versions, then read the latest, each on a fresh board (``first``:
    the pin's first listing, recorded on its own)."""
    count = Counting(proxy, run)
    cache = os.path.join(root, f"cache-{lib}-many-{uuid.uuid4().hex[:8]}")
    board = open_board(lib, proxy.url, bucket, cache)
    if lib == "pins":  # fsspec's shared file system would answer from its cached listings
        board.fs.invalidate_cache()
    with count.op(many_op(n, first)):
        listed = board.pin_versions(MANY_PIN)
    check(len(listed) == n + 1, f"{lib} listed {len(listed)} of {n + 1} versions")
    if not first:
        with count.op(f"read latest of {n + 1} versions, cold") as m:
            m.correct = board.pin_read(MANY_PIN) == small_payload(-1)


# -- 3.: large write and read, one fresh subprocess each ------------------------------


@dataclass
class ChildResult:
    """What one subprocess measured for one large write or read."""

    lib: str
    op: str
    seconds: float
    memory_method: str
    baseline_rss: int
    peak_rss: int
    result_bytes: int = 0  # the array a read returned (0 for a write)
    token: str = ""
    requests: Requests | None = None  # from moto's log, filled in by the parent


def mark(endpoint: str, text: str) -> None:
    """An unsigned request that shows in moto's log, to find a child's requests there."""
    with urllib.request.urlopen(f"{endpoint}/moto-api/?bench-mark={text}", timeout=30) as r:
        r.read()


def warm_up(lib: Lib, spec: dict[str, Any]) -> None:
    """Write and read a tiny joblib pin on a scratch bucket, so lazy imports (joblib,
    aiobotocore's parsers, ...) and connection set-up are not timed."""
    import numpy as np

    cache = spec["cache_dir"] + "-warm-up"
    board = open_board(lib, spec["endpoint"], spec["warm_bucket"], cache)
    board.pin_write(np.zeros(8), "warm-up", type="joblib")
    board.pin_read("warm-up")
    shutil.rmtree(cache, ignore_errors=True)


def child_main(spec: dict[str, Any]) -> None:
    """Run one measurement (in a fresh interpreter) and print it as one JSON line."""
    lib: Lib = spec["lib"]
    op: str = spec["op"]
    endpoint: str = spec["endpoint"]
    token = uuid.uuid4().hex[:12]
    warm_up(lib, spec)
    board = open_board(lib, endpoint, spec["bucket"], spec["cache_dir"])
    result_bytes = 0
    if op == "write":
        arr = make_array(spec["size_mib"])
        gc.collect()
        mark(endpoint, f"start-{token}")
        with peak_rss() as mem:
            t0 = time.perf_counter()
            board.pin_write(arr, BIG_PIN, type="joblib")
            t1 = time.perf_counter()
        mark(endpoint, f"end-{token}")
    elif op == "read":
        gc.collect()
        mark(endpoint, f"start-{token}")
        with peak_rss() as mem:
            t0 = time.perf_counter()
            arr = board.pin_read(BIG_PIN)
            t1 = time.perf_counter()
        mark(endpoint, f"end-{token}")
        n = spec["size_mib"] * MIB // 8
        if arr.shape != (n,) or arr[-1] != n - 1:
            raise RuntimeError(f"{lib} read back a wrong array: shape {arr.shape}")
        result_bytes = int(arr.nbytes)
    else:
        raise ValueError(f"unknown op {op!r}")
    out = ChildResult(lib, op, t1 - t0, mem.method, mem.baseline, mem.peak, result_bytes, token)
    print(json.dumps(asdict(out)))


_LOG_LINE = re.compile(r'"(?:\x1b\[[0-9;]*m)*([A-Z]+) (\S+) HTTP/[0-9.]+')


def requests_between(log_text: str, token: str) -> Requests:
    """The requests in moto's log between a child's start and end marks."""
    calls: list[tuple[str, str, str]] = []
    inside = False
    for line in log_text.splitlines():
        if f"bench-mark=start-{token}" in line:
            inside = True
        elif f"bench-mark=end-{token}" in line:
            break
        elif inside and (m := _LOG_LINE.search(line)):
            path, _, query = m.group(2).partition("?")
            calls.append((m.group(1), path, query))
    return Requests.of(calls)


def run_child(spec: dict[str, Any], moto: Any) -> ChildResult:
    proc = subprocess.run(
        [sys.executable, __file__, "_child", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{spec['op']} with {spec['lib']} failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    out = ChildResult(**{k: v for k, v in result.items() if k != "requests"})
    out.requests = requests_between(moto.output(), out.token)
    return out


# -- machine limits --------------------------------------------------------------------


#: What s3fs alone reaches against this moto, from and into memory (no pin library):
#: (name in Raw.machine_s, label). Both ways, once in one request and once the way s3fs
#: does it by default (multipart in 50 MiB parts, 10 at once; ranged GETs, 10 at once).
MACHINE = (
    ("put_one", "s3fs upload, one PutObject"),
    ("put_multipart", "s3fs upload, multipart (pipe_file default)"),
    ("get_one", "s3fs download, one GetObject"),
    ("get_ranges", "s3fs download, ranged GETs (cat_file default)"),
)


def time_s3fs(fs: Any, bucket: str, buf: bytes) -> dict[str, float]:
    """Seconds for each `MACHINE` transfer of ``buf``."""
    path = f"{bucket}/floor.bin"
    seconds: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], object]) -> object:
        t0 = time.perf_counter()
        out = fn()
        seconds[name] = time.perf_counter() - t0
        return out

    timed("put_multipart", lambda: fs.pipe_file(path, buf))
    timed("put_one", lambda: fs.pipe_file(path, buf, chunksize=len(buf) + 1))
    for name, concurrency in (("get_one", 1), ("get_ranges", None)):
        data = timed(name, functools.partial(fs.cat_file, path, max_concurrency=concurrency))
        if not isinstance(data, bytes) or len(data) != len(buf):
            raise RuntimeError(f"s3fs read back a wrong object ({name})")
        del data
    fs.rm_file(path)
    return seconds


# -- the run -----------------------------------------------------------------------------


@dataclass
class Config:
    size_mib: int
    versions: list[int]
    repeat: int
    tmp_dir: str
    quick: bool


@dataclass
class Raw:
    """Every individual measurement, for the JSON file."""

    sha256_s: list[float] = field(default_factory=list)
    machine_s: dict[str, list[float]] = field(default_factory=dict)  # see MACHINE
    small: list[SmallRun] = field(default_factory=list)
    big_writes: list[ChildResult] = field(default_factory=list)
    big_reads: list[ChildResult] = field(default_factory=list)


def measure(cfg: Config, root: str) -> Raw:
    fault_proxy, moto_server = load_test_servers()
    raw = Raw()
    log("starting moto_server and the counting proxy")
    with moto_server() as moto, fault_proxy(moto.endpoint_url) as proxy:
        for lib in lib_order(0):
            # Not recorded: lazy imports (both import pandas in their first pin_versions)
            # and first connections would otherwise land in one library's timings.
            log(f"{lib}: warm-up round (not recorded)")
            run_small(lib, proxy, moto, root, "warm-up")
        for rep in range(cfg.repeat):
            for lib in lib_order(rep):
                log(f"[{rep + 1}/{cfg.repeat}] {lib}: small pin, requests at the proxy")
                raw.small.append(run_small(lib, proxy, moto, root, str(rep)))
        fs = direct_fs(moto.endpoint_url)
        for n in cfg.versions:
            many: dict[str, str] = {}
            for lib in lib_order(0):
                log(f"{lib}: making {n} versions of one pin (straight to moto)")
                many[lib] = make_many_versions(lib, moto, root, n)
                run = next(r for r in raw.small[:2] if r.lib == lib)
                run_many(lib, proxy, many[lib], run, root, n, first=True)
            for rep in range(cfg.repeat):
                for lib in lib_order(rep):
                    log(f"[{rep + 1}/{cfg.repeat}] {lib}: listing {n + 1} versions")
                    run = next(r for r in raw.small[rep * 2 : rep * 2 + 2] if r.lib == lib)
                    run_many(lib, proxy, many[lib], run, root, n)
            for bucket in many.values():
                fs.rm(bucket, recursive=True)
        proxy.stop()

        measure_big(cfg, root, moto, fs, raw)
    return raw


def measure_big(cfg: Config, root: str, moto: Any, fs: Any, raw: Raw) -> None:
    endpoint = moto.endpoint_url
    floor_bucket = make_bucket(endpoint, "floor")
    payload = make_array(cfg.size_mib).tobytes()  # botocore takes bytes, not a memoryview
    for rep in range(cfg.repeat):
        log(f"[{rep + 1}/{cfg.repeat}] s3fs alone: uploads and downloads of {cfg.size_mib} MiB")
        for name, secs in time_s3fs(fs, floor_bucket, payload).items():
            raw.machine_s.setdefault(name, []).append(secs)
        raw.sha256_s.append(time_sha256(memoryview(payload)))
    del payload
    gc.collect()

    last: dict[str, str] = {}
    for rep in range(cfg.repeat):
        for lib in lib_order(rep):
            log(f"[{rep + 1}/{cfg.repeat}] {lib}: pin_write {cfg.size_mib} MiB (subprocess)")
            bucket = make_bucket(endpoint, f"{lib}-big-{rep}")
            spec = child_spec(cfg, endpoint, lib, "write", bucket, root)
            raw.big_writes.append(run_child(spec, moto))
            shutil.rmtree(spec["cache_dir"], ignore_errors=True)
            if lib in last:  # keep moto's memory and temp files small
                fs.rm(last[lib], recursive=True)
            last[lib] = bucket
    for rep in range(cfg.repeat):
        for lib in lib_order(rep):
            log(f"[{rep + 1}/{cfg.repeat}] {lib}: pin_read {cfg.size_mib} MiB (subprocess)")
            spec = child_spec(cfg, endpoint, lib, "read", last[lib], root)
            raw.big_reads.append(run_child(spec, moto))
            shutil.rmtree(spec["cache_dir"], ignore_errors=True)
    for bucket in last.values():
        fs.rm(bucket, recursive=True)


def child_spec(
    cfg: Config, endpoint: str, lib: Lib, op: str, bucket: str, root: str
) -> dict[str, Any]:
    """What a child needs; every child gets a new, empty cache folder."""
    return {
        "lib": lib,
        "op": op,
        "endpoint": endpoint,
        "bucket": bucket,
        "warm_bucket": make_bucket(endpoint, f"warm-{uuid.uuid4().hex[:12]}"),
        "size_mib": cfg.size_mib,
        "cache_dir": os.path.join(root, f"cache-{lib}-{op}-{uuid.uuid4().hex[:8]}"),
    }


# -- summary and table -------------------------------------------------------------------


def requests_cell(reqs: list[Requests]) -> str:
    """``total [min-max]: by kind``; the first sample's kinds (marked when they vary)."""
    if not reqs:
        return ""
    head = spread([float(r.total) for r in reqs], ".0f")
    varies = len({r.breakdown() for r in reqs}) > 1
    return f"{head}: {reqs[0].breakdown()}" + (" (varies)" if varies else "")


def fewer(y: float, p: float) -> str:
    """Ratio for counts and sizes, pins / pinyard ("-" when pinyard needs none)."""
    return f"{p / y:.1f}x" if y > 0 else "-"


def summarize(cfg: Config, raw: Raw) -> tuple[list[Row], dict[str, Any]]:
    sy = [r for r in raw.small if r.lib == "pinyard"]
    sp = [r for r in raw.small if r.lib == "pins"]

    def samples(runs: list[SmallRun], op: str) -> list[Measured]:
        return [m for r in runs for m in r.get(op)]

    rows: list[Row] = []

    def count_row(
        op: str, label: str, goal: str = "", met: Callable[[Requests], bool] | None = None
    ) -> None:
        ry = [m.requests for m in samples(sy, op)]
        rp = [m.requests for m in samples(sp, op)]
        y, p = med([r.total for r in ry]), med([r.total for r in rp])
        ok = "" if met is None else yes_no(all(met(r) for r in ry))
        rows.append(
            Row(
                f"requests: {label}",
                requests_cell(ry),
                requests_cell(rp),
                fewer(y, p),
                goal or "info",
                ok,
                {"pinyard": y, "pins": p},
            )
        )

    def at_most(limit: float) -> Callable[[Requests], bool]:
        return lambda r: r.total <= limit

    small = f"<= {SMALL_WRITE_GOAL}"
    cold_named = med([m.requests.total for m in samples(sy, "read named version, cold")])
    count_row("open, new board", "open a new (empty) board")
    count_row("open, existing board", "open an existing board")
    count_row("write, first version of a pin", "small write, a pin's 1st version", small,
              at_most(SMALL_WRITE_GOAL))  # fmt: skip
    count_row("write, a further version", "small write, a further version", small,
              at_most(SMALL_WRITE_GOAL))  # fmt: skip
    count_row("pin_versions", f"pin_versions, {FURTHER_WRITES + 1} versions")
    count_row("read named version, cold", "read named version, cold", f"<= {NAMED_COLD_GOAL}",
              at_most(NAMED_COLD_GOAL))  # fmt: skip
    count_row("read named version, warm", "read named version, warm", "0", at_most(0))
    # Latest, cold: at most one LIST more than the cold read of a named version.
    count_row("read latest, cold", "read latest, cold", "<= 1 LIST + cold read",
              lambda r: r.kinds.get("LIST", 0) <= 1 and r.total <= 1 + cold_named)  # fmt: skip
    count_row("read latest, warm", "read latest, warm", "<= 1 LIST, nothing else",
              lambda r: r.total == r.kinds.get("LIST", 0) <= 1)  # fmt: skip
    for extra_versions in cfg.versions:
        n = extra_versions + 1
        count_row(many_op(extra_versions, first=True), f"pin_versions, {n} versions, first")
        count_row(many_op(extra_versions), f"pin_versions, {n} versions",
                  "LIST chain + 1 GET", Requests.list_chain_and_index)  # fmt: skip
        count_row(f"read latest of {n} versions, cold", f"read latest of {n} versions, cold")

    def correct_row(ops: Sequence[str], label: str) -> None:
        my = [m for op in ops for m in samples(sy, op)]
        mp = [m for op in ops for m in samples(sp, op)]
        cy, cp = sum(bool(m.correct) for m in my), sum(bool(m.correct) for m in mp)
        rows.append(
            Row(label, f"{cy}/{len(my)} reads", f"{cp}/{len(mp)} reads", "", "all reads",
                yes_no(cy == len(my)), {"pinyard": cy, "pins": cp, "reads": len(my)})
        )  # fmt: skip

    correct_row(("read named version, cold", "read named version, warm"), "named read: right one")
    many_reads = tuple(f"read latest of {n + 1} versions, cold" for n in cfg.versions)
    correct_row(
        ("read latest, cold", "read latest, warm", *many_reads), "latest read: the last written"
    )

    def ms_row(op: str, label: str) -> None:
        ys = [m.seconds * 1000 for m in samples(sy, op)]
        ps = [m.seconds * 1000 for m in samples(sp, op)]
        y, p = med(ys), med(ps)
        rows.append(
            Row(f"time: {label} (ms)", spread(ys, ".1f"), spread(ps, ".1f"), f"{p / y:.2f}x",
                "info", "", {"pinyard": y, "pins": p, "ratio": p / y})
        )  # fmt: skip

    ms_row("write, a further version", "small write, a further version")
    ms_row("pin_versions", f"pin_versions, {FURTHER_WRITES + 1} versions")
    ms_row("read named version, cold", "read named version, cold")
    ms_row("read latest, cold", "read latest, cold")
    for extra_versions in cfg.versions:
        n = extra_versions + 1
        ms_row(many_op(extra_versions, first=True), f"pin_versions, {n} versions, first")
        ms_row(many_op(extra_versions), f"pin_versions, {n} versions")
        ms_row(f"read latest of {n} versions, cold", f"read latest of {n} versions, cold")

    size_mib = float(cfg.size_mib)
    size = f"{cfg.size_mib} MiB"
    machine = [("machine: sha256, in memory", raw.sha256_s)]
    machine += [(f"machine: {label}", raw.machine_s[name]) for name, label in MACHINE]
    for label, secs in machine:
        rates = [size_mib / s for s in secs]
        rows.append(Row(f"{label} (MiB/s)", spread(rates, ".0f"), "", values={"m": med(rates)}))

    def by(results: list[ChildResult], lib: str) -> list[ChildResult]:
        return [r for r in results if r.lib == lib]

    def mibs(results: list[ChildResult]) -> list[float]:
        return [size_mib / r.seconds for r in results]

    def extra(results: list[ChildResult], minus_result: bool) -> list[float]:
        return [
            (r.peak_rss - r.baseline_rss - (r.result_bytes if minus_result else 0)) / MIB
            for r in results
        ]

    for op, results in (("write", raw.big_writes), ("read", raw.big_reads)):
        ry, rp = by(results, "pinyard"), by(results, "pins")
        y, p = med(mibs(ry)), med(mibs(rp))
        label = f"{op} {size} joblib" + (", fresh board + empty cache" if op == "read" else "")
        rows.append(
            Row(
                f"{label} (MiB/s)",
                spread(mibs(ry), ".0f"),
                spread(mibs(rp), ".0f"),
                f"{y / p:.2f}x",
                f">= {SPEEDUP_GOAL:g}x pins",
                yes_no(y / p >= SPEEDUP_GOAL),
                {"pinyard": y, "pins": p, "ratio": y / p},
            )
        )
        ey, ep = extra(ry, True), extra(rp, True)
        rows.append(
            Row(
                f"{op}: peak extra RSS" + (" minus the result" if op == "read" else "") + " (MiB)",
                spread(ey, ".0f"),
                spread(ep, ".0f"),
                fewer(med(ey), med(ep)),
                f"< {MEMORY_GOAL_MIB:g} MiB",
                yes_no(med(ey) < MEMORY_GOAL_MIB),
                {"pinyard": med(ey), "pins": med(ep)},
            )
        )
        if op == "read":
            ey, ep = extra(ry, False), extra(rp, False)
            rows.append(
                Row(
                    "read: peak extra RSS incl. the result (MiB)",
                    spread(ey, ".0f"),
                    spread(ep, ".0f"),
                    "",
                    f"info: result is {cfg.size_mib}",
                    "",
                    {"pinyard": med(ey), "pins": med(ep)},
                )
            )
        qy = [r.requests for r in ry if r.requests is not None]
        qp = [r.requests for r in rp if r.requests is not None]
        y, p = med([q.total for q in qy]), med([q.total for q in qp])
        rows.append(
            Row(f"{op}: requests (moto's log)", requests_cell(qy), requests_cell(qp), fewer(y, p),
                "info", "", {"pinyard": y, "pins": p})
        )  # fmt: skip

    extra_info = {"memory_method": raw.big_writes[0].memory_method if raw.big_writes else ""}
    return rows, extra_info


def parse_args(argv: Sequence[str]) -> tuple[Config, Path]:
    parser = argparse.ArgumentParser(
        description="Benchmark pinyard against pins-python on S3 served by moto (same run)."
    )
    parser.add_argument("--size-mib", type=int, help="size of the large object (default 512)")
    parser.add_argument(
        "--versions",
        default="10,300,3000",
        help="extra versions of the pins listed, comma-separated (default 10,300,3000)",
    )
    parser.add_argument("--repeat", type=int, help="repetitions of each measurement (default 3)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short run (64 MiB, 2 repeats) unless sizes are given",
    )
    parser.add_argument("--tmp-dir", help="where caches and temporary files go (default: $TMPDIR)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    cfg = Config(
        size_mib=args.size_mib or (64 if quick else 512),
        versions=[int(v) for v in str(args.versions).split(",")],
        repeat=args.repeat or (2 if quick else 3),
        tmp_dir=args.tmp_dir or tempfile.gettempdir(),
        quick=quick,
    )
    if cfg.size_mib < 1 or cfg.repeat < 1 or min(cfg.versions) < 1:
        parser.error("need --size-mib >= 1, --repeat >= 1 and --versions >= 1")
    return cfg, args.json


def main(argv: Sequence[str]) -> int:
    cfg, json_path = parse_args(argv)
    import pins

    import pinyard

    free = shutil.disk_usage(cfg.tmp_dir).free
    if free < 4 * cfg.size_mib * MIB:  # caches of the reads, moto's spooled objects
        log(f"not enough free space in {cfg.tmp_dir}: {free / MIB:.0f} MiB")
        return 2
    started = time.perf_counter()
    root = tempfile.mkdtemp(prefix="pinyard-bench-remote-", dir=cfg.tmp_dir)
    try:
        raw = measure(cfg, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    wall = time.perf_counter() - started
    rows, extra = summarize(cfg, raw)

    listed = "/".join(str(n + 1) for n in cfg.versions)
    header = (
        f"pinyard {pinyard.__version__} vs pins {pins.__version__} on moto S3 | "
        f"Python {platform.python_version()} | {os.cpu_count()} CPUs | "
        f"object {cfg.size_mib} MiB, pins of {listed} versions listed, "
        f"median of {cfg.repeat} [min-max] | memory: {extra['memory_method']} | {wall:.0f} s"
    )
    print(header)
    print("ratio: how many times better pinyard is (>1 = pinyard better); requests: "
          "total: by kind (LIST = bucket GET with list-type)")  # fmt: skip
    print(render(rows))

    write_report(json_path, cfg, rows, extra, raw, wall)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_child":
        child_main(json.loads(sys.argv[2]))
    else:
        sys.exit(main(sys.argv[1:]))
