"""`Registry`: aliases and stages over exact versions, gated promotion and rollback.

Every change is one event appended to the name's chain (see `Chain.append`):
it is planned against the newest state, created exclusively at the next
number, and planned again if another writer got there first, so two racing
changes never both win silently.
"""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from pinyard.boards import Board
from pinyard.boards._boundary import guarded
from pinyard.errors import (
    ConflictError,
    InvalidArgumentError,
    InvalidNameError,
    PromotionRefusedError,
    StageOrderError,
)
from pinyard.registry._events import Event, SlotKind
from pinyard.registry._gates import Gate, GateContext, GateResult, run_gate
from pinyard.registry._hooks import EventHook, run_hooks
from pinyard.registry._reads import RegistryReads
from pinyard.registry._refs import registry_name, validate_slot
from pinyard.registry._state import Config, HistoryCut, Slot, State

log = logging.getLogger("pinyard.registry")
_UNSET: Any = object()


@guarded(lambda registry: registry.board.store.url)
class Registry(RegistryReads):
    """The registry of a pinyard board: ``Registry(board)``.

    Changes record ``reason`` and the acting user (``user=``, else the
    ``PINYARD_USER`` environment variable, else the login name). ``hooks``
    run after each event this object commits, in the background; a failing
    hook is logged and never undoes or fails the event.
    """

    def __init__(
        self, board: Board, *, user: str | None = None, hooks: Sequence[EventHook] = ()
    ) -> None:
        super().__init__(board)
        self.user = user or os.environ.get("PINYARD_USER") or _login()
        self.hooks = tuple(hooks)

    # -- settings -----------------------------------------------------------

    def configure(
        self,
        *,
        stages: Sequence[str] | None = None,
        archive: str | None = _UNSET,
        require_reason: bool | None = None,
        reason: str = "",
    ) -> Config:
        """Change the board's stage order or rules; the change is itself an event.

        A stage that a version holds on any name cannot be dropped, and a
        stage may not share a name with an alias in use.
        """

        def plan(state: State) -> dict[str, Any]:
            old = state.config or Config()
            new = Config(
                old.stages if stages is None else tuple(validate_slot(s, "stage") for s in stages),
                old.archive if archive is _UNSET else archive and validate_slot(archive, "stage"),
                old.require_reason if require_reason is None else bool(require_reason),
            )
            if len(set(new.all_stages)) != len(new.all_stages):
                raise InvalidArgumentError(f"stage names must differ, got {list(new.all_stages)}")
            if not new.stages:
                raise InvalidArgumentError("a board needs at least one stage before the archive")
            self._check_stage_change(old, new)
            return self._fields("configure", BOARD_NAME, reason, new, config=new.as_dict())

        committed = self._append(self._board_chain(), plan)
        self._after(committed.event)
        assert committed.state.config is not None
        return committed.state.config

    def _check_stage_change(self, old: Config, new: Config) -> None:
        dropped = set(old.all_stages) - set(new.all_stages)
        for name in self.names():
            state = self._current(self._chain(name))
            used = dropped & set(state.version_stage.values())
            if used:
                raise InvalidArgumentError(
                    f"stage {sorted(used)[0]!r} still holds a version of {name!r}; move it "
                    "to another stage before dropping the stage"
                )
            clash = set(new.all_stages) & set(state.aliases)
            if clash:
                raise InvalidNameError(
                    f"{sorted(clash)[0]!r} is an alias of {name!r}; a stage cannot share its "
                    "name (remove the alias first)"
                )

    # -- aliases ------------------------------------------------------------

    def set_alias(
        self, name: str, alias: str, version: str, *, reason: str = "", expected: Any = _UNSET
    ) -> Event:
        """Point ``alias`` at ``version`` of ``name`` (a full id or its 5-hex hash).

        If the alias already holds that version nothing is written and the
        event that set it is returned, so a script may run this every time.
        ``expected`` (a version id, or None for nothing) makes the move
        conditional: if the alias holds anything else when the event is
        written, `ConflictError` and nothing is recorded.
        """
        return self._move(name, alias, version, reason, op="set_alias", expected=expected)

    def remove_alias(self, name: str, alias: str, *, reason: str = "") -> Event:
        """Remove an alias (the versions stay; rollback restores it)."""
        name, config = registry_name(name), self.config
        alias = self._alias_name(alias, config)

        def plan(state: State) -> dict[str, Any]:
            slot = state.slot("alias", alias)
            if slot is None or slot.holder is None:
                raise InvalidArgumentError(f"{name!r} has no alias {alias!r} to remove")
            return self._fields("remove_alias", name, reason, config, slot=alias, kind="alias",
                                previous=slot.holder)  # fmt: skip

        committed = self._append(self._chain(name), plan)
        self._after(committed.event)
        return committed.event

    # -- stages -------------------------------------------------------------

    def transition(
        self,
        name: str,
        version: str,
        to: str,
        *,
        reason: str = "",
        force: bool = False,
        expected: Any = _UNSET,
    ) -> Event:
        """Move ``version`` to stage ``to``: the next stage in the board's order, or the
        archive; anything else needs ``force=True`` and is recorded as forced. The
        version that held ``to`` moves to the archive. ``expected``: as for `set_alias`."""
        return self._move(name, to, version, reason, op="transition", force=force,
                          expected=expected)  # fmt: skip

    # -- promotion and rollback ---------------------------------------------

    def promote(
        self,
        name: str,
        version: str,
        to: str,
        *,
        gate: Gate | None = None,
        reason: str = "",
        force: bool = False,
        expected: Any = _UNSET,
    ) -> Event:
        """Give ``version`` the alias or stage ``to`` only if ``gate`` passes.

        The gate compares the candidate with the current holder (see
        `MetricGate`); its evidence goes into the event. A refusal is
        recorded as a ``refused`` event and raises `PromotionRefusedError`
        with the scores. If another writer moves ``to`` meanwhile, the gate
        runs again against the new holder (or, with ``expected`` as for
        `set_alias`, the promotion is refused with `ConflictError`).
        """
        return self._move(name, to, version, reason, op="promote", force=force, gate=gate,
                          expected=expected)  # fmt: skip

    def rollback(
        self,
        name: str,
        slot: str,
        *,
        to: str | None = None,
        reason: str = "",
        expected: Any = _UNSET,
    ) -> Event:
        """Move an alias or stage back to the version it held before (or to ``to``, any
        version that held it earlier); an alias that was removed, or a stage that was
        emptied, returns to its last holder. A rollback is a new event; nothing is edited.
        ``expected``: as for `set_alias`."""
        name, config = registry_name(name), self.config
        validate_slot(slot, "alias or stage")
        kind: SlotKind = "stage" if slot in config.all_stages else "alias"
        target = self.version_id(name, to) if to is not None else None

        def choose(state: State) -> str:
            found = state.slot(kind, slot)
            previous = self._previous(name, state, found) if found else None
            if found is None or (found.holder is None and previous is None):
                raise InvalidArgumentError(f"{name!r} has no alias or stage {slot!r} to roll back")
            if target is None:
                if previous is None:
                    raise InvalidArgumentError(
                        f"{slot!r} of {name!r} has held only {found.holder}; "
                        "there is nothing to roll back to"
                    )
                return previous
            earlier = [v for v in found.past_holders() if v != found.holder]
            if target not in earlier:
                raise InvalidArgumentError(
                    f"{target} never held {slot!r} of {name!r} before (earlier holders: "
                    f"{', '.join(earlier) or 'none'}); use set_alias or transition to give it "
                    "a new version"
                )
            return target

        return self._move(name, slot, None, reason, op="rollback", force=True, choose=choose,
                          undo=target is None, config=config, expected=expected)  # fmt: skip

    def _version_of(self, name: str, version: str) -> str:
        """`version_id`, without reading the board for a full id the registry has recorded
        (the plan checks that version's data.txt against the record before using it)."""
        with self._lock:
            known = self._states.get(name)
            if known is not None and version in known.targets:
                return version
        return self.version_id(name, version)

    def _previous(self, name: str, state: State, slot: Slot) -> str | None:
        """What ``slot`` rolls back to; when that reaches further back than ``state`` keeps,
        the answer of the state replayed from every event up to the same one."""
        try:
            return slot.previous()
        except HistoryCut:
            full = self._chain(name).replay(lambda e: e.seq > state.seq)
            found = full.slot(slot.kind, slot.name)
            return found.previous() if found else None

    # -- the one write path -------------------------------------------------

    def _move(
        self,
        name: str,
        slot: str,
        version: str | None,
        reason: str,
        *,
        op: str,
        force: bool = False,
        gate: Gate | None = None,
        choose: Callable[[State], str] | None = None,
        undo: bool = False,
        config: Config | None = None,
        expected: Any = _UNSET,
    ) -> Event:
        name = registry_name(name)
        config = config or self.config
        kind = self._slot_kind(name, slot, op, config)
        fixed = self._version_of(name, version) if version is not None else None
        targets: dict[str, Any] = {}
        refusal: list[GateResult] = []

        def plan(state: State) -> dict[str, Any]:
            if expected is not _UNSET:
                _check_expected(state, kind, slot, expected)
            chosen = choose(state) if choose is not None else fixed
            assert chosen is not None
            if chosen not in targets:
                recorded = state.targets.get(chosen)
                if recorded is not None:
                    self._check_target(name, recorded, f"{name}:{chosen}")
                    targets[chosen] = recorded
                else:
                    targets[chosen] = self.fingerprint(name, self.board.pin_meta(name, chosen))
            current = state.slot(kind, slot)
            holder = current.holder if current else None
            if holder == chosen and op in ("set_alias", "promote"):
                raise _Unchanged(state.setters[f"{kind}:{slot}"])
            fields = self._fields(op, name, reason, config, slot=slot, kind=kind,
                                  target=targets[chosen], previous=holder)  # fmt: skip
            if kind == "stage":
                fields.update(self._stage_fields(state, config, chosen, slot, holder, force))
                fields["forced"] = fields["forced"] and op != "rollback"
            if undo:
                fields["extra"] = {**fields.get("extra", {}), "undo": True}
            if gate is not None:
                result = run_gate(gate, GateContext(self.board, name, slot, chosen, holder))
                fields["gate"] = {**result.evidence, "passed": result.passed,
                                  "message": result.message}  # fmt: skip
                if not result.passed:
                    refusal[:] = [result]
                    fields.update(op="refused", previous=holder, displaced=None)
            return fields

        chain = self._chain(name)
        try:
            committed = self._append(chain, plan)
        except _Unchanged as unchanged:
            found = chain.read(unchanged.seq)
            assert found is not None
            log.info("%s: %r already holds %s; nothing recorded", name, slot, found[0].version)
            return found[0]
        self._after(committed.event)
        if committed.event.op == "refused":
            result = refusal[0]
            raise PromotionRefusedError(
                f"promotion of {name}:{committed.event.version} to {slot!r} refused: "
                f"{result.message}. Recorded as event {committed.event.seq}.",
                evidence=dict(result.evidence),
            )
        return committed.event

    def _slot_kind(self, name: str, slot: str, op: str, config: Config) -> SlotKind:
        """Whether ``slot`` is an alias or a stage, refusing the wrong one for ``op``."""
        kind: SlotKind = "stage" if slot in config.all_stages else "alias"
        if kind == "alias":
            self._alias_name(slot, config)
        elif op == "set_alias":
            raise InvalidNameError(
                f"{slot!r} is a stage of this board ({' -> '.join(config.all_stages)}), not "
                f"an alias: use transition({name!r}, version, to={slot!r})"
            )
        if op == "transition" and kind != "stage":
            raise InvalidArgumentError(
                f"{slot!r} is not a stage of this board; its stages are "
                f"{' -> '.join(config.all_stages)} (configure them with registry.configure)"
            )
        return kind

    def _stage_fields(
        self, state: State, config: Config, version: str, to: str, holder: str | None, force: bool
    ) -> dict[str, Any]:
        current = state.version_stage.get(version)
        if current == to:
            raise InvalidArgumentError(f"version {version} is already in stage {to!r}")
        order = config.stages
        next_index = order.index(current) + 1 if current in order else 0
        allowed = to == config.archive or (to in order and order.index(to) == next_index)
        if not allowed and not force:
            expected = (
                order[order.index(current) + 1]
                if current in order and order.index(current) + 1 < len(order)
                else None
            )
            nxt = f"{expected!r} or the archive" if expected else "the archive"
            if current is None:
                nxt = f"{order[0]!r}"
            raise StageOrderError(
                f"version {version} is in stage {current or 'none'}; the order is "
                f"{' -> '.join(config.all_stages)}, so it can move to {nxt} next. Pass "
                f"force=True to move it to {to!r} anyway (recorded as forced)."
            )
        displaced = holder if to != config.archive and holder not in (None, version) else None
        return {"from_stage": current, "displaced": displaced, "forced": not allowed,
                "extra": {"archive": config.archive} if config.archive else {}}  # fmt: skip

    def _fields(
        self, op: str, name: str, reason: str, settings: Config, **more: Any
    ) -> dict[str, Any]:
        if not isinstance(reason, str):
            raise InvalidArgumentError(f"reason must be text, got {reason!r}")
        if settings.require_reason and not reason.strip() and op != "configure":
            raise InvalidArgumentError(
                f"this board requires a reason for every registry change: pass reason='...' "
                f"(saying why {name!r} changes)"
            )
        return {"op": op, "actor": self.user, "reason": reason, **more}

    @staticmethod
    def _alias_name(alias: str, config: Config) -> str:
        validate_slot(alias, "alias")
        if alias in config.all_stages:
            raise InvalidNameError(
                f"{alias!r} is a stage of this board ({' -> '.join(config.all_stages)}), so it "
                "cannot be an alias; choose another alias name or use transition()"
            )
        return alias

    def _after(self, event: Event) -> None:
        if self.hooks:
            run_hooks(self.hooks, event, self.board.store.url)


BOARD_NAME = ".board"


class _Unchanged(Exception):  # noqa: N818 - a signal, not an error
    """The slot already holds the version: no event is written (``seq`` set it)."""

    def __init__(self, seq: int) -> None:
        self.seq = seq


def _check_expected(state: State, kind: SlotKind, slot: str, expected: str | None) -> None:
    """`ConflictError` unless ``slot`` holds ``expected`` (None: nothing) in ``state``."""
    held = state.slot(kind, slot)
    now = held.holder if held else None
    if now != expected:
        raise ConflictError(
            f"{slot!r} of {state.name!r} holds {now or 'nothing'}, not {expected or 'nothing'} "
            f"as expected: it moved (the newest event is {state.seq}); nothing was recorded. "
            "Look again, then retry"
        )


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"
