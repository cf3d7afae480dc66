"""What a `Tracker` reads and keeps: its objects under ``runs/<experiment>/``, and the runs
table built from segments, the newest checkpoint and the records no segment covers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pinyard.errors import IntegrityError, MetadataError, PinyardError
from pinyard.tracking._checkpoints import (
    HOUR_PATTERN,
    Checkpoint,
    checkpoint_bytes,
    checkpoint_name,
    load,
    ranked,
)
from pinyard.tracking._compaction import in_ranges, uncovered
from pinyard.tracking._listing import Listing
from pinyard.tracking._records import RunRecord
from pinyard.tracking._segments import (
    BASE_COLUMNS,
    OPEN_PATTERN,
    SEGMENT_PATTERN,
    canonical,
    covered_hours,
    read_segment,
    segment_table,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from pinyard.boards import Board
    from pinyard.tracking._table import RunsTable

log = logging.getLogger("pinyard")


class TrackerStorage:
    """The storage side of `Tracker` (its base class): reading and writing under the
    experiment's folder, and the runs table queries read, kept while nothing changes."""

    board: Board
    experiment: str
    checkpoint_after: int | None
    _prefix: str
    _segments: dict[str, pa.Table]
    _parsed: dict[str, RunRecord]  # record path -> record
    _last_checkpoint: Checkpoint | None
    _cached: tuple[Any, RunsTable] | None  # (listing key, runs table)

    # -- storage -------------------------------------------------------------------

    def _now(self) -> datetime:
        """The clock records are stamped and partitioned by (one place, for tests)."""
        return datetime.now(UTC)

    def _write(self, rel: str, data: bytes, *, sync: bool = True) -> None:
        self.board.store.write_exclusive(f"{self._prefix}/{rel}", data, sync=sync)

    def _read(self, rel: str) -> bytes:
        return self.board.store.read_bytes(f"{self._prefix}/{rel}")

    def _names(self, rel: str) -> list[str]:
        return self.board.store.list_names(f"{self._prefix}/{rel}")

    def _final_record(self, run_id: str) -> RunRecord | None:
        """The final record of a run, if it has one (it ends in its start hour or later)."""
        hours = [h for h in self._names("records") if h >= run_id[:11] and HOUR_PATTERN.match(h)]
        for hour in reversed(hours):
            try:
                raw = self._read(f"records/{hour}/{run_id}.json")
            except FileNotFoundError:
                continue
            return RunRecord.from_json(raw, f"{self._prefix}/records/{hour}/{run_id}.json")
        return None

    # -- the runs table ----------------------------------------------------------------

    def _table(self) -> RunsTable:
        """The runs table as it is now: segments, plus the newest checkpoint's rows for the
        runs whose newest record it holds, plus the other records no segment covers.
        Kept while nothing changes (records are immutable, so the listing is the key)."""
        names = self._names("segments")
        segments = tuple(n for n in names if SEGMENT_PATTERN.match(n))
        covered = covered_hours(segments)
        loose = self._listing(lambda h: uncovered(h, covered))
        if opened := tuple(n for n in names if OPEN_PATTERN.match(n)):  # compact(all_finished)
            loose = loose.without(self._held(opened))
            segments += opened
        checkpoint = self._checkpoint(covered) if loose else None
        key = (segments, checkpoint.path if checkpoint else None, loose.key)
        if self._cached is None or self._cached[0] != key:
            table, written = self._build(segments, checkpoint, loose)
            if written is not None:  # the same rows: let the next query find them kept
                key = (segments, written, key[2])
            self._cached = (key, table)
        return self._cached[1].presume_killed()

    def _build(
        self, segments: Sequence[str], checkpoint: Checkpoint | None, loose: Listing
    ) -> tuple[RunsTable, str | None]:
        import pyarrow as pa
        import pyarrow.compute as pc

        if checkpoint is None:
            held, unread = frozenset[str](), [path for path, _ in loose.runs().values()]
        else:
            held, unread = loose.split(checkpoint.names, checkpoint.final_names)
        records = self._parse(unread)
        kept = None
        if checkpoint is not None and held:
            kept = checkpoint.table
            if len(held) < kept.num_rows:  # rows of runs now compacted, or superseded
                ids = pa.array([name[:-5] for name in held], type=pa.string())
                kept = _without_empty_columns(kept.filter(pc.is_in(kept.column("run_id"), ids)))
        fresh = segment_table(records) if records else None
        written = None
        if self.checkpoint_after is not None and len(records) >= self.checkpoint_after:
            hours = [w.split("/")[1] for w in unread]
            newest_hour = max([*hours, checkpoint.hour] if checkpoint and kept else hours)
            written = self._write_checkpoint(kept, fresh, newest_hour)
        parts = [self._segment(name) for name in segments]
        parts += [p for p in (kept, fresh) if p is not None]
        only_kept = len(parts) == 1 and parts[0] is kept  # a checkpoint's rows are in order
        running = bool(segments) or any(r.status == "running" for r in records)
        if checkpoint is not None and kept is not None:  # holds running runs if it names any
            running = running or len(checkpoint.names) > len(checkpoint.final_names)
        from pinyard.tracking._table import RunsTable, combine  # numpy: only when querying

        table = RunsTable(combine(parts, ordered=only_kept), running=running)
        return table, written

    def _listing(self, wanted: Callable[[str], bool]) -> Listing:
        """The names of the start and final records of the hours ``wanted`` selects, one
        listing per folder. Every start record is listed before the first final record:
        a run's start record is deleted only after its final record is written, so a
        run whose start record is gone from this listing is in the next one."""
        store = self.board.store
        folders = {
            kind: {hour: store.name_set(f"{self._prefix}/{kind}/{hour}")
                   for hour in self._names(kind) if wanted(hour)}
            for kind in ("started", "records")  # in this order
        }  # fmt: skip
        return Listing(folders["started"], folders["records"])

    def _parse(self, paths: Iterable[str]) -> list[RunRecord]:
        """The records at ``paths``, each parsed once per tracker (they are immutable);
        a truncated, malformed or damaged one is skipped with a warning. A start record
        deleted since it was listed gives way to the final record that replaced it."""
        records = []
        for where in paths:
            record = self._parsed.get(where)
            if record is None:
                try:
                    record = RunRecord.from_json(self._read(where), f"{self._prefix}/{where}")
                except (MetadataError, IntegrityError) as exc:
                    log.warning("%s; queries skip it until it is restored or removed", exc)
                    continue
                except FileNotFoundError:
                    if not where.startswith("started/"):
                        raise
                    final = self._final_record(where.rsplit("/", 1)[-1].removesuffix(".json"))
                    if final is None:  # deleted by hand: as if never listed
                        log.warning("experiment %r: %s is gone", self.experiment, where)
                    else:  # the run ended since the listing
                        records.append(final)
                    continue
                self._parsed[where] = record
            records.append(record)
        return records

    def _segment(self, name: str) -> pa.Table:
        if name not in self._segments:
            self._segments[name] = read_segment(name, self._read(f"segments/{name}"))
        return self._segments[name]

    def _held(self, segments: Sequence[str]) -> frozenset[str]:
        """The record names (``<run_id>.json``) of the runs the named segments hold."""
        return frozenset(
            f"{run_id}.json"
            for name in segments
            for run_id in self._segment(name).column("run_id").to_pylist()
        )

    def _checkpoint(self, covered: list[tuple[str, str]]) -> Checkpoint | None:
        """The newest readable checkpoint of an hour no segment covers, if any."""
        hours = [h for h in self._names("checkpoints") if HOUR_PATTERN.match(h)]
        for hour in [h for h in reversed(hours) if not in_ranges(h, covered)][:2]:
            for name in ranked(self._names(f"checkpoints/{hour}"))[:3]:
                path = f"checkpoints/{hour}/{name}"
                if self._last_checkpoint is not None and self._last_checkpoint.path == path:
                    return self._last_checkpoint
                try:
                    checkpoint = load(path, hour, self._read(path))
                except FileNotFoundError:  # pruned since the listing
                    continue
                except ValueError as exc:  # damaged: the records are read instead
                    log.warning("experiment %r: %s; skipped", self.experiment, exc)
                    continue
                self._last_checkpoint = checkpoint
                return checkpoint
        return None

    def _write_checkpoint(
        self, kept: pa.Table | None, fresh: pa.Table | None, hour: str
    ) -> str | None:
        """Write the rows of a query as a checkpoint of ``hour`` and drop checkpoints of
        older hours; best effort (a read-only board, say, just gets no checkpoint)."""
        import pyarrow as pa

        parts = [p for p in (kept, fresh) if p is not None]
        table = canonical(pa.concat_tables(parts, promote_options="permissive"))
        data = checkpoint_bytes(table)
        path = f"checkpoints/{hour}/{checkpoint_name(table.num_rows, data)}"
        try:
            self._write(path, data, sync=False)  # a torn write fails its digest check
        except FileExistsError:
            pass
        except (OSError, PinyardError) as exc:
            log.info("experiment %r: no checkpoint written (%s)", self.experiment, exc)
            return None
        self._last_checkpoint = load(path, hour, data)
        self._drop_checkpoints(lambda h: h < hour)
        return path

    def _drop_checkpoints(self, stale: Callable[[str], bool]) -> None:
        for hour in self._names("checkpoints"):
            if HOUR_PATTERN.match(hour) and stale(hour):
                try:
                    self.board.store.delete_tree(f"{self._prefix}/checkpoints/{hour}")
                except (OSError, PinyardError) as exc:  # another process got there first
                    log.info("experiment %r: checkpoints of %s kept (%s)", self.experiment,
                             hour, exc)  # fmt: skip


def _without_empty_columns(table: pa.Table) -> pa.Table:
    """``table`` without the params/metrics/tags columns its rows all lack."""
    names = [c for c in table.column_names
             if c in BASE_COLUMNS or table.column(c).null_count < table.num_rows]  # fmt: skip
    return table if len(names) == table.num_columns else table.select(names)
