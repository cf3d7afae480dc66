"""A folder board with four versions of pin ``m``, and its registry."""

from __future__ import annotations

from pathlib import Path

import pytest

import pinyard
from pinyard.registry import Registry


def write_versions(board: pinyard.Board, name: str = "m", count: int = 4) -> list[str]:
    """``count`` new versions of ``name`` (JSON), oldest first."""
    return [
        board.pin_write({"v": i}, name, type="json", force_identical_write=True).version
        for i in range(count)
    ]


@pytest.fixture
def board(tmp_path: Path) -> pinyard.Board:
    return pinyard.board_folder(tmp_path / "board")


@pytest.fixture
def versions(board: pinyard.Board) -> list[str]:
    return write_versions(board)


@pytest.fixture
def registry(board: pinyard.Board) -> Registry:
    return Registry(board, user="ana")
