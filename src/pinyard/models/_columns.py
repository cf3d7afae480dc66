"""Column types of a signature: a small vocabulary of Arrow types, and the conversions
between them that lose nothing.

Type names are Arrow's (``int64``, ``float64``, ``bool``, ``string``, ``date32``,
``timestamp[us, tz=UTC]``); a categorical column is ``string`` with a list of
categories. Nested, binary, decimal and duration columns are not supported: a
model's input is a table of scalars.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pinyard.errors import SignatureError

_SIMPLE: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "uint8": pa.uint8(),
    "uint16": pa.uint16(),
    "uint32": pa.uint32(),
    "uint64": pa.uint64(),
    "float16": pa.float16(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "string": pa.string(),
    "date32": pa.date32(),
}
_TIMESTAMP = re.compile(r"timestamp\[(s|ms|us|ns)(?:, tz=([^\]]+))?\]")
SUPPORTED = (*_SIMPLE, "timestamp[<unit>]", "timestamp[<unit>, tz=<zone>]")


#: A JSON parser reads an integer beyond 64 bits as the nearest double, so a value past
#: the 64-bit limits would come back as the limit itself. JSON input to a 64-bit integer
#: column is held to these bounds (the largest doubles inside the type's range), which
#: the request schema states; narrower types are exact.
_JSON_INT_BOUNDS = {"int64": (-(2**63) + 1024, 2**63 - 1024), "uint64": (0, 2**64 - 2048)}


def json_int_bounds(type_name: str) -> tuple[int, int] | None:
    """The range JSON values of an integer column must lie in (None: not an integer)."""
    dtype = arrow_type(type_name)
    if not pa.types.is_integer(dtype):
        return None
    if type_name in _JSON_INT_BOUNDS:
        return _JSON_INT_BOUNDS[type_name]
    width = dtype.bit_width
    if pa.types.is_signed_integer(dtype):
        return -(2 ** (width - 1)), 2 ** (width - 1) - 1
    return 0, 2**width - 1


def arrow_type(name: str) -> pa.DataType:
    """The Arrow type of a signature type name."""
    if name in _SIMPLE:
        return _SIMPLE[name]
    match = _TIMESTAMP.fullmatch(name)
    if match:
        return pa.timestamp(match.group(1), tz=match.group(2))
    raise SignatureError(
        f"unknown column type {name!r}; use one of {', '.join(SUPPORTED)}", expected=name
    )


def type_name(column: str, dtype: pa.DataType) -> tuple[str, pa.DataType | None]:
    """(signature type name, dictionary value type or None) of an Arrow type."""
    dictionary = None
    if pa.types.is_dictionary(dtype):
        dictionary = dtype.value_type
        dtype = dtype.value_type
    if pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        dtype = pa.string()
    if pa.types.is_date64(dtype):
        dtype = pa.date32()
    for name, candidate in _SIMPLE.items():
        if dtype == candidate:
            if dictionary is not None and name != "string":
                break
            return name, dictionary
    else:
        if pa.types.is_timestamp(dtype) and dictionary is None:
            return str(dtype), None
    if pa.types.is_null(dtype):
        raise SignatureError(
            f"column {column!r} holds only nulls, so its type is unknown; give a prototype "
            "with at least one value in it",
            column=column,
            received="null",
        )
    raise SignatureError(
        f"column {column!r} has type {dtype}, which a signature cannot describe; "
        f"supported: {', '.join(SUPPORTED)} and categories of strings",
        column=column,
        received=str(dtype),
    )


def kind(dtype: pa.DataType) -> str:
    """The family a type belongs to, which decides the conversions allowed."""
    if pa.types.is_dictionary(dtype):
        return kind(dtype.value_type)
    if pa.types.is_boolean(dtype):
        return "bool"
    if pa.types.is_integer(dtype):
        return "int"
    if pa.types.is_floating(dtype):
        return "float"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "string"
    if pa.types.is_string_view(dtype):
        return "string"
    if pa.types.is_timestamp(dtype) or pa.types.is_date(dtype):
        return "time"
    if pa.types.is_null(dtype):
        return "null"
    return "other"


#: target family -> source families converted to it (every cast is "safe": it
#: fails rather than truncate, overflow or round an integer).
_ALLOWED = {
    "int": {"int", "float"},  # float -> int only for whole numbers (checked by the cast)
    "float": {"int", "float"},
    "bool": {"bool"},
    "string": {"string"},
    "time": {"time", "string"},  # strings are how JSON carries dates and times
}


def convert(column: str, values: pa.ChunkedArray | pa.Array, target: str) -> pa.ChunkedArray:
    """``values`` as the signature type ``target``, or `SignatureError` naming the column."""
    want = arrow_type(target)
    have = values.type
    if pa.types.is_dictionary(have):
        values = pc.cast(values, have.value_type)
        have = values.type
    if have == want:
        return _chunked(values)
    source = kind(have)
    if source == "null":
        return _chunked(pc.cast(values, want))
    if source not in _ALLOWED[kind(want)] or _tz_mismatch(have, want):
        raise SignatureError(
            f"column {column!r}: expected {target}, received {_describe(have)}",
            column=column,
            expected=target,
            received=_describe(have),
        )
    try:
        converted = _chunked(pc.cast(values, want, safe=True))
        # Arrow rounds to a narrower float (allowed) but also overflows to inf
        # silently (refused).
        narrowed = source == "float" and want.bit_width < have.bit_width
        if narrowed and pc.sum(pc.is_inf(converted)) != pc.sum(pc.is_inf(values)):
            raise pa.ArrowInvalid(f"a value is out of the range of {target}")
        return converted
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SignatureError(
            f"column {column!r}: expected {target}; a {_describe(have)} value cannot be "
            f"converted without loss ({_first_line(exc)})",
            column=column,
            expected=target,
            received=_describe(have),
        ) from None


def _tz_mismatch(have: pa.DataType, want: pa.DataType) -> bool:
    if pa.types.is_timestamp(have) and pa.types.is_timestamp(want):
        return (have.tz is None) != (want.tz is None)
    return bool(pa.types.is_date(want) and pa.types.is_timestamp(have))


def _describe(dtype: pa.DataType) -> str:
    try:
        return type_name("", dtype)[0]
    except SignatureError:
        return str(dtype)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _chunked(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    if isinstance(values, pa.ChunkedArray):
        return values
    return pa.chunked_array([values])


def python_kind(value: Any) -> str:
    """How a JSON value is named in errors (``a string ('abc')``)."""
    if isinstance(value, bool):
        return f"a boolean ({value!r})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, list | dict):
        return f"a {'list' if isinstance(value, list) else 'mapping'}, not a scalar"
    return f"a {type(value).__name__}"
