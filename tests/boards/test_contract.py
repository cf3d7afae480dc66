"""The board contract suite on the in-memory and local-folder backends."""

from __future__ import annotations

from pathlib import Path

import pinyard
from pinyard.boards._memory import MemoryStore
from pinyard.testing import BoardTests


class TestMemoryBoard(BoardTests):
    def make_board(self, tmp_path: Path) -> pinyard.Board:
        return pinyard.board_memory()

    def overwrite(self, board: pinyard.Board, path: str, data: bytes) -> None:
        assert isinstance(board.store, MemoryStore)
        board.store.corrupt(path, data)


class TestFolderBoard(BoardTests):
    def make_board(self, tmp_path: Path) -> pinyard.Board:
        return pinyard.board_folder(tmp_path / "board")

    def overwrite(self, board: pinyard.Board, path: str, data: bytes) -> None:
        (tmp_path_of(board) / path).write_bytes(data)


def tmp_path_of(board: pinyard.Board) -> Path:
    local = board.store.local_path("")
    assert local is not None
    return Path(local)


class TestMemoryUrlBoard(BoardTests):
    """``board("memory://...")``: the URL form, one store per name."""

    def make_board(self, tmp_path: Path) -> pinyard.Board:
        return pinyard.board(f"memory://contract-{tmp_path.name}")

    def overwrite(self, board: pinyard.Board, path: str, data: bytes) -> None:
        assert isinstance(board.store, MemoryStore)
        board.store.corrupt(path, data)


class TestPinsFolderBoard(BoardTests):
    """`board_pins` on a folder: a plain pins board (pin folders at its root)."""

    def make_board(self, tmp_path: Path) -> pinyard.Board:
        (tmp_path / "pins-board").mkdir()
        return pinyard.board_pins(tmp_path / "pins-board")

    def overwrite(self, board: pinyard.Board, path: str, data: bytes) -> None:
        (tmp_path_of(board) / path).write_bytes(data)
