"""Real pins-python beside pinyard after the one-line switch: new boards, back-dated and
unversioned writes, old-format pins."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path

import pins
import pytest

import pinyard

pytestmark = pytest.mark.interop


def test_pins_opens_the_pins_folder_of_a_new_board(tmp_path: Path) -> None:
    for board in (pinyard.board_folder(tmp_path / "yard"), pinyard.board_temp()):
        theirs = pins.board_folder(board.board)
        assert theirs.pin_list() == []
        with warnings.catch_warnings():  # pins-python 0.9.2 leaves data.txt open
            warnings.simplefilter("ignore", ResourceWarning)
            theirs.pin_write({"by": "pins"}, "from_pins", type="json")
        assert board.pin_read("from_pins") == {"by": "pins"}


def test_back_dated_version_is_latest_for_neither(tmp_path: Path) -> None:
    yard = pinyard.board_folder(tmp_path / "yard")
    yard.pin_write({"v": "new"}, "cfg")
    old = yard.pin_write({"v": "old"}, "cfg", created=datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC))
    theirs = pins.board_folder(yard.board)
    assert theirs.pin_versions("cfg")["version"].iloc[0] == old.version
    assert theirs.pin_read("cfg") == yard.pin_read("cfg") == {"v": "new"}
    meta = theirs.pin_meta("cfg", old.version)
    assert meta.created == "20200102T030405Z"
    assert meta.version.version == old.version


def test_unversioned_pin_has_one_version_for_pins(tmp_path: Path) -> None:
    yard = pinyard.board_folder(tmp_path / "yard", versioned=False)
    for i in range(3):
        yard.pin_write({"i": i}, "cfg")
    theirs = pins.board_folder(yard.board)
    assert len(theirs.pin_versions("cfg")) == 1
    assert theirs.pin_read("cfg") == {"i": 2}


def test_pinyard_switch_on_a_pins_team_folder(tmp_path: Path) -> None:
    """A pins folder in use: pinyard's board_folder opens it as it is, pins keeps reading."""
    team = tmp_path / "team"
    theirs = pins.board_folder(str(team))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        theirs.pin_write({"by": "pins"}, "cfg", type="json")
    yard = pinyard.board_folder(team)
    assert yard.kind == "pins"
    assert yard.pin_read("cfg") == {"by": "pins"}
    yard.pin_write({"by": "pinyard"}, "cfg", type="json")
    assert theirs.pin_read("cfg") == {"by": "pinyard"}
    assert sorted(p.name for p in team.iterdir()) == ["cfg"]
