"""Watching every name follows a name registered after the watch began from its first
event (it used to start such a name at its head, so its first changes were never seen)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pinyard
from pinyard.registry import Event


def test_watch_sees_the_first_events_of_a_new_name(tmp_path: Path) -> None:
    board = pinyard.board_folder(tmp_path / "b")
    old = board.pin_write({"k": 1}, "old").version
    new = board.pin_write({"k": 2}, "new").version
    registry = pinyard.Registry(board, user="tester")
    registry.set_alias("old", "a0", old)
    seen: list[Event] = []

    def watch() -> None:
        for event in pinyard.Registry(board).watch(interval=0.02, timeout=20):
            seen.append(event)
            if event.name == "new":
                return

    thread = threading.Thread(target=watch)
    thread.start()
    # Move the old name until the watcher reports a move: it is then past its first look.
    for i in range(1, 200):
        registry.set_alias("old", f"a{i}", old)
        time.sleep(0.05)
        if seen:
            break
    assert seen, "the watcher never reported an event of the name it was started on"
    registry.set_alias("new", "champion", new, reason="first registration")
    thread.join(timeout=30)
    assert not thread.is_alive()
    firsts = [(e.name, e.seq, e.slot) for e in seen if e.name == "new"]
    assert firsts == [("new", 1, "champion")]
