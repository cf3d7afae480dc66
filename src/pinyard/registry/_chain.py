"""One name's hash-chained event log on a store, and the snapshot that makes it cheap.

``<prefix>/events/<seq>.json`` are created exclusively at the next sequence
number, each naming the sha256 of the one before. ``<prefix>/state.json`` is
a derived snapshot: the plain holders (for pins and R readers, who read it
with any JSON parser) and the replay state up to an event. It is used only
when its digest holds, and only as far as the events confirm it: the event
after it must name its head, and reading continues from there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pinyard.boards._store import Store
from pinyard.errors import ChainError, ConflictError, StorageError
from pinyard.registry._events import (
    EVENT_FILE,
    Event,
    decode_event,
    event_file,
    event_sha256,
    parse_utc,
    utc_text,
)
from pinyard.registry._state import State

log = logging.getLogger("pinyard.registry")

#: 3: the digest is the sha256 of the bytes before it; 2: each slot's history cut to the
#: newest changes, and the digest over the document re-encoded with sorted keys (as in 1,
#: which held all of it). Formats 1 and 2 are still read.
SNAPSHOT_FORMAT = 3
OLD_FORMATS = (1, 2)
SNAPSHOT_FILE = "state.json"
MAX_ATTEMPTS = 64

#: What a writer hands `Chain.append`: the event's fields for a given state (the
#: chain adds ``seq``, ``prev``, ``id`` and ``time``), raising if the change no
#: longer applies to that state.
Plan = Callable[[State], dict[str, Any]]


@dataclass(frozen=True)
class Committed:
    """An event just created, and the state after it."""

    event: Event
    state: State


class Chain:
    """The events of one registry name (or of the board's settings) under ``prefix``."""

    def __init__(self, store: Store, prefix: str, name: str) -> None:
        self.store = store
        self.prefix = prefix
        self.name = name
        self.events_dir = f"{prefix}/events"
        self._snapshot_path = f"{prefix}/{SNAPSHOT_FILE}"

    def where(self, seq: int | None = None) -> str:
        """A readable location of the chain, or of one event of it."""
        path = self.events_dir if seq is None else f"{self.events_dir}/{event_file(seq)}"
        return f"{self.store.url}/{path}"

    # -- reading ------------------------------------------------------------

    def load(self, *, use_snapshot: bool = True) -> State:
        """The state after the newest event: from the snapshot when it checks out and the
        events after it, else by replaying every event (which checks the whole chain).
        A broken chain raises `ChainError` saying what to run next."""
        try:
            return self._load(use_snapshot)
        except ChainError as exc:
            raise self._next_step(exc) from exc

    def _load(self, use_snapshot: bool) -> State:
        snapshot = self._snapshot() if use_snapshot else None
        if snapshot is None:
            return self.replay()
        try:
            return self.advance(snapshot)
        except ChainError:
            if snapshot.seq == 0:
                raise
            # The events after the snapshot do not follow it: trust the events only.
            log.warning("%s: state.json does not match the events; replaying them", self.where())
            return self.replay()

    def advance(self, state: State, seen: list[Event] | None = None) -> State:
        """Apply the events after ``state``, checking each one links to the one before
        (and add them to ``seen`` when given)."""
        while True:
            found = self.read(state.seq + 1)
            if found is None:
                return state
            event, raw = found
            if event.prev != state.head:
                raise ChainError(
                    f"{self.where(event.seq)} does not follow event {state.seq}: it names "
                    f"{event.prev!r} as the previous event, whose sha256 is {state.head!r}. "
                    f"Run `pinyard registry verify` to see what changed.",
                    seq=event.seq,
                )
            _check_time(event, state, self.where(event.seq))
            state.apply(event, event_sha256(raw))
            if seen is not None:
                seen.append(event)

    def read(self, seq: int) -> tuple[Event, bytes] | None:
        """Event ``seq`` and its stored bytes, checked by its digest; None if absent."""
        raw = self._raw(seq)
        if raw is None:
            return None
        event = decode_event(raw, seq, self.where(seq))
        if event.name != self.name:
            raise ChainError(
                f"{self.where(seq)} is an event of {event.name!r}, not {self.name!r}: it was "
                "copied here from another name",
                seq=seq,
            )
        return event, raw

    def _raw(self, seq: int) -> bytes | None:
        """The stored bytes of event ``seq``, unchecked; None if absent."""
        try:
            return self.store.read_bytes(f"{self.events_dir}/{event_file(seq)}")
        except FileNotFoundError:
            return None

    def sequence_numbers(self) -> list[int]:
        """Every event number in the folder, sorted; `ChainError` on a gap or a stranger.

        Temporary files of writers that were stopped mid-write are skipped.
        """
        numbers = []
        for entry in self.store.list_names(self.events_dir):
            if entry.endswith(".tmp"):
                continue
            match = EVENT_FILE.match(entry)
            if not match:
                raise ChainError(
                    f"{self.where()} holds {entry!r}, which is not an event file "
                    "(NNNNNNNNNNNN.json): something was inserted"
                )
            numbers.append(int(match.group(1)))
        numbers.sort()
        for expected, seq in enumerate(numbers, start=1):
            if seq != expected:
                raise ChainError(
                    f"{self.where(expected)} is missing but event {seq} exists: events were "
                    "removed",
                    seq=expected,
                )
        return numbers

    def replay(self, until: Callable[[Event], bool] | None = None) -> State:
        """Replay every event from the first, checking the whole chain; stop before the
        first event for which ``until`` is true."""
        state = State(self.name)
        for event, sha in self._walk():
            if until is not None and until(event):
                break
            state.apply(event, sha)
        return state

    def events(self, since: int = 0) -> Iterator[Event]:
        """The events after ``since``, oldest first, the whole chain checked on the way."""
        try:
            for event, _ in self._walk():
                if event.seq > since:
                    yield event
        except ChainError as exc:
            raise self._next_step(exc) from exc

    def _next_step(self, exc: ChainError) -> ChainError:
        """``exc`` with what to do about it, for readers that refuse a broken chain."""
        if "registry verify" in str(exc):
            return exc
        return ChainError(
            f"{exc}. The registry of {self.name!r} cannot be trusted until this is repaired: "
            "run `pinyard registry verify` to see every problem, and restore the events "
            "from a backup",
            seq=exc.seq,
        )

    def _walk(self) -> Iterator[tuple[Event, str]]:
        """Every event with the sha256 of its bytes, each checked against the one before."""
        previous = State(self.name)
        for seq in self.sequence_numbers():
            found = self.read(seq)
            if found is None:  # deleted while we listed
                raise ChainError(f"{self.where(seq)} disappeared while it was read", seq=seq)
            event, raw = found
            if event.prev != previous.head:
                raise ChainError(
                    f"{self.where(seq)} does not follow event {seq - 1}: an event before it "
                    "was edited or replaced",
                    seq=max(seq - 1, 1),
                )
            _check_time(event, previous, self.where(seq))
            previous.head, previous.time = event_sha256(raw), event.time
            yield event, previous.head

    # -- writing ------------------------------------------------------------

    def append(self, plan: Plan, state: State | None = None) -> Committed:
        """Create the next event from ``plan(state)``; when another writer took that
        number first, read what it wrote and plan again against the new state."""
        state = self.load() if state is None else state
        self._confirm_head(state)
        for attempt in range(MAX_ATTEMPTS):
            fields = plan(state)
            event = Event(
                seq=state.seq + 1,
                prev=state.head,
                id=uuid.uuid4().hex,
                time=_next_time(state),
                name=self.name,
                **fields,
            )
            raw = event.to_bytes()
            try:
                self.store.write_exclusive(f"{self.events_dir}/{event_file(event.seq)}", raw)
            except FileExistsError:
                state = self.advance(state)
                time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))  # noqa: S311 - jitter
                continue
            state.apply(event, event_sha256(raw))  # as advance() does: no copy of it all
            self.write_snapshot(state)
            return Committed(event, state)
        raise ConflictError(
            f"{self.where()}: {MAX_ATTEMPTS} other writers committed events first; nothing "
            "was changed. Try again."
        )

    def _confirm_head(self, state: State) -> None:
        """Check that the newest event ``state`` has seen is still there as it was.

        A state that comes from state.json and no event after it rests on the snapshot
        alone; if that event was removed or replaced, the next event would be appended
        past a hole (or onto a rewritten history) and make the damage permanent.
        """
        if state.seq == 0:
            return
        # Its bytes against the sha256 the state holds: equal bytes were checked when
        # they were first read or written, so they are not decoded again.
        raw = self._raw(state.seq)
        if raw is None or event_sha256(raw) != state.head:
            what = "is missing" if raw is None else "is not the event it followed"
            raise ChainError(
                f"{self.where(state.seq)} {what}: state.json has seen event {state.seq} "
                f"with sha256 {state.head}. Nothing was written. Run `pinyard registry "
                "verify` to see what changed.",
                seq=state.seq,
            )

    # -- the snapshot -------------------------------------------------------

    def write_snapshot(self, state: State) -> None:
        """Cut ``state``'s history to what a state keeps and replace state.json with it
        (best effort: it is derived, and a failure loses nothing)."""
        state.trim()
        try:
            self.store.replace_small(self._snapshot_path, snapshot_bytes(state))
        except (OSError, StorageError) as exc:
            log.warning("%s: could not refresh state.json (%s)", self.where(), exc)

    def _snapshot(self) -> State | None:
        try:
            raw = self.store.read_bytes(self._snapshot_path)
        except FileNotFoundError:
            return State(self.name) if not self._has_events() else None
        try:
            doc = _checked_snapshot(raw)
            if doc["name"] != self.name:
                raise ValueError("another name's snapshot")
            return State.from_dict(self.name, doc["replay"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s/%s is not usable (%s); replaying the events", self.where(),
                        SNAPSHOT_FILE, exc)  # fmt: skip
            return None

    def snapshot_problems(self, replayed: State) -> list[str]:
        """What is wrong with state.json, given the replay of every event: it saw events
        that are gone, or it says something else than the replay (in its replay part, or in
        the plain holders pins and R readers use), or it is damaged."""
        try:
            raw = self.store.read_bytes(self._snapshot_path)
        except FileNotFoundError:
            return []
        snapshot = self._snapshot()
        if snapshot is None:
            return [
                "state.json is not a valid snapshot of these events (damaged, edited, or "
                "copied from elsewhere): pinyard ignores it, but pins and R readers of it "
                f"may see wrong holders; the next registry change of {self.name!r} rewrites it"
            ]
        if snapshot.seq > replayed.seq:
            return [
                f"state.json has seen event {snapshot.seq} but the chain ends at "
                f"{replayed.seq}: the newest events were removed"
            ]
        if snapshot.seq == replayed.seq:
            plain, expected = json.loads(raw), json.loads(snapshot_bytes(replayed))
            if {k: plain.get(k) for k in PLAIN_KEYS} != {k: expected[k] for k in PLAIN_KEYS} or (
                not snapshot.agrees_with(replayed)
            ):
                return ["state.json does not match the replay of the events"]
        return []

    def _has_events(self) -> bool:
        return bool(self.store.list_names(self.events_dir))


#: The keys of state.json that pins and R readers use (the rest is pinyard's).
PLAIN_KEYS = ("name", "seq", "head_sha256", "updated", "aliases", "stages", "archived")


def snapshot_bytes(state: State) -> bytes:
    """state.json: the plain holders first (what pins and R readers need), then the
    replay state pinyard resumes from, then a digest of all of it."""
    doc: dict[str, Any] = {
        "format": SNAPSHOT_FORMAT,
        "kind": "pinyard registry snapshot (derived from events/; pinyard checks it)",
        "name": state.name,
        "seq": state.seq,
        "head_sha256": state.head,
        "updated": state.time,
        "aliases": dict(sorted(state.aliases.items())),
        "stages": dict(sorted(state.stage_holders().items())),
        "archived": state.archived,
        "replay": state.to_dict(),
    }
    return sealed_snapshot(doc)


def sealed_snapshot(doc: dict[str, Any]) -> bytes:
    """The bytes of snapshot ``doc`` with its digest appended as the last key."""
    # One top-level key a line, for people; each value by json's C encoder (indent= would
    # take the pure-Python one, 5-10x slower on a snapshot of thousands of events). The
    # digest, last, is over the bytes before it: one encoding, no re-encoding to check.
    lines = ",\n".join(f"{json.dumps(key)}: {json.dumps(value)}" for key, value in doc.items())
    body = f"{{\n{lines}".encode()
    return body + _SEAL + hashlib.sha256(body).hexdigest().encode() + _SEAL_END


_SEAL = b',\n"digest": "'
_SEAL_END = b'"\n}\n'
_SEALED = len(_SEAL) + 64 + len(_SEAL_END)


def _checked_snapshot(raw: bytes) -> dict[str, Any]:
    """The document in state.json, its digest checked and removed; ValueError if it does
    not hold (or KeyError/TypeError if the document is not a snapshot)."""
    cut = len(raw) - _SEALED
    if cut > 0 and raw[cut : cut + len(_SEAL)] == _SEAL and raw.endswith(_SEAL_END):
        claimed = raw[cut + len(_SEAL) : -len(_SEAL_END)]
        if hashlib.sha256(raw[:cut]).hexdigest().encode() != claimed:
            raise ValueError("its digest does not match its bytes")
        doc: dict[str, Any] = json.loads(raw)
        doc.pop("digest")
        if doc["format"] != SNAPSHOT_FORMAT:
            raise ValueError(f"format {doc['format']!r} with a format-{SNAPSHOT_FORMAT} digest")
        return doc
    doc = json.loads(raw)
    claimed_text = doc.pop("digest")
    if doc["format"] not in OLD_FORMATS or claimed_text != _digest(doc):
        raise ValueError("its digest or format does not hold")
    return doc


def _digest(doc: dict[str, Any]) -> str:
    """The digest of snapshot formats 1 and 2."""
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _next_time(state: State) -> str:
    """Now, or just after the previous event when this clock is behind its writer's: event
    times never go backwards along a chain, so ``as_of`` can bisect them."""
    now = utc_text(datetime.now(UTC))
    if state.time is None or now > state.time:  # fixed-width UTC text sorts as time does
        return now
    return utc_text(parse_utc(state.time) + timedelta(microseconds=1))


def _check_time(event: Event, state: State, where: str) -> None:
    if state.time is not None and event.time < state.time:
        raise ChainError(
            f"{where} is dated {event.time}, before the event it follows ({state.time}): "
            "events were reordered",
            seq=event.seq,
        )
