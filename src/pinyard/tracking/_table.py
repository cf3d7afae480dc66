"""The runs table: segments, a checkpoint and loose records combined as one Arrow table,
turned into pandas only for the rows and columns a query needs.

Rows are one per run (a final record wins over a start record), ordered by
``start_time`` then ``run_id``. Columns come out of `RunsTable.frame` as
`runs()` documents them: params decoded from JSON text (each distinct text once),
strings as objects with None, ``seed``/``pid`` Int64, ``git_dirty`` boolean,
times ``datetime64[us, UTC]``, metrics float64.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from pinyard.tracking._records import FINAL_STATUSES
from pinyard.tracking._segments import BASE_COLUMNS, base_type

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from pinyard.tracking._query import Factorized


def combine(parts: Sequence[pa.Table], ordered: bool = False) -> pa.Table:
    """One table of ``parts``: a column missing from a part is null there; of two rows of
    one run the final record's is kept; rows by start time, then run id (``ordered``: a
    single part already is, as a checkpoint's rows are)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = [p for p in parts if p.num_rows] or list(parts[:1])
    if not parts:
        return pa.table({name: pa.array([], type=base_type(name)) for name in BASE_COLUMNS})
    table = parts[0] if len(parts) == 1 else pa.concat_tables(parts, promote_options="permissive")
    if len(parts) > 1:  # a run may be in two parts (say, started in one hour, ended in the next)
        table = _one_row_per_run(table)
    if len(parts) > 1 or not ordered:
        order = pc.sort_indices(table, [("start_time", "ascending"), ("run_id", "ascending")])
        if not np.array_equal(order.to_numpy(), np.arange(table.num_rows)):  # segments: sorted
            table = table.take(order)
    names = table.column_names
    for name in BASE_COLUMNS:
        if name not in names:
            table = table.append_column(name, pa.nulls(table.num_rows, base_type(name)))
    rest = sorted(c for c in names if c not in BASE_COLUMNS)
    grouped = [c for p in ("params.", "metrics.", "tags.") for c in rest if c.startswith(p)]
    return table.select([*BASE_COLUMNS, *(c for c in rest if c not in grouped), *grouped])


def _one_row_per_run(table: pa.Table) -> pa.Table:
    """``table`` with one row per run id: the final record's, where a run has several."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = table.column("run_id")
    counts = pc.value_counts(ids)
    repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
    if len(repeated) == 0:
        return table
    rows = np.flatnonzero(pc.is_in(ids, repeated).to_numpy(zero_copy_only=False))
    kept: dict[str, tuple[bool, int]] = {}  # run id -> (final?, row)
    statuses = table.column("status").take(rows).to_pylist()
    for row, run, status in zip(rows, ids.take(rows).to_pylist(), statuses, strict=True):
        final = status in FINAL_STATUSES
        if run not in kept or (final and not kept[run][0]):
            kept[run] = (final, int(row))
    keep = np.ones(table.num_rows, dtype=bool)
    keep[rows] = False
    keep[[row for _, row in kept.values()]] = True
    return table.filter(pa.array(keep))


class RunsTable:
    """A combined table whose columns are converted to pandas when first asked for, once.

    ``killed``: positions of running runs to show as killed (see `presume_killed`);
    ``running``: False when the caller knows no row is a running run.
    """

    def __init__(
        self,
        table: pa.Table,
        killed: npt.NDArray[np.intp] | None = None,
        converted: dict[str, Any] | None = None,
        running: bool = True,
    ) -> None:
        self.table = table
        self._running = running
        self.columns: list[str] = list(table.column_names)
        self.num_rows = int(table.num_rows)
        self._killed = killed
        self._converted: dict[str, Any] = {} if converted is None else converted
        self._factorized: dict[str, Factorized] = {}

    def column(self, name: str) -> Any:
        """Column ``name`` of every row as a numpy or pandas array (do not modify it)."""
        if name not in self._converted:
            if name in self._factorized:
                values, codes = self._factorized[name]
                self._converted[name] = values[codes]
            else:
                self._converted[name] = _convert(name, self.table.column(name))
        values = self._converted[name]
        if name == "status" and self._killed is not None:
            values = values.copy()
            values[self._killed] = "killed"
        return values

    def filterable(self, name: str) -> Any:
        """Column ``name`` as a filter reads it fastest: params and strings as `Factorized`
        (each distinct value decoded once), the others as `column` gives them."""
        if name in self._converted or name == "status":  # status: see presume_killed
            return self.column(name)
        if name not in self._factorized:
            column = self.table.column(name)
            if not (name.startswith("params.") or _is_text(column.type)):
                return self.column(name)
            self._factorized[name] = _factorized(name, column)
        return self._factorized[name]

    def frame(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Every row as a new DataFrame; with ``columns``, just those, sharing memory
        with this table (for reading only)."""
        import pandas as pd

        index = pd.RangeIndex(self.num_rows)
        if columns is not None:
            values = {c: _kept(self.column(c), index) for c in columns}
            return pd.DataFrame(values, index=index, copy=False)
        values = {c: _kept(self.column(c), index) for c in self.columns}
        return pd.DataFrame(values, index=index, copy=True)

    def rows(self, positions: npt.NDArray[np.intp]) -> pd.DataFrame:
        """The rows at ``positions``, in that order, as a new DataFrame: columns already
        converted are indexed, the others converted for these rows only."""
        import pandas as pd

        if len(positions) == self.num_rows:
            return self.frame()
        done = self._converted.keys() | self._factorized.keys()
        todo = [name for name in self.columns if name not in done]
        part = self.table.select(todo).take(positions) if todo else None
        columns = {}
        for name in self.columns:
            if name in self._factorized and name not in self._converted:
                values, codes = self._factorized[name]
                columns[name] = values[codes[positions]]
            elif name in self._converted or part is None:
                columns[name] = self.column(name)[positions]
            else:
                columns[name] = _convert(name, part.column(name))
        if self._killed is not None and "status" not in self._converted:
            columns["status"][np.isin(positions, self._killed)] = "killed"
        index = pd.RangeIndex(len(positions))
        frame = {c: _kept(v, index) for c, v in columns.items()}
        return pd.DataFrame(frame, index=index, copy=False)  # new arrays: not copied again

    def presume_killed(self) -> RunsTable:
        """A view of this table showing as killed the running runs that started on this
        host and whose process is gone (pinyard keeps no heartbeat); self if none."""
        import pyarrow.compute as pc

        table = self.table
        if not self._running or pc.index(table.column("status"), "running").as_py() < 0:
            return self
        running = pc.equal(table.column("status"), "running")
        mine = pc.and_(running, pc.equal(table.column("host"), socket.gethostname()))
        positions = np.flatnonzero(mine.to_numpy(zero_copy_only=False))
        pids = table.column("pid").take(positions).to_pylist()
        dead = [p for p, pid in zip(positions, pids, strict=True) if not alive(pid)]
        if not dead:
            return self
        view = RunsTable(table, np.array(dead, dtype=np.intp), self._converted)
        view._factorized = self._factorized  # the same rows: status is never factorized
        return view


def _kept(values: Any, index: pd.Index) -> Any:
    """Object arrays as object Series (pandas would otherwise infer its string dtype), on
    the frame's own index (one index object for all columns spares aligning them)."""
    import pandas as pd

    if isinstance(values, np.ndarray) and values.dtype == object:
        return pd.Series(values, index=index, dtype=object, copy=False)
    return values


def _convert(name: str, column: pa.ChunkedArray) -> Any:
    import pandas as pd
    import pyarrow as pa

    kind, rows = column.type, len(column)
    if column.null_count == rows and not pa.types.is_floating(kind):  # error, seed, ...
        return _missing(kind, rows)
    if name.startswith("params."):
        return _decoded(column)
    if _is_text(kind):
        return column.to_numpy(zero_copy_only=False)  # a new object array, None where missing
    if pa.types.is_timestamp(kind):  # pandas' own Arrow conversion: no parsing of values
        return pd.DatetimeTZDtype("us", "UTC").__from_arrow__(column)
    if pa.types.is_boolean(kind) or pa.types.is_integer(kind):
        if column.null_count:
            missing = column.is_null().to_numpy(zero_copy_only=False)
            column = column.fill_null(False if pa.types.is_boolean(kind) else 0)
        else:  # the usual case: spares two Arrow calls
            missing = np.zeros(rows, dtype=bool)
        if pa.types.is_boolean(kind):
            return pd.arrays.BooleanArray(column.to_numpy(zero_copy_only=False), missing)
        if kind != pa.int64():
            column = column.cast(pa.int64())
        return pd.arrays.IntegerArray(column.to_numpy(zero_copy_only=False).copy(), missing)
    return column.to_numpy(zero_copy_only=False).astype(float)


def _missing(kind: pa.DataType, rows: int) -> Any:
    """A column of ``rows`` missing values, in the dtype a column of ``kind`` gets."""
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_timestamp(kind):
        return pd.array(
            np.full(rows, np.datetime64("NaT", "us")), dtype=pd.DatetimeTZDtype("us", "UTC")
        )
    if pa.types.is_boolean(kind):
        return pd.arrays.BooleanArray(np.zeros(rows, dtype=bool), np.ones(rows, dtype=bool))
    if pa.types.is_integer(kind):
        return pd.arrays.IntegerArray(np.zeros(rows, dtype=np.int64), np.ones(rows, dtype=bool))
    return np.full(rows, None, dtype=object)  # text, and params of no run


def _is_text(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)
    )


_DISTINCT_FIRST = 512  # from this many rows on, decode each distinct text once


def _decoded(column: pa.ChunkedArray) -> npt.NDArray[Any]:
    """JSON texts decoded back to Python values (None where missing); with many rows,
    each distinct text once."""
    if len(column) < _DISTINCT_FIRST:  # one json.loads of the texts as a JSON array
        texts = column.to_pylist()
        return _objects(
            json.loads("[" + ",".join(["null" if t is None else t for t in texts]) + "]")
        )
    values, codes = _factorized("params.", column)
    decoded: npt.NDArray[Any] = values[codes]
    return decoded


def _factorized(name: str, column: pa.ChunkedArray) -> Factorized:
    """The distinct values of a text column and each row's position among them, None
    last (for missing values); a params column's texts decoded from JSON."""
    from pinyard.tracking._query import Factorized

    if column.null_count == len(column):
        return Factorized(np.array([None], dtype=object), np.zeros(len(column), dtype=np.intp))
    whole = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    encoded = whole.dictionary_encode()
    texts = encoded.dictionary.to_pylist()
    if name.startswith("params."):
        values = _objects([*json.loads("[" + ",".join(texts) + "]"), None])
    else:
        values = _objects([*texts, None])
    codes = encoded.indices
    if codes.null_count:  # None, last in values, for the missing ones
        codes = codes.fill_null(len(texts))
    return Factorized(values, codes.to_numpy(zero_copy_only=False))


def _objects(values: list[Any]) -> npt.NDArray[Any]:
    """``values`` as an object array (lists stay values: no slice assignment, which would
    broadcast them)."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


def alive(pid: Any) -> bool:
    """False only when no process ``pid`` exists on this host."""
    if not isinstance(pid, int):
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
