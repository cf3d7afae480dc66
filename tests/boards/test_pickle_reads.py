"""Reading pickles follows pins: refused unless the board or PINS_ALLOW_PICKLE_READ allows.

The contract suite (pinyard.testing) checks the refusal on every backend; here
are the argument and variable themselves, and their bad values.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import pinyard
from pinyard import errors


@pytest.fixture(autouse=True)
def _no_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PINS_ALLOW_PICKLE_READ", raising=False)


def test_every_constructor_refuses_by_default(tmp_path: Path) -> None:
    pinyard.board_folder(tmp_path / "b").pin_write({"k": 1}, "m", type="joblib")
    (tmp_path / "plain").mkdir()
    pinyard.board_pins(tmp_path / "plain").pin_write({"k": 1}, "m", type="joblib")
    for board in (
        pinyard.board_folder(tmp_path / "b"),
        pinyard.board(str(tmp_path / "b")),
        pinyard.board_pins(tmp_path / "plain"),
    ):
        assert board.allow_pickle_read is None
        assert not board.pickle_read_allowed()
        with pytest.raises(errors.InsecureReadError) as info:
            board.pin_read("m")
        assert info.value.pin == "m"
        assert info.value.pin_type == "joblib"
        assert "allow_pickle_read=True" in str(info.value)
    assert pinyard.board_folder(tmp_path / "b", allow_pickle_read=True).pin_read("m") == {"k": 1}
    assert pinyard.board_pins(tmp_path / "plain", allow_pickle_read=True).pin_read("m") == {"k": 1}


def test_the_variable_is_read_at_each_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = pinyard.board_folder(tmp_path / "b")
    board.pin_write({"k": 1}, "m", type="joblib")
    monkeypatch.setenv("PINS_ALLOW_PICKLE_READ", "1")
    assert board.pin_read("m") == {"k": 1}
    monkeypatch.setenv("PINS_ALLOW_PICKLE_READ", "0")
    with pytest.raises(errors.InsecureReadError):
        board.pin_read("m")


def test_other_types_never_ask(tmp_path: Path) -> None:
    board = pinyard.board_folder(tmp_path / "b")
    board.pin_write({"k": 1}, "cfg")
    assert board.pin_read("cfg") == {"k": 1}


@pytest.mark.parametrize("value", ["yes", "true", "", "1.0"])
def test_a_variable_that_is_not_an_integer_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    board = pinyard.board_folder(tmp_path / "b")
    board.pin_write({"k": 1}, "m", type="joblib")
    monkeypatch.setenv("PINS_ALLOW_PICKLE_READ", value)
    with pytest.raises(
        errors.InvalidArgumentError, match="PINS_ALLOW_PICKLE_READ must be '0' or '1'"
    ):
        board.pin_read("m")


@pytest.mark.parametrize("value", ["yes", 1, 0, "True"])
def test_an_argument_that_is_not_a_bool_is_refused_before_anything_is_made(
    tmp_path: Path, value: object
) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="allow_pickle_read must be True, False"):
        pinyard.board_folder(tmp_path / "b", allow_pickle_read=value)  # type: ignore[arg-type]
    assert not (tmp_path / "b").exists()
    with pytest.raises(errors.InvalidArgumentError, match="allow_pickle_read must be"):
        pinyard.board_pins(tmp_path, allow_pickle_read=value)  # type: ignore[arg-type]
