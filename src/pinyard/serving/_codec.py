"""Request bodies in, predictions out: JSON, Arrow IPC and Parquet. Nothing is unpickled."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from pinyard.errors import SignatureError

JSON = "application/json"
ARROW_STREAM = "application/vnd.apache.arrow.stream"
ARROW_FILE = "application/vnd.apache.arrow.file"
PARQUET = "application/vnd.apache.parquet"
_PARQUET_ALIASES = (PARQUET, "application/x-parquet", "application/parquet")
ACCEPTED = (JSON, ARROW_STREAM, ARROW_FILE, PARQUET)


try:  # orjson (in the serve extra) parses request bodies ~5x faster than json
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is optional
    from json import loads as _loads  # type: ignore[assignment]


class UnsupportedMediaTypeError(Exception):
    """The request's Content-Type is not one the server reads."""


def media_type(header: str | None) -> str:
    """The bare media type of a Content-Type header (JSON when absent)."""
    if not header:
        return JSON
    return header.split(";", 1)[0].strip().lower()


class DecodedTooLargeError(Exception):
    """A compressed table body that would decode to more than the server allows."""


def decode(body: bytes, content_type: str | None, max_decoded: int) -> Any:
    """The request body as something `Signature.validate` reads.

    JSON is a list of records, one record, or a mapping of columns; Arrow IPC
    (stream or file) and Parquet are tables, refused (`DecodedTooLargeError`)
    once they would decode to more than ``max_decoded`` bytes, so a small
    compressed body cannot expand into gigabytes. Arrow extension types that
    would need unpickling are not loaded (pyarrow refuses them by default).
    """
    kind = media_type(content_type)
    if kind == JSON or kind.endswith("+json"):
        try:
            return _loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SignatureError(
                f"the body is not valid JSON ({exc}); send a list of records, one record or "
                "a mapping of columns"
            ) from None
    try:
        if kind == ARROW_STREAM:
            stream = pa.ipc.open_stream(body)
            return _bounded(stream.schema, iter(stream), max_decoded)
        if kind == ARROW_FILE:
            file = pa.ipc.open_file(pa.BufferReader(body))
            batches = (file.get_batch(i) for i in range(file.num_record_batches))
            return _bounded(file.schema, batches, max_decoded)
        if kind in _PARQUET_ALIASES:
            return _bounded_parquet(body, max_decoded)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise SignatureError(f"the body is not a readable {kind} table ({exc})") from None
    raise UnsupportedMediaTypeError(kind)


def _bounded_parquet(body: bytes, max_decoded: int) -> pa.Table:
    """Read a Parquet body only as far as it stays within ``max_decoded`` bytes decoded.

    Three bounds, each checked before the next step allocates: the pages'
    uncompressed sizes (a compression bomb); the table read with every text
    and binary column kept dictionary-encoded, so a long value repeated on
    every row costs its length once; and the exact size those columns take
    once decoded, computed from the dictionary's value lengths, before they
    are decoded.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    plain = pq.ParquetFile(pa.BufferReader(body))
    meta = plain.metadata
    pages = sum(
        meta.row_group(g).column(c).total_uncompressed_size
        for g in range(meta.num_row_groups)
        for c in range(meta.num_columns)
    )
    if pages > max_decoded:
        raise DecodedTooLargeError(pages)
    schema = plain.schema_arrow
    texts = [f.name for f in schema if _is_variable_width(f.type)]
    table = pq.ParquetFile(pa.BufferReader(body), read_dictionary=texts).read()
    size = 0
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name in texts and pa.types.is_dictionary(column.type):
            for chunk in column.chunks:
                lengths = pc.binary_length(chunk.dictionary)
                picked = pc.take(lengths, chunk.indices)
                size += (pc.sum(picked).as_py() or 0) + 8 * len(chunk)
        else:
            size += column.nbytes
        if size > max_decoded:
            raise DecodedTooLargeError(size)
    for index, field in enumerate(schema):
        if field.name in texts and not pa.types.is_dictionary(field.type):
            table = table.set_column(index, field, table.column(index).cast(field.type))
    return table


def _is_variable_width(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def _bounded(schema: pa.Schema, batches: Any, max_decoded: int) -> pa.Table:
    kept = []
    size = 0
    for batch in batches:
        size += batch.nbytes
        if size > max_decoded:
            raise DecodedTooLargeError(size)
        kept.append(batch)
    return pa.Table.from_batches(kept, schema=schema)


def response_kind(accept: str | None, request_kind: str) -> str:
    """JSON or Arrow: what ``Accept`` asks for, else what the request was in."""
    for part in (accept or "").split(","):
        kind = media_type(part)
        if kind in (JSON, ARROW_STREAM):
            return kind
    return ARROW_STREAM if request_kind in (ARROW_STREAM, ARROW_FILE, *_PARQUET_ALIASES) else JSON


def output_columns(result: Any, method: str, classes: Any) -> dict[str, Any]:
    """A model's output as named columns: one ``method`` column for a vector, one column
    per class (or per position) for a matrix, a DataFrame's own columns."""
    module = type(result).__module__.split(".")[0]
    if module == "pandas":
        if type(result).__name__ == "DataFrame":
            return {str(c): result[c].to_numpy() for c in result.columns}
        return {method: result.to_numpy()}
    if module == "polars":
        result = result.to_numpy()
    if isinstance(result, pa.Table):
        return {n: result.column(n) for n in result.column_names}
    import numpy as np

    array = np.asarray(result)
    if array.ndim <= 1:
        return {method: array.reshape(-1)}
    if array.ndim == 2:
        names = [str(c) for c in classes] if classes is not None else []
        if len(names) != array.shape[1]:
            names = [str(i) for i in range(array.shape[1])]
        return {name: array[:, i] for i, name in enumerate(names)}
    raise TypeError(f"the model returned a {array.ndim}-D array; outputs are 1-D or 2-D")


def encode_json(columns: Mapping[str, Any]) -> bytes:
    """``{"column": [values...]}`` as JSON bytes (NaN and infinities as null)."""
    doc = {name: _as_list(values) for name, values in columns.items()}
    return json.dumps(doc, separators=(",", ":"), allow_nan=False, default=str).encode()


def _as_list(values: Any) -> list[Any]:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        items = values.to_pylist()
    else:
        items = values.tolist() if hasattr(values, "tolist") else list(values)
    return [None if isinstance(v, float) and not math.isfinite(v) else v for v in items]


def encode_arrow(columns: Mapping[str, Any]) -> bytes:
    """The columns as an Arrow IPC stream."""
    table = pa.table(dict(columns))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())
