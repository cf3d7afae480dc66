"""Benchmark pinyard's folder board against pins-python 0.9.2, in one run, on one disk.

This is a benchmark, not a test: it measures and prints, and never fails on a
missed goal. Run it from the repository root with the project's venv:

    .venv/bin/python bench/bench_board.py --quick          # under a minute
    .venv/bin/python bench/bench_board.py                  # 512 MiB, 200 versions, 3 repeats

Figures (see bench/README.md for what each one means):

1. machine limits measured here: sha256 over an in-memory buffer, and
   write+fsync of a buffer of the same size to a file in the temp dir;
   ``floor = min(sha256, write+fsync)``;
2. write of one large numpy float64 array as type ``joblib``;
3. peak extra memory (RSS) during each large write and read, each measured
   in its own fresh subprocess;
4. read of that array back (pinyard verifies sha256 first, pins does not);
5. many small versions (a small dict, type ``json``) written to one pin:
   time per write for the first and last 20, listing the versions, and
   reading the latest.

Results go to a table on stdout and to ``bench/results/board.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

MIB = 1024 * 1024
IO_CHUNK = 8 * MIB
BIG_PIN = "big"
SMALL_PIN = "small"
WINDOW = 20  # versions in the "first" and "last" windows of the small-version test
QUERY_REPEAT = 5  # calls timed per listing / latest-read measurement
SAMPLE_INTERVAL_S = 0.005
CHILD_TIMEOUT_S = 900

WRITE_SPEEDUP_GOAL = 2.0  # pinyard write >= 2x pins' write throughput
FLOOR_FRACTION_GOAL = 0.80  # pinyard write >= 80% of min(sha256, write+fsync)
WRITE_MEMORY_GOAL_MIB = 64.0  # extra memory during a pinyard write
SLOWDOWN_GOAL = 1.25  # last-20 / first-20 write time; 1.0 is "no slowdown", 25% for noise

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results" / "board.json"

Lib = Literal["pinyard", "pins"]
LIBS: tuple[Lib, Lib] = ("pinyard", "pins")


def log(message: str) -> None:
    """Progress goes to stderr so that stdout holds only the results."""
    print(message, file=sys.stderr, flush=True)


# -- memory ------------------------------------------------------------------


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


def _reset_hwm() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is refused."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    # Allow a little growth between the two reads.
    return _status_kib("VmHWM") <= _status_kib("VmRSS") + 1024


@dataclass
class MemoryUse:
    """Resident memory just before an operation and its peak during it (bytes)."""

    method: str = ""
    baseline: int = 0
    peak: int = 0

    @property
    def extra(self) -> int:
        return self.peak - self.baseline


@contextlib.contextmanager
def peak_rss() -> Iterator[MemoryUse]:
    """Measure the peak RSS of this process while the ``with`` body runs.

    Uses the kernel's high-water mark (VmHWM) after resetting it through
    /proc/self/clear_refs, which sees every peak however short. Where that
    reset is refused, falls back to sampling VmRSS every 5 ms on a thread.
    """
    use = MemoryUse()
    if _reset_hwm():
        use.method = "VmHWM reset via /proc/self/clear_refs"
        use.baseline = _status_kib("VmRSS") * 1024
        yield use
        use.peak = _status_kib("VmHWM") * 1024
        return
    use.method = "VmRSS sampled every 5 ms"
    use.baseline = use.peak = _status_kib("VmRSS") * 1024
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(SAMPLE_INTERVAL_S):
            use.peak = max(use.peak, _status_kib("VmRSS") * 1024)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield use
    finally:
        stop.set()
        sampler.join()
        use.peak = max(use.peak, _status_kib("VmRSS") * 1024)


# -- payloads and boards -----------------------------------------------------


def make_array(size_mib: int) -> Any:
    """A float64 numpy array of ``size_mib`` MiB (its content does not matter: no compression)."""
    import numpy as np

    return np.arange(size_mib * MIB // 8, dtype=np.float64)


def small_payload(i: int) -> dict[str, Any]:
    """A small JSON-able dict, different for every version."""
    return {"version": i, "metric": 0.5 + i / 1000, "params": {"alpha": 0.1, "depth": 6}}


def open_board(lib: Lib, path: str) -> Any:
    """A folder board of either library; pins' progress messages are silenced."""
    if lib == "pinyard":
        import pinyard

        return pinyard.board_folder(path, allow_pickle_read=True)  # as pins' board below
    import pins
    from pins.config import pins_options

    pins_options.quiet = True
    return pins.board_folder(path, allow_pickle_read=True)


def evict_from_page_cache(folder: str) -> None:
    """Drop the (already synced) file pages under ``folder`` from the page cache."""
    os.sync()
    for dirpath, _, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


# -- child process: one large write or read, timed and memory-measured --------


@dataclass
class ChildResult:
    """What one subprocess measured for one large write or read."""

    lib: str
    op: str
    seconds: float
    seconds_with_sync: float
    memory_method: str
    baseline_rss: int
    peak_rss: int
    version: str = ""


def warm_up(lib: Lib, board_dir: str) -> None:
    """Write and read a tiny joblib pin, so lazy imports (joblib, ...) are not timed."""
    import numpy as np

    board = open_board(lib, board_dir)
    board.pin_write(np.zeros(8), "warm-up", type="joblib")
    board.pin_read("warm-up")
    shutil.rmtree(board_dir)


def child_main(spec: dict[str, Any]) -> None:
    """Run one measurement (in a fresh interpreter) and print it as one JSON line."""
    lib: Lib = spec["lib"]
    op: str = spec["op"]
    size_mib: int = spec["size_mib"]
    board = open_board(lib, spec["board_dir"])
    warm_up(lib, spec["board_dir"] + "-warm-up")
    version = ""
    if op == "write":
        arr = make_array(size_mib)
        gc.collect()
        os.sync()  # start from a disk with no dirty pages from earlier steps
        with peak_rss() as mem:
            t0 = time.perf_counter()
            result = board.pin_write(arr, BIG_PIN, type="joblib")
            t1 = time.perf_counter()
        os.sync()  # pins does not fsync; this shows what durability would cost it
        t2 = time.perf_counter()
        version = str(getattr(result, "version", ""))
    elif op == "read":
        if spec["cold"]:
            evict_from_page_cache(spec["board_dir"])
        gc.collect()
        with peak_rss() as mem:
            t0 = time.perf_counter()
            arr = board.pin_read(BIG_PIN)
            t1 = time.perf_counter()
        t2 = t1
        n = size_mib * MIB // 8
        if arr.shape != (n,) or arr[-1] != n - 1:
            raise RuntimeError(f"{lib} read back a wrong array: shape {arr.shape}")
    else:
        raise ValueError(f"unknown op {op!r}")
    out = ChildResult(lib, op, t1 - t0, t2 - t0, mem.method, mem.baseline, mem.peak, version)
    print(json.dumps(asdict(out)))


def run_child(op: str, lib: Lib, board_dir: str, size_mib: int, cold: bool) -> ChildResult:
    spec = {"op": op, "lib": lib, "board_dir": board_dir, "size_mib": size_mib, "cold": cold}
    proc = subprocess.run(
        [sys.executable, __file__, "_child", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{op} with {lib} failed:\n{proc.stderr}")
    return ChildResult(**json.loads(proc.stdout.strip().splitlines()[-1]))


# -- machine limits ------------------------------------------------------------


def time_sha256(buf: memoryview) -> float:
    t0 = time.perf_counter()
    hashlib.sha256(buf).digest()
    return time.perf_counter() - t0


def time_xxh64(buf: memoryview) -> float:
    import xxhash

    t0 = time.perf_counter()
    xxhash.xxh64(buf, seed=0).digest()
    return time.perf_counter() - t0


def time_write_fsync(buf: memoryview, folder: str) -> float:
    """Write ``buf`` to a new file in ``folder`` in 8 MiB chunks, then fsync it."""
    path = os.path.join(folder, "floor.bin")
    os.sync()
    t0 = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        for start in range(0, len(buf), IO_CHUNK):
            part = buf[start : start + IO_CHUNK]
            while part:
                part = part[os.write(fd, part) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    seconds = time.perf_counter() - t0
    os.unlink(path)
    return seconds


# -- small versions (in this process: no memory figure is wanted) ----------------


@dataclass
class SmallRun:
    """One pass of the small-version test for one library (times in seconds)."""

    lib: str
    write_seconds: list[float]
    list_seconds: list[float]
    read_latest_seconds: list[float]
    versions_listed: int
    latest_correct: bool
    #: pinyard: seconds per write spent waiting for the next second (skipped, see
    #: `SkippedWaits`); 0 for pins, which never waits and so orders same-second writes
    #: by hash.
    wait_per_write: float = 0.0

    @property
    def first(self) -> float:
        return statistics.median(self.write_seconds[:WINDOW])

    @property
    def last(self) -> float:
        return statistics.median(self.write_seconds[-WINDOW:])


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


class SkippedWaits:
    """pinyard's write clock with its waits skipped and added up instead.

    A pinyard write whose id would sort before the pin's newest one waits for
    the next second (docs/decisions/0016); in this tight loop that is most
    writes, and the wait is not work. The clock moves on by the wait instead,
    so ids and order are as they would be, and the waits are reported apart.
    """

    def __init__(self) -> None:
        self.offset = 0.0
        self.waited = 0.0

    def now(self) -> Any:
        from datetime import UTC, datetime, timedelta

        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def sleep(self, seconds: float) -> None:
        self.offset += seconds
        self.waited += seconds


def run_small(lib: Lib, board_dir: str, versions: int) -> SmallRun:
    board = open_board(lib, board_dir)
    writes = []
    skipped = SkippedWaits()
    if lib == "pinyard":
        from pinyard.boards import _writing

        real, _writing.clock = _writing.clock, skipped
    try:
        for i in range(versions):
            payload = small_payload(i)
            t0 = time.perf_counter()
            board.pin_write(payload, SMALL_PIN, type="json")
            writes.append(time.perf_counter() - t0)
    finally:
        if lib == "pinyard":
            _writing.clock = real
    # Both listed as DataFrames, pins' default and what a pins user calls.
    lists = [timed(lambda: board.pin_versions(SMALL_PIN)) for _ in range(QUERY_REPEAT)]
    reads = [timed(lambda: board.pin_read(SMALL_PIN)) for _ in range(QUERY_REPEAT)]
    listed = len(board.pin_versions(SMALL_PIN))
    latest = board.pin_read(SMALL_PIN)
    correct = latest["version"] == versions - 1
    return SmallRun(lib, writes, lists, reads, listed, correct, skipped.waited / versions)


# -- the run -----------------------------------------------------------------------


@dataclass
class Config:
    size_mib: int
    versions: int
    repeat: int
    cold_read: bool
    tmp_dir: str
    quick: bool


@dataclass
class Raw:
    """Every individual measurement, for the JSON file."""

    sha256_s: list[float] = field(default_factory=list)
    xxh64_s: list[float] = field(default_factory=list)
    write_fsync_s: list[float] = field(default_factory=list)
    big_writes: list[ChildResult] = field(default_factory=list)
    big_reads: list[ChildResult] = field(default_factory=list)
    small: list[SmallRun] = field(default_factory=list)


def lib_order(rep: int) -> tuple[Lib, Lib]:
    """Alternate which library goes first, so that drifts in disk speed hit both alike."""
    return LIBS if rep % 2 == 0 else (LIBS[1], LIBS[0])


def measure(cfg: Config, root: str) -> Raw:
    raw = Raw()
    buf = memoryview(make_array(cfg.size_mib)).cast("B")
    last_board: dict[str, str] = {}

    for rep in range(cfg.repeat):
        log(f"[{rep + 1}/{cfg.repeat}] write+fsync {cfg.size_mib} MiB")
        raw.write_fsync_s.append(time_write_fsync(buf, root))
        for lib in lib_order(rep):
            log(f"[{rep + 1}/{cfg.repeat}] {lib}: pin_write {cfg.size_mib} MiB (subprocess)")
            board_dir = os.path.join(root, f"{lib}-big-{rep}")
            raw.big_writes.append(run_child("write", lib, board_dir, cfg.size_mib, False))
            if lib in last_board:
                shutil.rmtree(last_board[lib])
            last_board[lib] = board_dir
    for _ in range(cfg.repeat):
        raw.sha256_s.append(time_sha256(buf))
        raw.xxh64_s.append(time_xxh64(buf))
    del buf
    gc.collect()

    for rep in range(cfg.repeat):
        for lib in lib_order(rep):
            log(f"[{rep + 1}/{cfg.repeat}] {lib}: pin_read {cfg.size_mib} MiB (subprocess)")
            raw.big_reads.append(
                run_child("read", lib, last_board[lib], cfg.size_mib, cfg.cold_read)
            )
    for folder in last_board.values():
        shutil.rmtree(folder)

    for rep in range(cfg.repeat):
        for lib in lib_order(rep):
            log(f"[{rep + 1}/{cfg.repeat}] {lib}: {cfg.versions} small json versions")
            board_dir = os.path.join(root, f"{lib}-small-{rep}")
            raw.small.append(run_small(lib, board_dir, cfg.versions))
            shutil.rmtree(board_dir)
    return raw


# -- summary and table -------------------------------------------------------------


@dataclass
class Row:
    operation: str
    pinyard: str
    pins: str
    ratio: str = ""
    goal: str = ""
    met: str = ""
    values: dict[str, float | int | bool | None] = field(default_factory=dict)


def med(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def spread(xs: Sequence[float], fmt: str) -> str:
    """``median [min-max]`` when there are several values."""
    if len(xs) == 1:
        return format(xs[0], fmt)
    return f"{format(med(xs), fmt)} [{format(min(xs), fmt)}-{format(max(xs), fmt)}]"


def yes_no(ok: bool) -> str:
    return "yes" if ok else "NO"


def summarize(cfg: Config, raw: Raw) -> tuple[list[Row], dict[str, Any]]:
    size_mib = float(cfg.size_mib)
    sha = [size_mib / s for s in raw.sha256_s]
    xxh = [size_mib / s for s in raw.xxh64_s]
    wf = [size_mib / s for s in raw.write_fsync_s]
    floor = min(med(sha), med(wf))
    # pinyard hashes sha256 and xxh64 one after the other on one thread.
    hash_both = 1 / (1 / med(sha) + 1 / med(xxh))

    def by(results: list[ChildResult], lib: str) -> list[ChildResult]:
        return [r for r in results if r.lib == lib]

    def mibs(results: list[ChildResult], durable: bool = False) -> list[float]:
        return [size_mib / (r.seconds_with_sync if durable else r.seconds) for r in results]

    def extra_mib(results: list[ChildResult]) -> list[float]:
        return [(r.peak_rss - r.baseline_rss) / MIB for r in results]

    wy, wp = by(raw.big_writes, "pinyard"), by(raw.big_writes, "pins")
    ry, rp = by(raw.big_reads, "pinyard"), by(raw.big_reads, "pins")
    sy = [r for r in raw.small if r.lib == "pinyard"]
    sp = [r for r in raw.small if r.lib == "pins"]
    size = f"{cfg.size_mib} MiB"
    cache = "cold cache" if cfg.cold_read else "warm cache"

    rows: list[Row] = [
        Row("machine: sha256, in memory (MiB/s)", spread(sha, ".0f"), "", values={"m": med(sha)}),
        Row("machine: xxh64, in memory (MiB/s)", spread(xxh, ".0f"), "", values={"m": med(xxh)}),
        Row("machine: sha256 then xxh64 (MiB/s)", f"{hash_both:.0f}", "", values={"m": hash_both}),
        Row(f"machine: write+fsync {size} (MiB/s)", spread(wf, ".0f"), "", values={"m": med(wf)}),
        Row("machine: floor = min(sha256, write+fsync)", f"{floor:.0f}", "", values={"m": floor}),
    ]

    y, p = med(mibs(wy)), med(mibs(wp))
    rows.append(
        Row(
            f"write {size} joblib (MiB/s)",
            spread(mibs(wy), ".0f"),
            spread(mibs(wp), ".0f"),
            f"{y / p:.2f}x",
            f">= {WRITE_SPEEDUP_GOAL:g}x pins",
            yes_no(y / p >= WRITE_SPEEDUP_GOAL),
            {"pinyard": y, "pins": p, "ratio": y / p},
        )
    )
    rows.append(
        Row(
            "write, fraction of floor",
            f"{y / floor:.0%}",
            f"{p / floor:.0%}",
            "",
            f">= {FLOOR_FRACTION_GOAL:.0%}",
            yes_no(y / floor >= FLOOR_FRACTION_GOAL),
            {"pinyard": y / floor, "pins": p / floor},
        )
    )
    yd, pd_ = med(mibs(wy, True)), med(mibs(wp, True))
    rows.append(
        Row(
            "write + os.sync() after it (MiB/s)",
            spread(mibs(wy, True), ".0f"),
            spread(mibs(wp, True), ".0f"),
            f"{yd / pd_:.2f}x",
            "info: equal durability",
            "",
            {"pinyard": yd, "pins": pd_, "ratio": yd / pd_},
        )
    )
    ym, pm = med(extra_mib(wy)), med(extra_mib(wp))
    rows.append(
        Row(
            "write: peak extra RSS (MiB)",
            spread(extra_mib(wy), ".0f"),
            spread(extra_mib(wp), ".0f"),
            f"{pm / ym:.1f}x" if ym > 0 else "",
            f"< {WRITE_MEMORY_GOAL_MIB:g} MiB",
            yes_no(ym < WRITE_MEMORY_GOAL_MIB),
            {"pinyard": ym, "pins": pm},
        )
    )
    y, p = med(mibs(ry)), med(mibs(rp))
    rows.append(
        Row(
            f"read {size} joblib, {cache} (MiB/s)",
            spread(mibs(ry), ".0f"),
            spread(mibs(rp), ".0f"),
            f"{y / p:.2f}x",
            "info (pinyard verifies)",
            "",
            {"pinyard": y, "pins": p, "ratio": y / p},
        )
    )
    ym, pm = med(extra_mib(ry)), med(extra_mib(rp))
    rows.append(
        Row(
            "read: peak extra RSS incl. result (MiB)",
            spread(extra_mib(ry), ".0f"),
            spread(extra_mib(rp), ".0f"),
            f"{pm / ym:.1f}x" if ym > 0 else "",
            f"info: result is {cfg.size_mib}",
            "",
            {"pinyard": ym, "pins": pm},
        )
    )

    def ms_row(label: str, get: Callable[[SmallRun], float], goal: str = "", met: str = "") -> Row:
        ys, ps = [get(r) * 1000 for r in sy], [get(r) * 1000 for r in sp]
        y, p = med(ys), med(ps)
        return Row(label, spread(ys, ".2f"), spread(ps, ".2f"), f"{p / y:.2f}x", goal, met,
                   {"pinyard": y, "pins": p, "ratio": p / y})  # fmt: skip

    n = cfg.versions
    rows.append(ms_row(f"small write, versions 1-{WINDOW} (ms)", lambda r: r.first))
    rows.append(ms_row(f"small write, versions {n - WINDOW + 1}-{n} (ms)", lambda r: r.last))
    gy = med([r.last / r.first for r in sy])
    gp = med([r.last / r.first for r in sp])
    rows.append(
        Row(
            "small write slowdown, last/first",
            f"{gy:.2f}x",
            f"{gp:.2f}x",
            "",
            f"<= {SLOWDOWN_GOAL:g}x",
            yes_no(gy <= SLOWDOWN_GOAL),
            {"pinyard": gy, "pins": gp},
        )
    )
    waits = [r.wait_per_write * 1000 for r in sy]
    rows.append(
        Row("small write: wait for the next second, per write (ms, skipped above)",
            spread(waits, ".0f"), "0", "", "info", "", {"pinyard": med(waits)})
    )  # fmt: skip
    rows.append(ms_row(f"pin_versions, {n} versions (ms)", lambda r: med(r.list_seconds)))
    rows.append(ms_row("pin_read latest small (ms)", lambda r: med(r.read_latest_seconds)))
    cy = all(r.latest_correct for r in sy)
    cp = all(r.latest_correct for r in sp)
    rows.append(
        Row(
            "latest is the last written",
            f"{sum(r.latest_correct for r in sy)}/{len(sy)} runs",
            f"{sum(r.latest_correct for r in sp)}/{len(sp)} runs",
            "",
            "all runs",
            yes_no(cy),
            {"pinyard": cy, "pins": cp},
        )
    )
    listed = {r.lib: r.versions_listed for r in raw.small}
    extra = {
        "floor_mib_s": floor,
        "memory_method": raw.big_writes[0].memory_method if raw.big_writes else "",
        "versions_listed": listed,
    }
    return rows, extra


COLUMNS = ("operation", "pinyard", "pins", "ratio", "goal", "met?")


def render(rows: list[Row]) -> str:
    cells = [list(COLUMNS)] + [
        [r.operation, r.pinyard, r.pins, r.ratio, r.goal, r.met] for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    lines = []
    for n, c in enumerate(cells):
        lines.append(" | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def parse_args(argv: Sequence[str]) -> tuple[Config, Path]:
    parser = argparse.ArgumentParser(
        description="Benchmark pinyard against pins-python on local folders (same run, same disk)."
    )
    parser.add_argument("--size-mib", type=int, help="size of the large object (default 512)")
    parser.add_argument("--versions", type=int, help="small versions written (default 200)")
    parser.add_argument("--repeat", type=int, help="repetitions of each measurement (default 3)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short run (64 MiB, 100 versions, 2 repeats) unless sizes are given",
    )
    parser.add_argument(
        "--cold-read",
        action="store_true",
        help="evict the large file from the page cache before each read (default: warm)",
    )
    parser.add_argument("--tmp-dir", help="where to make the temporary folders (default: $TMPDIR)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    cfg = Config(
        size_mib=args.size_mib or (64 if quick else 512),
        versions=args.versions or (100 if quick else 200),
        repeat=args.repeat or (2 if quick else 3),
        cold_read=bool(args.cold_read),
        tmp_dir=args.tmp_dir or tempfile.gettempdir(),
        quick=quick,
    )
    if cfg.size_mib < 1 or cfg.repeat < 1 or cfg.versions < 2 * WINDOW:
        parser.error(f"need --size-mib >= 1, --repeat >= 1 and --versions >= {2 * WINDOW}")
    return cfg, args.json


def write_report(
    json_path: Path, cfg: Any, rows: Sequence[Any], extra: Any, raw: Any, wall: float
) -> None:
    """The full results of a pinyard-vs-pins run as JSON (this script's and bench_remote's)."""
    import pins  # imported here, as in main(): child processes load only one of the two

    import pinyard

    json_path.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "config": asdict(cfg),
        "environment": {
            "pinyard": pinyard.__version__,
            "pins": pins.__version__,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
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


def main(argv: Sequence[str]) -> int:
    cfg, json_path = parse_args(argv)
    import pins

    import pinyard

    free = shutil.disk_usage(cfg.tmp_dir).free
    if free < 4 * cfg.size_mib * MIB:
        log(f"not enough free space in {cfg.tmp_dir}: {free / MIB:.0f} MiB")
        return 2
    started = time.perf_counter()
    root = tempfile.mkdtemp(prefix="pinyard-bench-", dir=cfg.tmp_dir)
    try:
        raw = measure(cfg, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    wall = time.perf_counter() - started
    rows, extra = summarize(cfg, raw)

    header = (
        f"pinyard {pinyard.__version__} vs pins {pins.__version__} | "
        f"Python {platform.python_version()} | {os.cpu_count()} CPUs | "
        f"object {cfg.size_mib} MiB, {cfg.versions} small versions (json dict), "
        f"median of {cfg.repeat} [min-max] | temp dir {cfg.tmp_dir} | "
        f"memory: {extra['memory_method']} | {wall:.0f} s"
    )
    print(header)
    print("ratio: how many times better pinyard is (>1 = pinyard better)")
    print(render(rows))

    write_report(json_path, cfg, rows, extra, raw, wall)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_child":
        child_main(json.loads(sys.argv[2]))
    else:
        sys.exit(main(sys.argv[1:]))
