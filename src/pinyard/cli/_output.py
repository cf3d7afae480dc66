"""How commands print: text for people by default, JSON with ``--json``.

The rule, the same on a terminal and in a pipe: text unless ``--json``. On a
terminal, tables are fitted to its width (the widest columns are shortened,
ending in ``…``, and columns that still do not fit are left out and counted);
piped, every cell is printed in full, so ``grep`` and ``cut`` see whole
values. Scripts should use ``--json``: its shape is documented (docs/cli.md)
and stable, the text is not.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from pinyard.errors import InvalidArgumentError


def add_json_flag(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--json", action="store_true", help="print JSON (a stable, documented shape) for scripts"
    )


def emit(args: argparse.Namespace, doc: Any, text: str | None) -> None:
    """Print ``doc`` as JSON with ``--json``, else ``text`` (None: nothing)."""
    if getattr(args, "json", False):
        print(json.dumps(doc, indent=2, default=str, allow_nan=True))
    elif text is not None:
        print(text)
    sys.stdout.flush()


def terminal_width() -> int | None:
    """The width to fit tables to: the terminal's (``COLUMNS`` wins) when stdout is a
    terminal, else None (piped output is never cut)."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size((100, 24)).columns


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str = "") -> str:
    """Left-aligned columns two spaces apart, fitted to the terminal when there is one."""
    if not rows:
        return empty
    cells = [[cell_text(c) for c in row] for row in rows]
    heads = list(headers)
    widths = [max(len(r[i]) for r in [heads, *cells]) for i in range(len(heads))]
    limit = terminal_width()
    if limit is not None:
        limit = max(limit - 1, 20)  # a full-width line wraps on some terminals
    dropped = 0
    if limit is not None:
        widths, keep = _fit(widths, [len(h) for h in heads], limit)
        dropped = len(heads) - keep
        heads, widths = heads[:keep], widths[:keep]
        cells = [row[:keep] for row in cells]
    lines = []
    for row in [heads, *cells]:
        parts = [_clip(c, w).ljust(w) for c, w in zip(row, widths, strict=False)]
        lines.append("  ".join(parts).rstrip())
    if dropped:
        lines.append(f"(+{dropped} column{'s' if dropped != 1 else ''}: see --json)")
    return "\n".join(lines)


def _fit(widths: list[int], floors: list[int], limit: int) -> tuple[list[int], int]:
    """Widths that fit ``limit``, and how many leading columns to keep.

    The first column (the name or id) is never shortened; the others may shrink to
    their header or 10 characters. Columns at the end that cannot fit even so are left
    out; then the widest of the rest are shortened until the row fits."""
    floors = [widths[0]] + [
        min(w, max(f, 10)) for w, f in zip(widths[1:], floors[1:], strict=True)
    ]

    def span(values: list[int]) -> int:
        return sum(values) + 2 * (len(values) - 1)

    keep = len(widths)
    while keep > 1 and span(floors[:keep]) > limit:
        keep -= 1
    widths = widths[:keep]
    while span(widths) > limit:
        widest = max(range(1, len(widths)), key=lambda i: widths[i] - floors[i], default=0)
        if widest == 0 or widths[widest] <= floors[widest]:
            break
        widths[widest] -= 1
    return widths, keep


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def cell_text(value: Any) -> str:
    """A value as a table cell: floats to 6 significant digits, None as ``-``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, datetime):
        return when(value)
    return " ".join(str(value).split())


def when(moment: datetime | str | None) -> str:
    """A time as ``2026-01-02 03:04:05Z``."""
    if moment is None:
        return "-"
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        text = moment.isoformat()
    else:
        text = str(moment)
    return f"{text[:10]} {text[11:19]}Z" if len(text) >= 19 else text


def size(n: int | None) -> str:
    """Bytes in human units: ``512 B``, ``1.5 KiB``, ``2.0 MiB``."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def duration(seconds: float | None) -> str:
    """Seconds in human units: ``850 ms``, ``12.5 s``, ``3 min 20 s``, ``2 h 5 min``."""
    if seconds is None or math.isnan(seconds):
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def pairs(title: str, rows: Sequence[tuple[str, Any]]) -> str:
    """``title`` then ``  key:  value`` lines."""
    width = max((len(k) for k, _ in rows), default=0) + 1
    return "\n".join([title] + [f"  {(k + ':').ljust(width)} {cell_text(v)}" for k, v in rows])


def one_line(exc: BaseException) -> str:
    """An error's message on one line (for a report listing many)."""
    return " ".join(str(exc).split())


def add_deletion_flags(cmd: argparse.ArgumentParser) -> None:
    """``--yes`` and ``--dry-run``, the flags of every command that deletes."""
    cmd.add_argument("--yes", "-y", action="store_true", help="do not ask")
    cmd.add_argument("--dry-run", action="store_true", help="show what would go; delete nothing")


def deletion_confirmed(
    args: argparse.Namespace,
    doc: dict[str, Any],
    question: str,
    dry_run_text: str,
    listing: str | None = None,
) -> bool:
    """Whether to go ahead and delete what ``doc`` names (its ``deleted``).

    With ``--dry-run``, prints ``doc`` (or ``dry_run_text``) and says no. With ``--yes``,
    yes. Else ``listing`` is shown and ``question`` asked on the terminal; a no prints
    "nothing deleted". With no terminal on stdin it refuses (an `InvalidArgumentError`
    naming ``--yes``)."""
    if args.dry_run:
        emit(args, doc, dry_run_text)
        return False
    if not args.yes:
        if not sys.stdin.isatty():
            raise InvalidArgumentError(
                f"{question.rstrip('?')}: not confirmed (no terminal to ask on); pass --yes "
                "to go ahead, or --dry-run to see what would go"
            )
        if listing is not None:
            print(listing)
        if input(f"{question} [y/N] ").strip().lower() not in ("y", "yes"):
            emit(args, {**doc, "deleted": []}, "nothing deleted")
            return False
    return True


@contextmanager
def progress(label: str, total: int) -> Iterator[Any]:
    """A progress bar on stderr for a transfer of ``total`` bytes, drawn only on a
    terminal and only once it has run a second (``PINYARD_PROGRESS=0`` silences it, as it
    does the board's own progress lines). Yields ``advance(nbytes)``."""
    setting = os.environ.get("PINYARD_PROGRESS", "1").strip().lower()
    shown = sys.stderr.isatty() and setting not in {"0", "false", "no", "off"}
    start = time.monotonic()
    state: dict[str, float] = {"bytes": 0, "last": 0.0, "drawn": 0}

    def draw() -> None:
        width = 30
        done = int(state["bytes"])
        part = done / total if total else 1.0
        bar = "#" * int(width * part)
        rate = done / max(time.monotonic() - start, 1e-9)
        sys.stderr.write(
            f"\rpinyard: {label} [{bar.ljust(width)}] {part:4.0%} {size(done)} of "
            f"{size(total)} ({size(int(rate))}/s)"
        )
        sys.stderr.flush()
        state["drawn"] = 1

    def advance(nbytes: int) -> None:
        state["bytes"] += nbytes
        now = time.monotonic()
        if shown and now - start > 1.0 and now - state["last"] > 0.2:
            state["last"] = now
            draw()

    try:
        yield advance
    finally:
        if state["drawn"]:
            draw()
            sys.stderr.write("\n")
            sys.stderr.flush()
