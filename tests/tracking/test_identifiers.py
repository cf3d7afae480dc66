"""Run ids, experiments and keys are validated before they reach a store path.

The first tests show the hole issue 13 found: on a folder board a run id such
as ``../../x`` read and wrote outside the board's root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import pinyard
from pinyard import errors
from pinyard.tracking import Tracker
from pinyard.tracking._digests import seal

EVIL_RUN_ID = "../../../../../../outside"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    # deep enough that the climbs below stay inside tmp_path
    return tmp_path.joinpath(*"12345678") / "board"


@pytest.fixture
def tracker(root: Path) -> Tracker:
    return Tracker(pinyard.board_folder(root, create=True), "sweep")


def _files(top: Path) -> set[str]:
    return {str(p.relative_to(top)) for p in top.rglob("*")}


def _plant_record(tracker: Tracker, root: Path, run_id: str) -> Path:
    """A run record where ``get_run(run_id)`` used to look for a start record (after
    one real run, so that the folders the ``..`` climb out of exist)."""
    with tracker.start_run():
        pass
    started = root / "runs" / "sweep" / "started" / run_id[:11] / f"{run_id}.json"
    target = Path(os.path.normpath(started))
    assert target.is_relative_to(root.parents[7])
    assert not target.is_relative_to(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    record = {"run_id": run_id, "experiment": "sweep", "status": "running",
              "start_time": "2026-01-01T00:00:00+00:00", "context": {}}  # fmt: skip
    target.write_text(json.dumps(record))
    return target


def test_a_run_id_cannot_read_outside_the_root(tracker: Tracker, root: Path) -> None:
    _plant_record(tracker, root, EVIL_RUN_ID)
    with pytest.raises(errors.InvalidNameError, match=r"run id '\.\./\.\./") as info:
        tracker.get_run(EVIL_RUN_ID)
    assert "YYYYmmddTHHMMSSZ-xxxxxxxx" in str(info.value)


def test_a_run_id_cannot_write_outside_the_root(
    tracker: Tracker, root: Path, tmp_path: Path
) -> None:
    _plant_record(tracker, root, EVIL_RUN_ID)
    before = _files(tmp_path)
    with pytest.raises(errors.InvalidNameError, match="run id"):
        tracker.note(EVIL_RUN_ID, "written where?")
    assert _files(tmp_path) == before


@pytest.mark.parametrize(
    "call",
    [
        lambda t, r: t.get_run(r),
        lambda t, r: t.note(r, "text"),
        lambda t, r: t.notes(r),
        lambda t, r: t.history(r),
        lambda t, r: t.artifact(r, "model.bin"),
        lambda t, r: t.plot_history([r], "loss"),
    ],
    ids=["get_run", "note", "notes", "history", "artifact", "plot_history"],
)
@pytest.mark.parametrize(
    "run_id",
    [EVIL_RUN_ID, "../x", "/etc/passwd", "20260101T000000Z-0000000\x00", "", 17,
     "20260101T000000Z-abcdef12\n", "20260101T000000Z-ABCDEF12", "a" * 30],
)  # fmt: skip
def test_every_run_id_entry_point_refuses_a_malformed_id(
    tracker: Tracker, tmp_path: Path, call: object, run_id: object
) -> None:
    before = _files(tmp_path)
    with pytest.raises(errors.InvalidNameError, match="run id") as info:
        call(tracker, run_id)  # type: ignore[operator]
    assert repr(run_id) in str(info.value)
    assert "YYYYmmddTHHMMSSZ-xxxxxxxx" in str(info.value)
    assert _files(tmp_path) == before


def test_notes_of_a_run_without_notes_are_empty(tracker: Tracker) -> None:
    with tracker.start_run() as run:
        pass
    assert tracker.notes(run.run_id) == []


def test_a_tampered_record_cannot_lead_reads_outside_the_root(
    tracker: Tracker, root: Path, tmp_path: Path
) -> None:
    """Artifact digests and series chunk names come from records on disk: a record
    edited to hold ``../`` and sealed again with a matching digest (a forger, not
    damage) is refused instead of followed."""
    (tmp_path / "secret").write_bytes(b"outside")
    with tracker.start_run() as run:
        run.log_artifact(b"bytes", name="blob")
        run.log_metric("loss", 1.0, step=0)
    [path] = (root / "runs" / "sweep" / "records").rglob("*.json")
    doc = json.loads(path.read_text())
    doc["artifacts"]["blob"]["sha256"] = "../" * 6 + "secret"
    doc["series"] = ["../" * 6 + "secret"]
    doc.pop("digest")
    path.write_bytes(seal(json.dumps(doc, separators=(",", ":")).encode()))
    fresh = Tracker(pinyard.board_folder(root), "sweep")
    with pytest.raises(errors.PinyardError, match="artifact 'blob'"):
        fresh.artifact(run.run_id, "blob")
    with pytest.raises(errors.PinyardError, match="series"):
        fresh.history(run.run_id)


@pytest.mark.parametrize(
    ("experiment", "rule"),
    [
        ("../escape", "letters, digits"),
        ("a/b", "letters, digits"),
        ("ridge\n", "letters, digits"),
        ("", "letters, digits"),
        ("x" * 201, "200"),
        ("ridge\u0301", "letters, digits"),
        (None, "a string"),
    ],
)
def test_bad_experiment_names_say_what_is_allowed(
    root: Path, experiment: object, rule: str
) -> None:
    board = pinyard.board_folder(root, create=True)
    with pytest.raises(errors.InvalidNameError, match="experiment name") as info:
        Tracker(board, experiment)  # type: ignore[arg-type]
    assert repr(experiment)[:40].rstrip("'") in str(info.value)
    assert rule in str(info.value)
    assert "An experiment name has 1 to 200 ASCII letters" in str(info.value)


@pytest.mark.parametrize(
    ("experiment", "rule"),
    [("sweep.", "ends with '.'"), ("CON", "'CON' is a device name"), ("com1.v2", "'com1'")],
)
def test_runs_are_not_started_in_an_experiment_windows_cannot_hold(
    root: Path, experiment: str, rule: str
) -> None:
    """Such an experiment stays readable (an older pinyard may have written it), but no
    new run goes into it."""
    tracker = Tracker(pinyard.board_folder(root, create=True), experiment)
    assert len(tracker.runs()) == 0
    with pytest.raises(errors.InvalidNameError, match="invalid experiment name") as info:
        tracker.start_run()
    assert rule in str(info.value)
    assert not (root / "runs").exists()


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("bad\ud800key", "surrogate"),
        ("nul\x00", "control"),
        ("zero\u200bwidth", "control"),
        ("a/b", "separator"),
        (" padded", "whitespace"),
        ("", "empty"),
        ("k" * 251, "250"),
    ],
)
@pytest.mark.parametrize("kind", ["param", "metric", "tag"])
def test_bad_keys_are_refused_before_anything_is_recorded(
    tracker: Tracker, key: str, rule: str, kind: str
) -> None:
    log = {
        "param": lambda r: r.log_param(key, 1),
        "metric": lambda r: r.log_metric(key, 1.0, step=0),
        "tag": lambda r: r.set_tag(key, "v"),
    }[kind]
    with tracker.start_run() as run, pytest.raises(errors.InvalidNameError) as info:
        log(run)
    message = str(info.value)
    assert f"{kind} key" in message
    assert repr(key)[:40] in message
    assert rule in message
    assert tracker.runs()["run_id"].tolist() == [run.run_id]  # queries still work


def test_keys_given_to_start_run_are_checked_too(tracker: Tracker) -> None:
    with pytest.raises(errors.InvalidNameError, match="param key 'a\\\\ud800'"):
        tracker.start_run(params={"a\ud800": 1})
    with pytest.raises(errors.InvalidNameError, match="tag key"):
        tracker.start_run(tags={"a/b": 1})
    assert len(tracker.runs()) == 0


def test_a_surrogate_key_no_longer_breaks_queries(tracker: Tracker) -> None:
    """Before, the key was recorded and every later query of the experiment failed."""
    with tracker.start_run() as run:
        with pytest.raises(errors.InvalidNameError):
            run.log_metric("m\udc80", 1.0)
        run.log_metric("m", 1.0)
    assert tracker.search("metrics.m = 1")["run_id"].tolist() == [run.run_id]


def test_bad_artifact_names_are_refused(tracker: Tracker) -> None:
    with tracker.start_run() as run:
        with pytest.raises(errors.InvalidNameError, match="artifact name '\\.\\./x'"):
            run.log_artifact(b"x", name="../x")
        with pytest.raises(errors.InvalidNameError, match="artifact name"):
            run.log_artifact(b"x", name="a\ud800")
