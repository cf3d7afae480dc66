"""Benchmark ``pin_versions`` against pins-python 0.9.2 on every backend, in one run.

This is a benchmark, not a test: it measures and prints, and never fails on a
missed goal. Run it from the repository root with the project's venv (the
test extra: s3fs, adlfs, gcsfs, moto[server]; Azurite from ``npm ci``):

    .venv/bin/python bench/bench_versions.py --quick      # 10 and 300 versions, 3 rounds
    .venv/bin/python bench/bench_versions.py              # 10, 300 and 3,000, 5 rounds

Backends: a local folder, S3 (moto), Azure Blob (Azurite) and GCS
(fake-gcs-server), started as the test suite starts them
(``tests/backends/_servers.py``). For each backend and each N of
``--versions``, one pin gets one version written by pinyard and N older ones
copied from it (its ``data.txt`` and its data file, each in its own version
folder), written straight to storage. Both libraries list that same pin:
pinyard through its board, pins-python through the board's ``pins/`` folder,
so they see the same keys.

In each of ``--rounds`` rounds each library lists the pin once on a board
object made for the round (pinyard with an empty cache folder, pins with no
cache), one right after the other, alternating which goes first. A round
gives one ratio (pins' time / pinyard's), and the table shows the median of
the rounds' ratios with their range, and each library's median time.
pinyard's first listing of each pin, which finds every committed folder with
undelimited listings (in pieces, several at once) and writes the board's
listing index (``pinyard.boards._listing``), is timed in each round after the
index is deleted, and shown on its own row, with, on object stores, one
undelimited listing chain of every object under the pin (what telling
committed folders from the rest costs without an index: the floor of a first
listing on that server). Results go to
a table on stdout and to ``bench/results/versions.json``.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"

from bench_board import Row, lib_order, log, med, render, spread, write_report, yes_no

PIN = "many"
META = "data.txt"
BACKENDS = ("folder", "s3", "azure", "gcs")
GOAL = 1.0  # pinyard at least as fast as pins

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_JSON = HERE / "results" / "versions.json"


@dataclass
class Config:
    versions: list[int]
    rounds: int
    backends: list[str]
    tmp_dir: str


@dataclass
class Listing:
    """One backend and pin size: every timing, in seconds."""

    backend: str
    versions: int
    #: first listings: the pin's listing index deleted before each
    first_pinyard_s: list[float] = field(default_factory=list)
    #: one undelimited listing chain of every object under the pin: what telling the
    #: folders that hold data.txt from the rest costs without an index (object stores)
    floor_s: list[float] = field(default_factory=list)
    pinyard_s: list[float] = field(default_factory=list)
    pins_s: list[float] = field(default_factory=list)


@dataclass
class Raw:
    listings: list[Listing] = field(default_factory=list)


def load_servers() -> Any:
    """The test suite's emulator classes (tests/backends/_servers.py)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    return importlib.import_module("tests.backends._servers")


class Place:
    """Where one pin lives on one backend, and how each library opens it."""

    def __init__(self, backend: str, server: Any, root: str, tag: str) -> None:
        self.backend, self.server, self.tmp = backend, server, root
        if backend == "folder":
            self.fs: Any = None
            self.base = os.path.join(root, f"board-{tag}")
            self.options: dict[str, Any] = {}
        else:
            self.fs = server.filesystem()
            self.base = f"{server.make_bucket()}/board"
            self.options = server.storage_options()
        self.protocol = {"folder": "file", "s3": "s3", "azure": "az", "gcs": "gs"}[backend]

    def pinyard(self) -> Any:
        import pinyard

        if self.backend == "folder":
            return pinyard.board_folder(self.base)
        cache = tempfile.mkdtemp(prefix="cache-", dir=self.tmp)
        return pinyard.board(
            f"{self.protocol}://{self.base}", cache=pinyard.Cache(cache), **self.options
        )

    def pins(self) -> Any:
        import pins

        if self.backend == "folder":
            return pins.board_folder(f"{self.base}/pins")
        return pins.board(
            self.protocol, f"{self.base}/pins", cache=None, storage_options=self.options
        )

    def fill(self, n: int) -> None:
        """One version written by pinyard, then ``n`` older copies of its files."""
        real = self.pinyard().pin_write({"a": 1}, PIN, type="json").version
        ids = [f"20200101T{i // 3600:02d}{i // 60 % 60:02d}{i % 60:02d}Z-{i % 0xFFFFF:05x}"
               for i in range(n)]  # fmt: skip
        pin_dir = f"{self.base}/pins/{PIN}"
        names = ("data.txt", f"{PIN}.json")
        if self.backend == "folder":
            for v in ids:
                os.makedirs(f"{pin_dir}/{v}")
                for name in names:
                    shutil.copyfile(f"{pin_dir}/{real}/{name}", f"{pin_dir}/{v}/{name}")
            return
        blobs = {name: self.fs.cat_file(f"{pin_dir}/{real}/{name}") for name in names}
        items = [(f"{pin_dir}/{v}/{name}", blobs[name]) for v in ids for name in names]
        for start in range(0, len(items), 500):
            self.fs.pipe(dict(items[start : start + 500]))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def list_once(place: Place, lib: str, expected: int) -> float:
    board = place.pinyard() if lib == "pinyard" else place.pins()
    if lib == "pins" and place.fs is not None:
        # fsspec shares one file system per set of options, and s3fs, adlfs and gcsfs
        # keep the listings they made: pins would then list from memory. (pinyard
        # drops the cached listing of what it lists.)
        board.fs.invalidate_cache()
    seconds, listed = timed(lambda: board.pin_versions(PIN))
    if len(listed) != expected:
        raise RuntimeError(f"{lib} on {place.backend} listed {len(listed)} of {expected}")
    return seconds


def first_listing(place: Place, expected: int, listing: Listing) -> None:
    """Time a first listing (no listing index yet) and, on object stores, one chain
    listing every object under the pin."""
    store = place.pinyard().store
    store.delete_file(f"index/{PIN}.txt")
    listing.first_pinyard_s.append(list_once(place, "pinyard", expected))
    if place.fs is not None:
        seconds, found = timed(functools.partial(store.committed_versions, f"pins/{PIN}", META))
        if len(found) != expected:
            raise RuntimeError(f"{place.backend}: one chain found {len(found)} of {expected}")
        listing.floor_s.append(seconds)


def measure_backend(backend: str, server: Any, cfg: Config, root: str, raw: Raw) -> None:
    warm = Place(backend, server, root, "warm-up")  # imports, first connections
    warm.fill(2)
    for lib in ("pinyard", "pins"):
        list_once(warm, lib, 3)
    for n in cfg.versions:
        log(f"{backend}: {n + 1} versions (filling)")
        place = Place(backend, server, root, str(n))
        place.fill(n)
        listing = Listing(backend, n + 1)
        first_listing(place, n + 1, listing)  # also writes the index the rounds use
        for rnd in range(cfg.rounds):
            for lib in lib_order(rnd):
                seconds = list_once(place, lib, n + 1)
                (listing.pinyard_s if lib == "pinyard" else listing.pins_s).append(seconds)
            if rnd < cfg.rounds - 1:
                first_listing(place, n + 1, listing)
        raw.listings.append(listing)
        log(f"{backend}: {n + 1} versions: pinyard {med(listing.pinyard_s) * 1000:.1f} ms, "
            f"pins {med(listing.pins_s) * 1000:.1f} ms")  # fmt: skip


def measure(cfg: Config, root: str) -> Raw:
    servers = load_servers()
    raw = Raw()
    kinds = {"s3": servers.MotoServer, "azure": servers.Azurite, "gcs": servers.FakeGcs}
    for backend in cfg.backends:
        if backend == "folder":
            measure_backend(backend, None, cfg, root, raw)
            continue
        with kinds[backend]() as server:
            measure_backend(backend, server, cfg, root, raw)
    return raw


def summarize(raw: Raw) -> list[Row]:
    rows = []
    for item in raw.listings:
        ratios = [p / y for p, y in zip(item.pins_s, item.pinyard_s, strict=True)]
        ms_y = [s * 1000 for s in item.pinyard_s]
        ms_p = [s * 1000 for s in item.pins_s]
        ratio = med(ratios)
        rows.append(
            Row(f"{item.backend}: pin_versions, {item.versions} versions (ms)",
                spread(ms_y, ".1f"), spread(ms_p, ".1f"), f"{ratio:.2f}x {spread(ratios, '.2f')}",
                f">= {GOAL:.0f}x", yes_no(ratio >= GOAL),
                {"pinyard_ms": med(ms_y), "pins_ms": med(ms_p), "ratio": ratio})
        )  # fmt: skip
        ms_f = [s * 1000 for s in item.first_pinyard_s]
        first = med(ms_f)
        rows.append(
            Row(f"{item.backend}: first listing, {item.versions} versions (ms)",
                spread(ms_f, ".1f"), f"{med(ms_p):.1f}", f"{med(ms_p) / first:.2f}x", "info", "",
                {"pinyard_ms": first, "pins_ms": med(ms_p)})
        )  # fmt: skip
        if item.floor_s:
            ms_floor = [s * 1000 for s in item.floor_s]
            floor = med(ms_floor)
            rows.append(
                Row(f"{item.backend}: every object listed once, {item.versions} versions (ms)",
                    spread(ms_floor, ".1f"), "", f"first listing = {first / floor:.2f}x this",
                    "info", "", {"floor_ms": floor})
            )  # fmt: skip
    return rows


def parse_args(argv: Sequence[str]) -> tuple[Config, Path]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--versions", help="older versions per pin, comma-separated "
                        "(default 10,300,3000; --quick: 10,300)")  # fmt: skip
    parser.add_argument("--rounds", type=int, help="rounds per pin (default 5; --quick: 3)")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help=f"of {', '.join(BACKENDS)} (default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer versions and rounds")
    parser.add_argument("--tmp-dir", help="where folder boards and caches go (default $TMPDIR)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where results go")
    args = parser.parse_args(argv)
    versions = args.versions or ("10,300" if args.quick else "10,300,3000")
    cfg = Config(
        versions=[int(v) for v in versions.split(",")],
        rounds=args.rounds or (3 if args.quick else 5),
        backends=[b.strip() for b in args.backends.split(",")],
        tmp_dir=args.tmp_dir or tempfile.gettempdir(),
    )
    unknown = sorted(set(cfg.backends) - set(BACKENDS))
    if unknown or cfg.rounds < 1 or min(cfg.versions) < 1:
        parser.error(f"need known backends (not {unknown}), --rounds >= 1, --versions >= 1")
    return cfg, args.json


def main(argv: Sequence[str]) -> int:
    cfg, json_path = parse_args(argv)
    import pins
    from pins.config import pins_options

    import pinyard

    pins_options.quiet = True
    warnings.simplefilter("ignore", ResourceWarning)  # pins-python leaves files open
    started = time.perf_counter()
    root = tempfile.mkdtemp(prefix="pinyard-bench-versions-", dir=cfg.tmp_dir)
    try:
        raw = measure(cfg, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    wall = time.perf_counter() - started
    rows = summarize(raw)
    load = os.getloadavg()[0]
    print(f"pin_versions: pinyard {pinyard.__version__} vs pins {pins.__version__} | "
          f"{os.cpu_count()} CPUs, load {load:.1f} | {cfg.rounds} rounds, median [min-max] | "
          f"{wall:.0f} s")  # fmt: skip
    print("ratio: pins' time / pinyard's, per round (>1 = pinyard faster)")
    print(render(rows))
    write_report(json_path, cfg, rows, {"load_average": load}, raw, wall)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
