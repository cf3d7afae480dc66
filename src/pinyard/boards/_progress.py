"""Progress lines for long transfers, on stderr, only where a person is watching.

Shown when stderr is a terminal and a transfer has run for more than a
second; silenced with ``PINYARD_PROGRESS=0`` (or any board opened with
``progress=False``), and never shown under pytest or when stderr is not a TTY.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from pinyard.boards._store import BytesLike

_MIB = 1024 * 1024
_START_AFTER_S = 1.0
_EVERY_S = 0.5


def progress_enabled(setting: bool | None = None) -> bool:
    """Whether to draw progress: the explicit setting, else env and terminal."""
    if setting is not None:
        return setting
    if os.environ.get("PINYARD_PROGRESS", "1").strip().lower() in {"0", "false", "no", "off"}:
        return False
    if "PYTEST_CURRENT_TEST" in os.environ:
        return False
    return sys.stderr.isatty()


class Progress:
    """Counts bytes through a sink and redraws one stderr line now and then."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled
        self.bytes = 0
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False

    def wrap(self, sink: Callable[[BytesLike], object]) -> Callable[[BytesLike], object]:
        """A sink that forwards to ``sink`` and counts what passes."""
        if not self.enabled:
            return sink

        def counted(data: BytesLike) -> object:
            result = sink(data)
            self.advance(memoryview(data).nbytes)
            return result

        return counted

    def advance(self, nbytes: int) -> None:
        self.bytes += nbytes
        now = time.monotonic()
        if (
            self.enabled
            and now - self._start > _START_AFTER_S
            and now - self._last_draw > _EVERY_S
        ):
            self._last_draw = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.bytes / _MIB / max(now - self._start, 1e-9)
        sys.stderr.write(
            f"\rpinyard: {self.label} {self.bytes / _MIB:,.0f} MiB ({rate:,.0f} MiB/s)"
        )
        sys.stderr.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._draw(time.monotonic())
            sys.stderr.write("\n")
            sys.stderr.flush()
