"""Compaction: whole hours of run records merged into immutable Parquet segments.

A segment is one Parquet file, ``segments/<first hour>_<last hour>-<digest>.parquet``,
named by the sha256 of its bytes (so two compactors writing the same rows
write the same object, and a different one never replaces it). Its rows are
the runs of the hours it covers, one column per field:

* ``run_id``, ``experiment``, ``status``, ``error``, ``user``, ``host``,
  ``git_commit`` (string), ``git_dirty`` (bool), ``seed``, ``pid`` (int64),
  ``start_time``, ``end_time`` (timestamp[us, UTC]), ``duration_s`` (double),
  ``data_sha256`` (string);
* ``params.<key>``: the value as JSON text (so ``1``, ``1.0`` and ``"1"`` stay
  distinct); ``metrics.<key>``: double (NaN and inf kept); ``tags.<key>``: string.

The segments folder is therefore a plain Parquet dataset: DuckDB reads it
with ``read_parquet('.../segments/*.parquet', union_by_name=true)`` and
pyarrow with ``pyarrow.dataset.dataset(path, format="parquet")`` after
unifying schemas. Segments are derived data: deleting them loses nothing
while the raw records they were built from remain.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
from collections.abc import Iterable
from typing import Any

from pinyard.tracking._records import RunRecord

SEGMENT_PATTERN = re.compile(r"^(\d{8}T\d{2})_(\d{8}T\d{2})-([0-9a-f]{16})\.parquet$")
BASE_COLUMNS = (
    "run_id", "experiment", "status", "start_time", "end_time", "duration_s", "user",
    "host", "pid", "git_commit", "git_dirty", "seed", "data_sha256", "error",
)  # fmt: skip


def record_row(record: RunRecord) -> dict[str, Any]:
    """One flat row of the runs table (params decoded, as Python values)."""
    ctx = record.context
    data_sha = record.data.get("sha256") if isinstance(record.data.get("sha256"), str) else None
    row: dict[str, Any] = {
        "run_id": record.run_id,
        "experiment": record.experiment,
        "status": record.status,
        "start_time": record.start_time,
        "end_time": record.end_time,
        "duration_s": record.duration_s,
        "user": ctx.get("user"),
        "host": ctx.get("host"),
        "pid": ctx.get("pid"),
        "git_commit": ctx.get("git_commit"),
        "git_dirty": ctx.get("git_dirty"),
        "seed": record.seed,
        "data_sha256": data_sha,
        "error": record.error,
    }
    row.update({f"params.{k}": v for k, v in record.params.items()})
    row.update({f"metrics.{k}": v for k, v in record.metrics.items()})
    row.update({f"tags.{k}": v for k, v in record.tags.items()})
    return row


def rows_frame(rows: list[dict[str, Any]]) -> Any:
    """A DataFrame of record rows; ``params.*`` columns keep each value's own type."""
    import pandas as pd

    names = list(dict.fromkeys(k for row in rows for k in row))
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if name.startswith("params."):
            columns[name] = pd.Series(values, dtype=object)
        elif name.startswith("metrics."):
            columns[name] = pd.Series([math.nan if v is None else v for v in values], dtype=float)
        else:
            columns[name] = pd.Series(values)
    return pd.DataFrame(columns)


def segment_bytes(records: Iterable[RunRecord]) -> bytes:
    """The Parquet bytes of a segment holding ``records`` (deterministic for equal input)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = sorted((record_row(r) for r in records), key=lambda r: str(r["run_id"]))
    keys = sorted({k for row in rows for k in row if k not in BASE_COLUMNS})
    columns: dict[str, Any] = {}
    ts = pa.timestamp("us", tz="UTC")
    types = {"start_time": ts, "end_time": ts, "duration_s": pa.float64(), "seed": pa.int64(),
             "pid": pa.int64(), "git_dirty": pa.bool_()}  # fmt: skip
    for name in BASE_COLUMNS:
        columns[name] = pa.array(
            [row.get(name) for row in rows], type=types.get(name, pa.string())
        )
    for name in keys:
        values = [row.get(name) for row in rows]
        if name.startswith("params."):
            encoded = [None if name not in row else json.dumps(row[name]) for row in rows]
            columns[name] = pa.array(encoded, type=pa.string())
        elif name.startswith("metrics."):
            columns[name] = pa.array(values, type=pa.float64())
        else:
            columns[name] = pa.array(values, type=pa.string())
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer, compression="zstd")
    return buffer.getvalue()


def segment_name(first_hour: str, last_hour: str, data: bytes) -> str:
    return f"{first_hour}_{last_hour}-{hashlib.sha256(data).hexdigest()[:16]}.parquet"


def read_segment(data: bytes) -> Any:
    """A segment as a pandas DataFrame with params decoded back to Python values.

    Each distinct JSON text is decoded once (params repeat a few values over
    many runs), so decoding costs per distinct value, not per cell.
    """
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    params = [n for n in table.column_names if n.startswith("params.")]
    frame = table.drop_columns(params).to_pandas()
    for name in params:
        encoded = table.column(name).combine_chunks().dictionary_encode()
        values = np.array([_decode_param(t) for t in encoded.dictionary.to_pylist()] + [None],
                          dtype=object)  # fmt: skip
        indices = encoded.indices.fill_null(len(encoded.dictionary))
        frame[name] = pd.Series(values[indices.to_numpy()], dtype=object)
    return frame


def _decode_param(text: Any) -> Any:
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    return json.loads(text)


def covered_hours(segment_names: Iterable[str]) -> list[tuple[str, str]]:
    """(first, last) hour ranges the named segments cover."""
    ranges = []
    for name in segment_names:
        match = SEGMENT_PATTERN.match(name)
        if match:
            ranges.append((match.group(1), match.group(2)))
    return ranges


_DTYPES: dict[str, Any] = {
    "seed": "Int64", "pid": "Int64", "git_dirty": "boolean", "duration_s": "float64",
}  # fmt: skip


def normalized(frame: Any) -> Any:
    """One dtype per base column, whichever source (segment or raw records) a row came from."""
    import pandas as pd

    frame = frame.copy()
    for name in BASE_COLUMNS:
        if name not in frame.columns:
            frame[name] = None
    for name, dtype in _DTYPES.items():
        frame[name] = frame[name].astype(dtype)
    for name in ("start_time", "end_time"):
        frame[name] = pd.to_datetime(frame[name], utc=True).astype("datetime64[us, UTC]")
    for name in frame.columns:
        if name.startswith("tags.") or name in {
            "user",
            "host",
            "git_commit",
            "data_sha256",
            "error",
            "status",
            "run_id",
            "experiment",
        }:
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


def ordered(columns: Any) -> list[str]:
    names = list(columns)
    base = [c for c in BASE_COLUMNS if c in names]
    rest = sorted(c for c in names if c not in BASE_COLUMNS)
    groups = [
        c for prefix in ("params.", "metrics.", "tags.") for c in rest if c.startswith(prefix)
    ]
    others = [c for c in rest if c not in groups]
    return base + others + groups
