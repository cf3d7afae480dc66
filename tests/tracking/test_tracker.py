"""Experiment tracking on a folder board: records, queries, compaction and bad input."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pinyard
from pinyard import errors
from pinyard.tracking import Tracker, _run
from tests.tracking.processes import RunningProcess


@pytest.fixture
def board(tmp_path: Path) -> pinyard.Board:
    return pinyard.board_folder(tmp_path / "board", allow_pickle_read=True)  # logged models


@pytest.fixture
def tracker(board: pinyard.Board) -> Tracker:
    return pinyard.Tracker(board, "sweep")


def test_a_run_records_what_it_used_and_measured(tracker: Tracker) -> None:
    data = pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]})
    with tracker.start_run(params={"lambda": 0.5}, tags={"team": "a"}, seed=7, data=data) as run:
        alpha = run.param("alpha", 1.0)  # a default the code used is recorded too
        run.log_metric("val_rmse", 1.25)
        run.set_tag("stage", "dev")
    assert alpha == 1.0
    record = tracker.get_run(run.run_id)
    assert record.status == "finished"
    assert record.params == {"lambda": 0.5, "alpha": 1.0}
    assert record.metrics == {"val_rmse": 1.25}
    assert record.tags == {"team": "a", "stage": "dev"}
    assert record.seed == 7
    assert record.duration_s is not None
    assert record.duration_s >= 0
    for key in ("user", "host", "python", "platform", "git_commit", "git_dirty", "pid"):
        assert key in record.context
    assert record.context["packages"]["pandas"] == pd.__version__
    assert record.context["packages"]["numpy"] == np.__version__
    same = pinyard.tracking._context.data_fingerprint(data.copy())
    assert record.data == same
    other = pinyard.tracking._context.data_fingerprint(data.assign(y=[3.0, 4.5]))
    assert other["sha256"] != same["sha256"]


def test_runs_table_has_mlflow_shape_and_keeps_param_types(tracker: Tracker) -> None:
    for value in (1, 1.0, "1"):
        with tracker.start_run(params={"x": value}) as run:
            run.log_metric("m", float("nan") if value == "1" else math.inf)
    frame = tracker.runs()
    assert {"run_id", "status", "start_time", "params.x", "metrics.m"} <= set(frame.columns)
    assert [type(v) for v in frame["params.x"]] == [int, float, str]
    assert math.isinf(frame["metrics.m"].iloc[0])
    assert math.isnan(frame["metrics.m"].iloc[2])
    assert list(tracker.search("params.x = '1'")["params.x"]) == ["1"]
    assert len(tracker.search("params.x = 1")) == 2  # 1 and 1.0 compare equal as numbers


def test_failed_and_killed_runs_are_recorded(tracker: Tracker) -> None:
    def fail(run: pinyard.tracking.Run) -> None:
        run.log_metric("partial", 0.5)
        _ = 1 / 0

    with pytest.raises(ZeroDivisionError), tracker.start_run(params={"k": 1}) as failed:
        fail(failed)
    with pytest.raises(KeyboardInterrupt), tracker.start_run() as killed:
        raise KeyboardInterrupt
    assert tracker.get_run(failed.run_id).status == "failed"
    assert "ZeroDivisionError" in (tracker.get_run(failed.run_id).error or "")
    assert tracker.get_run(failed.run_id).metrics == {"partial": 0.5}
    assert tracker.get_run(killed.run_id).status == "killed"


def test_a_process_killed_mid_run_shows_as_killed(board: pinyard.Board, tracker: Tracker) -> None:
    process = RunningProcess(board)
    run_id = process.run_id
    assert tracker.runs().set_index("run_id").loc[run_id, "status"] == "running"
    process.kill()
    assert tracker.runs().set_index("run_id").loc[run_id, "status"] == "killed"
    assert tracker.get_run(run_id).status == "killed"


def test_finished_runs_are_immutable_but_take_notes(tracker: Tracker) -> None:
    with tracker.start_run() as run:
        run.log_metric("m", 1.0)
    with pytest.raises(errors.RunStateError, match="immutable"):
        run.log_metric("m", 2.0)
    with pytest.raises(errors.RunStateError):
        run.log_param("p", 1)
    run.annotate("rerun with more data")
    tracker.note(run.run_id, "looks overfit")
    assert [n["text"] for n in tracker.notes(run.run_id)] == [
        "rerun with more data",
        "looks overfit",
    ]
    with pytest.raises(errors.RunNotFoundError):
        tracker.note("20990101T000000Z-00000000", "x")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda r: r.log_param("", 1), "it is empty"),
        (lambda r: r.log_param("a/b", 1), "separator"),
        (lambda r: r.log_metric("tab\tkey", 1.0), "control"),
        (lambda r: r.log_metric("m", "high"), "real number"),
        (lambda r: r.log_param("model", object()), "cannot be recorded"),
        (lambda r: r.log_metric("m", 1.0, step=1.5), "step"),
        (lambda r: r.log_artifact("/no/such/file"), "not an existing file"),
    ],
)
def test_bad_input_is_refused_clearly(tracker: Tracker, call: object, match: str) -> None:
    with tracker.start_run() as run, pytest.raises(errors.InvalidArgumentError, match=match):
        call(run)  # type: ignore[operator]
    assert tracker.get_run(run.run_id).status == "finished"


def test_params_are_used_once(tracker: Tracker) -> None:
    with tracker.start_run(params={"depth": 3, "grid": [1, 2], "opts": {"a": None}}) as run:
        run.log_param("depth", 3)  # the same value again is fine
        with pytest.raises(errors.InvalidArgumentError, match="already recorded"):
            run.log_param("depth", 3.0)
    assert tracker.get_run(run.run_id).params == {"depth": 3, "grid": [1, 2], "opts": {"a": None}}


def test_series_history_and_chunks(tracker: Tracker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_run, "SERIES_CHUNK_POINTS", 4)
    with tracker.start_run() as run:
        for step in range(10):
            run.log_metric("loss", 1 / (step + 1), step=step)
            run.log_metric("acc", step / 10, step=step)
    record = tracker.get_run(run.run_id)
    assert len(record.series) == 5  # 20 points in chunks of 4
    assert record.metrics["loss"] == pytest.approx(0.1)
    loss = tracker.history(run.run_id, "loss")
    assert list(loss["step"]) == list(range(10))
    assert loss["value"].iloc[0] == 1.0


def test_artifacts_are_stored_by_digest_and_verified(
    board: pinyard.Board, tracker: Tracker, tmp_path: Path
) -> None:
    report = tmp_path / "report.txt"
    report.write_text("all good")
    with tracker.start_run() as run:
        entry = run.log_artifact(report)
        run.log_artifact({"alpha": 1}, "config.json")
        run.log_artifact(np.arange(3), "weights")
    assert entry["name"] == "report.txt"
    assert tracker.artifact(run.run_id, "report.txt") == b"all good"
    assert json.loads(tracker.artifact(run.run_id, "config.json")) == {"alpha": 1}
    stored = tmp_path / "board" / "runs" / "sweep" / "artifacts" / entry["sha256"]
    stored.write_bytes(b"all bad!")
    with pytest.raises(errors.IntegrityError, match=entry["sha256"]):
        tracker.artifact(run.run_id, "report.txt")


def test_log_model_links_run_and_version_both_ways(board: pinyard.Board, tracker: Tracker) -> None:
    with tracker.start_run(params={"lambda": 1.0}, seed=3) as run:
        run.log_metric("rmse", 2.0)
        result = run.log_model({"coef": [0.1, 0.2]}, "ridge")
    assert tracker.get_run(run.run_id).models == [{"name": "ridge", "version": result.version}]
    lineage = board.pin_meta("ridge").lineage
    assert (lineage["run_id"], lineage["seed"], lineage["params"]) == (
        run.run_id,
        3,
        {"lambda": 1.0},
    )
    assert board.pin_read("ridge") == {"coef": [0.1, 0.2]}


def test_best_run_selects_on_one_metric_and_reports_another(tracker: Tracker) -> None:
    for lam, val, test in [(0.1, 2.0, 2.2), (1.0, 1.5, 1.9), (10.0, float("nan"), 1.0)]:
        with tracker.start_run(params={"lambda": lam}) as run:
            run.log_metrics({"val_rmse": val, "test_rmse": test})
    best = tracker.best_run("val_rmse")
    assert best.params == {"lambda": 1.0}
    assert best.metrics["test_rmse"] == 1.9  # reported, not selected on
    assert tracker.best_run("val_rmse", maximize=True).params == {"lambda": 0.1}
    assert tracker.best_run("val_rmse", where="params.lambda < 1").params == {"lambda": 0.1}
    with pytest.raises(errors.InvalidArgumentError, match=r"logged: test_rmse, val_rmse"):
        tracker.best_run("rmse")


def test_a_filter_on_a_tag_no_run_has_matches_nothing_and_raises_nothing(
    tracker: Tracker,
) -> None:
    for lam, rmse in ((0.5, 2.5), (1.0, 1.5), (2.0, 1.8)):
        with tracker.start_run(params={"lambda": lam}) as run:
            run.log_metric("val_rmse", rmse)
    where = "params.lambda >= 1 and (metrics.val_rmse < 2 or tags.stage = 'prod')"
    assert sorted(tracker.search(where)["params.lambda"]) == [1.0, 2.0]
    assert tracker.search("tags.stage = 'prod'").empty
    assert len(tracker.search("tags.stage is null")) == 3
    best = tracker.best_run("val_rmse", where="tags.stage is null or tags.stage = 'prod'")
    assert best.params == {"lambda": 1.0}
    with pytest.raises(errors.QueryError, match="unknown column 'stage'"):
        tracker.search("stage = 'prod'")  # not a params/metrics/tags column: a typo


def test_compaction_keeps_every_run_and_forms_a_parquet_dataset(
    board: pinyard.Board, tracker: Tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = pytest.importorskip("pyarrow.dataset")
    real_now = Tracker._now
    monkeypatch.setattr(Tracker, "_now", lambda self: real_now(self) - timedelta(hours=3))
    for i in range(30):
        with tracker.start_run(params={"i": i, "kind": "odd" if i % 2 else "even"}) as run:
            run.log_metric("score", i / 10)
    monkeypatch.setattr(Tracker, "_now", real_now)
    before = tracker.runs()
    written = tracker.compact()  # the runs' hour is older than now - grace - 1 hour
    assert len(written) == 1
    assert tracker.compact() == []  # nothing new to compact
    with pytest.raises(errors.InvalidArgumentError, match="negative"):
        tracker.compact(grace=timedelta(hours=-1))
    again = pinyard.Tracker(board, "sweep")  # a fresh reader
    after = again.runs()
    pd.testing.assert_frame_equal(
        before.drop(columns=["duration_s"]), after.drop(columns=["duration_s"]), check_dtype=False
    )
    with again.start_run(params={"i": 99}) as late:
        late.log_metric("score", 9.9)
    assert len(again.runs()) == 31
    folder = Path(board.store.local_path("runs/sweep/segments") or "")
    table = ds.dataset(folder, format="parquet").to_table()
    assert table.num_rows == 30
    assert {"run_id", "params.i", "metrics.score"} <= set(table.column_names)
    assert json.loads(table.column("params.i")[0].as_py()) in range(30)


def test_truncated_record_is_skipped_with_a_warning(
    board: pinyard.Board, tracker: Tracker, caplog: pytest.LogCaptureFixture
) -> None:
    with tracker.start_run() as good:
        good.log_metric("m", 1.0)
    with tracker.start_run() as bad:
        bad.log_metric("m", 2.0)
    root = Path(board.store.local_path("runs/sweep/records") or "")
    victim = next(root.rglob(f"{bad.run_id}.json"))
    victim.write_bytes(victim.read_bytes()[:30])
    with caplog.at_level(logging.WARNING, logger="pinyard"):
        frame = tracker.runs()
    assert bad.run_id in caplog.text
    assert "malformed" in caplog.text
    assert frame.set_index("run_id").loc[good.run_id, "status"] == "finished"
    with pytest.raises(errors.MetadataError, match=bad.run_id):
        tracker.get_run(bad.run_id)


def test_bad_experiment_and_seed(board: pinyard.Board) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="experiment name"):
        pinyard.Tracker(board, "../escape")
    with pytest.raises(errors.InvalidArgumentError, match="seed"):
        pinyard.Tracker(board, "ok").start_run(seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidArgumentError, match="data="):
        pinyard.Tracker(board, "ok").start_run(data="not data")


WRITER = textwrap.dedent(
    """
    import sys
    import pinyard
    tracker = pinyard.Tracker(pinyard.board_folder(sys.argv[1]), "sweep")
    for i in range(int(sys.argv[3])):
        with tracker.start_run(params={"writer": int(sys.argv[2]), "i": i}) as run:
            run.log_metric("score", i)
    """
)


def test_processes_logging_at_once_lose_nothing(board: pinyard.Board, tracker: Tracker) -> None:
    root = board.store.local_path("")
    assert root is not None
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, root, str(w), "25"]) for w in range(4)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * 4
    frame = tracker.runs()
    assert len(frame) == 100
    assert set(zip(frame["params.writer"], frame["params.i"], strict=True)) == {
        (w, i) for w in range(4) for i in range(25)
    }
    assert (frame["status"] == "finished").all()


def started_records(board: pinyard.Board) -> list[str]:
    return sorted(board.store.walk_files("runs/sweep/started"))


def test_a_start_record_lasts_while_the_run_runs(board: pinyard.Board, tracker: Tracker) -> None:
    """The final record supersedes the start record, which is then deleted: queries list
    only the runs still running."""
    running = tracker.start_run(params={"k": 1})
    with tracker.start_run(params={"k": 2}) as done:
        pass
    assert started_records(board) == [
        f"runs/sweep/started/{running.run_id[:11]}/{running.run_id}.json"
    ]
    statuses = tracker.runs().set_index("run_id")["status"]
    assert statuses.to_dict() == {running.run_id: "running", done.run_id: "finished"}
    running.end()
    assert started_records(board) == []
    assert pinyard.Tracker(board, "sweep").get_run(running.run_id).status == "finished"


def test_a_start_record_that_cannot_be_deleted_is_superseded(
    board: pinyard.Board,
    tracker: Tracker,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def refuse(path: str) -> None:
        raise PermissionError(f"no delete permission on {path}")

    monkeypatch.setattr(board.store, "delete_file", refuse)
    with (
        caplog.at_level(logging.INFO, logger="pinyard"),
        tracker.start_run(params={"k": 1}) as run,
    ):
        run.log_metric("m", 1.0)
    assert "start record of" in caplog.text
    assert len(started_records(board)) == 1  # kept, as boards written before 0010 keep them
    frame = pinyard.Tracker(board, "sweep").runs()
    assert frame[["run_id", "status"]].values.tolist() == [[run.run_id, "finished"]]
    assert pinyard.Tracker(board, "sweep").get_run(run.run_id).metrics == {"m": 1.0}


def end_on_first_touch(
    monkeypatch: pytest.MonkeyPatch,
    board: pinyard.Board,
    run: pinyard.tracking.Run,
    method: str,
    after: bool,
    marker: str = "/started/",
) -> list[object]:
    """Make the store's ``method`` end ``run`` (final record written, start record
    deleted) the first time it touches a path containing ``marker``, ``after`` or
    before its own work; returns a list that holds the final record once it did."""
    real = getattr(board.store, method)
    ended: list[object] = []

    def touch(path: str) -> object:
        if marker not in path or ended:
            return real(path)
        if not after:
            ended.append(run.end())
        result = real(path)
        if after:
            ended.append(run.end())
        return result

    monkeypatch.setattr(board.store, method, touch)
    return ended


def test_a_query_sees_a_run_that_ends_while_it_lists(
    board: pinyard.Board, tracker: Tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that ends (in a new hour folder) between the listings of one query is either
    running or finished in it, never missing: all start records are listed before the
    hour folders of the final records (listed here before the run's new folder exists)."""
    real_now = Tracker._now
    monkeypatch.setattr(Tracker, "_now", lambda self: real_now(self) - timedelta(hours=2))
    run = tracker.start_run(params={"k": 1})
    monkeypatch.setattr(Tracker, "_now", real_now)  # it ends in the current hour
    ended = end_on_first_touch(
        monkeypatch, board, run, "list_names", after=True, marker="sweep/records"
    )
    frame = pinyard.Tracker(board, "sweep").runs()
    assert ended
    assert frame[["run_id", "status"]].values.tolist() == [[run.run_id, "finished"]]


def test_a_query_reads_the_final_record_of_a_run_that_ends_after_it_listed(
    board: pinyard.Board, tracker: Tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listed as running, its start record gone before it is read: the final record is
    read instead."""
    run = tracker.start_run(params={"k": 1})
    ended = end_on_first_touch(monkeypatch, board, run, "read_bytes", after=False)
    frame = pinyard.Tracker(board, "sweep").runs()
    assert ended
    assert frame[["run_id", "status"]].values.tolist() == [[run.run_id, "finished"]]


def test_get_run_finds_a_run_that_ends_while_it_looks(
    board: pinyard.Board, tracker: Tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """get_run found no final record; the run ends before it reads the start record."""
    run = tracker.start_run(params={"k": 1})
    ended = end_on_first_touch(monkeypatch, board, run, "read_bytes", after=False)
    assert pinyard.Tracker(board, "sweep").get_run(run.run_id).status == "finished"
    assert ended


def test_runs_of_an_empty_experiment(tracker: Tracker) -> None:
    assert tracker.runs().empty
    with pytest.raises(errors.InvalidArgumentError, match="none"):
        tracker.best_run("m")
