"""pins-python code runs unchanged on a pinyard board: the shapes and behaviours it relies on."""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

import pinyard
from pinyard import errors
from pinyard.boards import PinVersion


def test_meta_version_is_a_str_with_pins_version_attributes() -> None:
    board = pinyard.board_memory()
    meta = board.pin_write({"a": 1}, "cfg")
    version = meta.version
    assert isinstance(version, str)
    assert isinstance(version, PinVersion)
    assert version.version == version
    assert type(version.version) is str
    assert version.hash == meta.pin_hash[:5]
    assert version.created == datetime.strptime(meta.created, "%Y%m%dT%H%M%SZ")
    assert version.created.tzinfo is None  # as pins gives it
    assert board.pin_meta("cfg").version.version == version
    assert board.pin_meta("cfg", version).version == version
    assert version.to_dict() == {
        "version": str(version),
        "created": version.created,
        "hash": version.hash,
    }


def test_pin_version_behaves_as_its_text() -> None:
    version = PinVersion("20240102T030405Z-d2d92")
    assert version == "20240102T030405Z-d2d92"
    assert hash(version) == hash("20240102T030405Z-d2d92")
    assert {version: 1}["20240102T030405Z-d2d92"] == 1
    assert repr(version) == "'20240102T030405Z-d2d92'"
    assert f"{version}" == "20240102T030405Z-d2d92"
    again = pickle.loads(pickle.dumps(version))
    assert again == version
    assert isinstance(again, PinVersion)
    assert yaml.safe_dump({"v": version}) == "v: 20240102T030405Z-d2d92\n"
    assert yaml.dump({"v": version}, Dumper=yaml.CSafeDumper) == "v: 20240102T030405Z-d2d92\n"


def test_pin_version_without_a_time_part() -> None:
    raw = PinVersion("v")
    assert raw.version == "v"
    assert raw.created is None
    assert raw.hash == ""
    assert PinVersion("2024-x").created is None


def test_file_and_file_size_follow_pins_shapes(tmp_path) -> None:
    board = pinyard.board_memory()
    one = board.pin_write(pd.DataFrame({"x": [1, 2]}), "df", type="csv")
    assert one.file == "df.csv"
    assert isinstance(one.file_size, int)
    assert one.file_names == ("df.csv",)
    assert one.file_sizes == (one.file_size,)
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("one")
    b.write_text("three")
    several = board.pin_upload([a, b], "files")
    assert several.file == ["a.txt", "b.txt"]
    assert several.file_size == [3, 5]
    assert board.pin_meta("files").file == ["a.txt", "b.txt"]


def test_lineage_may_hold_a_version_id() -> None:
    board = pinyard.board_memory()
    parent = board.pin_write({"a": 1}, "parent")
    child = board.pin_write({"b": 2}, "child", lineage={"parent": parent.version})
    assert board.pin_meta("child").lineage == {"parent": str(parent.version)}
    assert child.written


# -- errors: pins' builtin types and key words --------------------------------


def test_unknown_or_unusable_types_are_not_implemented_errors(tmp_path) -> None:
    board = pinyard.board_memory()
    with pytest.raises(NotImplementedError, match="MY_TYPE"):
        board.pin_write({"a": 1}, "cfg", type="MY_TYPE")
    with pytest.raises(NotImplementedError, match="pin_upload"):
        board.pin_write(str(tmp_path), "cfg", type="file")
    (tmp_path / "notes.txt").write_text("hi")
    board.pin_upload(tmp_path / "notes.txt", "notes")
    with pytest.raises(NotImplementedError, match="pin_download"):
        board.pin_read("notes")
    with pytest.raises(errors.UnsupportedTypeError):  # still pinyard's own class, a ValueError
        board.pin_read("notes")
    with pytest.raises(ValueError, match="rds"):
        board.pin_write({"a": 1}, "cfg", type="rds")


def test_reserved_names_use_pins_words() -> None:
    board = pinyard.board_memory()
    with pytest.raises(ValueError, match=r"name '_pins\.yaml' is reserved for internal use\."):
        board.pin_write([1], "_pins.yaml", type="json")
    with pytest.raises(errors.InvalidNameError, match="reserved for internal use"):
        board.pin_exists("_pins.yaml")
    with pytest.raises(ValueError, match="reserved for internal use"):
        board.pin_read("_pins.yaml")


def test_missing_pin_says_it_does_not_exist() -> None:
    board = pinyard.board_memory()
    with pytest.raises(KeyError, match="nope does not exist") as info:
        board.pin_meta("nope")
    assert isinstance(info.value, errors.PinNotFoundError)
    with pytest.raises(errors.PinNotFoundError, match="nope does not exist"):
        board.pin_versions("nope")


# -- type "feather" -------------------------------------------------------------


def test_feather_is_written_as_arrow_with_a_deprecation_warning() -> None:
    board = pinyard.board_memory()
    df = pd.DataFrame({"x": [1, 2, 3]})
    with pytest.warns(DeprecationWarning, match='"feather" is deprecated.*type="arrow"'):
        meta = board.pin_write(df, "cool_pin", type="feather")
    assert meta.type == "arrow"
    assert meta.file == "cool_pin.arrow"
    assert board.pin_read("cool_pin").equals(df)


def test_feather_versions_written_by_older_pins_are_read(tmp_path) -> None:
    df = pd.DataFrame({"x": [1, 2, 3]})
    version = tmp_path / "old" / "20220214T163720Z-00000"
    version.mkdir(parents=True)
    df.to_feather(version / "old.feather")
    (version / "data.txt").write_text(
        "file: old.feather\ntype: feather\ntitle: old\ncreated: 20220214T163720Z\n"
        "pin_hash: 0\napi_version: 1\n"
    )
    board = pinyard.board_pins(tmp_path)
    with pytest.warns(errors.UnverifiedVersionWarning):  # pin_hash 0 cannot be checked
        assert board.pin_read("old").equals(df)


# -- an identical write says so --------------------------------------------------


def test_identical_write_is_logged_with_pins_words(caplog: pytest.LogCaptureFixture) -> None:
    board = pinyard.board_memory()
    first = board.pin_write({"a": 1}, "cool_pin")
    with caplog.at_level(logging.WARNING, logger="pinyard"):
        again = board.pin_write({"a": 1}, "cool_pin")
    assert not again.written
    assert again.version == first.version
    assert 'The hash of pin "cool_pin" has not changed. Your pin will not be stored.' in (
        caplog.text
    )
    assert "force_identical_write=True" in caplog.text


def test_identical_write_reaches_stderr_of_a_plain_script(tmp_path) -> None:
    script = (
        "import pinyard\n"
        f"b = pinyard.board_folder({str(tmp_path / 'b')!r})\n"
        "b.pin_write({'a': 1}, 'cool_pin')\n"
        "b.pin_write({'a': 1}, 'cool_pin')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert 'The hash of pin "cool_pin" has not changed.' in done.stderr
    assert done.stdout == ""  # told through logging, not print


# -- versioned=False: one version kept, written before the old one goes ----------


def test_unversioned_board_keeps_one_version(tmp_path) -> None:
    board = pinyard.board_folder(tmp_path / "b", versioned=False)
    assert board.versioned is False
    board.pin_write({"a": 1}, "p")
    board.pin_write({"a": 2}, "p")
    assert len(board.pin_versions("p")) == 1
    assert board.pin_read("p") == {"a": 2}
    board.pin_write({"a": 3}, "p", versioned=True)  # pins: an explicit True keeps both
    board.pin_write({"a": 4}, "p")  # several versions: the pin stays versioned
    assert len(board.pin_versions("p")) == 3
    with pytest.raises(errors.InvalidArgumentError, match="pin_versions_prune") as info:
        board.pin_write({"a": 5}, "p", versioned=False)
    assert "Pin is versioned, but you have requested a write without versions" in str(info.value)
    assert len(board.pin_versions("p")) == 3


def test_unversioned_write_of_identical_content_deletes_nothing() -> None:
    board = pinyard.board_memory(versioned=False)
    first = board.pin_write({"a": 1}, "p")
    again = board.pin_write({"a": 1}, "p")
    assert not again.written
    assert [v.version for v in board.pin_versions("p", as_df=False)] == [first.version]


def test_unversioned_upload_replaces_the_files(tmp_path) -> None:
    board = pinyard.board_memory()
    (tmp_path / "a.txt").write_text("one")
    board.pin_upload(tmp_path / "a.txt", "f", versioned=False)
    (tmp_path / "a.txt").write_text("two")
    board.pin_upload(tmp_path / "a.txt", "f", versioned=False)
    (path,) = board.pin_download("f")
    assert Path(path).read_text() == "two"
    assert len(board.pin_versions("f")) == 1


def test_unversioned_write_keeps_a_protected_version(caplog: pytest.LogCaptureFixture) -> None:
    board = pinyard.board_memory()
    kept = board.pin_write({"a": 1}, "p")
    board.add_protection_hook(lambda n, v: "alias @prod" if v == kept.version else None)
    with caplog.at_level(logging.WARNING, logger="pinyard"):
        new = board.pin_write({"a": 2}, "p", versioned=False)
    assert [v.version for v in board.pin_versions("p", as_df=False)] == [kept.version, new.version]
    assert "alias @prod" in caplog.text


def test_a_failed_unversioned_write_keeps_the_old_version() -> None:
    board = pinyard.board_memory()
    board.pin_write({"a": 1}, "p")
    with pytest.raises(errors.SerializationError):
        board.pin_write({"a": {1, 2}}, "p", type="json", versioned=False)
    assert board.pin_read("p") == {"a": 1}


# -- constructors: pins' forms and attributes ------------------------------------


def test_board_takes_pins_protocol_and_path_form(tmp_path) -> None:
    board = pinyard.board("file", str(tmp_path / "b"), storage_options={}, versioned=False)
    assert board.kind == "pinyard"
    assert board.versioned is False
    assert board.store.url == str(tmp_path / "b")
    with pytest.raises(errors.InvalidArgumentError, match="protocol"):
        pinyard.board("s3://bucket", "path")


def test_fs_and_board_name_where_pins_are(tmp_path) -> None:
    board = pinyard.board_folder(tmp_path / "b")
    board.pin_write({"a": 1}, "p")
    assert board.board == str(tmp_path / "b" / "pins")
    assert "file" in board.fs.protocol
    assert board.fs.ls(board.board, detail=False) == [str(tmp_path / "b" / "pins" / "p")]
    assert pinyard.board_pins(board.board).board == board.board
    memory = pinyard.board_memory()
    assert not hasattr(memory, "fs")
    assert not hasattr(memory, "board")


# -- created= back-dates a version ---------------------------------------------------


def test_created_back_dates_the_version_without_making_it_latest() -> None:
    board = pinyard.board_memory()
    new = board.pin_write({"v": "new"}, "p")
    old = board.pin_write({"v": "old"}, "p", created=datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert old.version.startswith("20200102T030405Z-")
    assert old.created == "20200102T030405Z"
    assert board.pin_meta("p", old.version).created == "20200102T030405Z"
    versions = [v.version for v in board.pin_versions("p", as_df=False)]
    assert versions == [old.version, new.version]  # sorted by date: the newer stays latest
    assert board.pin_read("p") == {"v": "new"}
    assert board.pin_meta("p", old.version).written_at > new.written_at  # true write time kept


def test_naive_created_is_local_time() -> None:
    board = pinyard.board_memory()
    local = datetime(2021, 6, 1, 12, 0, 0)
    meta = board.pin_write({"a": 1}, "p", created=local)
    assert meta.created == local.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def test_created_in_one_second_keeps_write_order() -> None:
    board = pinyard.board_memory()
    moment = datetime(2022, 2, 2, 2, 2, 2, tzinfo=UTC)
    written = [board.pin_write({"i": i}, "p", created=moment).version for i in range(4)]
    assert written == sorted(written)
    assert written[0].startswith("20220202T020202Z-")
    assert board.pin_read("p") == {"i": 3}


def test_prune_by_days_sees_back_dated_versions() -> None:
    board = pinyard.board_memory()
    now = datetime.now(UTC)
    board.pin_write({"a": 1}, "p", created=now - timedelta(days=3, minutes=1))
    board.pin_write({"a": 2}, "p", created=now - timedelta(days=2, minutes=1))
    board.pin_write({"a": 3}, "p", created=now)
    assert len(board.pin_versions_prune("p", days=1)) == 2
    assert board.pin_read("p") == {"a": 3}
