"""Run records, notes and metric series chunks carry a digest: an edited value never
comes back as if true, and damage is a typed error naming the run and the file (decision 0018)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import pinyard
from pinyard import errors
from pinyard.tracking import Tracker


@pytest.fixture
def board(tmp_path: Path) -> pinyard.Board:
    return pinyard.board_folder(tmp_path / "board")


@pytest.fixture
def tracker(board: pinyard.Board) -> Tracker:
    return pinyard.Tracker(board, "sweep")


def _runs_dir(board: pinyard.Board) -> Path:
    return Path(board.store.local_path("runs/sweep") or "")


def _record(board: pinyard.Board, run_id: str) -> Path:
    return next((_runs_dir(board) / "records").rglob(f"{run_id}.json"))


def _chunk(board: pinyard.Board, run_id: str) -> Path:
    (chunk,) = (_runs_dir(board) / "series" / run_id).iterdir()
    return chunk


def _fresh(board: pinyard.Board) -> Tracker:
    return pinyard.Tracker(board, "sweep")


def test_an_edited_metric_in_a_record_is_caught_naming_the_run_and_file(
    board: pinyard.Board, tracker: Tracker, caplog: pytest.LogCaptureFixture
) -> None:
    with tracker.start_run(params={"i": 0}) as good:
        good.log_metric("rmse", 0.75)
    with tracker.start_run(params={"i": 1}) as bad:
        bad.log_metric("rmse", 0.5)
    path = _record(board, bad.run_id)
    edited = path.read_bytes().replace(b'"rmse":0.5', b'"rmse":0.25')
    assert edited != path.read_bytes()
    path.write_bytes(edited)

    with pytest.raises(errors.IntegrityError) as info:
        _fresh(board).get_run(bad.run_id)
    message = str(info.value)
    assert bad.run_id in message
    assert f"runs/sweep/records/{path.parent.name}/{bad.run_id}.json" in message
    with caplog.at_level(logging.WARNING, logger="pinyard"):
        frame = _fresh(board).runs()
    assert list(frame["run_id"]) == [good.run_id]  # never the edited value
    assert bad.run_id in caplog.text
    assert "edited or damaged" in caplog.text
    assert _fresh(board).best_run("rmse").run_id == good.run_id


def test_an_edited_start_record_is_caught(board: pinyard.Board, tracker: Tracker) -> None:
    run = tracker.start_run(params={"lr": 0.1})
    (path,) = (_runs_dir(board) / "started").rglob(f"{run.run_id}.json")
    path.write_bytes(path.read_bytes().replace(b'"lr":0.1', b'"lr":0.2'))
    with pytest.raises(errors.IntegrityError, match=run.run_id):
        _fresh(board).get_run(run.run_id)
    run.end()


def test_a_record_that_lost_its_digest_is_caught(board: pinyard.Board, tracker: Tracker) -> None:
    with tracker.start_run() as run:
        run.log_metric("m", 1.0)
    path = _record(board, run.run_id)
    doc = json.loads(path.read_bytes())
    doc.pop("digest")
    path.write_bytes(json.dumps(doc).encode())
    with pytest.raises(errors.IntegrityError, match="lost its digest"):
        _fresh(board).get_run(run.run_id)


def test_a_record_rewritten_in_another_layout_but_unchanged_still_reads(
    board: pinyard.Board, tracker: Tracker
) -> None:
    with tracker.start_run(params={"a": [1, 2]}) as run:
        run.log_metric("m", float("nan"))
    path = _record(board, run.run_id)
    path.write_bytes(json.dumps(json.loads(path.read_bytes()), indent=2).encode())
    assert _fresh(board).get_run(run.run_id).params == {"a": [1, 2]}


@pytest.mark.parametrize("damage", ["edited", "truncated"])
def test_a_damaged_series_chunk_is_caught_naming_the_run_and_file(
    board: pinyard.Board, tracker: Tracker, damage: str
) -> None:
    with tracker.start_run() as run:
        for step in range(3):
            run.log_metric("loss", 1.5 - step, step=step)
    chunk = _chunk(board, run.run_id)
    raw = chunk.read_bytes()
    chunk.write_bytes(raw.replace(b"1.5", b"0.5") if damage == "edited" else raw[:25])
    with pytest.raises(errors.IntegrityError) as info:
        _fresh(board).history(run.run_id)
    message = str(info.value)
    assert run.run_id in message
    assert f"runs/sweep/series/{run.run_id}/{chunk.name}" in message


def test_an_edited_note_is_caught(board: pinyard.Board, tracker: Tracker) -> None:
    with tracker.start_run() as run:
        pass
    tracker.note(run.run_id, "looks good")
    assert [n["text"] for n in tracker.notes(run.run_id)] == ["looks good"]
    (note,) = (_runs_dir(board) / "notes" / run.run_id).iterdir()
    note.write_bytes(note.read_bytes().replace(b"looks good", b"looks bad!"))
    with pytest.raises(errors.IntegrityError, match=note.name):
        _fresh(board).notes(run.run_id)
    note.write_bytes(b'{"time": "2026')
    with pytest.raises(errors.MetadataError, match=run.run_id):
        _fresh(board).notes(run.run_id)


def test_records_chunks_and_notes_written_before_digests_still_read(
    board: pinyard.Board, tracker: Tracker
) -> None:
    """Format 1: no digest in records and notes, chunks named 000000.json."""
    with tracker.start_run(params={"i": 1}) as run:
        run.log_metric("loss", 2.0, step=0)
        run.log_metric("loss", 1.0, step=1)
    chunk = _chunk(board, run.run_id)
    old_chunk = chunk.with_name("000000.json")
    chunk.rename(old_chunk)
    path = _record(board, run.run_id)
    doc = json.loads(path.read_bytes())
    doc.pop("digest", None)
    doc.update(format=1, series=["000000.json"])
    path.write_bytes(json.dumps(doc, separators=(",", ":")).encode())
    notes = _runs_dir(board) / "notes" / run.run_id
    notes.mkdir(parents=True)
    (notes / "20260101T000000000000Z-abcdef.json").write_bytes(
        b'{"time": "2026-01-01T00:00:00+00:00", "text": "old"}'
    )

    cold = _fresh(board)
    assert cold.get_run(run.run_id).params == {"i": 1}
    assert list(cold.history(run.run_id)["value"]) == [2.0, 1.0]
    assert [n["text"] for n in cold.notes(run.run_id)] == ["old"]
    assert list(cold.runs()["run_id"]) == [run.run_id]
    old_chunk.write_bytes(old_chunk.read_bytes()[:10])  # no digest: caught as malformed
    with pytest.raises(errors.MetadataError, match=f"series/{run.run_id}/000000.json"):
        _fresh(board).history(run.run_id)
