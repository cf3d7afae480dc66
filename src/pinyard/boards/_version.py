"""`PinVersion`: a version id that is a plain ``str`` and also reads as pins' Version.

pins-python code reads ``meta.version.version``, ``.created`` and ``.hash``;
pinyard code compares and formats ``meta.version`` as a string. A `str`
subclass whose attributes are derived from the text serves both, and stays
a value: it pickles, hashes and compares exactly as its text does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml

_STAMP_LEN = 16  # YYYYmmddTHHMMSSZ


class PinVersion(str):
    """A version id such as ``20240102T030405Z-d2d92``.

    ``version`` is the id as a plain ``str``; ``created`` the time in it, as
    pins gives it (a naive datetime of the stamp, UTC for pinyard and R,
    the writer's local time for pins-python) or None when the id carries
    no time (folders of pins' old format); ``hash`` the part after the
    last ``-`` (the first 5 hex of ``pin_hash``), or ``""``.
    """

    __slots__ = ()

    @property
    def version(self) -> str:
        """The id as a plain string (pins' ``Version.version``)."""
        return str.__str__(self)

    @property
    def created(self) -> datetime | None:
        """The naive stamp of the id, or None when it has none."""
        stamp = self.version.split("-", 1)[0]
        if len(stamp) != _STAMP_LEN:
            return None
        try:
            return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
        except ValueError:
            return None

    @property
    def hash(self) -> str:
        """The hash part of the id (after the last ``-``), or ``""``."""
        head, sep, tail = self.version.rpartition("-")
        return tail if sep and head else ""

    def to_dict(self) -> dict[str, Any]:
        """``{"version", "created", "hash"}``, as pins' ``Version.to_dict``."""
        return {"version": self.version, "created": self.created, "hash": self.hash}

    def __repr__(self) -> str:
        return repr(self.version)


def _represent(dumper: yaml.SafeDumper, value: PinVersion) -> yaml.Node:
    return dumper.represent_str(value.version)


# A version id is written into YAML (lineage, metadata) as the string it is.
for _dumper in (yaml.SafeDumper, getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    _dumper.add_representer(PinVersion, _represent)
