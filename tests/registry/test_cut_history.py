"""A state keeps only the newest changes of each alias or stage (`_state.KEEP`).

state.json, and so each write and each resolve, stays the same size however
long the history; what reaches further back (``as_of``, a long rollback)
replays the events and gives the answer the whole history gives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

import pinyard
from pinyard.registry import Registry, _state
from tests.registry.conftest import write_versions

SNAPSHOT = "registry/m/state.json"


@pytest.fixture
def keep_three() -> Iterator[None]:
    saved, _state.KEEP = _state.KEEP, 3
    yield
    _state.KEEP = saved


@pytest.mark.usefixtures("keep_three")
def test_as_of_before_the_kept_changes_replays_the_events(board: pinyard.Board) -> None:
    versions = write_versions(board, count=3)
    writer = Registry(board, user="ana")
    events = [writer.set_alias("m", "champion", versions[i % 3]) for i in range(10)]
    kept = json.loads(board.store.read_bytes(SNAPSHOT))["replay"]["slots"][0]
    assert kept["cut"] is True
    assert len(kept["timeline"]) == 3
    for reader in (writer, Registry(board)):
        for event in events:
            assert reader.resolve("m@champion", as_of=event.at).version == event.version


@pytest.mark.usefixtures("keep_three")
def test_rollback_past_the_kept_stack_walks_the_whole_history(board: pinyard.Board) -> None:
    versions = write_versions(board, count=6)
    registry = Registry(board, user="ana")
    for version in versions:
        registry.set_alias("m", "champion", version)
    # each rollback steps back one holder, past what the state kept
    for expected in reversed(versions[:-1]):
        assert Registry(board).rollback("m", "champion").version == expected
    with pytest.raises(pinyard.errors.InvalidArgumentError, match="nothing to roll back to"):
        registry.rollback("m", "champion")
    assert registry.rollback("m", "champion", to=versions[4]).version == versions[4]
    (report,) = registry.verify("m")
    assert report.ok, report.problems


def test_the_snapshot_does_not_grow_with_the_history(board: pinyard.Board) -> None:
    saved, _state.KEEP = _state.KEEP, 8
    try:
        versions = write_versions(board, count=2)
        registry = Registry(board, user="ana")
        sizes = []
        for moves in (40, 40):
            for i in range(moves):
                registry.set_alias("m", "champion", versions[i % 2])
            sizes.append(len(board.store.read_bytes(SNAPSHOT)))
    finally:
        _state.KEEP = saved
    assert sizes[1] - sizes[0] < 64  # only the numbers in it grow a digit, not its length
    assert Registry(board).state("m").seq == 80
