"""`Tracker.compact`: run records merged into immutable Parquet segments.

Two kinds of segment sit in ``segments/``, both plain Parquet in the segment schema:

* ``<first>_<last>-<digest>.parquet`` *covers* the hours ``first`` to ``last``:
  it holds every run recorded in them that no other segment holds, and queries
  stop listing those hours. Only hours older than the grace period are covered.
* ``<first>_<last>-open-<digest>.parquet`` (``compact(all_finished=True)``)
  holds runs that had ended, from hours not yet covered, and covers no hour:
  queries still list those hours and skip the records of the runs it holds,
  and a later covering segment leaves those runs out. So every finished run
  can be in Parquet at once, and a run that ends later is still seen.

Either way a run is in one segment only, unless two compactions ran at once
(queries keep one row per run).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from pinyard.errors import InvalidArgumentError
from pinyard.tracking._checkpoints import HOUR_PATTERN
from pinyard.tracking._records import hour_of
from pinyard.tracking._segments import (
    OPEN_PATTERN,
    SEGMENT_PATTERN,
    covered_hours,
    open_segment_name,
    segment_bytes,
    segment_name,
)

if TYPE_CHECKING:
    from pinyard.tracking._listing import Listing
    from pinyard.tracking._tracker import Tracker

log = logging.getLogger("pinyard")
HOUR = timedelta(hours=1)


def compact(tracker: Tracker, grace: timedelta, all_finished: bool) -> list[str]:
    """See `Tracker.compact`."""
    if grace < timedelta(0):
        raise InvalidArgumentError(f"grace must not be negative, got {grace}")
    cutoff = hour_of(tracker._now() - grace - HOUR)
    names = tracker._names("segments")
    covered = covered_hours(n for n in names if SEGMENT_PATTERN.match(n))
    held = tracker._held(tuple(n for n in names if OPEN_PATTERN.match(n)))
    written = []
    old = tracker._listing(lambda h: uncovered(h, covered) and h <= cutoff)
    if hours := sorted({*old.started, *old.records}):
        runs = old.without(held).runs()
        data = segment_bytes(tracker._parse(path for path, _ in runs.values()))
        name = _write(tracker, segment_name(hours[0], hours[-1], data), data, len(runs))
        if name is not None:
            written.append(name)
            tracker._drop_checkpoints(lambda h: in_ranges(h, [*covered, (hours[0], hours[-1])]))
    if all_finished:
        recent = tracker._listing(lambda h: uncovered(h, covered) and h > cutoff)
        written += _compact_finished(tracker, recent.without(held))
    return written


def _compact_finished(tracker: Tracker, listing: Listing) -> list[str]:
    """An open segment of the runs in ``listing`` that have a final record."""
    ended = sorted(path for path, final in listing.runs().values() if final)
    if not ended:
        return []
    hours = sorted(path.split("/")[1] for path in ended)
    data = segment_bytes(tracker._parse(ended))
    name = _write(tracker, open_segment_name(hours[0], hours[-1], data), data, len(ended))
    return [] if name is None else [name]


def _write(tracker: Tracker, name: str, data: bytes, runs: int) -> str | None:
    """Create ``segments/<name>``; None if an equal segment is already there."""
    try:
        tracker._write(f"segments/{name}", data)
    except FileExistsError:
        return None
    log.info("experiment %r: compacted %d runs into %s", tracker.experiment, runs, name)
    return name


def uncovered(hour: str, covered: list[tuple[str, str]]) -> bool:
    """Whether ``hour`` names an hour folder that no segment covers."""
    return HOUR_PATTERN.match(hour) is not None and not in_ranges(hour, covered)


def in_ranges(hour: str, ranges: Iterable[tuple[str, str]]) -> bool:
    return any(first <= hour <= last for first, last in ranges)
