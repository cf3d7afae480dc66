"""How long a version folder on S3 is visible without its data.txt (decision 0018).

This is a benchmark, not a test: it measures and prints, and never fails. While a
writer publishes a version, its folder exists (pins-python lists it as a version)
from the moment the first data object is created until ``data.txt`` is: that is the
window in which a pins reader, or a killed writer, sees a half-written version.

    .venv/bin/python bench/bench_commit_window.py            # this checkout
    .venv/bin/python bench/bench_commit_window.py --src /tmp/main/src   # another one

One moto S3 server; each case writes to a fresh bucket through the code under
``--src`` (default: this checkout's ``src``), and the end of every request that
creates an object is timed by wrapping the store's methods (no proxy). The
window is data.txt's end minus the first data object's end, median of
``--repeats``. ``CopyObject / PutObject`` is the cost of the alternative of
uploading under a staging key and copying at publish, on this moto (AWS copies
server-side too, at its own speed: the ratio is only an indication).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def _instrument(events: list[tuple[float, str]]) -> None:
    """Record (end time, object path) of every request that creates an object."""
    from pinyard.boards import _blocks, _remote, _remote_staging

    def timed(fn: Any, path_of: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            out = fn(*args, **kwargs)
            events.append((time.perf_counter(), str(path_of(*args))))
            return out

        return call

    store = _remote.RemoteStore
    store.put_small = timed(store.put_small, lambda self, path, *_: path)  # type: ignore[method-assign]
    store.write_exclusive = timed(store.write_exclusive, lambda self, path, *_: path)  # type: ignore[method-assign]
    store.copy = timed(store.copy, lambda self, src, dst: dst)  # type: ignore[method-assign]
    store.upload = timed(store.upload, lambda self, local, dst: dst)  # type: ignore[method-assign]
    put = _remote_staging.put_exclusive
    _remote_staging.put_exclusive = timed(put, lambda fs, call, bucket, key, *_: key)  # type: ignore[attr-defined]
    commit = _blocks.BlockUpload.complete
    _blocks.BlockUpload.complete = timed(commit, lambda self: getattr(self, "_key", "block"))  # type: ignore[method-assign]


def _window(events: list[tuple[float, str]]) -> float:
    meta = [t for t, p in events if p.endswith("data.txt")]
    data = [t for t, p in events if not p.endswith("data.txt")]
    return (meta[-1] - min(data)) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", default=str(ROOT / "src"), help="pinyard source to measure")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, args.src)
    sys.path.insert(0, str(ROOT))
    import numpy as np
    from tests.backends._servers import MotoServer, unique_name

    import pinyard

    events: list[tuple[float, str]] = []
    _instrument(events)
    server = MotoServer()
    server.start()
    try:
        work = Path(tempfile.mkdtemp(prefix="pinyard-window-"))
        small = [work / f"part{i}.txt" for i in range(4)]
        for i, path in enumerate(small):
            path.write_bytes(f"small file {i}\n".encode() * 10)
        large = [work / f"large{i}.bin" for i in range(2)]
        for path in large:
            path.write_bytes(np.random.default_rng(0).bytes(40 * MIB))

        def board() -> Any:
            bucket = server.make_bucket(unique_name("window"))
            opened = pinyard.board(
                f"s3://{bucket}/b", cache=pinyard.Cache(work / "cache"), **server.storage_options()
            )
            opened.store.single_put_bytes = 16 * MIB  # files above go multipart (direct)
            return opened

        cases = {
            "one small file (json)": lambda b, i: b.pin_write({"i": i}, "cfg"),
            "4 small files (pin_upload)": lambda b, i: b.pin_upload(
                small, "parts", metadata={"i": i}
            ),
            "2 x 40 MiB + 1 small (multipart)": lambda b, i: b.pin_upload(
                [*large, small[0]], "big", metadata={"i": i}
            ),
        }
        print(f"pinyard from {os.path.dirname(pinyard.__file__)}")
        print(f"{'case':<36} {'window ms (median)':>20} {'min':>8} {'max':>8}")
        for label, write in cases.items():
            windows = []
            for i in range(args.repeats):
                target = board()
                events.clear()
                write(target, i)
                windows.append(_window(events))
            print(f"{label:<36} {statistics.median(windows):>20.1f} {min(windows):>8.1f} "
                  f"{max(windows):>8.1f}")  # fmt: skip

        fs = server.filesystem()
        bucket = server.make_bucket(unique_name("copy"))
        body = np.random.default_rng(1).bytes(64 * MIB)
        puts, copies = [], []
        for i in range(args.repeats):
            start = time.perf_counter()
            fs.pipe_file(f"{bucket}/src{i}", body)
            puts.append(time.perf_counter() - start)
            start = time.perf_counter()
            fs.copy(f"{bucket}/src{i}", f"{bucket}/dst{i}")
            copies.append(time.perf_counter() - start)
        put, copy = statistics.median(puts), statistics.median(copies)
        print(f"64 MiB PutObject {put * 1000:.0f} ms, CopyObject {copy * 1000:.0f} ms: "
              f"CopyObject / PutObject = {copy / put:.2f}")  # fmt: skip
    finally:
        server.stop()


if __name__ == "__main__":
    main()
