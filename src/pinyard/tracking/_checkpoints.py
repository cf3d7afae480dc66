"""Checkpoints: snapshots of the runs no segment covers yet, so that a cold query reads
one file plus the few records written after it, not one object per run.

A checkpoint is ``checkpoints/<hour>/<runs>-<digest>.arrow``: an uncompressed
Arrow IPC file in the segment schema and row order (see
`pinyard.tracking._segments`), ``<hour>`` the newest hour of the records it was
built from, ``<runs>`` its row count (8 digits) and ``<digest>`` the first 16
hex of the sha256 of its bytes. Like a segment it is derived, created
exclusively and never rewritten. Unlike segments, checkpoints overlap one
another and the segments written after them, so they are not part of the
segments dataset, and their format may change: older ``.parquet`` checkpoints
are ignored (0008).

A query trusts a checkpoint only as far as the records it lists: a run's row
is taken from the checkpoint when the run's newest record (final, else start)
is one the checkpoint was built from, and read from its record otherwise. So
a stale, missing, deleted or damaged checkpoint only costs reads.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pinyard.tracking._records import FINAL_STATUSES

if TYPE_CHECKING:
    import pyarrow as pa

HOUR_PATTERN = re.compile(r"^\d{8}T\d{2}$")
NAME_PATTERN = re.compile(r"^(\d{8})-([0-9a-f]{16})\.arrow$")


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
    return f"{rows:08d}-{hashlib.sha256(data).hexdigest()[:16]}.arrow"


def checkpoint_bytes(table: pa.Table) -> bytes:
    """``table`` as an uncompressed Arrow IPC file (deterministic for equal tables)."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return bytes(sink.getvalue())


def load(path: str, hour: str, data: bytes) -> Checkpoint:
    """Check ``data`` against the digest in its name and parse it; ValueError if it
    does not match or does not parse."""
    import pyarrow as pa
    import pyarrow.compute as pc

    match = NAME_PATTERN.match(path.rsplit("/", 1)[-1])
    if match is None or hashlib.sha256(data).hexdigest()[:16] != match.group(2):
        raise ValueError(f"checkpoint {path} does not match the digest in its name")
    try:
        table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"checkpoint {path} does not parse: {exc}") from exc
    if not {"run_id", "status"} <= set(table.column_names):
        raise ValueError(f"checkpoint {path} has no run_id or status column")
    names = pc.binary_join_element_wise(table.column("run_id"), ".json", "")
    final = pc.is_in(table.column("status"), value_set=pa.array(FINAL_STATUSES))
    held = frozenset(names.to_pylist())
    final_names = held if pc.all(final).as_py() else frozenset(names.filter(final).to_pylist())
    return Checkpoint(path, hour, table, held, final_names)
