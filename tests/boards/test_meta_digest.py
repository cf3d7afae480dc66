"""data.txt carries a digest of its own content (decision 0018): an edit to any field of
a version pinyard wrote is an `IntegrityError` naming the pin and the version before
anything of it is used, and a version that lost its ``pinyard`` key is not read as if
pins had written it."""

from __future__ import annotations

import warnings
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import pinyard
from pinyard import errors


@pytest.fixture
def board(tmp_path: Path) -> pinyard.Board:
    return pinyard.board_folder(tmp_path / "board")


def _data_txt(board: pinyard.Board, name: str) -> Path:
    version = board.pin_meta(name).version
    return Path(board.store.local_path(f"pins/{name}/{version}/data.txt") or "")


def _edit(path: Path, change: Any) -> None:
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=True))


def _set(*keys: str, value: Any) -> Any:
    def change(doc: dict[str, Any]) -> None:
        for key in keys[:-1]:
            doc = doc[key]
        doc[keys[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_set("type", value="joblib"), "type"),
        (_set("type", value="csv"), "type"),
        (_set("pinyard", "object", value="pandas.DataFrame"), "object"),
        (_set("user", "owner", value="mallory"), "user"),
        (_set("created", value="20200101T000000Z"), "created"),
        (_set("title", value="something else"), "title"),
        (_set("pin_hash", value="0000000000000000"), "pin_hash"),
        (_set("pinyard", "lineage", value={"run": "forged"}), "lineage"),
        (_set("unknown_key", value=1), "an added key"),
    ],
)
def test_an_edited_field_of_data_txt_is_caught_naming_the_version(
    board: pinyard.Board, change: Any, field: str
) -> None:
    written = board.pin_write({"a": 1}, "cfg", metadata={"owner": "alice"})
    path = _data_txt(board, "cfg")
    _edit(path, change)
    for read in (lambda: board.pin_meta("cfg"), lambda: board.pin_read("cfg")):
        with pytest.raises(errors.IntegrityError) as info:
            read()
        message = str(info.value)
        assert "data.txt of pin 'cfg'" in message, field
        assert written.version in message
        assert "edited or damaged" in message


def test_a_damaged_type_byte_is_a_typed_error_never_a_raw_one(board: pinyard.Board) -> None:
    """A flipped byte in ``type`` gave UnicodeDecodeError/UnpicklingError/KeyError."""
    board.pin_write(pd.DataFrame({"x": [1, 2]}), "df")
    path = _data_txt(board, "df")
    raw = path.read_bytes()
    for damaged in (raw.replace(b"type: parquet", b"type: joblib"),
                    raw.replace(b"type: parquet", b"type: parqu\xffet"),
                    raw.replace(b"type: parquet", b"type: json")):  # fmt: skip
        assert damaged != raw
        path.write_bytes(damaged)
        with pytest.raises((errors.IntegrityError, errors.MetadataError), match="'df'"):
            board.pin_read("df")


def test_a_version_that_lost_its_pinyard_key_is_not_downgraded(board: pinyard.Board) -> None:
    written = board.pin_write({"a": 1}, "cfg")
    path = _data_txt(board, "cfg")
    _edit(path, lambda doc: doc.pop("pinyard"))
    with pytest.raises(errors.IntegrityError, match="lost its 'pinyard' key") as info:
        board.pin_read("cfg")
    assert written.version in str(info.value)
    with pytest.raises(errors.IntegrityError):
        board.pin_download("cfg")


def test_a_version_that_lost_its_digest_is_caught(board: pinyard.Board) -> None:
    board.pin_write({"a": 1}, "cfg")
    path = _data_txt(board, "cfg")
    _edit(path, lambda doc: doc.pop("pinyard_digest"))
    with pytest.raises(errors.IntegrityError, match="'pinyard_digest' key is gone"):
        board.pin_meta("cfg")
    _edit(path, _set("pinyard_digest", value="md5:abc"))
    with pytest.raises(errors.IntegrityError, match="damaged"):
        board.pin_meta("cfg")


def test_a_pinyard_key_that_is_no_mapping_is_caught(board: pinyard.Board) -> None:
    board.pin_write({"a": 1}, "cfg")
    path = _data_txt(board, "cfg")
    _edit(path, _set("pinyard", value="gone"))
    with pytest.raises(errors.IntegrityError, match="'cfg'"):
        board.pin_meta("cfg")


def test_the_same_content_in_another_yaml_layout_still_reads(board: pinyard.Board) -> None:
    """The digest is over what YAML parses back, not the bytes: a re-dump (another key
    order, flow style, R's ``~``) of unchanged content keeps it valid."""
    metadata = {"when": date(2020, 1, 2), "n": [1, 2.5, None], "nested": {"k": "v"}}
    board.pin_write({"a": 1}, "cfg", metadata=metadata)
    path = _data_txt(board, "cfg")
    doc = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump(doc, sort_keys=False, default_flow_style=True))
    meta = board.pin_meta("cfg")
    assert meta.metadata_verified
    assert meta.user == metadata
    assert board.pin_read("cfg") == {"a": 1}


def test_versions_written_before_the_digest_read_with_their_files_still_checked(
    board: pinyard.Board,
) -> None:
    """pinyard format 1 (before 0018): read as before, flagged ``metadata_verified=False``;
    its files are still checked by sha256."""
    board.pin_write({"a": 1}, "cfg")
    path = _data_txt(board, "cfg")

    def to_format_1(doc: dict[str, Any]) -> None:
        doc.pop("pinyard_digest")
        doc["pinyard"]["format"] = 1

    _edit(path, to_format_1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert board.pin_read("cfg") == {"a": 1}
        meta = board.pin_meta("cfg")
    assert meta.written_by_pinyard
    assert not meta.metadata_verified
    data = path.with_name("cfg.json")
    data.chmod(0o644)
    data.write_bytes(b'{"a":2}')
    with pytest.raises(errors.IntegrityError, match="sha256"):
        board.pin_read("cfg")


def test_new_versions_are_flagged_verified(board: pinyard.Board) -> None:
    written = board.pin_write({"a": 1}, "cfg")
    assert written.metadata_verified
    assert board.pin_meta("cfg").metadata_verified
    assert "pinyard_digest" not in board.pin_meta("cfg").extra
