"""pins' old format (api_version 0) on plain pins boards: flat pins and odd version folders."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pandas as pd
import pytest

import pinyard
from pinyard import errors

TABLE_TXT = "path:\n- data.csv\n- data.rds\ntype: table\nrows: 2\ncols: 2\n"
CSV = '"a","b"\n1,"x"\n2,"y"\n'
EXPECTED = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})


def _old_pin(folder: Path, txt: str = TABLE_TXT) -> None:
    folder.mkdir(parents=True)
    (folder / "data.txt").write_text(txt)
    (folder / "data.csv").write_text(CSV)
    (folder / "data.rds").write_bytes(b"not read")


@pytest.fixture
def old_board(tmp_path: Path) -> Path:
    root = tmp_path / "old"
    _old_pin(root / "flat")  # R pins 0.x: unversioned, files in the pin's folder
    _old_pin(root / "a-table" / "v")  # as pins-python's test board keeps one
    return root


def _read(board: pinyard.Board, name: str, version: str | None = None) -> object:
    with warnings.catch_warnings():  # no hash to check in this format
        warnings.simplefilter("ignore", errors.UnverifiedVersionWarning)
        return board.pin_read(name, version)


@pytest.mark.parametrize("opener", [pinyard.board_pins, pinyard.board_folder])
def test_old_format_pins_are_listed_and_read(old_board: Path, opener) -> None:
    board = opener(old_board)
    assert board.kind == "pins"
    assert board.pin_list() == ["a-table", "flat"]
    assert board.pin_exists("flat")
    for name in ("flat", "a-table"):
        assert pd.DataFrame(_read(board, name)).equals(EXPECTED)
    meta = board.pin_meta("a-table")
    assert (meta.version, meta.type, meta.api_version) == ("v", "table", 0)
    assert meta.file == ["data.csv", "data.rds"]
    assert meta.version.created is None
    assert meta.extra["rows"] == 2
    assert board.pin_meta("flat").version == "legacy"
    assert [v.version for v in board.pin_versions("a-table", as_df=False)] == ["v"]
    assert _read(board, "a-table", "v") is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.UnverifiedVersionWarning)
        paths = board.pin_download("flat")
    assert sorted(Path(p).name for p in paths) == ["data.csv", "data.rds"]


def test_old_format_read_warns_it_is_unverified(old_board: Path) -> None:
    board = pinyard.board_pins(old_board)
    with pytest.warns(errors.UnverifiedVersionWarning, match="old format, which records no hash"):
        board.pin_read("flat")


def test_unknown_old_version_is_refused_by_name(old_board: Path) -> None:
    board = pinyard.board_pins(old_board)
    with pytest.raises(errors.VersionNotFoundError, match="'a-table' has no version '123'"):
        board.pin_meta("a-table", "123")
    with pytest.raises(errors.InvalidNameError):
        board.pin_meta("a-table", "../flat")


def test_old_table_without_its_csv_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "old" / "t"
    folder.mkdir(parents=True)
    (folder / "data.txt").write_text("path: data.rds\ntype: table\n")
    board = pinyard.board_pins(tmp_path / "old")
    with pytest.raises(errors.MetadataError, match=r"data\.csv"):
        board.pin_read("t")


def test_old_files_pin_is_downloaded(tmp_path: Path) -> None:
    folder = tmp_path / "old" / "docs"
    folder.mkdir(parents=True)
    (folder / "data.txt").write_text("path: notes.txt\ntype: files\n")
    (folder / "notes.txt").write_text("hello")
    board = pinyard.board_pins(tmp_path / "old")
    with pytest.raises(NotImplementedError, match="pin_download"):
        board.pin_read("docs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.UnverifiedVersionWarning)
        (path,) = board.pin_download("docs")
    assert Path(path).read_text() == "hello"


def test_malformed_old_metadata_is_a_metadata_error(tmp_path: Path) -> None:
    folder = tmp_path / "old" / "bad"
    folder.mkdir(parents=True)
    (folder / "data.txt").write_text("type: table\nrows: 2\n")  # neither path nor file
    board = pinyard.board_pins(tmp_path / "old")
    with pytest.raises(errors.MetadataError, match="'path'"):
        board.pin_meta("bad")


def test_old_format_is_ignored_on_pinyard_boards(tmp_path: Path) -> None:
    board = pinyard.board_folder(tmp_path / "yard")
    _old_pin(tmp_path / "yard" / "pins" / "flat")
    assert board.pin_list() == []
    assert not board.pin_exists("flat")


def test_import_skips_old_format_versions(
    old_board: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="pinyard"):
        report = pinyard.import_pins(old_board, tmp_path / "yard")
    assert report.imported == []
    assert "old format" in caplog.text
    assert pinyard.board_folder(tmp_path / "yard").pin_list() == []


def test_a_new_write_to_an_old_pin_becomes_its_version(old_board: Path) -> None:
    board = pinyard.board_pins(old_board)
    meta = board.pin_write(EXPECTED, "a-table", type="csv")
    assert [v.version for v in board.pin_versions("a-table", as_df=False)] == [meta.version]
    assert board.pin_read("a-table").equals(EXPECTED)
