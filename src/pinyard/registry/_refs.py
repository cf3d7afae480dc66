"""Model references: ``name``, ``name@alias``, ``name@stage``, ``name:VERSION``, ``name:HASH5``.

Also the rules for alias and stage names, which become part of storage paths
only through the events' contents, never as folders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pinyard.boards._names import VERSION_PATTERN, validate_identifier, validate_pin_name
from pinyard.errors import InvalidNameError, InvalidReferenceError

HASH_PATTERN = re.compile(r"^[0-9a-f]{5}$")
REFERENCE_FORMS = "'name', 'name@alias', 'name@stage', 'name:VERSION' or 'name:HASH5'"


@dataclass(frozen=True)
class Reference:
    """A parsed reference: a name and at most one of a slot, a version id, a hash."""

    name: str
    slot: str | None = None
    version: str | None = None
    hash: str | None = None

    def __str__(self) -> str:
        if self.slot:
            return f"{self.name}@{self.slot}"
        if self.version or self.hash:
            return f"{self.name}:{self.version or self.hash}"
        return self.name


def parse_reference(text: object) -> Reference:
    """Parse a reference, or raise `InvalidReferenceError` saying which forms exist."""
    if not isinstance(text, str) or not text:
        raise InvalidReferenceError(f"a model reference must be {REFERENCE_FORMS}, got {text!r}")
    name, at, slot = text.partition("@")
    if at:
        if ":" in slot or "@" in slot:
            raise InvalidReferenceError(
                f"reference {text!r} names more than one of alias, stage and version; "
                f"use one of {REFERENCE_FORMS}"
            )
        name = registry_name(name, text)
        try:
            return Reference(name, slot=validate_slot(slot, "alias or stage"))
        except InvalidNameError as exc:
            raise InvalidReferenceError(f"{exc} in reference {text!r}") from None
    name, colon, rest = text.partition(":")
    if not colon:
        return Reference(registry_name(name, text))
    if VERSION_PATTERN.match(rest):
        return Reference(registry_name(name, text), version=rest)
    if HASH_PATTERN.match(rest):
        return Reference(registry_name(name, text), hash=rest)
    raise InvalidReferenceError(
        f"reference {text!r}: {rest!r} is neither a version id (YYYYmmddTHHMMSSZ-xxxxx) "
        f"nor its 5-hex hash; use one of {REFERENCE_FORMS}"
    )


def registry_name(name: object, reference: str | None = None) -> str:
    """A pin name that can be registered: a valid pin name without ``@``."""
    try:
        validate_pin_name(name)
    except InvalidNameError as exc:
        where = f" in reference {reference!r}" if reference else ""
        raise InvalidReferenceError(f"{exc}{where}") from None
    assert isinstance(name, str)
    if "@" in name:
        raise InvalidNameError(
            f"pin {name!r} cannot be registered: '@' separates a name from an alias in "
            "references; rename the pin without '@'"
        )
    return name


def validate_slot(slot: object, what: str = "alias") -> str:
    """An alias or stage name (the rule lives with every other name rule, in boards)."""
    return validate_identifier(slot, f"{what} name")
