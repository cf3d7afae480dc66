"""The name rules of `pinyard.boards._names`: what is refused, why, and what stays readable."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, ClassVar

import pytest

import pinyard
from pinyard import errors
from pinyard.boards._names import (
    IDENTIFIER_KINDS,
    MAX_PIN_NAME_BYTES,
    folded,
    validate_identifier,
    validate_new_pin_name,
    validate_pin_name,
    validate_version_id,
)
from pinyard.boards._types import JsonSerializer, register_type

WIDE = "\uff53\uff41\uff4c\uff45\uff53"  # 'sales' in fullwidth letters
NEW_RULE = "A new pin name is one path component of 1 to 247 UTF-8 bytes"
READ_RULE = "A pin name is one path component of at most 255 UTF-8 bytes"


def test_the_limit_leaves_room_for_the_longest_extension() -> None:
    assert MAX_PIN_NAME_BYTES == 247
    assert len("x" * MAX_PIN_NAME_BYTES + ".parquet") == 255


@pytest.mark.parametrize(
    "name",
    ["sales", "sales-model_v2", "my.model", "données", "daily prices", WIDE, "a" * 247,
     "é" * 123, "CONSOLE", "con-fig", "v1.0"],
)  # fmt: skip
def test_good_new_names_pass(name: str) -> None:
    assert validate_new_pin_name(name) == name
    assert validate_pin_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("a/b", "separator"),
        ("a\\b", "separator"),
        ("..", "relative"),
        (".git", "starts with '.'"),
        ("a\nb", "control"),
        ("nul\x00", "control"),
        ("a\u200bb", "invisible"),
        (" padded", "whitespace"),
        ("c:x", "':'"),
        ("é" * 128, "256 bytes"),
        ("data.txt", "reserved"),
        ("bad\ud800name", "lone surrogate"),
        ("\udcff", "lone surrogate"),
    ],
)
def test_bad_names_say_why(name: str, reason: str) -> None:
    for check, rule in ((validate_pin_name, READ_RULE), (validate_new_pin_name, NEW_RULE)):
        with pytest.raises(errors.InvalidNameError, match=reason) as info:
            check(name)
        assert repr(name)[:60] in str(info.value)
        assert rule in str(info.value)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("x" * 248, "248 bytes long (UTF-8), the limit is 247"),
        ("é" * 124, "248 bytes long (UTF-8), the limit is 247"),
        ("a*b", "contains *, which Windows does not allow"),
        ('what?"', 'contains " ?, which Windows does not allow'),
        ("a<b>|", "contains < > |"),
        ("end.", "ends with '.'"),
        ("CON", "'CON' is a device name reserved on Windows"),
        ("nul.txt", "'nul' is a device name"),
        ("Com1.tar.gz", "'Com1' is a device name"),
        ("lpt9", "device name"),
        ("COM¹", "device name"),
        ("aux .csv", "'aux' is a device name"),
        ("DATA.TXT", "reserved by the pins format (in any case)"),
        ("_PINS.yaml", "reserved by the pins format"),
        ("cafe\u0301", "not in Unicode NFC form; write it as 'café'"),
    ],
)
def test_new_names_are_held_to_portable_rules(name: str, reason: str) -> None:
    """Stricter than reading: these fail on Windows, macOS or a folder board, but
    a pin that already has such a name stays readable (below)."""
    with pytest.raises(errors.InvalidNameError, match="invalid pin name") as info:
        validate_new_pin_name(name)
    message = str(info.value)
    assert repr(name)[:60] in message
    assert reason in message
    assert NEW_RULE in message
    if len(name) < 200:
        assert validate_pin_name(name) == name  # still readable


def test_the_message_says_spaces_are_fine_and_names_the_characters_refused() -> None:
    with pytest.raises(errors.InvalidNameError) as info:
        validate_new_pin_name("a|b")
    assert "spaces inside are fine" in str(info.value)
    assert '/ \\ : * ? " < > |' in str(info.value)


def test_folding_joins_case_width_and_normal_forms() -> None:
    assert folded("Sales") == folded("sales") == folded(WIDE.upper()) == folded("SALES")
    assert folded("café") == folded("cafe\u0301") == folded("CAFÉ")
    assert folded("Straße") == folded("STRASSE")
    assert folded("sales") != folded("sale")


@pytest.mark.parametrize(
    "bad", ["latest", "20261127T110608Z-4F2A9", "20261127-4f2a9", "../x", None, 7,
            "20261127T110608Z-4f2a9\n", "20261127T110608Z-4f2a9/..", ""],
)  # fmt: skip
def test_version_ids_are_validated(bad: Any) -> None:
    assert validate_version_id("20261127T110608Z-4f2a9")
    with pytest.raises(errors.InvalidNameError, match="version id") as info:
        validate_version_id(bad)
    assert repr(bad) in str(info.value)
    assert "YYYYmmddTHHMMSSZ-xxxxx" in str(info.value)


def test_every_kind_names_itself_and_refuses_a_non_string() -> None:
    for kind in IDENTIFIER_KINDS:
        with pytest.raises(errors.InvalidNameError, match=kind.removeprefix("new ")) as info:
            validate_identifier(b"bytes", kind)
        assert "must be a string, not bytes" in str(info.value)


def test_registry_names_follow_the_new_pin_rules_and_aliases_are_short_words() -> None:
    assert validate_identifier("champion", "alias name") == "champion"
    assert validate_identifier("canary-eu_2", "stage name") == "canary-eu_2"
    assert validate_identifier("price model", "registry name") == "price model"
    for bad in ["../x", "a/b", "CON", "x.", "a\ud800", "Champion", "a b", "1st", "x" * 64]:
        with pytest.raises(errors.InvalidNameError, match="invalid alias name") as info:
            validate_identifier(bad, "alias name")
        assert "An alias is a lowercase letter followed by" in str(info.value)


def test_a_long_value_is_cut_short_in_the_message() -> None:
    with pytest.raises(errors.InvalidNameError) as info:
        validate_identifier("k" * 10_000, "metric key")
    assert len(str(info.value)) < 600
    assert "10002 characters" in str(info.value)


def test_invalid_name_error_is_an_invalid_argument_error() -> None:
    assert issubclass(errors.InvalidNameError, errors.InvalidArgumentError)
    assert issubclass(errors.InvalidNameError, ValueError)


class _LongExtension(JsonSerializer):
    type: ClassVar[str] = "jsonlines"
    extension: ClassVar[str] = "jsonlines"


def test_a_type_whose_extension_would_not_fit_is_refused() -> None:
    with pytest.raises(errors.UnsupportedTypeError, match="1 to 7 ASCII letters or digits"):
        register_type(_LongExtension())


# -- on a folder board ---------------------------------------------------------------


@pytest.fixture
def board(tmp_path: Path) -> pinyard.Board:
    return pinyard.board_folder(tmp_path / "board", create=True, allow_pickle_read=True)


def test_the_longest_name_is_written_and_read_with_every_extension(board: pinyard.Board) -> None:
    import pandas as pd

    name = "é" * 123 + "x"  # 247 bytes
    frame = pd.DataFrame({"a": [1]})
    for type_name in ("parquet", "joblib", "arrow", "csv", "json"):
        obj: Any = {"a": [1]} if type_name == "json" else frame
        board.pin_write(obj, name, type=type_name, force_identical_write=True)
        assert board.pin_read(name) is not None
    with pytest.raises(errors.InvalidNameError, match="the limit is 247"):
        board.pin_write(frame, name + "y")


@pytest.mark.parametrize("legacy", ["CON", "a*b", "trailing.", "x" * 250, "cafe\u0301"])
def test_a_pin_that_breaks_a_new_rule_stays_readable(board: pinyard.Board, legacy: str) -> None:
    """Written by an older pinyard or by pins: listed, read and deleted as before;
    only writing a new version is refused."""
    meta = board.pin_write({"k": 1}, "modern")
    pins = Path(board.store.local_path("pins") or "")
    shutil.copytree(pins / "modern", pins / legacy)
    assert legacy in board.pin_list()
    assert board.pin_read(legacy) == {"k": 1}
    assert board.pin_meta(legacy, meta.version).version == meta.version
    with pytest.raises(errors.InvalidNameError, match="invalid pin name"):
        board.pin_write({"k": 2}, legacy)
    board.pin_delete(legacy)
    assert board.pin_list() == ["modern"]


def test_a_surrogate_pin_name_is_a_typed_error_everywhere(board: pinyard.Board) -> None:
    for call in (
        lambda: board.pin_write({"k": 1}, "a\ud800"),
        lambda: board.pin_read("a\ud800"),
        lambda: board.pin_exists("a\ud800"),
        lambda: board.pin_versions("a\ud800"),
        lambda: board.pin_delete("a\ud800"),
    ):
        with pytest.raises(errors.InvalidNameError, match="lone surrogate"):
            call()


@pytest.mark.parametrize(
    ("base", "reason"),
    [(b"data.txt", "reserved for the version's metadata"), (b"\xff.csv", "lone surrogate"),
     (b"f" * 255 + b"", None)],
)  # fmt: skip
def test_a_bad_upload_file_name_is_refused_before_anything_is_written(
    board: pinyard.Board, tmp_path: Path, base: bytes, reason: str | None
) -> None:
    good = tmp_path / "good.csv"
    good.write_bytes(b"a\n1\n")
    folder = tmp_path / "files"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), base), "wb") as f:
        f.write(b"x")
    path = os.path.join(str(folder), os.fsdecode(base))
    if reason is None:  # 255 bytes: the longest file name, accepted
        assert board.pin_upload([good, path], "files").file[1] == os.fsdecode(base)
        return
    with pytest.raises(errors.InvalidNameError, match="invalid file name") as info:
        board.pin_upload([good, path], "files")
    assert reason in str(info.value)
    assert repr(os.fsdecode(base)) in str(info.value)
    assert "rename the file" in str(info.value)
    assert board.pin_list() == []
    assert [p.name for p in Path(board.store.local_path("") or "").rglob("*.csv")] == []


@pytest.mark.parametrize(
    ("names", "reason"),
    [(["fine", "a*b"], "contains *"), (["Sales", "sales"], "only in case or Unicode form")],
)
def test_an_import_with_an_unfit_name_copies_nothing(
    board: pinyard.Board, tmp_path: Path, names: list[str], reason: str
) -> None:
    """A plain pins board may hold names pinyard refuses to create (pins on Linux allows
    'a*b', and 'Sales' beside 'sales'): the import names the pin and copies nothing."""
    source = pinyard.board_folder(tmp_path / "source", create=True)
    source.pin_write({"k": 1}, "template")
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in names:
        shutil.copytree(tmp_path / "source" / "pins" / "template", plain / name)
    with pytest.raises(errors.InvalidNameError, match="invalid pin name") as info:
        pinyard.import_pins(str(plain), board)
    assert reason in str(info.value)
    assert repr(names[-1]) in str(info.value)
    assert board.pin_list() == []
