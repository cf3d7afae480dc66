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
    ``stack`` the holders a rollback walks back through.
    """

    kind: SlotKind
    name: str
    timeline: list[tuple[int, str, str | None]] = field(default_factory=list)
    stack: list[str | None] = field(default_factory=list)

    @property
    def holder(self) -> str | None:
        return self.timeline[-1][2] if self.timeline else None

    def holder_at(self, time: str) -> str | None:
        """Who held the slot at ``time`` (an event's time text; they sort as times)."""
        index = bisect.bisect_right([t for _, t, _ in self.timeline], time)
        return self.timeline[index - 1][2] if index else None

    def previous(self) -> str | None:
        """What `rollback` without ``to`` returns the slot to: the holder before the
        current one (a removal in between is skipped, and so is the current holder
        where it held the slot before the removal: that is no step back)."""
        holder = self.holder
        return next((v for v in reversed(self.stack) if v is not None and v != holder), None)

    def past_holders(self) -> list[str]:
        """Every version that ever held the slot, oldest first, once each."""
        seen: dict[str, None] = {}
        for _, _, version in self.timeline:
            if version is not None:
                seen.setdefault(version)
        return list(seen)


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "head": self.head,
            "time": self.time,
            "archive": self.archive,
            "slots": [
                {"kind": s.kind, "name": s.name, "timeline": s.timeline, "stack": s.stack}
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
            state.slots[f"{s['kind']}:{s['name']}"] = Slot(
                s["kind"], s["name"], timeline, list(s["stack"])
            )
        state.version_stage = dict(doc["version_stage"])
        state.targets = {
            v: Target(v, meta, dict(files)) for v, (meta, files) in doc["targets"].items()
        }
        state.setters = {k: int(v) for k, v in doc["setters"].items()}
        state.config = Config.from_dict(doc["config"]) if doc.get("config") else None
        return state
