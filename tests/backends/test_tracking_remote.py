"""Experiment tracking on object stores: the same records and queries as on a folder."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import pinyard
from pinyard.tracking import Tracker
from tests.backends.conftest import Bucket
from tests.tracking.test_runs_gc import check_runs_gc

BACKENDS = ["s3_bucket", "azure_container", "gcs_bucket"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_runs_queries_and_compaction_on_remote_boards(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket: Bucket = request.getfixturevalue(backend)
    board = pinyard.board(
        f"{bucket.url}/team", cache=pinyard.Cache(tmp_path / "cache"), **bucket.storage_options
    )
    tracker = pinyard.Tracker(board, "sweep")
    real_now = Tracker._now
    monkeypatch.setattr(Tracker, "_now", lambda self: real_now(self) - timedelta(hours=3))
    for lam in (0.1, 1.0, 10.0):
        with tracker.start_run(params={"lambda": lam}, seed=1) as run:
            run.log_metric("val_rmse", abs(lam - 1.0) + 1.0)
            run.log_artifact({"lambda": lam}, "config.json")
    monkeypatch.setattr(Tracker, "_now", real_now)
    assert len(tracker.compact()) == 1
    with tracker.start_run(params={"lambda": 100.0}) as late:
        late.log_metric("val_rmse", 9.0)
    reader = pinyard.Tracker(
        pinyard.board(
            f"{bucket.url}/team",
            cache=pinyard.Cache(tmp_path / "cache2"),
            **bucket.storage_options,
        ),
        "sweep",
    )
    frame = reader.runs()
    assert sorted(frame["params.lambda"]) == [0.1, 1.0, 10.0, 100.0]
    best = reader.best_run("val_rmse")
    assert best.params == {"lambda": 1.0}
    assert reader.artifact(best.run_id, "config.json") == b'{"lambda": 1.0}'
    assert len(reader.search("params.lambda >= 10 or metrics.val_rmse < 1.5")) == 3
    # ended runs leave no start record (decision 0010); deleting one that is gone is fine
    assert list(reader.board.store.walk_files("runs/sweep/started")) == []
    reader.board.store.delete_file("runs/sweep/started/none.json")
    running = reader.start_run(params={"lambda": 1000.0})
    assert len(list(reader.board.store.walk_files("runs/sweep/started"))) == 1
    assert reader.get_run(running.run_id).status == "running"


@pytest.mark.parametrize("backend", BACKENDS)
def test_checkpoints_on_remote_boards(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket: Bucket = request.getfixturevalue(backend)

    def open_tracker(cache: str) -> Tracker:
        board = pinyard.board(
            f"{bucket.url}/team", cache=pinyard.Cache(tmp_path / cache), **bucket.storage_options
        )
        return pinyard.Tracker(board, "ckpt")

    monkeypatch.setattr(Tracker, "checkpoint_after", 3)
    tracker = open_tracker("c1")
    for lam in range(4):
        with tracker.start_run(params={"lambda": lam}) as run:
            run.log_metric("val_rmse", 5.0 - lam)
    assert len(tracker.runs()) == 4  # read 4 records: writes a checkpoint
    with tracker.start_run(params={"lambda": 9}) as late:
        late.log_metric("val_rmse", 0.5)
    reader = open_tracker("c2")
    assert sorted(reader.runs()["params.lambda"]) == [0, 1, 2, 3, 9]
    assert reader.best_run("val_rmse").run_id == late.run_id
    names = reader.board.store.list_names("runs/ckpt/checkpoints")
    assert len(names) == 1
    [checkpoint] = reader.board.store.list_names(f"runs/ckpt/checkpoints/{names[0]}")
    assert checkpoint.startswith("00000004-")


@pytest.mark.parametrize("backend", ["s3_bucket", "azure_container"])
def test_gc_of_runs_on_remote_boards(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Unreferenced artifacts and series of runs that never finished go after the cutoff;
    a live run's stay (the scenario of tests/tracking/test_runs_gc.py)."""
    bucket: Bucket = request.getfixturevalue(backend)
    url = f"{bucket.url}/team"
    board = pinyard.board(url, cache=pinyard.Cache(tmp_path / "cache"), **bucket.storage_options)
    check_runs_gc(board, url, bucket.storage_options)
