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

from pinyard.errors import (
    IntegrityError,
    InvalidArgumentError,
    MetadataError,
    RunNotFoundError,
)
from pinyard.tracking._context import capture_context, data_fingerprint
from pinyard.tracking._records import (
    FINAL_STATUSES,
    RunRecord,
    hour_of,
    new_run_id,
    param_value,
    validate_experiment,
    validate_key,
)
from pinyard.tracking._run import Run
from pinyard.tracking._segments import (
    BASE_COLUMNS,
    covered_hours,
    normalized,
    ordered,
    read_segment,
    record_row,
    rows_frame,
    segment_bytes,
    segment_name,
)

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from pinyard.boards import Board

log = logging.getLogger("pinyard")
_HOUR = timedelta(hours=1)


class Tracker:
    """The runs of one experiment, stored append-only under ``ROOT/runs/<experiment>/``.

    Get one with ``board.tracker("experiment")``. Any number of processes and
    machines may log runs at once: every record is a new object created
    exclusively, and nothing is ever rewritten.
    """

    def __init__(self, board: Board, experiment: str) -> None:
        if board.kind != "pinyard":
            raise InvalidArgumentError(
                "experiment tracking needs a pinyard board (board_folder, board(url)); "
                f"{board.store.url} is a plain pins board"
            )
        self.board = board
        self.experiment = validate_experiment(experiment)
        self._prefix = f"runs/{self.experiment}"
        self._segments: dict[str, pd.DataFrame] = {}
        self._parsed: dict[str, RunRecord] = {}
        self._frame: tuple[Any, pd.DataFrame] | None = None  # (listing key, runs table)

    def __repr__(self) -> str:
        return f"<Tracker {self.experiment!r} on {self.board.store.url}>"

    # -- storage -------------------------------------------------------------------

    def _now(self) -> datetime:
        """The clock records are stamped and partitioned by (one place, for tests)."""
        return datetime.now(UTC)

    def _write(self, rel: str, data: bytes, *, sync: bool = True) -> None:
        self.board.store.write_exclusive(f"{self._prefix}/{rel}", data, sync=sync)

    def _read(self, rel: str) -> bytes:
        return self.board.store.read_bytes(f"{self._prefix}/{rel}")

    def _names(self, rel: str) -> list[str]:
        return [e.name for e in self.board.store.list_dir(f"{self._prefix}/{rel}")]

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
        self._write(f"started/{hour_of(start)}/{record.run_id}.json", record.to_json(), sync=False)
        return Run(self, record, given)

    def note(self, run_id: str, text: str) -> None:
        """Attach a note to a run (finished or not) as a new record."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidArgumentError("a note is a non-empty string")
        self.get_run(run_id)  # the run must exist
        stamp = datetime.now(UTC)
        body = json.dumps({"time": stamp.isoformat(), "text": text}).encode("utf-8")
        self._write(f"notes/{run_id}/{stamp.strftime('%Y%m%dT%H%M%S%fZ')}-{os.urandom(3).hex()}.json",
                    body)  # fmt: skip

    def notes(self, run_id: str) -> list[dict[str, str]]:
        """The notes of a run, oldest first."""
        return [
            json.loads(self._read(f"notes/{run_id}/{n}")) for n in self._names(f"notes/{run_id}")
        ]

    def get_run(self, run_id: str) -> RunRecord:
        """The full record of one run (its final record, else its start record)."""
        if not isinstance(run_id, str) or len(run_id) < 17:
            raise RunNotFoundError(
                f"{run_id!r} is not a run id of the form YYYYmmddTHHMMSSZ-xxxxxxxx"
            )
        start_hour = run_id[:11]
        for hour in reversed([h for h in self._names("records") if h >= start_hour]):
            try:
                raw = self._read(f"records/{hour}/{run_id}.json")
            except FileNotFoundError:
                continue
            return RunRecord.from_json(raw, f"records/{hour}/{run_id}.json")
        try:
            raw = self._read(f"started/{start_hour}/{run_id}.json")
        except FileNotFoundError:
            raise RunNotFoundError(
                f"experiment {self.experiment!r} has no run {run_id!r}"
            ) from None
        return _presumed(RunRecord.from_json(raw, f"started/{start_hour}/{run_id}.json"))

    def history(self, run_id: str, key: str | None = None) -> pd.DataFrame:
        """The stepped values of a run's metrics: columns key, step, value, time."""
        import pandas as pd

        record = self.get_run(run_id)
        points: list[list[Any]] = []
        for chunk in record.series:
            points.extend(json.loads(self._read(f"series/{run_id}/{chunk}")))
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
        import pandas as pd

        segments = tuple(n for n in self._names("segments") if n.endswith(".parquet"))
        records = self._raw_records(covered_hours(segments))
        key = (segments, tuple((r.run_id, r.status) for r in records))
        if self._frame is not None and self._frame[0] == key:  # nothing new since last time
            frame = self._frame[1].copy()
            _mark_killed(frame)
            return frame
        frames = [self._segment(name) for name in segments]
        if records:
            frames.append(rows_frame([record_row(r) for r in records]))
        if not frames:
            return pd.DataFrame(columns=list(BASE_COLUMNS))
        frames = [normalized(f) for f in frames]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        frame["_final"] = frame["status"].isin(FINAL_STATUSES)
        frame = frame.sort_values(["run_id", "_final"]).drop_duplicates("run_id", keep="last")
        frame = frame.drop(columns="_final").sort_values(["start_time", "run_id"], kind="stable")
        frame = frame.reset_index(drop=True)
        frame = frame[ordered(frame.columns)]
        self._frame = (key, frame.copy())
        _mark_killed(frame)
        return frame

    def search(self, where: str) -> pd.DataFrame:
        """Runs matching a filter such as ``"params.model = 'ridge' and metrics.rmse < 2"``
        (AND, OR, NOT, parentheses, IN, IS NULL, comparisons)."""
        from pinyard.tracking._query import compile_filter

        query = compile_filter(where)
        frame = self.runs()
        selected: pd.DataFrame = frame[query.mask(frame)].reset_index(drop=True)
        return selected

    def best_run(self, metric: str, maximize: bool = False, where: str | None = None) -> RunRecord:
        """The finished run with the best ``metric`` (lowest unless ``maximize``).

        Select on a validation metric and report the others from the returned
        record: ``best = tracker.best_run("val_rmse"); best.metrics["test_rmse"]``.
        Runs whose metric is NaN never win.
        """
        frame = self.search(where) if where else self.runs()
        column = f"metrics.{metric}"
        if column not in frame.columns:
            known = sorted(c[8:] for c in frame.columns if c.startswith("metrics."))
            raise InvalidArgumentError(
                f"no run of {self.experiment!r} logged metric {metric!r}; metrics logged: "
                f"{', '.join(known) or 'none'}"
            )
        import numpy as np

        values = frame[column].where(frame["status"] == "finished")
        if values.isna().all():
            raise RunNotFoundError(f"no finished run of {self.experiment!r} has {metric!r}")
        array = values.to_numpy(dtype=float)
        position = int(np.nanargmax(array) if maximize else np.nanargmin(array))  # first on ties
        return self.get_run(str(frame["run_id"].iloc[position]))

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

    def compact(self, grace: timedelta = _HOUR) -> list[str]:
        """Merge the records of whole hours older than ``grace`` into one Parquet segment.

        Records are partitioned by the hour (UTC) they were written in, and
        queries stop listing a partition once a segment covers it; so the
        clocks of machines logging runs must not lag by more than ``grace``.
        Safe to run from several places at once: segments are named by their
        content and never replace each other; queries skip duplicate runs.
        Returns the names of segments written.
        """
        if grace < timedelta(0):
            raise InvalidArgumentError(f"grace must not be negative, got {grace}")
        cutoff = hour_of(self._now() - grace - _HOUR)
        covered = covered_hours(self._names("segments"))
        hours = sorted(
            {h for kind in ("records", "started") for h in self._names(kind)
             if h <= cutoff and not _in(h, covered)}
        )  # fmt: skip
        if not hours:
            return []
        records = self._records_in(hours)
        data = segment_bytes(records)
        name = segment_name(hours[0], hours[-1], data)
        try:
            self._write(f"segments/{name}", data)
        except FileExistsError:
            return []
        log.info("experiment %r: compacted %d runs into %s", self.experiment, len(records), name)
        return [name]

    def _segment(self, name: str) -> pd.DataFrame:
        if name not in self._segments:
            self._segments[name] = read_segment(self._read(f"segments/{name}"))
        return self._segments[name]

    def _raw_records(self, covered: list[tuple[str, str]]) -> list[RunRecord]:
        hours = sorted({h for kind in ("records", "started") for h in self._names(kind)
                        if not _in(h, covered)})  # fmt: skip
        return self._records_in(hours)

    def _records_in(self, hours: list[str]) -> list[RunRecord]:
        """The runs recorded in ``hours``: final records, and start records of runs that
        have none. Records are immutable, so each is parsed once per tracker."""
        wanted = set(hours)
        final: dict[str, str] = {}  # run id -> where
        started: dict[str, str] = {}
        for kind, into in (("records", final), ("started", started)):
            for hour in sorted(wanted.intersection(self._names(kind))):
                for name in self._names(f"{kind}/{hour}"):
                    into.setdefault(name.removesuffix(".json"), f"{kind}/{hour}/{name}")
        paths = [*final.values(), *(w for run, w in started.items() if run not in final)]
        records = []
        for where in paths:
            record = self._parsed.get(where)
            if record is None:
                try:
                    record = RunRecord.from_json(self._read(where), where)
                except MetadataError as exc:
                    log.warning("%s", exc)
                    continue
                if not where.startswith("started/"):  # a start record may be superseded
                    self._parsed[where] = record
            records.append(record)
        return records


def _in(hour: str, ranges: list[tuple[str, str]]) -> bool:
    return any(first <= hour <= last for first, last in ranges)


def _presumed(record: RunRecord) -> RunRecord:
    """A start record without a final one: killed if its process is gone from this host."""
    ctx = record.context
    if ctx.get("host") == socket.gethostname() and not _alive(ctx.get("pid")):
        from dataclasses import replace

        return replace(record, status="killed", error="the process ended without a final record")
    return record


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _mark_killed(frame: pd.DataFrame) -> None:
    import pandas as pd

    running = frame["status"] == "running"
    if not running.any():
        return
    host = socket.gethostname()
    # A run started on this host whose process is gone ended without a record.
    for index in frame.index[running & (frame["host"] == host)]:
        pid = frame.loc[index, "pid"]
        if pid is not None and not pd.isna(pid) and not _alive(int(pid)):
            frame.loc[index, "status"] = "killed"
