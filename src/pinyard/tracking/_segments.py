"""Compaction: whole hours of run records merged into immutable Parquet segments.

A segment is one Parquet file, ``segments/<first hour>_<last hour>-<digest>.parquet``,
named by the sha256 of its bytes (so two compactors writing the same rows
write the same object, and a different one never replaces it). Its rows are
the runs of the hours it covers (by start time, then run id; older segments
by run id), one column per field:

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
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pinyard.tracking._records import RunRecord

if TYPE_CHECKING:
    import pyarrow as pa

SEGMENT_PATTERN = re.compile(r"^(\d{8}T\d{2})_(\d{8}T\d{2})-([0-9a-f]{16})\.parquet$")
#: a segment of ended runs that covers no hour (``compact(all_finished=True)``)
OPEN_PATTERN = re.compile(r"^(\d{8}T\d{2})_(\d{8}T\d{2})-open-([0-9a-f]{16})\.parquet$")
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


def segment_table(records: Iterable[RunRecord]) -> pa.Table:
    """The rows of ``records`` in the segment schema, in `canonical` order."""
    import pyarrow as pa

    rows = sorted((record_row(r) for r in records), key=lambda r: (r["start_time"], r["run_id"]))
    keys = sorted({k for row in rows for k in row if k not in BASE_COLUMNS})
    columns: dict[str, Any] = {}
    for name in BASE_COLUMNS:
        columns[name] = pa.array([row.get(name) for row in rows], type=base_type(name))
    for name in keys:
        if name.startswith("params."):
            encoded = [None if name not in row else json.dumps(row[name]) for row in rows]
            columns[name] = pa.array(encoded, type=pa.string())
        elif name.startswith("metrics."):
            columns[name] = pa.array([row.get(name) for row in rows], type=pa.float64())
        else:
            columns[name] = pa.array([row.get(name) for row in rows], type=pa.string())
    return pa.table(columns)


def base_type(name: str) -> pa.DataType:
    """The Arrow type of a base column (string unless listed)."""
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    types = {"start_time": ts, "end_time": ts, "duration_s": pa.float64(), "seed": pa.int64(),
             "pid": pa.int64(), "git_dirty": pa.bool_()}  # fmt: skip
    return types.get(name, pa.string())


def canonical(table: pa.Table) -> pa.Table:
    """Rows by start time, then run id (the order queries show); base columns first, then
    the others by name. Equal rows give equal bytes."""
    import pyarrow.compute as pc

    names = [c for c in BASE_COLUMNS if c in table.column_names]
    names += sorted(c for c in table.column_names if c not in BASE_COLUMNS)
    order = pc.sort_indices(table, [("start_time", "ascending"), ("run_id", "ascending")])
    return table.select(names).take(order)


def table_bytes(table: pa.Table) -> bytes:
    """A table as Parquet bytes (zstd), deterministic for equal tables."""
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def segment_bytes(records: Iterable[RunRecord]) -> bytes:
    """The Parquet bytes of a segment holding ``records`` (deterministic for equal input)."""
    return table_bytes(segment_table(records))


_THREADED_PARSE_BYTES = 1 << 20


def read_table(data: bytes) -> pa.Table:
    """A segment's Parquet bytes as an Arrow table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    # ParquetFile skips the dataset machinery of pq.read_table: ~1 ms less per file;
    # threads only pay off on big files (a 40 kB checkpoint parses 0.3 ms faster without)
    parsed = pq.ParquetFile(pa.BufferReader(data), pre_buffer=False)
    return parsed.read(use_threads=len(data) > _THREADED_PARSE_BYTES)


def read_segment(name: str, data: bytes) -> pa.Table:
    """A segment's table, after checking its bytes against the digest in its name.

    Damage is an `IntegrityError` naming the segment: segments are derived data, so
    deleting the damaged file loses nothing while the run records remain.
    """
    from pinyard.errors import IntegrityError, MetadataError

    match = SEGMENT_PATTERN.match(name) or OPEN_PATTERN.match(name)
    found = hashlib.sha256(data).hexdigest()[:16]
    if match is None or match.group(3) != found:
        raise IntegrityError(
            f"segment segments/{name} is damaged: its bytes hash to {found}, not the digest "
            "in its name. It is derived from the run records, which remain: delete it and "
            "run compact() again"
        )
    try:
        return read_table(data)
    except (ValueError, OSError) as exc:  # pyarrow: bytes that match, yet do not parse
        raise MetadataError(f"segment segments/{name} does not parse: {exc}") from exc


def segment_name(first_hour: str, last_hour: str, data: bytes) -> str:
    return f"{first_hour}_{last_hour}-{hashlib.sha256(data).hexdigest()[:16]}.parquet"


def open_segment_name(first_hour: str, last_hour: str, data: bytes) -> str:
    """The name of a segment that holds runs of these hours but covers none of them."""
    return f"{first_hour}_{last_hour}-open-{hashlib.sha256(data).hexdigest()[:16]}.parquet"


def covered_hours(segment_names: Iterable[str]) -> list[tuple[str, str]]:
    """(first, last) hour ranges the named segments cover."""
    ranges = []
    for name in segment_names:
        match = SEGMENT_PATTERN.match(name)
        if match:
            ranges.append((match.group(1), match.group(2)))
    return ranges
