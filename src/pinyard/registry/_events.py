"""Registry events: what one change records, and its canonical, self-checking bytes.

An event is one JSON object, written once with the store's exclusive create
as ``registry/<name>/events/<seq>.json``. Its bytes are canonical (sorted
keys, no spaces), carry the sha256 of the previous event's bytes (``prev``,
the hash chain) and the sha256 of their own body (``digest``), so an edit of
any event, even the newest, is seen by whoever reads it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pinyard.errors import ChainError

EVENT_FORMAT = 1
SEQ_DIGITS = 12
EVENT_FILE = re.compile(r"^(\d{12})\.json$")

#: What an event does. ``refused`` records a promotion a gate turned down and
#: changes nothing; ``configure`` lives on the board's own chain.
Op = Literal[
    "set_alias", "remove_alias", "transition", "promote", "rollback", "refused", "configure"
]
OPS: frozenset[str] = frozenset(
    ["set_alias", "remove_alias", "transition", "promote", "rollback", "refused", "configure"]
)
SlotKind = Literal["alias", "stage"]


def event_file(seq: int) -> str:
    """The file name of event ``seq`` (zero-padded: lexical order is numeric order)."""
    return f"{seq:0{SEQ_DIGITS}d}.json"


def utc_text(moment: datetime) -> str:
    """A UTC time as ISO 8601 with microseconds and ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(text: str) -> datetime:
    """The inverse of `utc_text`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Target:
    """The exact version an event points at: its ``data.txt`` and files by sha256."""

    version: str
    meta_sha256: str
    files: dict[str, str]


@dataclass(frozen=True)
class Event:
    """One committed registry change, as stored (oldest first in `Registry.history`).

    ``slot`` is the alias or stage the event moves (``kind`` says which);
    ``target`` the version it now holds (None when an alias is removed);
    ``previous`` what the slot held before; ``displaced`` a version a stage
    transition moved into the archive stage; ``gate`` the evidence of a
    gated promotion; ``config`` the board settings of a ``configure`` event.
    """

    seq: int
    prev: str | None
    id: str
    time: str
    actor: str
    reason: str
    op: Op
    name: str
    slot: str | None = None
    kind: SlotKind | None = None
    target: Target | None = None
    previous: str | None = None
    from_stage: str | None = None
    displaced: str | None = None
    forced: bool = False
    gate: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str | None:
        """The version the event points at, if any."""
        return self.target.version if self.target else None

    @property
    def at(self) -> datetime:
        """When the event was committed (UTC; never before the previous event)."""
        return parse_utc(self.time)

    def to_bytes(self) -> bytes:
        """The canonical bytes, with ``digest`` over everything else."""
        body = _stored(self)
        body["digest"] = _digest(body)
        return _canonical(body)

    def as_dict(self) -> dict[str, Any]:
        """A plain dict (for JSON output and DataFrames; a copy the caller may change)."""
        body = asdict(self)
        body["format"] = EVENT_FORMAT
        return body


def decode_event(raw: bytes, seq: int, where: str) -> Event:
    """Parse and check one event file; `ChainError` naming ``where`` if it is damaged."""
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ChainError(
            f"{where} is not valid JSON ({exc}): the event was damaged", seq=seq
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != EVENT_FORMAT:
        raise ChainError(f"{where} is not a format-{EVENT_FORMAT} registry event", seq=seq)
    claimed = doc.pop("digest", None)
    if claimed != _digest(doc):
        raise ChainError(f"{where} was edited: its digest does not match its content", seq=seq)
    if _canonical({**doc, "digest": claimed}) != raw:
        raise ChainError(f"{where} was rewritten: its bytes are not the canonical ones", seq=seq)
    if doc.get("seq") != seq:
        raise ChainError(
            f"{where} holds event {doc.get('seq')!r}, not {seq}: events were reordered", seq=seq
        )
    try:
        target = doc.pop("target")
        doc.pop("format")
        op = doc["op"]
        if op not in OPS:
            raise ValueError(f"unknown op {op!r}")
        return Event(**doc, target=Target(**target) if target else None)
    except (KeyError, TypeError, ValueError) as exc:
        raise ChainError(f"{where} is not a well-formed registry event ({exc})", seq=seq) from exc


def event_sha256(raw: bytes) -> str:
    """What the next event records as ``prev``."""
    return hashlib.sha256(raw).hexdigest()


def _stored(event: Event) -> dict[str, Any]:
    """What `Event.as_dict` gives, without its copies: read once, to encode (this runs on
    every registry write, where `dataclasses.asdict` cost more than the JSON)."""
    body = dict(event.__dict__)
    if event.target is not None:
        body["target"] = dict(event.target.__dict__)
    body["format"] = EVENT_FORMAT
    return body


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(body)).hexdigest()
