"""A Hypothesis state machine drives a registry and a plain model side by side.

The model knows nothing of events, stacks or snapshots: per alias or stage it
keeps who holds it now, the distinct holders a rollback walks back through
(removals skipped) and every version that ever held it; per version its
stage. After every step the registry, its replay from the events, its
state.json snapshot and the model agree.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import pinyard
from pinyard import errors
from pinyard.registry import GateContext, GateResult, Registry, State, _state

NAME = "m"
ARCHIVE = "archived"
ALIASES = ["champion", "canary"]
SLOT_NAMES = ["champion", "canary", "staging", "production", ARCHIVE]
STAGE_CHOICES = ["staging", "canary", "production", ARCHIVE]
STAGE_ORDERS = [("staging", "production"), ("staging", "canary", "production")]
REASONS = st.sampled_from(["", "because"])
WRITTEN_FROM = datetime(2026, 1, 1, tzinfo=UTC)

Key = tuple[str, str]  # (kind, slot name)


class Model:
    """What the registry of one name should hold, in plain terms."""

    def __init__(self) -> None:
        self.versions: list[str] = []
        self.deleted: set[str] = set()
        self.stages: tuple[str, ...] = ("staging", "production")
        self.require_reason = False
        self.holder: dict[Key, str | None] = {}
        self.walk: dict[Key, list[str]] = {}  # distinct holders, oldest first, for rollback
        self.ever: dict[Key, set[str]] = {}
        self.stage_of: dict[str, str] = {}
        self.ops: list[str] = []  # the name's events, oldest first
        self.board_events = 0

    # -- what the rules ask ---------------------------------------------------

    @property
    def all_stages(self) -> tuple[str, ...]:
        return (*self.stages, ARCHIVE)

    def kind(self, slot: str) -> str:
        return "stage" if slot in self.all_stages else "alias"

    @property
    def aliases(self) -> dict[str, str]:
        return {n: v for (k, n), v in self.holder.items() if k == "alias" and v}

    @property
    def stage_holders(self) -> dict[str, str]:
        return {n: v for (k, n), v in self.holder.items() if k == "stage" and v}

    @property
    def archived(self) -> list[str]:
        return sorted(v for v, s in self.stage_of.items() if s == ARCHIVE)

    def holders_of(self, version: str) -> list[str]:
        labels = [f"alias @{a}" for a, v in self.aliases.items() if v == version]
        labels += [f"stage {s}" for s, v in self.stage_holders.items() if v == version]
        return labels

    def previous(self, key: Key) -> str | None:
        """Where a rollback without ``to`` goes: the holder before the current one, or the
        last holder when a removal emptied the slot."""
        walk = self.walk.get(key, [])
        if self.holder.get(key) is None:
            return walk[-1] if walk else None
        return walk[-2] if len(walk) > 1 else None

    def quality(self, version: str) -> int:
        return self.versions.index(version)

    # -- changes ----------------------------------------------------------------

    def put(self, key: Key, version: str | None, *, undo: bool = False) -> None:
        walk = self.walk.setdefault(key, [])
        if undo and self.holder.get(key) is not None:
            walk.pop()
        self.holder[key] = version
        if version is not None:
            self.ever.setdefault(key, set()).add(version)
            if not walk or walk[-1] != version:
                walk.append(version)

    def enter_stage(self, version: str, to: str, *, undo: bool = False) -> None:
        current = self.stage_of.get(version)
        if current not in (None, ARCHIVE, to) and self.holder.get(("stage", current)) == version:
            assert current is not None
            self.put(("stage", current), None)
        holder = self.holder.get(("stage", to)) if to != ARCHIVE else None
        if holder not in (None, version):
            assert holder is not None
            self.stage_of[holder] = ARCHIVE
        self.stage_of[version] = to
        if to != ARCHIVE:
            self.put(("stage", to), version, undo=undo)

    def stage_allowed(self, version: str, to: str) -> bool:
        current = self.stage_of.get(version)
        following = self.stages.index(current) + 1 if current in self.stages else 0
        return to == ARCHIVE or (to in self.stages and self.stages.index(to) == following)

    def reason_missing(self, reason: str) -> bool:
        return self.require_reason and not reason.strip()


def newer_wins(context: GateContext) -> Any:
    """The custom gate of the machine: a candidate passes if nothing holds the target or it
    is newer than the holder. Half the versions answer with a bool, half with a GateResult."""
    passed = context.holder is None or context.candidate > context.holder
    if context.candidate[-1] in "02468ace":
        return passed
    return GateResult(passed, {"gate": "newer", "holder": context.holder}, "newer wins")


class RegistryMachine(RuleBasedStateMachine):
    use_folder = False

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp(prefix="pinyard-reg-sm-")
        self.board = pinyard.board_folder(self.tmp) if self.use_folder else pinyard.board_memory()
        self.registry = Registry(self.board, user="machine")
        self.model = Model()
        for i in range(3):
            self._write(i)

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _write(self, value: int) -> None:
        # one second apart in the past: no write waits for the clock's next second
        created = WRITTEN_FROM + timedelta(seconds=len(self.model.versions))
        result = self.board.pin_write({"v": value}, NAME, type="json", force_identical_write=True,
                                      created=created)  # fmt: skip
        self.model.versions.append(result.version)

    def _version(self, data: st.DataObject) -> str:
        """Any version, or (as often) one that holds something: where the rules bite."""
        m = self.model
        held = sorted({*m.aliases.values(), *m.stage_holders.values(), *m.stage_of})
        return data.draw(st.sampled_from(held or m.versions) | st.sampled_from(m.versions),
                         label="version")  # fmt: skip

    def _slot(self, data: st.DataObject, names: list[str]) -> str:
        """Any of ``names``, or (as often) one that has held a version."""
        used = sorted(n for _, n in self.model.walk if n in names)
        return data.draw(st.sampled_from(used or names) | st.sampled_from(names), label="slot")

    def _stage(self, data: st.DataObject, version: str) -> str:
        """The stage ``version`` may enter next, or any stage."""
        m = self.model
        current = m.stage_of.get(version)
        following = m.stages.index(current) + 1 if current in m.stages else 0
        nxt = m.stages[following] if following < len(m.stages) else ARCHIVE
        return data.draw(st.just(nxt) | st.sampled_from(STAGE_CHOICES), label="to")

    def _committed(
        self, event: pinyard.registry.Event, op: str, slot: str, version: str | None
    ) -> None:
        assert (event.op, event.slot, event.version, event.actor) == (op, slot, version, "machine")
        self.model.ops.append(op)
        assert event.seq == len(self.model.ops)

    def _unchanged(self, event: pinyard.registry.Event, slot: str, version: str) -> None:
        """Moving a slot to the version it holds writes nothing and answers its last event."""
        assert event.slot == slot
        assert event.version == version
        assert event.seq <= len(self.model.ops)

    # -- rules ------------------------------------------------------------------

    @precondition(lambda self: len(self.model.versions) < 5)
    @rule(value=st.integers(0, 3))
    def write_version(self, value: int) -> None:
        self._write(value)

    @rule(alias=st.sampled_from(ALIASES), data=st.data(), reason=REASONS)
    def set_alias(self, alias: str, data: st.DataObject, reason: str) -> None:
        m, version = self.model, self._version(data)
        key = ("alias", alias)
        if m.kind(alias) == "stage":
            with pytest.raises(errors.InvalidNameError, match=f"{alias!r} is a stage"):
                self.registry.set_alias(NAME, alias, version, reason=reason)
        elif version in m.deleted:
            with pytest.raises(errors.VersionNotFoundError, match=version):
                self.registry.set_alias(NAME, alias, version, reason=reason)
        elif m.holder.get(key) == version:
            self._unchanged(self.registry.set_alias(NAME, alias, version, reason=reason),
                            alias, version)  # fmt: skip
        elif m.reason_missing(reason):
            with pytest.raises(errors.InvalidArgumentError, match="requires a reason"):
                self.registry.set_alias(NAME, alias, version, reason=reason)
        else:
            event = self.registry.set_alias(NAME, alias, version, reason=reason)
            self._committed(event, "set_alias", alias, version)
            assert event.reason == reason
            m.put(key, version)

    @rule(data=st.data(), reason=REASONS)
    def remove_alias(self, data: st.DataObject, reason: str) -> None:
        m, alias = self.model, self._slot(data, ALIASES)
        if m.kind(alias) == "stage":
            with pytest.raises(errors.InvalidNameError, match="cannot be an alias"):
                self.registry.remove_alias(NAME, alias, reason=reason)
        elif m.holder.get(("alias", alias)) is None:
            with pytest.raises(errors.InvalidArgumentError, match=f"no alias {alias!r}"):
                self.registry.remove_alias(NAME, alias, reason=reason)
        elif m.reason_missing(reason):
            with pytest.raises(errors.InvalidArgumentError, match="requires a reason"):
                self.registry.remove_alias(NAME, alias, reason=reason)
        else:
            event = self.registry.remove_alias(NAME, alias, reason=reason)
            assert event.previous == m.holder[("alias", alias)]
            self._committed(event, "remove_alias", alias, None)
            m.put(("alias", alias), None)

    @rule(data=st.data(), force=st.booleans(), reason=REASONS)
    def transition(self, data: st.DataObject, force: bool, reason: str) -> None:
        m, version = self.model, self._version(data)
        to = self._stage(data, version)

        def call() -> pinyard.registry.Event:
            return self.registry.transition(NAME, version, to, reason=reason, force=force)

        if m.kind(to) != "stage":
            with pytest.raises(errors.InvalidArgumentError, match="not a stage"):
                call()
        elif version in m.deleted:
            with pytest.raises(errors.VersionNotFoundError, match=version):
                call()
        elif m.reason_missing(reason):
            with pytest.raises(errors.InvalidArgumentError, match="requires a reason"):
                call()
        elif m.stage_of.get(version) == to:
            with pytest.raises(errors.InvalidArgumentError, match="already in stage"):
                call()
        elif not force and not m.stage_allowed(version, to):
            with pytest.raises(errors.StageOrderError, match="force=True"):
                call()
        else:
            allowed = m.stage_allowed(version, to)
            event = call()
            self._committed(event, "transition", to, version)
            assert event.forced == (not allowed)
            assert event.from_stage == m.stage_of.get(version)
            m.enter_stage(version, to)

    @rule(data=st.data(), force=st.booleans(), reason=REASONS)
    def promote(self, data: st.DataObject, force: bool, reason: str) -> None:
        m, version = self.model, self._version(data)
        to = self._slot(data, SLOT_NAMES)
        kind = m.kind(to)
        key = (kind, to)
        holder = m.holder.get(key) if to != ARCHIVE else None
        asked: list[tuple[str, str | None]] = []

        def gate(context: GateContext) -> Any:
            asked.append((context.candidate, context.holder))
            return newer_wins(context)

        def call() -> pinyard.registry.Event:
            return self.registry.promote(NAME, version, to, gate=gate, reason=reason, force=force)

        if version in m.deleted:
            with pytest.raises(errors.VersionNotFoundError, match=version):
                call()
        elif holder == version:
            self._unchanged(call(), to, version)
        elif m.reason_missing(reason):
            with pytest.raises(errors.InvalidArgumentError, match="requires a reason"):
                call()
        elif kind == "stage" and m.stage_of.get(version) == to:
            with pytest.raises(errors.InvalidArgumentError, match="already in stage"):
                call()
        elif kind == "stage" and not force and not m.stage_allowed(version, to):
            with pytest.raises(errors.StageOrderError, match="force=True"):
                call()
        elif holder is not None and m.quality(version) < m.quality(holder):
            with pytest.raises(errors.PromotionRefusedError, match=f"event {len(m.ops) + 1}"):
                call()
            m.ops.append("refused")
        else:
            event = call()
            self._committed(event, "promote", to, version)
            assert event.gate is not None
            assert event.gate["passed"] is True
            if kind == "stage":
                m.enter_stage(version, to)
            else:
                m.put(key, version)
        if asked:
            assert asked == [(version, holder)]

    @rule(data=st.data(), named=st.booleans(), reason=REASONS)
    def rollback(self, data: st.DataObject, named: bool, reason: str) -> None:
        m, slot = self.model, self._slot(data, SLOT_NAMES)
        key = (m.kind(slot), slot)
        holder = m.holder.get(key)
        to = self._version(data) if named else None

        def call() -> pinyard.registry.Event:
            return self.registry.rollback(NAME, slot, to=to, reason=reason)

        earlier = m.ever.get(key, set()) - {holder}
        target = to if named else m.previous(key)
        if to is not None and to in m.deleted:
            with pytest.raises(errors.VersionNotFoundError, match=to):
                call()
        elif not m.walk.get(key) or (m.previous(key) is None and not named):
            with pytest.raises(errors.InvalidArgumentError, match="roll back"):
                call()
        elif named and to not in earlier:
            with pytest.raises(errors.InvalidArgumentError, match="never held"):
                call()
        elif target in m.deleted:
            with pytest.raises(errors.VersionNotFoundError, match="no longer on the board"):
                call()
        elif m.reason_missing(reason):
            with pytest.raises(errors.InvalidArgumentError, match="requires a reason"):
                call()
        else:
            assert target is not None
            event = call()
            self._committed(event, "rollback", slot, target)
            assert event.previous == holder
            assert not event.forced
            if key[0] == "stage":
                m.enter_stage(target, slot, undo=not named)
            else:
                m.put(key, target, undo=not named)

    @precondition(lambda self: len(self.model.versions) - len(self.model.deleted) > 1)
    @rule(data=st.data())
    def delete_version(self, data: st.DataObject) -> None:
        m = self.model
        live = [v for v in m.versions if v not in m.deleted]
        version = data.draw(st.sampled_from(live[:-1]), label="deleted")
        holders = m.holders_of(version)
        if holders:
            with pytest.raises(errors.ProtectedVersionError) as refused:
                self.board.pin_version_delete(NAME, version)
            for label in holders:
                assert label in str(refused.value)
        else:
            self.board.pin_version_delete(NAME, version)
            m.deleted.add(version)

    @rule(n=st.integers(1, 3))
    def prune(self, n: int) -> None:
        m = self.model
        live = [v for v in m.versions if v not in m.deleted]
        expected = [v for v in live[: max(0, len(live) - n)] if not m.holders_of(v)]
        assert self.board.pin_versions_prune(NAME, n=n) == expected
        m.deleted.update(expected)

    @rule(order=st.sampled_from(STAGE_ORDERS), require_reason=st.booleans())
    def configure(self, order: tuple[str, ...], require_reason: bool) -> None:
        m = self.model
        dropped = set(m.stages) - set(order)
        used = dropped & set(m.stage_of.values())
        clash = set(order) & set(m.aliases)
        if used:
            with pytest.raises(errors.InvalidArgumentError, match="still holds a version"):
                self.registry.configure(stages=order, require_reason=require_reason)
        elif clash:
            with pytest.raises(errors.InvalidNameError, match="cannot share its name"):
                self.registry.configure(stages=order, require_reason=require_reason)
        else:
            config = self.registry.configure(stages=order, require_reason=require_reason)
            assert config.stages == order
            assert config.require_reason is require_reason
            m.stages, m.require_reason = order, require_reason
            m.board_events += 1

    @rule()
    def drop_snapshot(self) -> None:
        """A pins user deletes state.json: a new reader replays the events, and the next
        change writes it again."""
        self.board.store.delete_file(f"registry/{NAME}/state.json")
        self.registry = Registry(self.board, user="machine")

    @rule()
    def new_reader(self) -> None:
        """Another process: it starts from state.json, not from what this one confirmed."""
        self.registry = Registry(self.board, user="machine")

    # -- invariants ---------------------------------------------------------------

    @invariant()
    def holders_agree(self) -> None:
        m, state = self.model, self.registry.state(NAME)
        assert state.aliases == m.aliases
        assert state.stage_holders() == m.stage_holders
        assert state.archived == m.archived
        for version in m.versions:
            assert sorted(state.holders_of(version)) == sorted(m.holders_of(version))
        for slot, version in {**m.aliases, **m.stage_holders}.items():
            assert self.registry.resolve(f"{NAME}@{slot}").version == version

    @invariant()
    def rollback_targets_agree(self) -> None:
        m, state = self.model, self.registry.state(NAME)
        for key in m.walk:
            found = state.slot(key[0], key[1])  # type: ignore[arg-type]
            assert found is not None
            assert found.holder == m.holder.get(key)
            assert found.previous() == m.previous(key), key
            assert set(found.past_holders()) == m.ever.get(key, set())

    @invariant()
    def history_is_the_model_log(self) -> None:
        events = self.registry.history(NAME)
        assert isinstance(events, list)
        assert [e.op for e in events] == self.model.ops
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        board_events = list(self.registry._board_chain().events())
        assert [e.op for e in board_events] == ["configure"] * self.model.board_events

    @invariant()
    def replay_snapshot_and_live_state_agree(self) -> None:
        chain = self.registry._chain(NAME)
        replayed = chain.replay().to_dict()
        assert chain.load(use_snapshot=False).to_dict() == replayed
        assert self.registry.state(NAME).to_dict() == replayed
        (report,) = self.registry.verify(NAME)
        assert report.ok, report.problems
        assert report.events == len(self.model.ops)
        try:
            raw = self.board.store.read_bytes(f"registry/{NAME}/state.json")
        except FileNotFoundError:
            return
        snapshot = json.loads(raw)
        assert snapshot["replay"] == json.loads(json.dumps(replayed))
        assert snapshot["seq"] == len(self.model.ops)
        assert snapshot["aliases"] == self.model.aliases
        assert snapshot["stages"] == self.model.stage_holders
        assert snapshot["archived"] == self.model.archived


class FolderRegistryMachine(RegistryMachine):
    use_folder = True


class CutHistoryMachine(RegistryMachine):
    """The same, with states that keep only the newest 2 changes of each slot: a rollback
    or an ``as_of`` further back replays the events, and answers the same."""

    def __init__(self) -> None:
        self.saved_keep = _state.KEEP
        _state.KEEP = 2
        super().__init__()

    def teardown(self) -> None:
        _state.KEEP = self.saved_keep
        super().teardown()

    @invariant()
    def rollback_targets_agree(self) -> None:
        m, state = self.model, self.registry.state(NAME)
        for key in m.walk:
            found = state.slot(key[0], key[1])  # type: ignore[arg-type]
            assert found is not None
            assert found.holder == m.holder.get(key)
            assert self.registry._previous(NAME, state, found) == m.previous(key), key
            assert set(found.past_holders()) == m.ever.get(key, set())

    @invariant()
    def replay_snapshot_and_live_state_agree(self) -> None:
        chain = self.registry._chain(NAME)
        replayed = chain.replay()
        assert self.registry.state(NAME).agrees_with(replayed)
        (report,) = self.registry.verify(NAME)
        assert report.ok, report.problems
        try:
            raw = self.board.store.read_bytes(f"registry/{NAME}/state.json")
        except FileNotFoundError:
            return
        snapshot = json.loads(raw)
        assert State.from_dict(NAME, snapshot["replay"]).agrees_with(replayed)
        assert all(len(s["timeline"]) <= 2 for s in snapshot["replay"]["slots"])
        assert snapshot["aliases"] == self.model.aliases
        assert snapshot["stages"] == self.model.stage_holders


TestMemoryRegistry = RegistryMachine.TestCase
TestMemoryRegistry.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestFolderRegistry = FolderRegistryMachine.TestCase
TestFolderRegistry.settings = settings(max_examples=20, stateful_step_count=20, deadline=None)
TestCutHistory = CutHistoryMachine.TestCase
TestCutHistory.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
