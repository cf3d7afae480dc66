"""Validation of pin names and version ids: nothing may escape its folder."""

from __future__ import annotations

import re
import unicodedata

from pinyard.errors import InvalidNameError

MAX_NAME_BYTES = 255
RESERVED_NAMES = frozenset({"_pins.yaml", "data.txt"})
VERSION_PATTERN = re.compile(r"^(\d{8}T\d{6}Z)-([0-9a-f]{5})$")


def validate_pin_name(name: object) -> str:
    """Return ``name`` if it is a safe pin name, else raise `InvalidNameError`.

    A pin name becomes one folder on every backend, so it must be a single,
    non-empty path component of at most 255 UTF-8 bytes with no separators,
    no control characters, not ``.``/``..``, not starting with ``.`` (pins
    readers would list such entries) and not a name pins reserves.
    """
    if not isinstance(name, str):
        raise InvalidNameError(f"pin name must be a string, got {type(name).__name__}: {name!r}")
    problem = _name_problem(name)
    if problem:
        raise InvalidNameError(
            f"invalid pin name {name!r}: {problem}. Use one path component such as "
            "'sales-model' or 'daily_prices' (letters, digits, '-', '_', '.')."
        )
    return name


def _name_problem(name: str) -> str | None:
    if not name:
        return "it is empty"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"it is {len(name.encode('utf-8'))} bytes long, the limit is {MAX_NAME_BYTES}"
    if name in {".", ".."}:
        return "it is a relative path component"
    if "/" in name or "\\" in name:
        return "it contains a path separator"
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in name):
        return "it contains a control or invisible format character"
    if name != name.strip():
        return "it starts or ends with whitespace"
    if name.startswith("."):
        return "it starts with '.', which pins readers would list as a pin"
    if ":" in name:
        return "it contains ':', which is a drive or URL separator on some backends"
    if name in RESERVED_NAMES:
        return f"the name {name!r} is reserved for internal use"  # pins' words
    return None


def validate_version_id(version: object) -> str:
    """Return ``version`` if it has the ``YYYYmmddTHHMMSSZ-xxxxx`` form, else raise."""
    if not isinstance(version, str) or not VERSION_PATTERN.match(version):
        raise InvalidNameError(
            f"invalid version id {version!r}: expected the form 'YYYYmmddTHHMMSSZ-xxxxx', "
            "for example '20261127T110608Z-4f2a9' (see pin_versions() for the ids a pin has)."
        )
    return version


def is_version_id(entry: str) -> bool:
    """True when a folder name is a version id (anything else in a pin folder is ignored)."""
    return VERSION_PATTERN.match(entry) is not None


def file_name_problem(name: str) -> str | None:
    """Why a data file's base name is unsafe to join to a version folder, or None."""
    if not name or name in {".", "..", META_FILENAME_RESERVED}:
        return f"{name!r} is not a usable data file name"
    if "/" in name or "\\" in name or "\x00" in name:
        return f"{name!r} contains a path separator"
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return f"{name!r} contains a control character"
    return None


META_FILENAME_RESERVED = "data.txt"
