"""`Tracker`: the runs of one experiment on a board — start them, query them."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pinyard.boards._boundary import guarded
from pinyard.errors import (
    IntegrityError,
    InvalidArgumentError,
    MetadataError,
    PinyardError,
    RunNotFoundError,
)
from pinyard.tracking._context import capture_context, data_fingerprint
from pinyard.tracking._digests import SEALED_FORMAT, load_chunk, seal, unseal
from pinyard.tracking._records import (
    CHUNK_PATTERN,
    SHA256_PATTERN,
    RunRecord,
    hour_of,
    new_run_id,
    param_value,
    validate_experiment,
    validate_key,
    validate_run_id,
)
from pinyard.tracking._run import Run
from pinyard.tracking._tracker_storage import TrackerStorage

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd
    from matplotlib.figure import Figure

    from pinyard.boards import Board
    from pinyard.tracking._table import RunsTable

log = logging.getLogger("pinyard")
_HOUR = timedelta(hours=1)


@guarded(lambda tracker: tracker.board.store.url)
class Tracker(TrackerStorage):
    """The runs of one experiment, stored append-only under ``ROOT/runs/<experiment>/``.

    Get one with ``pinyard.Tracker(board, "experiment")``. Any number of processes and
    machines may log runs at once: every record is a new object created
    exclusively, and nothing is ever rewritten.
    """

    #: A query that had to read this many run records (not in a checkpoint) writes a
    #: checkpoint of the runs no segment covers, so the next cold query reads one file
    #: instead. None: queries never write.
    checkpoint_after: int | None = 50

    def __init__(self, board: Board, experiment: str) -> None:
        if board.kind != "pinyard":
            raise InvalidArgumentError(
                "experiment tracking needs a pinyard board (board_folder, board(url)); "
                f"{board.store.url} is a plain pins board"
            )
        self.board = board
        self.experiment = validate_experiment(experiment)
        self._prefix = f"runs/{self.experiment}"
        self._segments = {}
        self._parsed = {}
        self._last_checkpoint = None
        self._cached = None

    def __repr__(self) -> str:
        return f"<Tracker {self.experiment!r} on {self.board.store.url}>"

    @staticmethod
    def experiments(board: Board) -> list[str]:
        """The experiments that have runs on ``board``, sorted."""
        found = []
        for name in board.store.list_names("runs"):
            try:
                validate_experiment(name)
            except InvalidArgumentError:
                continue
            if board.store.list_names(f"runs/{name}"):
                found.append(name)
        return found

    # -- writing -------------------------------------------------------------------

    def _store_artifact(self, data: bytes) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        try:
            self._write(f"artifacts/{digest}", data)
        except FileExistsError:
            pass  # same bytes already stored (named by their digest)
        return {"sha256": digest, "size": len(data)}

    # -- runs ------------------------------------------------------------------------

    def start_run(
        self,
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
        seed: int | None = None,
        data: Any = None,
    ) -> Run:
        """Start recording a run; use it as ``with tracker.start_run(...) as run:``.

        ``params`` are recorded as given (types kept), ``seed`` as the run's
        seed, and ``data`` (a DataFrame, Arrow table, array or a dict of them)
        by fingerprint, so "which data made this?" always has an answer.
        """
        validate_experiment(self.experiment, new=True)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidArgumentError(f"seed must be an integer or None, got {seed!r}")
        given = dict(params or {})
        checked = {validate_key(k, "param"): param_value(k, v) for k, v in given.items()}
        tag_values = {validate_key(k, "tag"): str(v) for k, v in (tags or {}).items()}
        start = self._now()
        record = RunRecord(
            run_id=new_run_id(start),
            experiment=self.experiment,
            status="running",
            start_time=start,
            params=checked,
            tags=tag_values,
            context=capture_context(),
            seed=seed,
            data={} if data is None else data_fingerprint(data),
        )
        # Not fsynced: losing a start record to a power cut only hides a running run.
        self._write(_start_path(record), record.to_json(), sync=False)
        return Run(self, record, given)

    def _drop_start_record(self, final: RunRecord) -> None:
        """Delete the start record of a run whose final record is written: the final
        record holds all of it, and queries then list only the runs still running.
        Best effort: a start record left behind (no delete permission, say) is
        superseded by the final record all the same."""
        try:
            self.board.store.delete_file(f"{self._prefix}/{_start_path(final)}")
        except (OSError, PinyardError) as exc:
            log.info("experiment %r: start record of %s kept (%s)", self.experiment,
                     final.run_id, exc)  # fmt: skip

    def note(self, run_id: str, text: str) -> None:
        """Attach a note to a run (finished or not) as a new record."""
        validate_run_id(run_id)
        if not isinstance(text, str) or not text.strip():
            raise InvalidArgumentError("a note is a non-empty string")
        self.get_run(run_id)  # the run must exist
        stamp = datetime.now(UTC)
        doc = {"format": SEALED_FORMAT, "time": stamp.isoformat(), "text": text}
        body = seal(json.dumps(doc, separators=(",", ":")).encode("utf-8"))
        self._write(f"notes/{run_id}/{stamp.strftime('%Y%m%dT%H%M%S%fZ')}-{os.urandom(3).hex()}.json",
                    body)  # fmt: skip

    def notes(self, run_id: str) -> list[dict[str, str]]:
        """The notes of a run, oldest first (each checked against its digest)."""
        validate_run_id(run_id)
        notes = []
        for name in self._names(f"notes/{run_id}"):
            rel = f"notes/{run_id}/{name}"
            doc = unseal(self._read(rel), f"note {self._prefix}/{rel} of run {run_id}")
            notes.append({"time": str(doc.get("time")), "text": str(doc.get("text"))})
        return notes

    def get_run(self, run_id: str) -> RunRecord:
        """The full record of one run (its final record, else its start record)."""
        validate_run_id(run_id)
        final = self._final_record(run_id)
        if final is not None:
            return final
        start = f"started/{run_id[:11]}/{run_id}.json"
        try:
            raw = self._read(start)
        except FileNotFoundError:
            # its start record goes once the final record is written: look again
            final = self._final_record(run_id)
            if final is not None:
                return final
            raise RunNotFoundError(
                f"experiment {self.experiment!r} has no run {run_id!r}"
            ) from None
        return _presumed(RunRecord.from_json(raw, f"{self._prefix}/{start}"))

    def history(self, run_id: str, key: str | None = None) -> pd.DataFrame:
        """The stepped values of a run's metrics: columns key, step, value, time."""
        import pandas as pd

        if key is not None:
            validate_key(key, "metric")  # a key no run can have (a lone surrogate, say)
        record = self.get_run(run_id)
        points: list[list[Any]] = []
        for chunk in record.series:
            if not isinstance(chunk, str) or not CHUNK_PATTERN.fullmatch(chunk):
                raise MetadataError(
                    f"the record of run {run_id} of {self.experiment!r} names series chunk "
                    f"{chunk!r}, not of the form 000000-<digest>.json: the record is damaged"
                )
            rel = f"series/{run_id}/{chunk}"
            what = f"metric series chunk {self._prefix}/{rel} of run {run_id}"
            points.extend(load_chunk(chunk, self._read(rel), what))
        frame = pd.DataFrame(points, columns=["key", "step", "value", "time"])
        frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
        if key is not None:
            frame = frame[frame["key"] == key].reset_index(drop=True)
        return frame

    def artifact(self, run_id: str, name: str) -> bytes:
        """The bytes of an artifact a run logged, checked against its sha256."""
        entry = self.get_run(run_id).artifacts.get(name)
        if entry is None:
            raise RunNotFoundError(f"run {run_id} has no artifact {name!r}")
        if not isinstance(entry, dict) or not SHA256_PATTERN.fullmatch(str(entry.get("sha256"))):
            raise MetadataError(
                f"artifact {name!r} of run {run_id} is recorded without a valid sha256 "
                f"({entry!r}): the run record is damaged"
            )
        data = self._read(f"artifacts/{entry['sha256']}")
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise IntegrityError(
                f"artifact {name!r} of run {run_id} is corrupt: expected sha256 "
                f"{entry['sha256']}, read {hashlib.sha256(data).hexdigest()}"
            )
        return data

    # -- queries ---------------------------------------------------------------------

    def runs(self) -> pd.DataFrame:
        """Every run as one row, oldest first: base columns, then ``params.*``,
        ``metrics.*`` and ``tags.*`` (params keep their logged types)."""
        return self._table().frame()

    def search(self, where: str) -> pd.DataFrame:
        """Runs matching a filter such as ``"params.model = 'ridge' and metrics.rmse < 2"``
        (AND, OR, NOT, parentheses, IN, IS NULL, comparisons)."""
        table = self._table()
        return table.rows(self._matching(table, where))

    def best_run(self, metric: str, maximize: bool = False, where: str | None = None) -> RunRecord:
        """The finished run with the best ``metric`` (lowest unless ``maximize``).

        Select on a validation metric and report the others from the returned
        record: ``best = tracker.best_run("val_rmse"); best.metrics["test_rmse"]``.
        Runs whose metric is NaN never win.
        """
        import numpy as np

        table = self._table()
        rows = self._matching(table, where) if where else None
        column = f"metrics.{metric}"
        if column not in table.columns:
            known = sorted(c[8:] for c in table.columns if c.startswith("metrics."))
            raise InvalidArgumentError(
                f"no run of {self.experiment!r} logged metric {metric!r}; metrics logged: "
                f"{', '.join(known) or 'none'}"
            )
        finished = table.column("status") == "finished"
        values = np.where(finished, table.column(column), np.nan)
        run_ids = table.column("run_id")
        if rows is not None:
            values, run_ids = values[rows], run_ids[rows]
        if np.isnan(values).all():
            raise RunNotFoundError(f"no finished run of {self.experiment!r} has {metric!r}")
        position = int(np.nanargmax(values) if maximize else np.nanargmin(values))  # first on ties
        return self.get_run(str(run_ids[position]))

    def _matching(self, table: RunsTable, where: str) -> npt.NDArray[np.intp]:
        """Positions of the rows of ``table`` that ``where`` selects (only the columns it
        reads are converted, and no DataFrame is built)."""
        import numpy as np

        from pinyard.tracking._query import compile_filter

        query = compile_filter(where)
        query.check(table.columns)
        read = {c: table.filterable(c) for c in query.columns if c in table.columns}
        return np.flatnonzero(query.select(read, table.num_rows))

    # -- plots -----------------------------------------------------------------------

    def plot(self, x: str, y: str, **kwargs: Any) -> Figure:
        """Metric ``y`` against param ``x`` over finished runs, the best run marked
        (a matplotlib Figure; see `pinyard.tracking._plots.plot_metric` for options)."""
        from pinyard.tracking._plots import plot_metric

        return plot_metric(self, x, y, **kwargs)

    def plot_history(self, run_ids: str | Sequence[str], key: str, **kwargs: Any) -> Figure:
        """Metric ``key`` over steps, one line per run (a matplotlib Figure)."""
        from pinyard.tracking._plots import plot_history

        return plot_history(self, run_ids, key, **kwargs)

    # -- compaction ---------------------------------------------------------------------

    def compact(self, grace: timedelta = _HOUR, *, all_finished: bool = False) -> list[str]:
        """Merge the records of whole hours older than ``grace`` into one Parquet segment;
        with ``all_finished``, also every other run that has ended, the current hour's too.

        Records are partitioned by the hour (UTC) they were written in, and
        queries stop listing a partition once a segment covers it; so the
        clocks of machines logging runs must not lag by more than ``grace``.
        Without ``all_finished`` the current hour and, by default, the one
        before are left alone (on a new board that means nothing is written).
        The runs ``all_finished`` adds go into a segment that covers no hour
        (see `pinyard.tracking._compaction`): runs that end later are still
        seen, and go into later segments. Safe to run from several places at
        once: segments are named by their content and never replace each
        other; queries skip duplicate runs. Returns the names of segments written.
        """
        from pinyard.tracking._compaction import compact

        return compact(self, grace, all_finished)


def _start_path(record: RunRecord) -> str:
    return f"started/{hour_of(record.start_time)}/{record.run_id}.json"


def _presumed(record: RunRecord) -> RunRecord:
    """A start record without a final one: killed if its process is gone from this host."""
    ctx = record.context
    from pinyard.tracking._table import alive

    if ctx.get("host") == socket.gethostname() and not alive(ctx.get("pid")):
        from dataclasses import replace

        return replace(record, status="killed", error="the process ended without a final record")
    return record
