"""state.json formats: pinyard writes format 3 (its digest over the bytes before it) and
still reads formats 1 and 2 (their digest over the document re-encoded with sorted keys),
and refuses any of them once edited, replaying the events instead."""

from __future__ import annotations

import json
import logging

import pytest

import pinyard
from pinyard.registry import Registry
from pinyard.registry._chain import SNAPSHOT_FORMAT, _digest, snapshot_bytes
from tests.registry.conftest import write_versions

SNAPSHOT = "registry/m/state.json"
NOT_USABLE = "is not usable"


def old_layout(raw: bytes, fmt: int) -> bytes:
    """The snapshot as formats 1 and 2 were written."""
    doc = json.loads(raw)
    doc.pop("digest")
    doc["format"] = fmt
    doc["digest"] = _digest(doc)
    return json.dumps(doc).encode()


@pytest.fixture
def written(board: pinyard.Board) -> tuple[pinyard.Board, list[str]]:
    versions = write_versions(board, count=3)
    registry = Registry(board, user="ana")
    for version in (versions[0], versions[1], versions[2], versions[1]):
        registry.set_alias("m", "champion", version, reason="move")
    return board, versions


def test_the_snapshot_written_is_format_3_sealed_over_its_bytes(
    written: tuple[pinyard.Board, list[str]],
) -> None:
    board, _ = written
    raw = board.store.read_bytes(SNAPSHOT)
    doc = json.loads(raw)
    assert doc["format"] == SNAPSHOT_FORMAT == 3
    assert list(doc)[-1] == "digest"
    state = Registry(board).state("m")
    assert raw == snapshot_bytes(state)


@pytest.mark.parametrize("fmt", [1, 2])
def test_old_formats_are_read_without_a_replay(
    written: tuple[pinyard.Board, list[str]], fmt: int, caplog: pytest.LogCaptureFixture
) -> None:
    board, versions = written
    board.store.replace_small(SNAPSHOT, old_layout(board.store.read_bytes(SNAPSHOT), fmt))
    with caplog.at_level(logging.WARNING, logger="pinyard.registry"):
        assert Registry(board).resolve("m@champion").version == versions[1]
    assert NOT_USABLE not in caplog.text


@pytest.mark.parametrize("fmt", [1, 2, 3])
def test_an_edited_snapshot_of_any_format_is_refused_and_the_events_replayed(
    written: tuple[pinyard.Board, list[str]], fmt: int, caplog: pytest.LogCaptureFixture
) -> None:
    board, versions = written
    raw = board.store.read_bytes(SNAPSHOT)
    if fmt != 3:
        raw = old_layout(raw, fmt)
    doc = json.loads(raw)
    edited = raw.replace(versions[1].encode(), versions[0].encode())
    assert doc["aliases"]["champion"] == versions[1]
    assert edited != raw
    board.store.replace_small(SNAPSHOT, edited)
    with caplog.at_level(logging.WARNING, logger="pinyard.registry"):
        assert Registry(board).resolve("m@champion").version == versions[1]
    assert NOT_USABLE in caplog.text


def test_a_format_3_document_with_an_old_style_digest_is_refused(
    written: tuple[pinyard.Board, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    board, versions = written
    doc = json.loads(board.store.read_bytes(SNAPSHOT))
    doc.pop("digest")
    doc["digest"] = _digest(doc)  # self-consistent, but not how format 3 is sealed
    board.store.replace_small(SNAPSHOT, json.dumps(doc).encode())
    with caplog.at_level(logging.WARNING, logger="pinyard.registry"):
        assert Registry(board).resolve("m@champion").version == versions[1]
    assert NOT_USABLE in caplog.text
