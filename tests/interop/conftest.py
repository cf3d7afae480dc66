"""Fixtures for the interop tests: private copies of the golden boards."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ._support import PINS_PYTHON_BOARD, R_PINS_BOARD, tree_digest


@pytest.fixture(scope="session", autouse=True)
def _golden_boards_untouched():
    """Fail the session if any test modified the golden fixture folders."""
    before = {b: tree_digest(b) for b in (PINS_PYTHON_BOARD, R_PINS_BOARD)}
    yield
    for board, digest in before.items():
        assert tree_digest(board) == digest, f"a test modified the golden board {board}"


@pytest.fixture
def pins_python_copy(tmp_path: Path) -> Path:
    """A private copy of tests/data/pins_python_board."""
    return Path(shutil.copytree(PINS_PYTHON_BOARD, tmp_path / "pins_python_board"))


@pytest.fixture
def r_board_copy(tmp_path: Path) -> Path:
    """A private copy of tests/data/r_pins_board."""
    return Path(shutil.copytree(R_PINS_BOARD, tmp_path / "r_pins_board"))
