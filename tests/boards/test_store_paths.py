"""The stores' second line of defence: a path that could leave the root is refused,
whatever the caller (the names reaching it are checked before, at the public boundary)."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path
from typing import Any

import fsspec
import pytest

import pinyard
from pinyard import errors
from pinyard.boards._local import LocalStore
from pinyard.boards._memory import MemoryStore
from pinyard.boards._remote import RemoteStore
from pinyard.tracking import Tracker

BAD_PATHS = ["../x", "pins/../../x", "/etc/passwd", "a//b", "a/./b", "a/", "a\\b", "a\x00b"]


def _stores(tmp_path: Path) -> list[Any]:
    local = LocalStore(tmp_path / "root", tmp_path / "root" / "staging")
    remote = RemoteStore(fsspec.filesystem("memory"), "bucket/root", staging_prefix="staging")
    return [local, MemoryStore(), remote]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_every_store_refuses_a_path_that_could_leave_its_root(tmp_path: Path, path: str) -> None:
    for store in _stores(tmp_path):
        write = functools.partial(store.write_exclusive, data=b"x")
        for call in (store.read_bytes, store.exists, store.list_dir, store.delete_file,
                     store.delete_tree, write):  # fmt: skip
            with pytest.raises(errors.InvalidNameError, match="refusing store path") as info:
                call(path)
            assert repr(path) in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_staging_refuses_a_file_name_with_a_separator(tmp_path: Path) -> None:
    for store in _stores(tmp_path):
        staging = store.new_staging("pins/p")
        try:
            with pytest.raises(errors.InvalidNameError, match="staged file name"):
                staging.open_sink("../evil").__enter__()
        finally:
            staging.discard()
    assert not list(tmp_path.rglob("evil"))


def test_a_symlink_out_of_the_root_is_not_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "board"
    board = pinyard.board_folder(root, create=True)
    (root / "runs").symlink_to(outside, target_is_directory=True)
    with pytest.raises(errors.InvalidNameError, match="outside the board's root"):
        Tracker(board, "sweep").start_run()
    if (root / "pins").exists():
        (root / "pins").rmdir()
    (root / "pins").symlink_to(outside, target_is_directory=True)
    with pytest.raises(errors.InvalidNameError, match="symbolic link"):
        board.pin_write({"k": 1}, "obj")
    assert list(outside.iterdir()) == []


def test_a_board_whose_root_is_a_symlink_still_works(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    board = pinyard.board_folder(tmp_path / "link" / "board", create=True)
    board.pin_write({"k": 1}, "obj")
    with Tracker(board, "sweep").start_run() as run:
        run.log_metric("m", 1.0)
    assert board.pin_read("obj") == {"k": 1}
    assert Tracker(board, "sweep").get_run(run.run_id).metrics == {"m": 1.0}


def test_listed_entries_that_are_not_plain_names_are_skipped(tmp_path: Path) -> None:
    """pins on Linux may write a pin named 'a\\b'; listing and gc step over it."""
    board = pinyard.board_folder(tmp_path / "board", create=True)
    board.pin_write({"k": 1}, "modern")
    pins = tmp_path / "board" / "pins"
    shutil.copytree(pins / "modern", pins / "a\\b")
    (tmp_path / "board" / "staging" / "x\\y").mkdir(parents=True)
    assert board.pin_list() == ["modern"]
    assert board.gc().staging == []
    with pytest.raises(errors.InvalidNameError, match="separator"):
        board.pin_read("a\\b")
