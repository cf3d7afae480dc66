"""Checkpoints: a cold query reads one Arrow file plus the records written after it,
and a stale, damaged or missing checkpoint only ever costs reads."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

import pinyard
from pinyard import errors
from pinyard.tracking import Tracker
from pinyard.tracking._query import compile_filter
from tests.tracking.processes import RunningProcess

EXPERIMENT = "sweep"


@pytest.fixture(autouse=True)
def checkpoint_after_five(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Tracker, "checkpoint_after", 5)


@pytest.fixture
def board(tmp_path: Path) -> pinyard.Board:
    return pinyard.board_folder(tmp_path / "board")


def fresh(board: pinyard.Board) -> Tracker:
    """A new tracker on a new board object: nothing kept in memory."""
    root = board.store.local_path("")
    assert root is not None
    return pinyard.Tracker(pinyard.board_folder(root), EXPERIMENT)


def log_runs(tracker: Tracker, first: int, count: int) -> list[str]:
    ids = []
    for i in range(first, first + count):
        with tracker.start_run(params={"i": i, "kind": "odd" if i % 2 else "even"}) as run:
            run.log_metric("score", i / 10)
        ids.append(run.run_id)
    return ids


def experiment_dir(board: pinyard.Board) -> Path:
    return Path(board.store.local_path(f"runs/{EXPERIMENT}") or "")


def checkpoints(board: pinyard.Board) -> list[Path]:
    return sorted(experiment_dir(board).glob("checkpoints/*/*.arrow"))


@pytest.fixture
def reads() -> Callable[[Tracker], list[str]]:
    """Record which objects a tracker reads (the real store still does every read)."""

    def spy(tracker: Tracker) -> list[str]:
        seen: list[str] = []
        store = tracker.board.store
        real = store.read_bytes

        def read_bytes(path: str) -> bytes:
            seen.append(path.removeprefix(f"runs/{EXPERIMENT}/"))
            return real(path)

        store.read_bytes = read_bytes  # type: ignore[method-assign]
        return seen

    return spy


def test_a_query_that_read_many_records_leaves_a_checkpoint_the_next_one_reads(
    board: pinyard.Board, reads: Callable[[Tracker], list[str]]
) -> None:
    tracker = pinyard.Tracker(board, EXPERIMENT)
    log_runs(tracker, 0, 12)
    before = tracker.runs()
    assert len(before) == 12
    [written] = checkpoints(board)
    assert written.name.startswith("00000012-")

    cold = fresh(board)
    seen = reads(cold)
    pd.testing.assert_frame_equal(cold.runs(), before)
    assert seen == [f"checkpoints/{written.parent.name}/{written.name}"]  # no record read
    assert cold.best_run("score", maximize=True).params == {"i": 11, "kind": "odd"}
    assert list(cold.search("params.kind = 'odd' and metrics.score < 0.5")["params.i"]) == [1, 3]


def test_runs_after_a_stale_checkpoint_are_read_from_their_records(
    board: pinyard.Board, reads: Callable[[Tracker], list[str]]
) -> None:
    tracker = pinyard.Tracker(board, EXPERIMENT)
    running = tracker.start_run(params={"i": -1})  # in the checkpoint as running
    log_runs(tracker, 0, 6)
    tracker.runs()
    [stale] = checkpoints(board)
    late = log_runs(tracker, 6, 3)  # fewer than checkpoint_after: no new checkpoint
    running.log_metric("score", 9.0)
    running.end()

    cold = fresh(board)
    seen = reads(cold)
    frame = cold.runs().set_index("run_id")
    assert len(frame) == 10
    assert (frame["status"] == "finished").all()
    assert frame.loc[running.run_id, "metrics.score"] == 9.0
    assert set(frame.loc[late, "params.i"]) == {6, 7, 8}
    read_records = sorted(p.rsplit("/", 1)[-1] for p in seen if p.startswith("records/"))
    assert read_records == sorted(f"{r}.json" for r in [*late, running.run_id])
    assert not any(p.startswith("started/") for p in seen)
    assert checkpoints(board) == [stale]


def test_notes_added_after_a_checkpoint_are_read(board: pinyard.Board) -> None:
    tracker = pinyard.Tracker(board, EXPERIMENT)
    ids = log_runs(tracker, 0, 6)
    tracker.runs()
    assert checkpoints(board)
    tracker.note(ids[2], "looks overfit")
    cold = fresh(board)
    assert [n["text"] for n in cold.notes(ids[2])] == ["looks overfit"]
    assert cold.get_run(ids[2]).params == {"i": 2, "kind": "even"}
    assert len(cold.runs()) == 6


def test_a_truncated_record_is_skipped_before_and_after_a_checkpoint(
    board: pinyard.Board, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = pinyard.Tracker(board, EXPERIMENT)
    ids = log_runs(tracker, 0, 7)
    records = experiment_dir(board) / "records"
    victim = next(records.rglob(f"{ids[3]}.json"))
    victim.write_bytes(victim.read_bytes()[:30])
    with caplog.at_level(logging.WARNING, logger="pinyard"):
        assert ids[3] not in set(tracker.runs()["run_id"])
    assert checkpoints(board)  # six good records read: a checkpoint without the bad one
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pinyard"):
        frame = fresh(board).runs()
    assert ids[3] in caplog.text  # still warned about, as without checkpoints
    assert sorted(frame["params.i"]) == [0, 1, 2, 4, 5, 6]


def test_a_checkpoint_holding_a_start_record_does_not_hide_a_truncated_final_one(
    board: pinyard.Board,
) -> None:
    tracker = pinyard.Tracker(board, EXPERIMENT)
    running = tracker.start_run(params={"only_here": "x"})
    log_runs(tracker, 0, 6)
    tracker.runs()  # checkpoint holds the running run's start record
    running.end()
    final = next((experiment_dir(board) / "records").rglob(f"{running.run_id}.json"))
    final.write_bytes(final.read_bytes()[:20])
    frame = fresh(board).runs()
    assert running.run_id not in set(frame["run_id"])  # as without a checkpoint
    assert "params.only_here" not in frame.columns


def test_a_damaged_or_vanished_checkpoint_only_costs_reads(
    board: pinyard.Board, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = pinyard.Tracker(board, EXPERIMENT)
    log_runs(tracker, 0, 8)
    expected = tracker.runs()
    [written] = checkpoints(board)
    written.write_bytes(written.read_bytes()[:100])  # torn: the digest no longer matches
    with caplog.at_level(logging.WARNING, logger="pinyard"):
        pd.testing.assert_frame_equal(fresh(board).runs(), expected)
    assert "digest" in caplog.text
    for path in checkpoints(board):
        path.unlink()
    pd.testing.assert_frame_equal(fresh(board).runs(), expected)


@pytest.mark.parametrize("old_format", ["parquet (0006)", "arrow named by sha256 (0008)"])
def test_a_checkpoint_of_an_older_version_is_ignored_and_replaced(
    board: pinyard.Board,
    reads: Callable[[Tracker], list[str]],
    old_format: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    ipc = pytest.importorskip("pyarrow.ipc")
    tracker = pinyard.Tracker(board, EXPERIMENT)
    log_runs(tracker, 0, 7)
    expected = tracker.runs()
    [written] = checkpoints(board)
    table = ipc.open_file(written).read_all()
    digest = hashlib.sha256(written.read_bytes()).hexdigest()[:16]
    if old_format.startswith("parquet"):
        old = written.with_name(f"00000007-{digest}.parquet")  # as earlier versions wrote them
        pq.write_table(table, old)
    else:
        old = written.with_name(f"00000007-{digest}.arrow")
        old.write_bytes(written.read_bytes())
    written.unlink()

    cold = fresh(board)
    with caplog.at_level(logging.INFO, logger="pinyard"):
        seen = reads(cold)
    pd.testing.assert_frame_equal(cold.runs(), expected)
    assert old.name not in " ".join(seen)
    assert "skipped" not in caplog.text  # not taken for a damaged checkpoint
    assert len([p for p in seen if p.startswith("records/")]) == 7
    [rebuilt] = [p for p in checkpoints(board) if p != old]
    assert rebuilt.name.startswith("00000007-")
    assert old.exists()  # dropped with its hour, like any checkpoint


def test_a_run_a_checkpoint_holds_as_running_shows_killed_once_its_process_is_gone(
    board: pinyard.Board,
) -> None:
    process = RunningProcess(board)
    run_id = process.run_id
    log_runs(pinyard.Tracker(board, EXPERIMENT), 0, 6)
    assert fresh(board).runs().set_index("run_id").loc[run_id, "status"] == "running"
    assert checkpoints(board)  # holding the run as running
    process.kill()
    for reader in (fresh(board), fresh(board)):
        assert reader.runs().set_index("run_id").loc[run_id, "status"] == "killed"
        assert list(reader.search("status = 'killed'")["run_id"]) == [run_id]


def test_a_failed_checkpoint_write_does_not_fail_the_query(board: pinyard.Board) -> None:
    tracker = pinyard.Tracker(board, EXPERIMENT)
    log_runs(tracker, 0, 6)
    (experiment_dir(board) / "checkpoints").write_text("not a folder")
    assert len(tracker.runs()) == 6
    assert len(fresh(board).runs()) == 6


def test_writes_in_progress_are_not_read(board: pinyard.Board) -> None:
    tracker = pinyard.Tracker(board, EXPERIMENT)
    [run_id] = log_runs(tracker, 0, 1)
    hour = next((experiment_dir(board) / "records").iterdir())
    (hour / f"{run_id}x.json.0123abcd.tmp").write_bytes(b'{"run_id": "')
    assert list(fresh(board).runs()["run_id"]) == [run_id]


def test_search_on_the_columns_it_reads_agrees_with_filtering_runs(board: pinyard.Board) -> None:
    tracker = pinyard.Tracker(board, EXPERIMENT)
    log_runs(tracker, 0, 9)
    with tracker.start_run(params={"i": "7", "extra": [1, 2]}, tags={"team": "a"}):
        pass
    frame = tracker.runs()
    for where in (
        "params.i = 7",
        "params.kind = 'odd' or tags.team is not null",
        "not metrics.score < 0.3 and status = 'finished'",
        "params.extra is null",
        "",
    ):
        expected = frame[compile_filter(where).mask(frame)].reset_index(drop=True)
        pd.testing.assert_frame_equal(fresh(board).search(where), expected)
        pd.testing.assert_frame_equal(tracker.search(where), expected)
    with pytest.raises(errors.QueryError, match=r"did you mean 'status'"):
        tracker.search("stauts = 'finished'")
    assert tracker.search("params.knd = 'odd'").empty  # a param no run has: missing


@pytest.fixture(params=["row by row", "distinct texts once"])
def params_decoding(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways params columns are decoded from JSON text (by the number of rows)."""
    first = 10**9 if request.param == "row by row" else 0
    monkeypatch.setattr("pinyard.tracking._table._DISTINCT_FIRST", first)


@pytest.mark.usefixtures("params_decoding")
def test_runs_columns_hold_the_recorded_values_with_their_documented_dtypes(
    board: pinyard.Board,
) -> None:
    tracker = pinyard.Tracker(board, EXPERIMENT)
    values: list[object] = [1, 1.0, "1", None, [1, 2], {"a": 1}, True, 2**62]
    for i, value in enumerate(values):
        with tracker.start_run(params={"x": value}, seed=None if i % 3 else 2**62 + i) as run:
            run.log_metric("score", i / 10)
    for reader in (tracker, fresh(board)):  # a fresh one reads the checkpoint
        frame = reader.runs()
        dtypes = {c: str(frame[c].dtype) for c in frame.columns}
        assert {k: dtypes[k] for k in ("run_id", "status", "user", "params.x")} == dict.fromkeys(
            ("run_id", "status", "user", "params.x"), "object"
        )
        assert dtypes["start_time"] == dtypes["end_time"] == "datetime64[us, UTC]"
        assert (dtypes["seed"], dtypes["pid"], dtypes["git_dirty"]) == (
            "Int64",
            "Int64",
            "boolean",
        )
        assert dtypes["duration_s"] == dtypes["metrics.score"] == "float64"
        for row in frame.itertuples(index=False):
            record = reader.get_run(row.run_id)
            assert row.start_time == pd.Timestamp(record.start_time)
            assert row.end_time == pd.Timestamp(record.end_time)
            assert (None if pd.isna(row.seed) else row.seed) == record.seed
            assert row.pid == record.context["pid"]
        got = list(frame["params.x"])
        assert got == values
        assert list(map(type, got)) == list(map(type, values))


def test_columns_that_no_run_filled_keep_their_dtypes(board: pinyard.Board) -> None:
    tracker = pinyard.Tracker(board, EXPERIMENT)
    running = [tracker.start_run(params={"i": i}) for i in range(3)]  # no seed, no end yet
    for reader in (tracker, fresh(board)):
        for frame in (reader.runs(), reader.search("params.i >= 1")):
            assert str(frame["seed"].dtype) == "Int64"
            assert frame["seed"].isna().all()
            assert str(frame["end_time"].dtype) == "datetime64[us, UTC]"
            assert frame["end_time"].isna().all()
            assert frame["error"].dtype == object
            assert set(frame["error"]) == {None}
    for run in running:
        run.end()


@pytest.mark.usefixtures("params_decoding")
def test_search_frames_match_runs_on_a_mixed_store(
    board: pinyard.Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    """search() builds its frame from the selected rows only; runs() builds every row:
    the same columns, dtypes, values and value types."""
    tracker = pinyard.Tracker(board, EXPERIMENT)
    real_now = Tracker._now
    monkeypatch.setattr(Tracker, "_now", lambda self: real_now(self) - timedelta(hours=3))
    odd: list[object] = [1, 1.0, "1", None, [1, 2], {"a": 1}, True]
    for i in range(14):
        params = {"i": i, "kind": ["a", "b"][i % 2], "x": odd[i % 7]}
        with tracker.start_run(params=params, tags={"team": f"t{i % 3}"}, seed=i or None) as run:
            run.log_metric("score", i / 10 if i % 5 else float("nan"))
    monkeypatch.setattr(Tracker, "_now", real_now)
    assert tracker.compact()
    log_runs(tracker, 20, 6)  # loose records, then a checkpoint of them
    assert len(fresh(board).runs()) == 20
    log_runs(tracker, 30, 2)
    with pytest.raises(ValueError, match="boom"), tracker.start_run(params={"i": "99", "x": 2.5}):
        raise ValueError("boom")
    for reader in (tracker, fresh(board)):
        frame = reader.runs()
        for where in (
            "params.kind = 'a' or metrics.score > 2",
            "params.x = 1 and not status = 'failed'",
            "params.x is not null",
            "seed > 3 or tags.team = 't1'",
            "",
        ):
            expected = frame[compile_filter(where).mask(frame)].reset_index(drop=True)
            found = reader.search(where)
            pd.testing.assert_frame_equal(found, expected, check_exact=True)
            for column in found.columns:
                assert list(map(type, found[column])) == list(map(type, expected[column]))


WRITER = textwrap.dedent(
    """
    import sys
    import pinyard
    from pinyard.tracking import Tracker
    Tracker.checkpoint_after = 2
    tracker = pinyard.Tracker(pinyard.board_folder(sys.argv[1]), "sweep")
    for i in range(int(sys.argv[3])):
        with tracker.start_run(params={"writer": int(sys.argv[2]), "i": i}) as run:
            run.log_metric("score", i)
        reader = pinyard.Tracker(pinyard.board_folder(sys.argv[1]), "sweep")
        assert len(reader.runs()) >= i + 1
    """
)


def test_processes_logging_and_checkpointing_at_once_lose_nothing(board: pinyard.Board) -> None:
    root = board.store.local_path("")
    assert root is not None
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, root, str(w), "15"]) for w in range(4)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0] * 4
    assert checkpoints(board)
    for tracker in (fresh(board), pinyard.Tracker(board, EXPERIMENT)):
        frame = tracker.runs()
        assert len(frame) == 60
        assert set(zip(frame["params.writer"], frame["params.i"], strict=True)) == {
            (w, i) for w in range(4) for i in range(15)
        }
        assert (frame["status"] == "finished").all()


def test_compaction_drops_covered_checkpoints_and_segments_stay_a_dataset(
    board: pinyard.Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = pytest.importorskip("pyarrow.dataset")
    ipc = pytest.importorskip("pyarrow.ipc")
    tracker = pinyard.Tracker(board, EXPERIMENT)
    real_now = Tracker._now
    monkeypatch.setattr(Tracker, "_now", lambda self: real_now(self) - timedelta(hours=3))
    log_runs(tracker, 0, 10)
    monkeypatch.setattr(Tracker, "_now", real_now)
    expected = tracker.runs()
    [old] = checkpoints(board)
    segment_schema = ipc.open_file(old).schema
    assert {"run_id", "status", "params.i", "metrics.score"} <= set(segment_schema.names)

    assert len(tracker.compact()) == 1
    assert checkpoints(board) == []  # its hour is compacted: nothing left to save
    log_runs(tracker, 10, 6)
    tracker.runs()
    [current] = checkpoints(board)
    assert current.name.startswith("00000006-")  # only the runs no segment covers

    segments = experiment_dir(board) / "segments"
    table = ds.dataset(segments, format="parquet").to_table()
    assert table.num_rows == 10
    assert len(set(table.column("run_id").to_pylist())) == 10
    after = fresh(board).runs()
    assert len(after) == 16
    pd.testing.assert_frame_equal(
        after.iloc[:10].drop(columns="duration_s"), expected.drop(columns="duration_s")
    )


def test_a_run_compacted_while_running_shows_once_finished(
    board: pinyard.Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = pinyard.Tracker(board, EXPERIMENT)
    real_now = Tracker._now
    monkeypatch.setattr(Tracker, "_now", lambda self: real_now(self) - timedelta(hours=3))
    log_runs(tracker, 0, 3)
    long = tracker.start_run(params={"i": 99})
    monkeypatch.setattr(Tracker, "_now", real_now)
    assert len(tracker.compact()) == 1  # the segment holds the long run as running
    log_runs(tracker, 3, 6)
    long.log_metric("score", -1.0)
    long.end()
    for reader in (tracker, fresh(board), fresh(board)):  # the second fresh one: checkpoint
        frame = reader.runs()
        assert len(frame) == 10
        assert frame.set_index("run_id").loc[long.run_id, "status"] == "finished"
        assert reader.best_run("score").run_id == long.run_id
    assert checkpoints(board)
