"""Progress lines: drawn for long transfers in a terminal, silenced on request."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from pinyard.boards import _progress
from pinyard.boards._progress import Progress, progress_enabled
from tests.backends import conftest as backends

moto_server = backends.moto_server  # the emulator fixtures, for the S3 download
s3_bucket = backends.s3_bucket


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_off_under_pytest_and_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert progress_enabled() is False  # PYTEST_CURRENT_TEST is set
    assert progress_enabled(True) is True
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    monkeypatch.delenv("PINYARD_PROGRESS", raising=False)
    monkeypatch.setattr(_progress.sys, "stderr", io.StringIO())
    assert progress_enabled() is False  # not a terminal
    monkeypatch.setattr(_progress.sys, "stderr", _Terminal())
    assert progress_enabled() is True  # a terminal: on, unless told otherwise
    monkeypatch.setenv("PINYARD_PROGRESS", "0")
    assert progress_enabled() is False  # told otherwise, in a terminal


def test_progress_draws_after_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(_progress.sys, "stderr", err)
    clock = iter([0.0, 0.5, 1.2, 1.3, 2.0, 2.1])
    monkeypatch.setattr(_progress.time, "monotonic", lambda: next(clock))
    received: list[bytes] = []
    meter = Progress("writing big.joblib", enabled=True)
    sink = meter.wrap(received.append)
    sink(b"x" * (1024 * 1024))  # t=0.5: too early to draw
    assert err.getvalue() == ""
    sink(b"x" * (1024 * 1024))  # t=1.2: draws
    assert "writing big.joblib 2 MiB" in err.getvalue()
    meter.close()
    assert err.getvalue().endswith("\n")
    assert len(received) == 2


def test_disabled_progress_passes_the_sink_through() -> None:
    sink = print
    assert Progress("x", enabled=False).wrap(sink) is sink


def test_a_large_download_from_s3_draws_progress(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, s3_bucket: Any
) -> None:
    """pin_download and pin_read of a file past the large-file bound report the bytes as
    they arrive (the writes already did), and only when the board's progress is on."""
    import pinyard

    err = io.StringIO()
    monkeypatch.setattr(_progress.sys, "stderr", err)
    monkeypatch.setattr(_progress, "_START_AFTER_S", 0.0)
    monkeypatch.setattr(_progress, "_EVERY_S", 0.0)
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x01" * (9 * 1024 * 1024))  # past LARGE_FILE_BYTES (8 MiB)
    url = f"{s3_bucket.url}/b"
    options = s3_bucket.storage_options
    pinyard.board(url, progress=False, **options).pin_upload(str(big), "big")
    assert err.getvalue() == ""

    quiet = pinyard.board(url, progress=False, cache=pinyard.Cache(tmp_path / "c1"), **options)
    assert len(quiet.pin_download("big")) == 1
    assert err.getvalue() == ""
    shown = pinyard.board(url, progress=True, cache=pinyard.Cache(tmp_path / "c2"), **options)
    [path] = shown.pin_download("big")
    assert Path(path).read_bytes() == big.read_bytes()
    assert "pinyard: downloading big.bin 9 MiB" in err.getvalue()
    assert err.getvalue().endswith("\n")


def test_the_generic_download_reports_its_chunks(tmp_path: Path) -> None:
    from pinyard.boards._memory import MemoryStore

    store = MemoryStore()
    store.write_exclusive("x/data", b"a" * 3_000_000)
    seen: list[int] = []
    store.download("x/data", str(tmp_path / "out"), seen.append)
    assert sum(seen) == 3_000_000
    assert (tmp_path / "out").read_bytes() == b"a" * 3_000_000


def test_a_download_through_fsspec_reports_its_chunks(tmp_path: Path) -> None:
    """Stores without pinyard's own S3 download (Azure, GCS) report through fsspec's
    transfer callback; an fsspec memory file system takes the same path."""
    import fsspec

    from pinyard.boards._remote import RemoteStore

    fs = fsspec.filesystem("memory")
    fs.pipe_file("/progress-test/x/data", b"b" * 12_000_000)
    store = RemoteStore(fs, "progress-test", staging_prefix="staging")
    seen: list[int] = []
    store.download("x/data", str(tmp_path / "out"), seen.append)
    assert sum(seen) == 12_000_000
    assert len(seen) > 1  # as it goes, not once at the end
    assert (tmp_path / "out").read_bytes() == b"b" * 12_000_000
