"""Turning what callers send (DataFrames, tables, arrays, records) into Arrow tables,
and validated tables back into what the model was trained on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pinyard.errors import SignatureError

if TYPE_CHECKING:
    from pinyard.models._signature import Signature

#: what a model can be handed, named after the library that makes it
CONTAINERS = ("pandas", "polars", "arrow", "numpy")

_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)


def _qualname(obj: Any) -> str:
    return f"{type(obj).__module__.split('.')[0]}.{type(obj).__name__}"


def container_of(prototype: Any) -> str:
    """The container a prototype's model is given: its own kind (a dict gives pandas)."""
    name = _qualname(prototype)
    if name == "pandas.DataFrame" or isinstance(prototype, Mapping):
        return "pandas"
    if name == "polars.DataFrame":
        return "polars"
    if isinstance(prototype, pa.Table):
        return "arrow"
    if name == "numpy.ndarray":
        return "numpy"
    raise SignatureError(
        f"a prototype must be a pandas or polars DataFrame, a pyarrow Table, a 2-D numpy "
        f"array or a dict of columns; got {type(prototype).__qualname__}",
        received=type(prototype).__qualname__,
    )


def as_table(data: Any, signature: Signature | None) -> pa.Table:
    """``data`` as an Arrow table; ``signature`` (None for prototypes) names positional
    columns and gives the type to report when a column cannot be read."""
    name = _qualname(data)
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch) and signature is not None:
        return pa.Table.from_batches([data])
    if name == "pandas.DataFrame":
        return _from_pandas(data, signature)
    if name == "polars.DataFrame":
        return data.to_arrow()
    if name == "numpy.ndarray":
        return _from_numpy(data, signature)
    if isinstance(data, Mapping):
        if signature is not None and data and not any(_is_column(v) for v in data.values()):
            return _from_columns({str(k): [v] for k, v in data.items()}, signature)
        return _from_columns({str(k): v for k, v in data.items()}, signature)
    if signature is not None and isinstance(data, Sequence) and not isinstance(data, str):
        return _from_rows(data, signature)
    accepted = (
        "a pandas or polars DataFrame, a pyarrow Table, a 2-D numpy array or a dict of columns"
    )
    if signature is not None:
        accepted += ", a list of records or one record"
    raise SignatureError(
        f"cannot read model input from a {type(data).__qualname__}; give {accepted}",
        received=type(data).__qualname__,
    )


def _is_column(value: Any) -> bool:
    if isinstance(value, str | bytes):
        return False
    return isinstance(value, Sequence) or _qualname(value) in (
        "numpy.ndarray",
        "pandas.Series",
        "polars.Series",
        "pyarrow.Array",
        "pyarrow.ChunkedArray",
    )


def _target(signature: Signature | None, column: str) -> str | None:
    if signature is None:
        return None
    return next((c.type for c in signature.columns if c.name == column), None)


def _column_array(column: str, values: Any, signature: Signature | None) -> Any:
    array = _read_column(column, values, signature)
    if isinstance(values, list | tuple) and len(array):
        _check_json_int_bounds(column, array, _target(signature, column))
    return array


def _check_json_int_bounds(column: str, array: Any, target: str | None) -> None:
    """Values given as Python/JSON numbers for an integer column lie in the range the
    request schema states (`json_int_bounds`)."""
    import pyarrow.compute as pc

    from pinyard.models._columns import json_int_bounds

    # Narrower types are exact, and their cast says "without loss" past the range.
    bounds = json_int_bounds(target) if target in ("int64", "uint64") else None
    if bounds is None or not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)):
        return
    low, high = pc.min_max(array).values()
    if low.as_py() is None:
        return
    if low.as_py() < bounds[0] or high.as_py() > bounds[1]:
        bad = low.as_py() if low.as_py() < bounds[0] else high.as_py()
        raise _out_of_range(column, bad, str(target), bounds)


def _out_of_range(column: str, bad: Any, target: str, bounds: tuple[int, int]) -> SignatureError:
    from pinyard.models._columns import python_kind

    return SignatureError(
        f"column {column!r}: {bad!r} is outside the range {target} takes here "
        f"({bounds[0]} to {bounds[1]})",
        column=column,
        expected=target,
        received=python_kind(bad),
    )


def _read_column(column: str, values: Any, signature: Signature | None) -> Any:
    from pinyard.models._signature import describe_values

    try:
        array = pa.array(values, from_pandas=True)
        # Arrow reads [1.5, True] as numbers (True -> 1.0): a bool among numbers is a
        # wrong value, not a number.
        numeric = pa.types.is_integer(array.type) or pa.types.is_floating(array.type)
        if numeric and _holds_bools(values):
            raise pa.ArrowTypeError("booleans among numbers")
        return array
    except _ARROW_ERRORS:
        target = _target(signature, column)
        exact = _as_integers(column, values, target)
        if exact is not None:
            return exact
        if target is None:
            raise SignatureError(
                f"column {column!r} mixes value types that no one column type can hold",
                column=column,
                received="mixed",
            ) from None
        raise describe_values(column, list(values), target) from None


def _as_integers(column: str, values: Any, target: str | None) -> Any:
    """An integer column whose JSON mixes 3 and 3.0 with an integer past 2**53 (which
    Arrow will not read as a double): each value as the exact integer it is, when every
    one is an integer and the column's type holds it; else None."""
    from pinyard.models._columns import arrow_type, kind

    if target is None or not isinstance(values, list | tuple):
        return None
    wanted = arrow_type(target)
    if kind(wanted) != "int":
        return None
    exact: list[int | None] = []
    for value in values:
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            exact.append(value)
        elif isinstance(value, float) and value.is_integer():
            exact.append(int(value))
        else:
            return None
    from pinyard.models._columns import json_int_bounds

    bounds = json_int_bounds(target) if target in ("int64", "uint64") else None
    if bounds is not None:
        bad = next((v for v in exact if v is not None and not bounds[0] <= v <= bounds[1]), None)
        if bad is not None:
            raise _out_of_range(column, bad, target, bounds) from None
    try:
        return pa.array(exact, type=wanted)
    except _ARROW_ERRORS:
        return None


def _holds_bools(values: Any) -> bool:
    """True when Python values (a list, or an object-dtype array or Series) include a bool."""
    if isinstance(values, list | tuple):
        items: Any = values
    elif getattr(values, "dtype", None) is not None and values.dtype == object:
        items = values.tolist() if hasattr(values, "tolist") else list(values)
    else:
        return False
    import numpy as np

    types = set(map(type, items))
    return bool(types & {bool, np.bool_})


def _from_pandas(frame: Any, signature: Signature | None) -> pa.Table:
    names = [str(n) for n in frame.columns]
    if len(set(names)) != len(names):
        raise SignatureError(f"the DataFrame repeats column names: {names}")
    pairs = zip(names, frame.columns, strict=True)
    arrays = [_column_array(n, frame[c], signature) for n, c in pairs]
    return pa.Table.from_arrays(arrays, names=names)


def _from_numpy(array: Any, signature: Signature | None) -> pa.Table:
    if array.ndim == 1 and signature is not None and len(signature.columns) == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise SignatureError(
            f"a numpy array must be 2-D (rows x columns), got shape {array.shape}",
            received=f"shape {array.shape}",
        )
    if signature is None:
        names = [str(i) for i in range(array.shape[1])]
    else:
        if signature.container != "numpy":
            raise SignatureError(
                "this model takes named columns; send a DataFrame, a table or records "
                f"with {signature.column_list()}",
                received="numpy array",
            )
        names = [c.name for c in signature.columns]
        if array.shape[1] != len(names):
            raise SignatureError(
                f"the array has {array.shape[1]} columns; the model takes {len(names)}",
                expected=f"{len(names)} columns",
                received=f"{array.shape[1]} columns",
            )
    arrays = [_column_array(n, array[:, i], signature) for i, n in enumerate(names)]
    return pa.Table.from_arrays(arrays, names=names)


def _from_columns(columns: Mapping[str, Any], signature: Signature | None) -> pa.Table:
    lengths = set()
    arrays = []
    for name, values in columns.items():
        if not _is_column(values):
            raise SignatureError(
                f"column {name!r} must be a list of values, got {type(values).__name__}",
                column=name,
            )
        array = _column_array(name, values, signature)
        lengths.add(len(array))
        arrays.append(array)
    if len(lengths) > 1:
        raise SignatureError(f"the columns have different lengths: {sorted(lengths)}")
    return pa.Table.from_arrays(arrays, names=list(columns))


def _from_rows(rows: Sequence[Any], signature: Signature) -> pa.Table:
    if not rows:
        raise SignatureError("the input has no rows; send at least one")
    if all(isinstance(r, Mapping) for r in rows):
        return _from_records(rows, signature)
    if signature.container == "numpy" and all(
        isinstance(r, Sequence) and not isinstance(r, str) for r in rows
    ):
        width = len(signature.columns)
        for position, row in enumerate(rows):
            if len(row) != width:
                raise SignatureError(
                    f"row {position} has {len(row)} values; the model takes {width}",
                    expected=f"{width} values",
                    received=f"{len(row)} values",
                )
        columns = {c.name: [r[i] for r in rows] for i, c in enumerate(signature.columns)}
        return _from_columns(columns, signature)
    raise SignatureError(
        "a list of rows must hold records (mappings of column to value)"
        + (" or lists of values" if signature.container == "numpy" else ""),
        received=f"a list of {type(rows[0]).__name__}",
    )


def _from_records(records: Sequence[Mapping[str, Any]], signature: Signature) -> pa.Table:
    names = [c.name for c in signature.columns]
    columns: dict[str, list[Any]] = {}
    for name in names:
        try:
            columns[name] = [r[name] for r in records]
        except KeyError:
            position = next(i for i, r in enumerate(records) if name not in r)
            column = next(c for c in signature.columns if c.name == name)
            raise SignatureError(
                f"column {name!r} is missing from record {position}; the model takes "
                f"{signature.column_list()}",
                column=name,
                expected=column.describe(),
                received="missing",
            ) from None
    width = len(names)
    if any(len(r) != width for r in records):
        known = set(names)
        extra = next(str(k) for r in records for k in r if k not in known)
        columns[extra] = [r.get(extra) for r in records]
    return _from_columns(columns, signature)


def to_container(table: pa.Table, signature: Signature) -> Any:
    """A validated table as the container the signature names."""
    if signature.container == "arrow":
        return table
    if signature.container == "polars":
        import polars as pl

        return pl.from_arrow(table)
    if signature.container == "numpy":
        import numpy as np

        return np.column_stack([col.to_numpy() for col in table.columns])
    from pinyard.models._fastpath import numeric_frame

    block = numeric_frame(table)
    if block is not None:
        return block
    frame = table.to_pandas()
    for column in signature.columns:
        if column.categories is not None:
            import pandas as pd

            frame[column.name] = pd.Categorical(frame[column.name], categories=column.categories)
    return frame
