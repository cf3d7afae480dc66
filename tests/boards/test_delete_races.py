"""Two processes deleting the same version folder at once (two prunes of one pin): the
one that finds it gone treats absent as done, as `Store.delete_tree` promises."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pinyard
from pinyard.boards._local import LocalStore


def test_delete_tree_of_a_folder_another_process_just_moved_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = pinyard.board_folder(tmp_path / "b", create=True)
    old = board.pin_write({"k": 0}, "obj", type="json").version
    board.pin_write({"k": 1}, "obj", type="json")
    store = board.store
    assert isinstance(store, LocalStore)
    target = tmp_path / "b" / "pins" / "obj" / old
    real_rename = os.rename

    def rival_first(src: str, dst: str) -> None:
        if Path(src) == target:  # the other prune moves it to its own trash first
            real_rename(src, str(tmp_path / "rivals-trash"))
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rival_first)
    store.delete_tree(f"pins/obj/{old}")  # no error: it is gone, which was the point
    monkeypatch.undo()
    assert not target.exists()
    assert [v.version for v in board.pin_versions("obj", as_df=False)] != [old]


def test_two_prunes_of_one_pin_both_succeed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = pinyard.board_folder(tmp_path / "b", create=True)
    for k in range(4):
        board.pin_write({"k": k}, "obj", type="json")
    rival = pinyard.board_folder(tmp_path / "b")
    real_delete = LocalStore.delete_tree
    raced: list[str] = []

    def delete_after_rival(self: LocalStore, path: str) -> None:
        if not raced:  # the rival prune runs to its end while ours is about to delete
            raced.append(path)
            monkeypatch.setattr(LocalStore, "delete_tree", real_delete)
            rival.pin_versions_prune("obj", n=1)
        real_delete(self, path)

    monkeypatch.setattr(LocalStore, "delete_tree", delete_after_rival)
    board.pin_versions_prune("obj", n=1)
    assert raced
    assert len(board.pin_versions("obj", as_df=False)) == 1
    assert board.pin_read("obj") == {"k": 3}
