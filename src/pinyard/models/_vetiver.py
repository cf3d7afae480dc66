"""The part of a bundle's metadata vetiver reads, and bundles from pins vetiver wrote.

vetiver (Python) stores, in the pins ``user`` field::

    user: {user: <free metadata>, vetiver_meta: {required_pkgs: [...],
           prototype: '<JSON: column -> example value>', python_version: [3, 11, 7, ...]}}

pinyard writes the same keys, with the bundle's (synthetic unless asked)
example row as the prototype, so ``vetiver.VetiverModel.from_pin`` loads a
bundle; and reads them back when a pin was written by ``vetiver_pin_write``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pinyard.errors import SignatureError
from pinyard.models._signature import Column, Signature


def vetiver_meta(signature: Signature, environment: Mapping[str, Any]) -> dict[str, Any]:
    """The ``vetiver_meta`` mapping for a bundle."""
    example = signature.examples[0] if signature.examples else signature.synthetic_example()
    python = str(environment.get("python") or "")
    parts: list[Any] = [int(p) if p.isdigit() else p for p in python.split(".") if p]
    return {
        "required_pkgs": sorted(
            name for name in (environment.get("packages") or {}) if name != "pinyard"
        ),
        "prototype": json.dumps(dict(example)),
        "python_version": parts or None,
    }


def signature_from_vetiver(user: Mapping[str, Any], pin: str) -> Signature:
    """A signature from vetiver's stored prototype (one example row, types from values)."""
    meta = user.get("vetiver_meta") or {}
    raw = meta.get("prototype", user.get("ptype"))
    if not raw:
        raise SignatureError(
            f"pin {pin!r} was written by vetiver without prototype_data, so it has no "
            "signature to check requests against; write it again with a prototype, or as "
            "a pinyard ModelBundle"
        )
    example = json.loads(raw) if isinstance(raw, str) else dict(raw)
    columns = tuple(Column(str(k), _type_of(str(k), v)) for k, v in example.items())
    names = [c.name for c in columns]
    container = "numpy" if names == [str(i) for i in range(len(names))] else "pandas"
    return Signature(columns, container, "reject", (dict(example),))


def _type_of(column: str, value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    raise SignatureError(
        f"column {column!r} of a vetiver prototype has a {type(value).__name__} example; "
        "pinyard reads numbers, booleans and strings",
        column=column,
        received=type(value).__name__,
    )


def environment_from_vetiver(user: Mapping[str, Any]) -> dict[str, Any]:
    """What vetiver recorded of the environment: the Python version and package names."""
    meta = user.get("vetiver_meta") or user
    version = meta.get("python_version") or []
    python = ".".join(str(p) for p in list(version)[:3]) if version else None
    return {
        "python": python,
        "packages": {},
        "requirements": list(meta.get("required_pkgs") or []),
    }
