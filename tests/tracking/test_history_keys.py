"""`Tracker.history(run, key)` refuses a key no run can have, as `log_metric` does."""

from __future__ import annotations

import pytest

import pinyard
from pinyard import errors


@pytest.mark.parametrize("key", ["\ud800", "a\x00b", "../x", ""])
def test_history_refuses_a_key_no_run_can_have(key: str) -> None:
    board = pinyard.board_memory()
    tracker = pinyard.Tracker(board, "exp")
    with tracker.start_run() as run:
        run.log_metric("loss", 1.0, step=0)
    with pytest.raises(errors.InvalidNameError, match="metric key"):
        tracker.history(run.run_id, key)
    assert list(tracker.history(run.run_id, "loss")["value"]) == [1.0]
