"""`compact(all_finished=True)`: every run that has ended goes into Parquet now, the current
hour's too, and nothing is hidden or held twice afterwards."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest

import pinyard
from pinyard.cli import main
from pinyard.tracking import Tracker

EXPERIMENT = "sweep"


@pytest.fixture
def board(tmp_path: Path) -> pinyard.Board:
    return pinyard.board_folder(tmp_path / "board")


@pytest.fixture(params=[None, 3], ids=["no checkpoints", "checkpoints"])
def checkpoint_after(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Tracker, "checkpoint_after", request.param)


def fresh(board: pinyard.Board) -> Tracker:
    """A new tracker on a new board object: nothing kept in memory."""
    root = board.store.local_path("")
    assert root is not None
    return Tracker(pinyard.board_folder(root), EXPERIMENT)


def log_runs(tracker: Tracker, first: int, count: int) -> list[str]:
    ids = []
    for i in range(first, first + count):
        with tracker.start_run(params={"i": i}, tags={"stage": "select"}) as run:
            run.log_metric("score", i / 10)
        ids.append(run.run_id)
    return ids


def segment_rows(board: pinyard.Board) -> Counter[str]:
    """How often each run id appears in the segments folder, read as a Parquet dataset."""
    folder = Path(board.store.local_path(f"runs/{EXPERIMENT}/segments") or "")
    if not folder.exists():
        return Counter()
    return Counter(ds.dataset(folder, format="parquet").to_table(["run_id"])["run_id"].to_pylist())


def same_runs(left: pd.DataFrame, right: pd.DataFrame) -> None:
    columns = sorted(set(left.columns) - {"duration_s"})
    pd.testing.assert_frame_equal(left[columns], right[columns], check_dtype=False)


def test_compact_leaves_the_current_hour_alone(
    board: pinyard.Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    half_past = datetime.now(UTC).replace(minute=30)  # no hour ends during the test
    monkeypatch.setattr(Tracker, "_now", lambda self: half_past)
    tracker = Tracker(board, EXPERIMENT)
    log_runs(tracker, 0, 3)
    assert tracker.compact() == []
    assert tracker.compact(grace=timedelta(0)) == []  # the hour is not over yet
    assert segment_rows(board) == Counter()


def reads_of(tracker: Tracker, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths a first query of ``tracker`` reads."""
    reads: list[str] = []
    real_read = Tracker._read

    def read(self: Tracker, rel: str) -> bytes:
        reads.append(rel)
        return real_read(self, rel)

    with monkeypatch.context() as patch:
        patch.setattr(Tracker, "_read", read)
        tracker.runs()
    return reads


def test_all_finished_puts_every_ended_run_in_parquet_now(
    board: pinyard.Board, checkpoint_after: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = Tracker(board, EXPERIMENT)
    ended = log_runs(tracker, 0, 5)
    running = tracker.start_run(params={"i": 99})
    before = tracker.runs()

    [name] = tracker.compact(all_finished=True)
    assert name.endswith(".parquet")
    assert "-open-" in name
    assert segment_rows(board) == Counter(ended)  # the running run is not in it
    for reader in (tracker, fresh(board)):
        same_runs(reader.runs(), before)
    assert tracker.compact(all_finished=True) == []  # nothing new has ended
    reads = reads_of(fresh(board), monkeypatch)
    assert not [r for r in reads if r.startswith("records/")]  # the segment holds them

    # Runs that end after it, in the same hour, are seen, and go into the next one.
    running.log_metric("score", -1.0)
    running.end()
    later = log_runs(tracker, 5, 2)
    for reader in (tracker, fresh(board)):
        frame = reader.runs().set_index("run_id")
        assert len(frame) == 8
        assert frame.loc[running.run_id, "status"] == "finished"
        assert reader.best_run("score").run_id == running.run_id
        assert len(reader.search("tags.stage = 'select' and metrics.score >= 0.5")) == 2
    assert len(tracker.compact(all_finished=True)) == 1
    assert segment_rows(board) == Counter([*ended, running.run_id, *later])
    same_runs(fresh(board).runs(), tracker.runs())


def test_a_covering_segment_leaves_out_what_all_finished_holds(
    board: pinyard.Board, checkpoint_after: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = Tracker(board, EXPERIMENT)
    real_now = Tracker._now
    monkeypatch.setattr(Tracker, "_now", lambda self: real_now(self) - timedelta(hours=3))
    early = log_runs(tracker, 0, 4)
    assert len(tracker.compact(all_finished=True)) == 1
    late = log_runs(tracker, 4, 3)  # same hour, after the open segment
    expected = tracker.runs()

    monkeypatch.setattr(Tracker, "_now", real_now)  # three hours on: that hour is over
    [covering] = tracker.compact()
    assert "-open-" not in covering
    assert segment_rows(board) == Counter([*early, *late])  # each run once
    for reader in (tracker, fresh(board)):
        same_runs(reader.runs(), expected)
    assert tracker.compact() == []
    assert tracker.compact(all_finished=True) == []


def test_a_covering_segment_of_runs_all_held_elsewhere_is_empty_and_still_covers(
    board: pinyard.Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = Tracker(board, EXPERIMENT)
    real_now = Tracker._now
    monkeypatch.setattr(Tracker, "_now", lambda self: real_now(self) - timedelta(hours=3))
    ids = log_runs(tracker, 0, 3)
    tracker.compact(all_finished=True)
    monkeypatch.setattr(Tracker, "_now", real_now)
    [covering] = tracker.compact()
    folder = Path(board.store.local_path(f"runs/{EXPERIMENT}/segments") or "")
    assert ds.dataset(folder / covering, format="parquet").count_rows() == 0
    assert segment_rows(board) == Counter(ids)
    assert sorted(fresh(board).runs()["run_id"]) == sorted(ids)


def test_cli_compact_all_finished(
    capsys: pytest.CaptureFixture[str], board: pinyard.Board
) -> None:
    ids = log_runs(Tracker(board, EXPERIMENT), 0, 2)
    root = str(board.store.local_path(""))
    assert main(["compact", root, EXPERIMENT]) == 0
    assert '"segments": []' in capsys.readouterr().out
    assert main(["compact", root, EXPERIMENT, "--all-finished"]) == 0
    assert "-open-" in capsys.readouterr().out
    assert segment_rows(board) == Counter(ids)
