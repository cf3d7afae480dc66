"""`Run`: one fit being recorded. Use it as a context manager from `Tracker.start_run`."""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pinyard.boards._boundary import guarded
from pinyard.errors import InvalidArgumentError, RunStateError
from pinyard.tracking._digests import chunk_name
from pinyard.tracking._records import (
    RunRecord,
    hour_of,
    metric_value,
    param_value,
    validate_key,
)

if TYPE_CHECKING:
    from pinyard.boards import WriteResult
    from pinyard.tracking._tracker import Tracker

SERIES_CHUNK_POINTS = 10_000
_NOTE_TEXT_LIMIT = 100_000


@guarded(lambda run: run._tracker.board.store.url)
class Run:
    """A run in progress. Everything logged is written once, when the run ends.

    ``with tracker.start_run(params=...) as run:`` records the run as
    finished when the block ends, as failed (with the error) if it raises,
    and as killed on KeyboardInterrupt or SystemExit. A finished run never
    changes; `annotate` adds a separate note instead.
    """

    def __init__(self, tracker: Tracker, record: RunRecord, given: dict[str, Any]) -> None:
        self._tracker = tracker
        self._record = record
        self._given = given
        self._params: dict[str, Any] = dict(record.params)
        self._metrics: dict[str, float] = {}
        self._tags: dict[str, str] = dict(record.tags)
        self._artifacts: dict[str, dict[str, Any]] = {}
        self._models: list[dict[str, str]] = []
        self._series: list[list[Any]] = []
        self._chunks: list[str] = []
        self._ended = False
        self._lock = threading.Lock()

    # -- identity ----------------------------------------------------------------

    @property
    def run_id(self) -> str:
        return self._record.run_id

    @property
    def seed(self) -> int | None:
        return self._record.seed

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    def __repr__(self) -> str:
        state = "ended" if self._ended else "running"
        return f"<Run {self.run_id} of {self._record.experiment!r}, {state}>"

    # -- logging -----------------------------------------------------------------

    def _check_open(self) -> None:
        if self._ended:
            raise RunStateError(
                f"run {self.run_id} has ended and is immutable; start a new run, or add a "
                f"note with tracker.note({self.run_id!r}, text)"
            )

    def param(self, key: str, default: Any) -> Any:
        """The value of ``key`` given to ``start_run(params=...)``, else ``default``;
        either way it is recorded, so a default the code used is never missing."""
        value = self._given.get(key, default)
        self.log_param(key, value)
        return value

    def log_param(self, key: str, value: Any) -> None:
        """Record one parameter; logging it again with a different value is an error."""
        self._check_open()
        key = validate_key(key, "param")
        value = param_value(key, value)
        with self._lock:
            if key in self._params and _differs(self._params[key], value):
                raise InvalidArgumentError(
                    f"param {key!r} was already recorded as {self._params[key]!r}; a run uses "
                    "one value per parameter (start a new run to try another)"
                )
            self._params[key] = value

    def log_params(self, params: dict[str, Any]) -> None:
        for key, value in params.items():
            self.log_param(key, value)

    def log_metric(self, key: str, value: Any, step: int | None = None) -> None:
        """Record a metric. With ``step`` it is one point of a series (history); the
        run's summary value is the last one logged. NaN and inf are kept."""
        self._check_open()
        key = validate_key(key, "metric")
        number = metric_value(key, value)
        if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
            raise InvalidArgumentError(f"step must be an integer, got {step!r}")
        with self._lock:
            self._metrics[key] = number
            if step is not None:
                self._series.append([key, step, number, time.time()])
                if len(self._series) >= SERIES_CHUNK_POINTS:
                    self._flush_series()

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def set_tag(self, key: str, value: Any) -> None:
        self._check_open()
        key = validate_key(key, "tag")
        with self._lock:
            self._tags[key] = str(value)

    def log_artifact(self, path_or_obj: Any, name: str | None = None) -> dict[str, Any]:
        """Store a file (a path), bytes, a JSON-able dict/list, a matplotlib figure
        (as PNG) or any picklable object, named ``name``; returns its record
        (name, sha256, size), which the run keeps."""
        self._check_open()
        data, default_name = _artifact_bytes(path_or_obj)
        name = validate_key(name or default_name, "artifact")
        entry = self._tracker._store_artifact(data)
        with self._lock:
            self._artifacts[name] = entry
        return {"name": name, **entry}

    def lineage(self) -> dict[str, Any]:
        """What a model made by this run records of it: run id, experiment, params and
        metrics so far, code commit and dirty flag, data fingerprint, seed."""
        with self._lock:
            current = replace(self._record, params=dict(self._params), metrics=dict(self._metrics))
        return current.lineage()

    def log_model(self, model: Any, name: str, **pin_write_args: Any) -> WriteResult:
        """Write ``model`` (a `pinyard.models.ModelBundle` or any picklable model) as a new
        version of pin ``name``, linked both ways: the pin's lineage names this run,
        and this run lists the version (a new version even when the bytes equal the
        latest, so the link is never to another run's)."""
        self._check_open()
        lineage = {**self.lineage(), **(pin_write_args.pop("lineage", {}) or {})}
        if not callable(getattr(model, "__pin_payload__", None)):
            pin_write_args.setdefault("type", "joblib")
        # Each run gets its own version, even for bytes equal to the latest:
        # otherwise the run would link to a version whose lineage names another run.
        pin_write_args.setdefault("force_identical_write", True)
        result = self._tracker.board.pin_write(model, name, lineage=lineage, **pin_write_args)
        with self._lock:
            self._models.append({"name": name, "version": result.version})
        return result

    def annotate(self, text: str) -> None:
        """Add a note to this run (also after it ended); notes are separate records."""
        self._tracker.note(self.run_id, text)

    # -- ending ----------------------------------------------------------------------

    def _flush_series(self) -> None:
        if not self._series:
            return
        body = json.dumps(self._series, allow_nan=True).encode("utf-8")
        name = chunk_name(len(self._chunks), body)  # named by its digest (decision 0018)
        self._tracker._write(f"series/{self.run_id}/{name}", body)
        self._chunks.append(name)
        self._series = []

    def end(self, status: str = "finished", error: str | None = None) -> RunRecord:
        """Write the run's final record (once) and return it."""
        with self._lock:
            if self._ended:
                raise RunStateError(f"run {self.run_id} has already ended")
            self._flush_series()
            end_time = self._tracker._now()
            final = replace(
                self._record,
                status=status,
                end_time=end_time,
                params=self._params,
                metrics=self._metrics,
                tags=self._tags,
                artifacts=self._artifacts,
                models=self._models,
                series=self._chunks,
                error=error,
            )
            self._tracker._write(
                f"records/{hour_of(end_time)}/{self.run_id}.json", final.to_json()
            )
            self._ended = True
            self._tracker._drop_start_record(final)
        return final

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._ended:
            return
        if exc is None:
            self.end("finished")
        elif isinstance(exc, KeyboardInterrupt | SystemExit):
            self.end("killed", f"{type(exc).__name__}: {exc}")
        else:
            text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self.end("failed", text)


def _differs(old: Any, new: Any) -> bool:
    return type(old) is not type(new) or old != new


def _artifact_bytes(obj: Any) -> tuple[bytes, str]:
    if isinstance(obj, str | os.PathLike):
        path = Path(obj)
        if not path.is_file():
            raise InvalidArgumentError(
                f"log_artifact: {str(obj)!r} is not an existing file; pass bytes, a dict, "
                "a figure or an object to store a value instead of a file"
            )
        return path.read_bytes(), path.name
    if isinstance(obj, bytes | bytearray):
        return bytes(obj), "artifact.bin"
    if isinstance(obj, dict | list):
        try:
            return json.dumps(obj, allow_nan=False).encode("utf-8"), "artifact.json"
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"log_artifact: this dict/list is not JSON ({exc})"
            ) from exc
    if type(obj).__module__.startswith("matplotlib") and hasattr(obj, "savefig"):
        import io

        buffer = io.BytesIO()
        obj.savefig(buffer, format="png")
        return buffer.getvalue(), "figure.png"
    import io
    import pickle

    import joblib

    buffer = io.BytesIO()
    try:
        joblib.dump(obj, buffer)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise InvalidArgumentError(
            f"log_artifact: cannot store {type(obj).__name__}: {exc}"
        ) from exc
    return buffer.getvalue(), "artifact.joblib"
