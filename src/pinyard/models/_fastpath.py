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
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from pinyard.models._signature import Signature

_EXACT = 2**53
_INT64 = (-(2**63), 2**63 - 1)


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
        rows = [[row[name] for name in names] for row in data]
    except (KeyError, TypeError, IndexError):
        return None
    return _table(names, plan, list(zip(*rows, strict=True)))


def _table(
    names: list[str], plan: tuple[tuple[str, bool], ...], columns: list[Sequence[Any]]
) -> pa.Table | None:
    arrays = []
    for (_, is_float), values in zip(plan, columns, strict=True):
        if is_float:
            if not all(
                type(v) is float or (type(v) is int and -_EXACT <= v <= _EXACT) for v in values
            ):
                return None
            array = np.array(values, dtype=np.float64)
            if np.isnan(array).any():
                return None
        else:
            if not all(type(v) is int and _INT64[0] <= v <= _INT64[1] for v in values):
                return None
            array = np.array(values, dtype=np.int64)
        arrays.append(pa.array(array))
    return pa.Table.from_arrays(arrays, names=names)


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
