"""`Board.gc` looks under ``runs/``: artifacts no run refers to and series of runs that
never finished go once older than the cutoff; a live run's are never touched. The same
scenario runs on S3 in tests/backends/test_tracking_remote.py."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pinyard
from pinyard.tracking._run import SERIES_CHUNK_POINTS
from tests.tracking.processes import abandoned_run


def check_runs_gc(board: pinyard.Board, url: str, options: dict[str, Any]) -> None:
    """The scenario, on any pinyard board at ``url`` (``options``: its storage options)."""
    store = board.store
    tracker = pinyard.Tracker(board, "sweep")
    with tracker.start_run(params={"i": 0}) as finished:
        finished.log_metric("loss", 0.5, step=0)
        kept = finished.log_artifact(b"the finished run's model", name="model")
    orphan_bytes = b"an artifact whose run record was never written"
    orphan = f"runs/sweep/artifacts/{hashlib.sha256(orphan_bytes).hexdigest()}"
    store.write_exclusive(orphan, orphan_bytes)
    dead_run, dead_sha = abandoned_run(url, options)
    dead_artifact = f"runs/sweep/artifacts/{dead_sha}"
    dead_series = f"runs/sweep/series/{dead_run}"
    assert store.list_names(dead_series)

    fresh = board.gc(dry_run=True)  # the default cutoff (a day): all of it is too young
    assert (fresh.run_artifacts, fresh.run_series) == ([], [])
    dry = board.gc(older_than=timedelta(0), dry_run=True)
    assert sorted(dry.run_artifacts) == sorted([orphan, dead_artifact])
    assert dry.run_series == [dead_series]
    assert "2 unreferenced run artifact(s), 1 series of unfinished runs" in str(dry)
    assert store.exists(orphan)  # a dry run removes nothing

    done = board.gc(older_than=timedelta(0))
    assert sorted(done.run_artifacts) == sorted([orphan, dead_artifact])
    assert not store.exists(orphan)
    assert not store.exists(dead_artifact)
    assert store.list_names(dead_series) == []
    cold = pinyard.Tracker(board, "sweep")
    assert cold.artifact(finished.run_id, "model") == b"the finished run's model"
    assert list(cold.history(finished.run_id)["value"]) == [0.5]
    assert store.exists(f"runs/sweep/artifacts/{kept['sha256']}")

    live = tracker.start_run(params={"i": 1})  # never touched, whatever the cutoff
    entry = live.log_artifact(b"a live run's checkpoint", name="ckpt")
    for step in range(SERIES_CHUNK_POINTS):
        live.log_metric("loss", 1.0, step=step)
    assert store.list_names(f"runs/sweep/series/{live.run_id}")
    during = board.gc(older_than=timedelta(0))
    assert (during.run_artifacts, during.run_series) == ([], [])
    live.end()
    ended = pinyard.Tracker(board, "sweep")
    assert ended.artifact(live.run_id, "ckpt") == b"a live run's checkpoint"
    assert len(ended.history(live.run_id)) == SERIES_CHUNK_POINTS
    assert store.exists(f"runs/sweep/artifacts/{entry['sha256']}")
    assert board.gc(older_than=timedelta(0)).run_artifacts == []


def test_gc_of_runs_on_a_folder_board(tmp_path: Path) -> None:
    board = pinyard.board_folder(tmp_path / "board")
    check_runs_gc(board, str(tmp_path / "board"), {})


def test_gc_of_runs_keeps_what_a_damaged_record_names(tmp_path: Path) -> None:
    """Records are scanned as bytes: one that no longer parses still protects its
    artifacts."""
    board = pinyard.board_folder(tmp_path / "board")
    tracker = pinyard.Tracker(board, "sweep")
    with tracker.start_run() as run:
        entry = run.log_artifact(b"bytes", name="blob")
    (record,) = (tmp_path / "board" / "runs" / "sweep" / "records").rglob("*.json")
    record.write_bytes(record.read_bytes()[:-40] + b"}")
    assert board.gc(older_than=timedelta(0)).run_artifacts == []
    assert board.store.exists(f"runs/sweep/artifacts/{entry['sha256']}")
