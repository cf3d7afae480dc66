"""A fast path for the commonest request: JSON rows of plain numbers.

For a signature of ``float64``/``int64`` columns without categories, rows
that hold exactly the signature's keys with int/float values (no bools, no
strings, no nulls or NaN, integers a float64 holds exactly) are turned into
Arrow columns in one pass, with the same result the general path gives.
Anything else returns None and goes the general way, which also words the
error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from pinyard.models._signature import Signature

_EXACT = 2**53
_NUMBERS = frozenset({int, float})


def numeric_plan(signature: Signature) -> tuple[tuple[str, bool], ...] | None:
    """((name, is_float), ...) when every column is plain float64 or int64, else None."""
    plan = []
    for column in signature.columns:
        if column.categories is not None or column.type not in ("float64", "int64"):
            return None
        plan.append((column.name, column.type == "float64"))
    return tuple(plan)


def numeric_table(data: Any, plan: tuple[tuple[str, bool], ...]) -> pa.Table | None:
    """``data`` (records, one record, or a mapping of columns) as a table, or None."""
    names = [name for name, _ in plan]
    if isinstance(data, Mapping):
        if len(data) != len(names):
            return None
        first = next(iter(data.values()), None)
        if isinstance(first, list):
            if not first:
                return None  # no rows: the checked path says so
            try:
                columns = [data[name] for name in names]
            except KeyError:
                return None
            if not all(isinstance(c, list) for c in columns):
                return None
            if len({len(c) for c in columns}) != 1:
                return None
            return _table(names, plan, columns)
        data = [data]
    if not isinstance(data, Sequence) or isinstance(data, str) or not data:
        return None
    width = len(names)
    try:
        if any(len(row) != width for row in data):
            return None
        columns = [[row[name] for row in data] for name in names]
    except (KeyError, TypeError, IndexError):
        return None
    return _table(names, plan, columns)


def _table(
    names: list[str], plan: tuple[tuple[str, bool], ...], columns: list[Sequence[Any]]
) -> pa.Table | None:
    if all(is_float for _, is_float in plan):
        return _float_table(names, columns)
    arrays = []
    for (_, is_float), values in zip(plan, columns, strict=True):
        types = set(map(type, values))  # bool is its own type, so True never passes
        if is_float:
            if not types <= _NUMBERS:
                return None
            if int in types and any(abs(v) > _EXACT for v in values if type(v) is int):
                return None
            array = np.array(values, dtype=np.float64)
            if np.isnan(array).any():
                return None
        else:
            if types != {int}:
                return None
            try:
                array = np.array(values, dtype=np.int64)
            except OverflowError:
                return None
        arrays.append(pa.array(array))
    return pa.Table.from_arrays(arrays, names=names)


def _float_table(names: list[str], columns: list[Sequence[Any]]) -> pa.Table | None:
    """All-float64 signatures (the common case) in a handful of calls, whatever the width."""
    values = list(chain.from_iterable(columns))
    types = set(map(type, values))
    if not types <= _NUMBERS:
        return None
    if int in types and any(abs(v) > _EXACT for v in values if type(v) is int):
        return None
    block = np.array(columns, dtype=np.float64)  # one row per column: each is contiguous
    if np.isnan(block).any():
        return None
    rows = block.shape[1]
    flat = pa.array(block.ravel())  # one conversion; the columns are slices of it
    return pa.Table.from_arrays(
        [flat.slice(i * rows, rows) for i in range(len(names))], names=names
    )


def numeric_frame(table: pa.Table) -> Any:
    """A pandas DataFrame of one block when all columns share one numeric type, else None."""
    types = {column.type for column in table.columns}
    if len(types) != 1:
        return None
    (only,) = types
    if not (pa.types.is_floating(only) or pa.types.is_integer(only)):
        return None
    if any(column.null_count for column in table.columns):
        return None
    import pandas as pd

    block = np.column_stack([column.to_numpy() for column in table.columns])
    return pd.DataFrame(block, columns=table.column_names, copy=False)
