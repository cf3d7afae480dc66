"""Version ids: ``YYYYmmddTHHMMSSZ-<first 5 hex of pin_hash>``, ordered as written.

pins readers take the lexically last version folder as "latest". Two writes
in the same second would then be ordered by their hash prefix, so pins often
returns the older one. pinyard keeps the time part monotonic per pin: a new
id always sorts after the pin's current latest, moving the stamp forward by
a second when needed. The true write time, to the microsecond, is recorded
separately in the ``pinyard`` key of ``data.txt``.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from pinyard.boards._names import VERSION_PATTERN

TIME_FORMAT = "%Y%m%dT%H%M%SZ"


def format_created(moment: datetime) -> str:
    """The pins ``created`` stamp of a UTC moment."""
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_created(stamp: str) -> datetime:
    """Parse a pins ``created`` stamp as UTC (raises ValueError when malformed)."""
    return datetime.strptime(stamp, TIME_FORMAT).replace(tzinfo=UTC)


def next_version_id(now: datetime, pin_hash: str, latest: str | None) -> str:
    """The id for a new version written at ``now``, sorting after ``latest``."""
    stamp = now.astimezone(UTC).replace(microsecond=0)
    candidate = f"{format_created(stamp)}-{pin_hash[:5]}"
    if latest is None or candidate > latest:
        return candidate
    match = VERSION_PATTERN.match(latest)
    if match is None:  # not an id of ours: sort after it anyway
        return candidate
    bumped = parse_created(match.group(1)) + timedelta(seconds=1)
    return f"{format_created(bumped)}-{pin_hash[:5]}"


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
