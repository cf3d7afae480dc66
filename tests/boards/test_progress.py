"""Progress lines: drawn for long transfers in a terminal, silenced on request."""

from __future__ import annotations

import io

import pytest

from pinyard.boards import _progress
from pinyard.boards._progress import Progress, progress_enabled


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
