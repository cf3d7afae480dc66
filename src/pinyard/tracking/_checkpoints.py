"""Checkpoints: snapshots of the runs no segment covers yet, so that a cold query reads
one file plus the few records written after it, not one object per run.

A checkpoint is ``checkpoints/<hour>/<runs>-<digest>.arrow``: an uncompressed
Arrow IPC file in the segment schema and row order (see
`pinyard.tracking._segments`), ``<hour>`` the newest hour of the records it was
built from, ``<runs>`` its row count (8 digits) and ``<digest>`` the xxh3-128 of
its bytes (32 hex): it detects a torn or damaged file, and a checkpoint guards
no secret, so a fast hash does (0010). Its schema metadata names the records its
rows hold as ``records/`` and ``started/`` name them (``<run_id>.json``, one per
line): ``pinyard.final`` the final records, ``pinyard.started`` the start
records of the runs it holds as running. Like a segment it is derived, created
exclusively and never rewritten. Unlike segments, checkpoints overlap one
another and the segments written after them, so they are not part of the
segments dataset, and their format may change: older ``.parquet`` checkpoints
(0008) and ``.arrow`` ones named by sha256 (16 hex, 0010) are ignored.

A query trusts a checkpoint only as far as the records it lists: a run's row
is taken from the checkpoint when the run's newest record (final, else start)
is one the checkpoint was built from, and read from its record otherwise. So
a stale, missing, deleted or damaged checkpoint only costs reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import xxhash

from pinyard.tracking._records import FINAL_STATUSES

if TYPE_CHECKING:
    import pyarrow as pa

HOUR_PATTERN = re.compile(r"^\d{8}T\d{2}$")
NAME_PATTERN = re.compile(r"^(\d{8})-([0-9a-f]{32})\.arrow$")
_FINAL_KEY, _STARTED_KEY = "pinyard.final", "pinyard.started"  # schema metadata


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint read back: where it is, its rows, and what each run's row came from."""

    path: str  # relative to the experiment: checkpoints/<hour>/<name>
    hour: str
    table: pa.Table
    names: frozenset[str]  # <run_id>.json of every row, as the records are named
    final_names: frozenset[str]  # those of the rows holding a final record


def ranked(names: Iterable[str]) -> list[str]:
    """The checkpoints of one hour, best first: most runs, then the last name."""
    matching = [n for n in names if NAME_PATTERN.match(n)]
    return sorted(matching, key=lambda n: (int(n[:8]), n), reverse=True)


def checkpoint_name(rows: int, data: bytes) -> str:
    return f"{rows:08d}-{_digest(data)}.arrow"


def _digest(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def checkpoint_bytes(table: pa.Table) -> bytes:
    """``table`` as an uncompressed Arrow IPC file, with the names of the records its
    rows hold (deterministic for equal tables)."""
    import pyarrow as pa

    ids = table.column("run_id").to_pylist()
    final = [s in FINAL_STATUSES for s in table.column("status").to_pylist()]
    names = {
        key: "\n".join(f"{i}.json" for i, f in zip(ids, final, strict=True) if f is want)
        for key, want in ((_FINAL_KEY, True), (_STARTED_KEY, False))
    }
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema.with_metadata(names)) as writer:
        writer.write_table(table.replace_schema_metadata(names).combine_chunks())
    return bytes(sink.getvalue())


def load(path: str, hour: str, data: bytes) -> Checkpoint:
    """Check ``data`` against the digest in its name and parse it; ValueError if it
    does not match or does not parse."""
    import pyarrow as pa

    match = NAME_PATTERN.match(path.rsplit("/", 1)[-1])
    if match is None or _digest(data) != match.group(2):
        raise ValueError(f"checkpoint {path} does not match the digest in its name")
    try:
        table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"checkpoint {path} does not parse: {exc}") from exc
    meta = table.schema.metadata or {}
    keys = (_FINAL_KEY.encode(), _STARTED_KEY.encode())
    if not {"run_id", "status"} <= set(table.column_names) or not set(keys) <= set(meta):
        raise ValueError(f"checkpoint {path} lacks run_id, status or the record names")
    # one text of names each: no Python string made from an Arrow array per row
    final, started = (_lines(meta[key]) for key in keys)
    return Checkpoint(path, hour, table.replace_schema_metadata(None), final | started, final)


def _lines(text: bytes) -> frozenset[str]:
    return frozenset(text.decode().split("\n")) if text else frozenset()
