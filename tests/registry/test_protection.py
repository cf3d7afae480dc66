"""Protection: no process deletes a version an alias or a stage holds, registry API or not."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import pinyard
from pinyard import errors
from pinyard.registry import Registry
from tests.registry.conftest import write_versions


def run_plain_process(board: pinyard.Board, code: str, *args: str) -> dict[str, Any]:
    """Run ``code`` in a new Python that imports pinyard and opens the board, nothing of the
    registry (``sys.argv[2:]`` are ``args``); it prints a JSON result."""
    script = "import json, sys, pinyard\nboard = pinyard.board_folder(sys.argv[1])\n"
    done = subprocess.run(
        [sys.executable, "-c", script + textwrap.dedent(code), board.store.url, *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_process_that_never_used_the_registry_skips_held_versions_when_pruning(
    registry: Registry, board: pinyard.Board, versions: list[str]
) -> None:
    v0, v1, v2, v3 = versions
    registry.set_alias("m", "champion", v0)
    registry.transition("m", v1, "staging")
    registry.transition("m", v2, "archived")  # the archive protects nothing
    result = run_plain_process(
        board, "print(json.dumps({'deleted': board.pin_versions_prune('m', n=1)}))"
    )
    assert result == {"deleted": [v2]}
    listed = [v.version for v in board.pin_versions("m", as_df=False)]
    assert listed == [v0, v1, v3]


def test_a_process_that_never_used_the_registry_is_refused_a_held_version(
    registry: Registry, board: pinyard.Board, versions: list[str]
) -> None:
    registry.set_alias("m", "champion", versions[0])
    registry.set_alias("m", "canary", versions[0])
    registry.transition("m", versions[1], "staging")
    code = """
        from pinyard.errors import ProtectedVersionError
        refused = []
        for version in sys.argv[2:]:
            try:
                board.pin_version_delete('m', version)
            except ProtectedVersionError as exc:
                refused.append(str(exc))
        try:
            board.pin_delete('m')
        except ProtectedVersionError as exc:
            refused.append(str(exc))
        print(json.dumps({'refused': refused}))
    """
    refused = run_plain_process(board, code, *versions[:2])["refused"]
    assert len(refused) == 3
    assert f"version {versions[0]} is protected: alias @canary and alias @champion" in refused[0]
    assert "move them first" in refused[0]
    assert f"version {versions[1]} is protected: stage staging" in refused[1]
    assert "pin 'm' cannot be deleted" in refused[2]
    assert len(board.pin_versions("m", as_df=False)) == 4


def test_held_versions_are_refused_in_process_naming_the_holder(
    registry: Registry, board: pinyard.Board, versions: list[str]
) -> None:
    registry.transition("m", versions[0], "staging")
    registry.transition("m", versions[0], "production")
    with pytest.raises(errors.ProtectedVersionError, match="stage production of the registry"):
        board.pin_version_delete("m", versions[0])
    other = pinyard.board_folder(board.store.url)  # another Board object: the same hook
    with pytest.raises(errors.ProtectedVersionError, match="stage production"):
        other.pin_version_delete("m", versions[0])


def test_archived_and_released_versions_can_be_deleted(
    registry: Registry, board: pinyard.Board, versions: list[str]
) -> None:
    v0, v1 = versions[:2]
    registry.transition("m", v0, "staging")
    registry.transition("m", v0, "production")
    registry.transition("m", v1, "staging")
    registry.transition("m", v1, "production")  # v0 goes to the archive
    assert registry.state("m").archived == [v0]
    board.pin_version_delete("m", v0)
    registry.set_alias("m", "champion", versions[2])
    registry.remove_alias("m", "champion")
    board.pin_version_delete("m", versions[2])
    assert [v.version for v in board.pin_versions("m", as_df=False)] == [v1, versions[3]]
    # a rollback to a deleted version says so
    with pytest.raises(errors.VersionNotFoundError, match="no longer on the board"):
        registry.rollback("m", "production")


def test_a_name_whose_chain_is_broken_protects_all_its_versions(
    registry: Registry, board: pinyard.Board, versions: list[str]
) -> None:
    registry.set_alias("m", "champion", versions[0])
    registry.set_alias("m", "champion", versions[1])
    board.store.delete_file("registry/m/state.json")
    board.store.delete_file("registry/m/events/000000000001.json")
    with pytest.raises(errors.ProtectedVersionError, match="the registry of 'm' cannot be read"):
        board.pin_version_delete("m", versions[2])
    assert board.pin_versions_prune("m", n=1) == []


def test_pins_the_registry_does_not_name_are_pruned_as_before(
    registry: Registry, board: pinyard.Board, versions: list[str]
) -> None:
    registry.set_alias("m", "champion", versions[0])
    others = write_versions(board, "other", count=3)
    assert board.pin_versions_prune("other", n=1) == others[:2]
