"""Aliases, stages and rollback: what each call records and what state follows."""

from __future__ import annotations

import pytest

import pinyard
from pinyard import errors
from pinyard.registry import Registry


def test_an_alias_moves_and_every_change_is_an_event(
    registry: Registry, versions: list[str]
) -> None:
    v0, v1 = versions[:2]
    first = registry.set_alias("m", "champion", v0, reason="first")
    moved = registry.set_alias("m", "champion", v1, reason="better")
    assert (first.seq, first.op, first.previous) == (1, "set_alias", None)
    assert (moved.seq, moved.previous, moved.reason, moved.actor) == (2, v0, "better", "ana")
    assert moved.prev is not None  # the chain: it names event 1's sha256
    assert registry.aliases("m") == {"champion": v1}
    removed = registry.remove_alias("m", "champion", reason="retired")
    assert (removed.op, removed.previous, removed.version) == ("remove_alias", v1, None)
    assert registry.aliases("m") == {}


def test_setting_an_alias_to_its_holder_writes_nothing(
    registry: Registry, versions: list[str]
) -> None:
    first = registry.set_alias("m", "champion", versions[0])
    again = registry.set_alias("m", "champion", versions[0][-5:])  # by its hash
    assert again == first
    assert len(registry.history("m")) == 1


def test_stages_follow_the_order_and_displace_to_the_archive(
    registry: Registry, versions: list[str]
) -> None:
    v0, v1 = versions[:2]
    registry.transition("m", v0, "staging")
    registry.transition("m", v0, "production")
    registry.transition("m", v1, "staging")
    event = registry.transition("m", v1, "production")
    assert (event.from_stage, event.displaced, event.forced) == ("staging", v0, False)
    assert registry.stages("m") == {"production": v1}
    assert registry.state("m").archived == [v0]


def test_a_forced_transition_is_recorded_as_forced(
    registry: Registry, versions: list[str]
) -> None:
    event = registry.transition("m", versions[0], "production", force=True, reason="hotfix")
    assert event.forced is True
    assert registry.history("m", as_df=True)["forced"].tolist() == [True]
    assert registry.transition("m", versions[0], "archived").forced is False


def test_rollback_walks_back_and_to_names_an_earlier_holder(
    registry: Registry, versions: list[str]
) -> None:
    v0, v1, v2 = versions[:3]
    for version in (v0, v1, v2):
        registry.set_alias("m", "champion", version)
    assert registry.rollback("m", "champion").version == v1
    assert registry.rollback("m", "champion").version == v0
    with pytest.raises(errors.InvalidArgumentError, match="nothing to roll back to"):
        registry.rollback("m", "champion")
    event = registry.rollback("m", "champion", to=v2)
    assert (event.op, event.version, event.previous) == ("rollback", v2, v0)
    assert registry.rollback("m", "champion").version == v0  # to= pushes, so this undoes it
    assert [e.op for e in registry.history("m")][-4:] == ["rollback"] * 4


def test_the_documented_rollback_example(registry: Registry, versions: list[str]) -> None:
    """docs/registry.md, "Rolling back", step by step."""
    v1, v2 = versions[:2]
    registry.set_alias("m", "champion", v1)
    registry.set_alias("m", "champion", v2)
    registry.rollback("m", "champion")
    registry.rollback("m", "champion", to=v2)
    assert registry.rollback("m", "champion").version == v1
    registry.transition("m", v1, "staging")
    registry.transition("m", v1, "production")
    registry.transition("m", v2, "staging")
    registry.transition("m", v2, "production")  # v1 goes to the archive
    registry.rollback("m", "production", reason="drill")
    assert registry.stages("m") == {"production": v1}
    assert registry.state("m").archived == [v2]


def test_rollback_never_returns_to_the_version_the_slot_holds(
    registry: Registry, versions: list[str]
) -> None:
    """Found by the state machine: after set v0, remove, set v0 the "previous holder" was
    v0 itself, and rollback recorded an event that changed nothing."""
    v0, v1 = versions[:2]
    registry.set_alias("m", "champion", v0)
    registry.remove_alias("m", "champion")
    registry.set_alias("m", "champion", v0)
    with pytest.raises(errors.InvalidArgumentError, match="nothing to roll back to"):
        registry.rollback("m", "champion")
    registry.set_alias("m", "champion", v1)
    registry.remove_alias("m", "champion")
    registry.set_alias("m", "champion", v1)
    assert registry.rollback("m", "champion").version == v0
    with pytest.raises(errors.InvalidArgumentError, match="nothing to roll back to"):
        registry.rollback("m", "champion")


def test_a_stage_the_version_reentered_is_no_step_back(
    registry: Registry, versions: list[str]
) -> None:
    """The stage form of the same: staging held v0, lost it, held it again."""
    v0 = versions[0]
    registry.transition("m", v0, "staging")
    registry.transition("m", v0, "archived")
    registry.transition("m", v0, "staging")
    with pytest.raises(errors.InvalidArgumentError, match="nothing to roll back to"):
        registry.rollback("m", "staging")
    assert len(registry.history("m")) == 3


def test_archived_versions_are_listed_and_not_resolvable_as_one(
    registry: Registry, versions: list[str]
) -> None:
    registry.transition("m", versions[0], "archived")
    registry.transition("m", versions[1], "archived")
    assert registry.state("m").archived == sorted(versions[:2])
    with pytest.raises(errors.InvalidReferenceError, match="holds many versions"):
        registry.resolve("m@archived")


def test_configure_is_an_event_of_the_board_and_changes_the_stages(
    registry: Registry, versions: list[str]
) -> None:
    config = registry.configure(stages=["dev", "staging", "production"], reason="dev first")
    assert config.all_stages == ("dev", "staging", "production", "archived")
    assert registry.config == config
    assert [e.op for e in registry._board_chain().events()] == ["configure"]
    with pytest.raises(errors.StageOrderError, match="'dev'"):
        registry.transition("m", versions[0], "staging")
    registry.transition("m", versions[0], "dev")
    assert registry.stages("m") == {"dev": versions[0]}
    # another process sees the same settings
    again = Registry(pinyard.board_folder(registry.board.store.url))
    assert again.config == config


def test_replay_without_the_snapshot_gives_the_same_state(
    registry: Registry, board: pinyard.Board, versions: list[str]
) -> None:
    registry.set_alias("m", "champion", versions[1])
    registry.transition("m", versions[0], "staging")
    before = registry.state("m").to_dict()
    board.store.delete_file("registry/m/state.json")
    assert registry.state("m").to_dict() == before
    assert registry.resolve("m@champion").version == versions[1]
    registry.set_alias("m", "canary", versions[2])  # the next event writes it again
    assert board.store.exists("registry/m/state.json")


def test_rollback_restores_a_removed_alias(registry: Registry, versions: list[str]) -> None:
    """docs/registry.md: "remove_alias removes it (a later rollback can restore it)". Found
    by the state machine: rollback refused an alias without a holder."""
    v0, v1 = versions[:2]
    registry.set_alias("m", "champion", v0)
    registry.set_alias("m", "champion", v1)
    registry.remove_alias("m", "champion", reason="incident")
    event = registry.rollback("m", "champion", reason="incident over")
    assert (event.version, event.previous) == (v1, None)
    assert registry.aliases("m") == {"champion": v1}
    assert registry.rollback("m", "champion").version == v0  # and further back from there


def test_rollback_refills_a_stage_its_holder_left(registry: Registry, versions: list[str]) -> None:
    v0 = versions[0]
    registry.transition("m", v0, "staging")
    registry.transition("m", v0, "production")
    registry.transition("m", v0, "archived", reason="pulled")
    assert registry.stages("m") == {}
    event = registry.rollback("m", "production", reason="put it back")
    assert (event.version, event.from_stage, event.forced) == (v0, "archived", False)
    assert registry.stages("m") == {"production": v0}
    assert registry.state("m").archived == []


def test_rollback_of_a_slot_that_never_held_anything(
    registry: Registry, versions: list[str]
) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="no alias or stage 'champion'"):
        registry.rollback("m", "champion")
    with pytest.raises(errors.InvalidArgumentError, match="no alias or stage 'production'"):
        registry.rollback("m", "production", to=versions[0])


def test_a_stage_named_like_a_removed_alias_resolves_and_rolls_back(
    registry: Registry, versions: list[str]
) -> None:
    """The alias canary, removed, leaves its slot in the state; a stage canary configured
    afterwards must be what m@canary means. Found by the state machine: resolve and
    rollback both looked at the empty alias first."""
    v0, v1, v2 = versions[:3]
    registry.set_alias("m", "canary", v0)
    registry.remove_alias("m", "canary")
    registry.configure(stages=["staging", "canary", "production"])
    for version in (v1, v2):
        registry.transition("m", version, "staging")
        registry.transition("m", version, "canary")
    assert registry.resolve("m@canary").version == v2
    assert registry.rollback("m", "canary").version == v1
    assert registry.resolve("m@canary").version == v1
    # what canary meant back then, it still means at that time
    alias_time = registry.history("m")[0].time  # type: ignore[union-attr]
    assert registry.resolve("m@canary", as_of=alias_time).version == v0


def test_expected_makes_each_change_conditional_on_the_holder(
    registry: Registry, versions: list[str]
) -> None:
    v0, v1, v2, _ = versions
    registry.set_alias("m", "champion", v0, expected=None)  # nothing held it: as expected
    with pytest.raises(errors.ConflictError, match=r"'champion' of 'm' holds .*-\w{5}, not "):
        registry.set_alias("m", "champion", v1, expected=v2)
    registry.set_alias("m", "champion", v1, expected=v0)
    with pytest.raises(errors.ConflictError, match="as expected"):
        registry.rollback("m", "champion", expected=v0)
    assert registry.rollback("m", "champion", expected=v1).version == v0
    registry.transition("m", v2, "staging", expected=None)
    with pytest.raises(errors.ConflictError, match="holds nothing, not"):
        registry.promote("m", v2, "production", expected=v1)
    registry.promote("m", v2, "production", expected=None)
    ops = [e.op for e in registry.history("m")]  # type: ignore[union-attr]
    assert ops == ["set_alias", "set_alias", "rollback", "transition", "promote"]
