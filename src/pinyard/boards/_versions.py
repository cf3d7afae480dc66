"""Version ids: ``YYYYmmddTHHMMSSZ-<first 5 hex of pin_hash>``, ordered as written.

pins readers (and pinyard's) take the lexically last version folder as
"latest", and R pins and pins-python stamp ids with their own clock. So a
pinyard id carries its writer's clock second, never a later one: a write
made a second or more after another, by any of the three, then sorts after
it. When the id would not sort after the pin's newest folder (a write in
the same second whose hash prefix sorts lower), the writer waits for the
next second instead of moving the stamp ahead (`clock_version_id`); see
docs/decisions/0016-version-ids-and-clock.md. The true write time, to the
microsecond, is recorded separately in the ``pinyard`` key of ``data.txt``.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pinyard.boards._names import VERSION_PATTERN

TIME_FORMAT = "%Y%m%dT%H%M%SZ"
#: The longest a write waits for a second in which its id sorts last. Up to 1 s
#: covers the pin's newest folder being stamped this second; up to 2 s also covers
#: a writer whose clock runs up to a second ahead of this one.
MAX_WAIT_S = 2.0


class Clock(Protocol):
    """Where a writer reads the time and waits (tests substitute a fake one)."""

    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The machine's UTC clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def format_created(moment: datetime) -> str:
    """The pins ``created`` stamp of a UTC moment."""
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_created(stamp: str) -> datetime:
    """Parse a pins ``created`` stamp as UTC (raises ValueError when malformed)."""
    return datetime.strptime(stamp, TIME_FORMAT).replace(tzinfo=UTC)


def next_version_id(now: datetime, pin_hash: str, latest: str | None) -> str:
    """The id for a version stamped ``now``, moved to a later second if needed to sort
    after ``latest`` (for a stamp the caller chose: ``pin_write(created=...)``)."""
    return _id(_first_second_after(now, pin_hash, latest), pin_hash)


def clock_version_id(now: datetime, pin_hash: str, latest: str | None) -> tuple[str, float]:
    """The id for a write at ``now`` by the writer's clock that sorts after ``latest``,
    and the seconds until its stamp begins (0: it is this second).

    A caller waits those seconds (when at most `MAX_WAIT_S`) and asks again, so
    the id it publishes is never ahead of its clock. A longer delay means
    ``latest`` is stamped ahead of this clock by more than a second (another
    writer's clock, or pins-python's local time written as UTC): waiting for it
    is not bounded, so the caller follows it, ahead of its own clock.
    """
    second = _second(now)
    stamp = _first_second_after(second, pin_hash, latest)
    delay = 0.0 if stamp == second else (stamp - now).total_seconds()
    return _id(stamp, pin_hash), delay


def _second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def _id(second: datetime, pin_hash: str) -> str:
    return f"{format_created(second)}-{pin_hash[:5]}"


def _first_second_after(moment: datetime, pin_hash: str, latest: str | None) -> datetime:
    """The first second from ``moment``'s on whose id sorts after ``latest``."""
    second = _second(moment)
    if latest is None or _id(second, pin_hash) > latest:
        return second
    match = VERSION_PATTERN.match(latest)
    if match is None:  # not an id of ours: sort after it anyway
        return second
    theirs = parse_created(match.group(1))
    if _id(theirs, pin_hash) > latest:
        return theirs
    return theirs + timedelta(seconds=1)


def version_created(version: str) -> datetime | None:
    """The UTC time stamped in a version id, or None if it has no time part."""
    if VERSION_PATTERN.match(version) is None:
        return None
    try:  # slicing is ~10x faster than strptime, which matters when listing many versions
        return datetime(
            int(version[0:4]), int(version[4:6]), int(version[6:8]),
            int(version[9:11]), int(version[11:13]), int(version[13:15]), tzinfo=UTC,
        )  # fmt: skip
    except ValueError:
        return None


def backdated_version_id(created: datetime, pin_hash: str, existing: Collection[str]) -> str:
    """The id of a version back-dated to ``created`` (pins' ``created=``): that second,
    or the next one no ``existing`` version holds, so that versions given the same
    time stay in write order. It is not moved after the pin's latest: versions sort
    by their time, so a back-dated version is "latest" (for pinyard, pins and R
    alike) only if no other version is newer."""
    taken = {v.split("-", 1)[0] for v in existing}
    moment = created.astimezone(UTC).replace(microsecond=0)
    while format_created(moment) in taken:
        moment += timedelta(seconds=1)
    return f"{format_created(moment)}-{pin_hash[:5]}"
