"""What a name's events add up to: replay is the only source of truth.

`State` is built by applying events in order. Each event says exactly what
it changed (the slot, the version, what a stage transition displaced), so
replay needs no board settings and gives the same state on every machine.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from pinyard.registry._events import Event, SlotKind, Target

DEFAULT_STAGES = ("staging", "production")
DEFAULT_ARCHIVE = "archived"
#: How many changes of each alias or stage a state keeps (its timeline and its rollback
#: stack); older ones are cut when the state is written, so the snapshot and a write stay
#: the same size however long the history. Reads that need more replay the events.
KEEP = 128


class HistoryCut(Exception):  # noqa: N818 - a signal for the registry, never seen by users
    """A question about a slot's past reaches back further than the state keeps."""


@dataclass(frozen=True)
class Config:
    """Board-wide registry settings (changed only by a ``configure`` event).

    ``stages`` are ordered, and each holds one version at a time; ``archive``
    (optional) is the last stage, which holds any number and protects none;
    ``require_reason`` refuses changes without a ``reason``.
    """

    stages: tuple[str, ...] = DEFAULT_STAGES
    archive: str | None = DEFAULT_ARCHIVE
    require_reason: bool = False

    @property
    def all_stages(self) -> tuple[str, ...]:
        """Every stage in order, the archive last."""
        return self.stages + ((self.archive,) if self.archive else ())

    def as_dict(self) -> dict[str, Any]:
        return {
            "stages": list(self.stages),
            "archive": self.archive,
            "require_reason": self.require_reason,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Config:
        return cls(tuple(doc["stages"]), doc.get("archive"), bool(doc.get("require_reason")))


@dataclass
class Slot:
    """One alias or stage of a name: who held it when, and what a rollback returns to.

    ``timeline`` lists ``(seq, time, version)`` changes (None: emptied);
    ``stack`` the holders a rollback walks back through; ``ever`` every version
    that held the slot, in the order each first did. ``cut``: older entries of
    ``timeline`` and ``stack`` were dropped (see `KEEP`); what they would answer
    raises `HistoryCut`, and the registry replays the events instead.
    """

    kind: SlotKind
    name: str
    timeline: list[tuple[int, str, str | None]] = field(default_factory=list)
    stack: list[str | None] = field(default_factory=list)
    ever: list[str] = field(default_factory=list)
    cut: bool = False

    @property
    def holder(self) -> str | None:
        return self.timeline[-1][2] if self.timeline else None

    def holder_at(self, time: str) -> str | None:
        """Who held the slot at ``time`` (an event's time text; they sort as times)."""
        index = bisect.bisect_right([t for _, t, _ in self.timeline], time)
        if index == 0 and self.cut:
            raise HistoryCut(f"{self.name} before {self.timeline[0][1]}")
        return self.timeline[index - 1][2] if index else None

    def previous(self) -> str | None:
        """What `rollback` without ``to`` returns the slot to: the holder before the
        current one (a removal in between is skipped, and so is the current holder
        where it held the slot before the removal: that is no step back)."""
        holder = self.holder
        found = next((v for v in reversed(self.stack) if v is not None and v != holder), None)
        if found is None and self.cut:
            raise HistoryCut(f"{self.name}: rollback past the kept stack")
        return found

    def past_holders(self) -> list[str]:
        """Every version that ever held the slot, oldest first, once each."""
        return list(self.ever)

    def trim(self, keep: int) -> None:
        """Drop all but the newest ``keep`` changes of the timeline and the stack."""
        if len(self.timeline) > keep or len(self.stack) > keep:
            del self.timeline[:-keep], self.stack[:-keep]
            self.cut = True

    def agrees_with(self, full: Slot) -> bool:
        """Whether this (possibly cut) slot says what ``full``, replayed from every event,
        says: the same holders ever, and its timeline and stack the newest part of full's."""
        if self.ever != full.ever or (self.kind, self.name) != (full.kind, full.name):
            return False
        if not self.cut:
            return self.timeline == full.timeline and self.stack == full.stack
        tail = len(self.timeline)
        return (
            full.timeline[-tail:] == self.timeline
            and len(self.stack) <= len(full.stack)
            and full.stack[len(full.stack) - len(self.stack) :] == self.stack
        )


@dataclass
class State:
    """A name's registry state after event ``seq`` (0: no events yet)."""

    name: str
    seq: int = 0
    head: str | None = None
    time: str | None = None
    slots: dict[str, Slot] = field(default_factory=dict)
    version_stage: dict[str, str] = field(default_factory=dict)
    targets: dict[str, Target] = field(default_factory=dict)
    setters: dict[str, int] = field(default_factory=dict)
    config: Config | None = None
    archive: str | None = None

    def slot(self, kind: SlotKind, name: str) -> Slot | None:
        return self.slots.get(f"{kind}:{name}")

    def find(self, name: str, at: str | None = None) -> Slot | None:
        """The alias or stage called ``name``: the one holding a version now (or at time
        ``at``), else either. Both exist when a stage took the name of an alias that was
        removed (or the other way round); they never hold a version at the same time."""
        found = [s for s in (self.slots.get(f"alias:{name}"), self.slots.get(f"stage:{name}"))
                 if s is not None]  # fmt: skip
        for slot in found:
            if (slot.holder if at is None else slot.holder_at(at)) is not None:
                return slot
        return found[0] if found else None

    @property
    def aliases(self) -> dict[str, str]:
        """Each alias and the version it holds now."""
        return {s.name: s.holder for s in self.slots.values() if s.kind == "alias" and s.holder}

    def stage_holders(self) -> dict[str, str]:
        """Each single-holder stage and its version now (the archive is not one)."""
        return {
            s.name: s.holder
            for s in self.slots.values()
            if s.kind == "stage" and s.name != self.archive and s.holder
        }

    @property
    def archived(self) -> list[str]:
        """Versions in the archive stage, in no particular order."""
        return sorted(v for v, s in self.version_stage.items() if s == self.archive)

    def holders_of(self, version: str) -> list[str]:
        """What holds ``version`` now (``alias @x``, ``stage y``); the archive protects none."""
        labels = [f"alias @{a}" for a, v in sorted(self.aliases.items()) if v == version]
        stage = self.version_stage.get(version)
        if stage and stage != self.archive:
            labels.append(f"stage {stage}")
        return labels

    # -- replay -------------------------------------------------------------

    def apply(self, event: Event, raw_sha256: str) -> None:
        """Apply the next event (``raw_sha256``: the sha256 of its stored bytes)."""
        self.seq, self.head, self.time = event.seq, raw_sha256, event.time
        if event.op == "configure":
            assert event.config is not None
            self.config = Config.from_dict(event.config)
            return
        if event.op == "refused" or event.slot is None or event.kind is None:
            return
        if event.target is not None:
            self.targets[event.target.version] = event.target
        version = event.version
        if event.kind == "alias":
            self._move(event, "alias", event.slot, version)
            return
        archive = event.extra.get("archive")
        if archive:
            self.archive = archive
        if version is None:
            return
        leaving = event.from_stage
        still_there = leaving and self._slot("stage", leaving).holder == version
        if still_there and leaving not in (event.slot, archive):
            assert leaving is not None
            self._move(event, "stage", leaving, None, undo=False)
        if event.displaced:
            if archive:
                self.version_stage[event.displaced] = archive
            else:
                self.version_stage.pop(event.displaced, None)
        self.version_stage[version] = event.slot
        if event.slot != archive:
            self._move(event, "stage", event.slot, version)

    def _slot(self, kind: SlotKind, name: str) -> Slot:
        key = f"{kind}:{name}"
        if key not in self.slots:
            self.slots[key] = Slot(kind, name)
        return self.slots[key]

    def _move(
        self, event: Event, kind: SlotKind, name: str, version: str | None, undo: bool = True
    ) -> None:
        slot = self._slot(kind, name)
        slot.timeline.append((event.seq, event.time, version))
        if version is not None and version not in slot.ever:
            slot.ever.append(version)
        if undo and event.op == "rollback" and event.extra.get("undo"):
            # the holder rolled back from, then any removal before it, and that holder
            # again where it held the slot before the removal
            left = slot.stack.pop() if slot.stack else None
            while slot.stack and slot.stack[-1] in (None, left):
                slot.stack.pop()
            if not slot.stack or slot.stack[-1] != version:
                slot.stack.append(version)
        else:
            slot.stack.append(version)
        if version is not None:
            self.setters[f"{kind}:{name}"] = event.seq

    # -- snapshot -----------------------------------------------------------

    def trim(self, keep: int | None = None) -> None:
        """Cut each slot's history to the newest ``keep`` changes (default `KEEP`)."""
        for slot in self.slots.values():
            slot.trim(KEEP if keep is None else keep)

    def agrees_with(self, full: State) -> bool:
        """Whether this state (a snapshot's, perhaps cut) says what ``full`` says."""
        mine, theirs = self.to_dict(), full.to_dict()
        mine.pop("slots"), theirs.pop("slots")
        return (
            mine == theirs
            and self.slots.keys() == full.slots.keys()
            and all(s.agrees_with(full.slots[k]) for k, s in self.slots.items())
        )

    def copy(self) -> State:
        """An independent copy (states are changed in place as events apply)."""
        return State.from_dict(self.name, self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "head": self.head,
            "time": self.time,
            "archive": self.archive,
            "slots": [
                {
                    "kind": s.kind,
                    "name": s.name,
                    "timeline": s.timeline,
                    "stack": s.stack,
                    "ever": s.ever,
                    "cut": s.cut,
                }
                for s in self.slots.values()
            ],
            "version_stage": self.version_stage,
            "targets": {v: [t.meta_sha256, t.files] for v, t in self.targets.items()},
            "setters": self.setters,
            "config": self.config.as_dict() if self.config else None,
        }

    @classmethod
    def from_dict(cls, name: str, doc: dict[str, Any]) -> State:
        state = cls(name, doc["seq"], doc["head"], doc["time"])
        state.archive = doc.get("archive")
        for s in doc["slots"]:
            timeline = [(int(q), str(t), v) for q, t, v in s["timeline"]]
            # format 1 snapshots kept every change and no "ever": derive it
            ever = s.get("ever") or list(dict.fromkeys(v for _, _, v in timeline if v))
            state.slots[f"{s['kind']}:{s['name']}"] = Slot(
                s["kind"], s["name"], timeline, list(s["stack"]), list(ever), bool(s.get("cut"))
            )
        state.version_stage = dict(doc["version_stage"])
        state.targets = {
            v: Target(v, meta, dict(files)) for v, (meta, files) in doc["targets"].items()
        }
        state.setters = {k: int(v) for k, v in doc["setters"].items()}
        state.config = Config.from_dict(doc["config"]) if doc.get("config") else None
        return state
