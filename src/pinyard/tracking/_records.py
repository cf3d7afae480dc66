"""Run records: the immutable JSON documents a run leaves on the board, and their checks.

Layout under ``ROOT/runs/<experiment>/``::

    started/<hour>/<run_id>.json      written when a run starts (status "running"),
                                      deleted once its final record is written
    records/<hour>/<run_id>.json      written once when it ends (finished, failed, killed)
    series/<run_id>/<chunk>.json      metric values logged with a step, in chunks
    notes/<run_id>/<time>-<rand>.json notes added later (annotate / note)
    artifacts/<sha256>                artifact bytes, named by their digest
    segments/<first>_<last>-<digest>.parquet   compacted rows of whole hours
    checkpoints/<hour>/<runs>-<digest>.arrow   derived rows of the runs not yet compacted

``<hour>`` is ``YYYYmmddTHH`` (UTC) of the start (started/) or end
(records/) time. Every object is created exclusively and never rewritten; the
final record holds all of the start record, which only marks a running run.
Records and notes carry a digest and chunks are named by theirs
(`pinyard.tracking._digests`); series chunks are ``<index>-<digest>.json``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pinyard.boards import validate_identifier
from pinyard.errors import InvalidArgumentError, MetadataError
from pinyard.tracking._digests import SEALED_FORMAT, seal, unseal

RECORD_FORMAT = SEALED_FORMAT
FINAL_STATUSES = ("finished", "failed", "killed")
#: A series chunk's name, as `Run` writes it (records list them; nothing else is read):
#: ``<index>-<xxh3-128>.json`` since format 2, ``<index>.json`` before.
CHUNK_PATTERN = re.compile(r"\d{6}(-[0-9a-f]{32})?\.json")
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")


def new_run_id(start: datetime) -> str:
    """``YYYYmmddTHHMMSSZ-<8 hex>``: sorts by start time, unique across machines."""
    return f"{start.strftime('%Y%m%dT%H%M%SZ')}-{os.urandom(4).hex()}"


def hour_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H")


def validate_experiment(name: object, *, new: bool = False) -> str:
    """An experiment name (``new``: one runs are written to, held to the stricter rules
    of new names; an existing experiment stays readable). Rules: `pinyard.boards._names`."""
    return validate_identifier(name, "new experiment name" if new else "experiment name")


def validate_key(key: object, kind: Literal["param", "metric", "tag", "artifact"]) -> str:
    """A param, metric or tag key, or an artifact's name (rules: `pinyard.boards._names`)."""
    return validate_identifier(key, "artifact name" if kind == "artifact" else f"{kind} key")


def validate_run_id(run_id: object) -> str:
    """A run id of the form `new_run_id` makes, before it goes into any path."""
    return validate_identifier(run_id, "run id")


def param_value(key: str, value: Any) -> Any:
    """A param as stored: scalars keep their type (1, 1.0 and "1" stay distinct); lists
    and dicts of JSON values are kept as JSON; anything else is refused."""
    value = _plain(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, list | tuple | dict):
        try:
            return json.loads(json.dumps(value, allow_nan=True))
        except (TypeError, ValueError):
            pass
    raise InvalidArgumentError(
        f"param {key!r} = {value!r} ({type(value).__name__}) cannot be recorded: params are "
        "numbers, strings, booleans, None, or lists/dicts of them. Log a description "
        "(e.g. str(value)) or store the object with run.log_artifact."
    )


def metric_value(key: str, value: Any) -> float:
    """A metric as stored: a float; NaN and infinities are kept, never dropped."""
    value = _plain(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(
            f"metric {key!r} must be a real number, got {value!r} ({type(value).__name__})"
        )
    return float(value)


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars."""
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0:
        return item()
    return value


@dataclass(frozen=True)
class RunRecord:
    """One run as recorded: what it used, what it measured, where and when it ran."""

    run_id: str
    experiment: str
    status: str
    start_time: datetime
    end_time: datetime | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: list[dict[str, str]] = field(default_factory=list)
    series: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def duration_s(self) -> float | None:
        if self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()

    def lineage(self) -> dict[str, Any]:
        """What a model made by this run records of it (see `pinyard.models.ModelBundle`)."""
        return {
            "run_id": self.run_id,
            "experiment": self.experiment,
            "params": dict(self.params),
            "metrics": dict(self.metrics),
            "code_commit": self.context.get("git_commit"),
            "code_dirty": self.context.get("git_dirty"),
            "data": dict(self.data),
            "seed": self.seed,
        }

    def to_json(self) -> bytes:
        doc = {
            "format": RECORD_FORMAT,
            "run_id": self.run_id,
            "experiment": self.experiment,
            "status": self.status,
            "start_time": self.start_time.isoformat(),
            "end_time": self.end_time.isoformat() if self.end_time else None,
            "params": self.params,
            "metrics": self.metrics,
            "tags": self.tags,
            "context": self.context,
            "seed": self.seed,
            "data": self.data,
            "artifacts": self.artifacts,
            "models": self.models,
            "series": self.series,
            "error": self.error,
        }
        return seal(json.dumps(doc, allow_nan=True, separators=(",", ":")).encode("utf-8"))

    @classmethod
    def from_json(cls, raw: bytes, where: str) -> RunRecord:
        """A record read back, its digest checked: `IntegrityError` if it was edited or
        damaged, `MetadataError` if it is truncated or malformed (``where`` names it)."""
        doc = unseal(raw, f"run record {where}")
        try:
            return cls(
                run_id=str(doc["run_id"]),
                experiment=str(doc["experiment"]),
                status=str(doc["status"]),
                start_time=datetime.fromisoformat(doc["start_time"]),
                end_time=datetime.fromisoformat(doc["end_time"]) if doc.get("end_time") else None,
                params=dict(doc.get("params") or {}),
                metrics={k: float(v) for k, v in (doc.get("metrics") or {}).items()},
                tags={k: str(v) for k, v in (doc.get("tags") or {}).items()},
                context=dict(doc.get("context") or {}),
                seed=doc.get("seed"),
                data=dict(doc.get("data") or {}),
                artifacts=dict(doc.get("artifacts") or {}),
                models=list(doc.get("models") or []),
                series=list(doc.get("series") or []),
                error=doc.get("error"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MetadataError(f"run record {where} is malformed ({exc})") from exc
