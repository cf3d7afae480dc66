"""Paths the suite never ran (issue 13): pickle reads refused by ``allow_pickle_read=False``
(`InsecureReadError`, as pins refuses them), and a version id another writer took first --
the same bytes make no second version, ``force_identical_write`` moves to the next id,
and a writer that loses every attempt gets a `ConflictError` with nothing half-written."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import pinyard
from pinyard import errors
from pinyard.boards._local import LocalStore
from pinyard.testing._board_tests import UNPICKLED, _Tripwire


def test_allow_pickle_read_false_refuses_pickles_before_reading_them(tmp_path: Path) -> None:
    writer = pinyard.board_folder(tmp_path / "b", create=True, allow_pickle_read=True)
    writer.pin_write(_Tripwire(), "trap", type="joblib")
    writer.pin_write({"k": 1}, "plain", type="json")
    reader = pinyard.board_folder(tmp_path / "b", allow_pickle_read=False)
    UNPICKLED.clear()
    with pytest.raises(errors.InsecureReadError, match="pass allow_pickle_read=True") as info:
        reader.pin_read("trap")
    assert "'trap'" in str(info.value)
    assert UNPICKLED == []  # refused before a byte was unpickled
    assert reader.pin_read("plain") == {"k": 1}  # other types read as usual
    assert [Path(p).name for p in reader.pin_download("trap")] == ["trap.joblib"]
    assert writer.pin_read("trap") == "tripwire"  # a board allowed to unpickle reads it
    assert UNPICKLED == ["tripwire"]


def test_a_pickle_without_a_checkable_digest_is_never_unpickled(tmp_path: Path) -> None:
    """A pins-written pickle whose hash pinyard cannot check (here: its pin_hash made
    unrecognisable) is refused with UnverifiedError even where pickles are allowed."""
    board = pinyard.board_pins(_pins_board_with_pickle(tmp_path), allow_pickle_read=True)
    UNPICKLED.clear()
    with (
        pytest.warns(errors.UnverifiedVersionWarning, match="cannot recompute"),
        pytest.raises(errors.UnverifiedError, match="will not unpickle"),
    ):
        board.pin_read("trap")
    assert UNPICKLED == []


def _pins_board_with_pickle(tmp_path: Path) -> Path:
    import joblib

    root = tmp_path / "pins-board"
    version = root / "trap" / "20240101T000000Z-abcde"
    version.mkdir(parents=True)
    joblib.dump(_Tripwire(), version / "trap.joblib")
    (version / "data.txt").write_text(
        "api_version: 1\ncreated: 20240101T000000Z\ndescription: null\nfile: trap.joblib\n"
        "file_size: 1\npin_hash: abcde\ntitle: trap\ntype: joblib\nuser: {}\n"
    )
    return root


CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _rival_commits_first(
    monkeypatch: pytest.MonkeyPatch, rival: pinyard.Board, value: Any, fired: list[str]
) -> None:
    """Make the next publish of a version meet a rival that committed the same version
    id a moment before (the race two writers of the same bytes in the same second run)."""
    real = LocalStore.new_staging

    def new_staging(self: LocalStore, *args: Any, **kwargs: Any) -> Any:
        staging = real(self, *args, **kwargs)
        publish = staging.publish

        def racing_publish(target: str, meta_name: str, data: bytes) -> Any:
            if not fired:
                fired.append(target)
                rival.pin_write(value, "obj", type="json", created=CREATED,
                                force_identical_write=True)  # fmt: skip
            return publish(target, meta_name, data)

        staging.publish = racing_publish  # type: ignore[method-assign]
        return staging

    monkeypatch.setattr(LocalStore, "new_staging", new_staging)


def test_same_bytes_meeting_a_rival_at_their_id_make_no_second_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = pinyard.board_folder(tmp_path / "b", create=True)
    board.pin_write({"k": 0}, "obj", type="json")
    rival = pinyard.board_folder(tmp_path / "b")
    fired: list[str] = []
    _rival_commits_first(monkeypatch, rival, {"k": 1}, fired)
    result = board.pin_write({"k": 1}, "obj", type="json", created=CREATED)
    assert fired, "the rival did not run"
    assert not result.written  # the rival's version is this content: it is returned
    assert fired[0].endswith(result.version)
    assert len(board.pin_versions("obj", as_df=False)) == 2
    assert board.pin_read("obj", version=result.version) == {"k": 1}


def test_force_identical_write_meeting_a_rival_moves_to_the_next_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = pinyard.board_folder(tmp_path / "b", create=True)
    rival = pinyard.board_folder(tmp_path / "b", create=True)
    fired: list[str] = []
    _rival_commits_first(monkeypatch, rival, {"k": 1}, fired)
    result = board.pin_write({"k": 1}, "obj", type="json", created=CREATED,
                             force_identical_write=True)  # fmt: skip
    assert result.written
    taken = fired[0].rsplit("/", 1)[1]
    assert result.version > taken  # the rival kept its id; ours is the next free one
    versions = [v.version for v in board.pin_versions("obj", as_df=False)]
    assert versions == [taken, result.version]
    assert [board.pin_read("obj", version=v) for v in versions] == [{"k": 1}, {"k": 1}]


def test_a_writer_losing_every_attempt_gets_a_conflict_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = pinyard.board_folder(tmp_path / "b", create=True)
    rival = pinyard.board_folder(tmp_path / "b", create=True)
    monkeypatch.setattr("pinyard.boards._writing.PUBLISH_ATTEMPTS", 1)
    fired: list[str] = []
    _rival_commits_first(monkeypatch, rival, {"k": 1}, fired)
    with pytest.raises(errors.ConflictError, match=r"'obj'.*collided with other writers"):
        board.pin_write({"k": 1}, "obj", type="json", created=CREATED,
                        force_identical_write=True)  # fmt: skip
    assert [v.version for v in board.pin_versions("obj", as_df=False)] == [
        fired[0].rsplit("/", 1)[1]
    ]
    assert not list((tmp_path / "b" / "staging").glob("*"))  # nothing half-written
