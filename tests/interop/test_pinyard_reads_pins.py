"""pinyard reads boards written by pins-python and boards in R pins' format."""

from __future__ import annotations

import gc
import json
import re
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pandas.testing as pdt
import pins
import pytest

import pinyard
from pinyard.errors import (
    HashMismatchError,
    IntegrityError,
    InvalidNameError,
    MetadataError,
    PinNotFoundError,
    UnsupportedTypeError,
    UnverifiedError,
    UnverifiedVersionWarning,
)

from ._support import (
    PINS_PYTHON_FILES,
    PINS_PYTHON_OBJECTS,
    PINS_PYTHON_TABLES,
    PINS_PYTHON_TITLES,
    PINS_PYTHON_VERSIONS,
    R_MULTI_FILES,
    R_VERSIONS,
    flip_byte,
    shared_table,
    tree_digest,
)

pytestmark = pytest.mark.interop


def _rows(table: dict[str, list[tuple[Any, ...]]]) -> list[tuple[str, tuple[Any, ...]]]:
    return [(pin, row) for pin, rows in table.items() for row in rows]


def _check_meta(meta: pinyard.PinMeta, pin: str, row: tuple[Any, ...]) -> None:
    version, pin_type, files, sizes, pin_hash = row
    assert meta.name == pin
    assert meta.version == version
    assert meta.type == pin_type
    assert meta.file_names == files
    assert meta.file_sizes == sizes
    # pins' shape: a str/int for one file, lists for several
    assert meta.file == (files[0] if len(files) == 1 else list(files))
    assert meta.file_size == (sizes[0] if len(sizes) == 1 else list(sizes))
    assert meta.version.version == version
    assert meta.version.hash == version.rsplit("-", 1)[1]
    assert meta.pin_hash == pin_hash
    assert meta.created == version.split("-")[0]
    assert meta.api_version == 1
    assert not meta.written_by_pinyard  # pins records no sha256


# -- (a) the golden board written by pins-python 0.9.2 -------------------------


@pytest.fixture
def py_board(pins_python_copy: Path) -> pinyard.Board:
    return pinyard.board_pins(pins_python_copy)


def test_golden_pin_list(py_board: pinyard.Board) -> None:
    assert py_board.pin_list() == sorted(PINS_PYTHON_VERSIONS)


@pytest.mark.parametrize(("pin", "row"), _rows(PINS_PYTHON_VERSIONS))
def test_golden_meta(py_board: pinyard.Board, pin: str, row: tuple[Any, ...]) -> None:
    meta = py_board.pin_meta(pin, row[0])
    _check_meta(meta, pin, row)
    assert meta.title == PINS_PYTHON_TITLES[pin]
    assert meta.tags is None
    assert meta.urls is None
    assert meta.created_at == datetime.strptime(row[0][:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def test_golden_obj_json_meta(py_board: pinyard.Board) -> None:
    meta = py_board.pin_meta("obj_json")
    assert meta.description == "A dict with a list inside, written by pins-python."
    assert dict(meta.user) == {"n": 3, "source": "pinyard fixtures"}
    assert py_board.pin_meta("df_csv").description is None
    assert dict(py_board.pin_meta("df_csv").user) == {}


@pytest.mark.parametrize("pin", PINS_PYTHON_TABLES)
def test_golden_tables_read(py_board: pinyard.Board, pin: str) -> None:
    pdt.assert_frame_equal(py_board.pin_read(pin), shared_table())


@pytest.mark.parametrize(("pin", "expected"), sorted(PINS_PYTHON_OBJECTS.items()))
def test_golden_objects_read(py_board: pinyard.Board, pin: str, expected: Any) -> None:
    assert py_board.pin_read(pin) == expected


def test_golden_versions_in_order(py_board: pinyard.Board) -> None:
    expected = [row[0] for row in PINS_PYTHON_VERSIONS["two_versions"]]
    df = py_board.pin_versions("two_versions")
    assert list(df["version"]) == expected
    assert list(df["hash"]) == ["d317e", "84cba"]
    assert list(df["created"]) == [datetime(2024, 1, 2, 3, 4, 5), datetime(2024, 1, 2, 3, 5, 5)]
    infos = py_board.pin_versions("two_versions", as_df=False)
    assert [i.version for i in infos] == expected
    assert py_board.pin_meta("two_versions").version == expected[-1]
    assert py_board.pin_read("two_versions", version=expected[0]) == {"v": 1}
    assert py_board.pin_read("two_versions", version=expected[1]) == {"v": 2}


def test_golden_read_with_hash(py_board: pinyard.Board) -> None:
    assert (
        py_board.pin_read("obj_json", hash="21af7ea6d4a191b5") == PINS_PYTHON_OBJECTS["obj_json"]
    )
    assert py_board.pin_read("obj_json", hash="21af7") == PINS_PYTHON_OBJECTS["obj_json"]
    with pytest.raises(HashMismatchError, match="obj_json"):
        py_board.pin_read("obj_json", hash="0000000000000000")


@pytest.mark.parametrize("pin", sorted(PINS_PYTHON_FILES))
def test_golden_download(py_board: pinyard.Board, pin: str) -> None:
    """File pins download verified; the multi-file pin by pins-python's combined-hash rule."""
    expected = PINS_PYTHON_FILES[pin]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnverifiedVersionWarning)  # must verify, not warn
        paths = py_board.pin_download(pin)
    assert [Path(p).name for p in paths] == list(expected)
    assert [Path(p).read_bytes() for p in paths] == list(expected.values())


def test_golden_file_pin_is_not_read_as_object(py_board: pinyard.Board) -> None:
    with pytest.raises(UnsupportedTypeError, match="pin_download"):
        py_board.pin_read("one_file")


@pytest.mark.parametrize(
    ("pin", "file_name"),
    [("multi_file", "part_b.csv"), ("one_file", "notes.txt"), ("obj_json", "obj_json.json")],
)
def test_golden_corruption_detected(pins_python_copy: Path, pin: str, file_name: str) -> None:
    """A flipped byte in a pins-written file fails pins' own hash rule."""
    (version,) = [row[0] for row in PINS_PYTHON_VERSIONS[pin]]
    flip_byte(pins_python_copy / pin / version / file_name, offset=2)
    board = pinyard.board_pins(pins_python_copy)
    read = board.pin_download if PINS_PYTHON_VERSIONS[pin][0][1] == "file" else board.pin_read
    with pytest.raises(IntegrityError, match=re.escape(version)):
        read(pin)


def test_golden_joblib_corruption_is_not_unpickled(pins_python_copy: Path) -> None:
    (version,) = [row[0] for row in PINS_PYTHON_VERSIONS["obj_joblib"]]
    flip_byte(pins_python_copy / "obj_joblib" / version / "obj_joblib.joblib", offset=40)
    board = pinyard.board_pins(pins_python_copy)
    with pytest.raises(IntegrityError, match="obj_joblib"):
        board.pin_read("obj_joblib")


def test_golden_search(py_board: pinyard.Board) -> None:
    found = py_board.pin_search()
    assert sorted(found["name"]) == sorted(PINS_PYTHON_VERSIONS)
    assert [m.name for m in py_board.pin_search("small dict", as_df=False)] == ["obj_json"]


def test_reading_writes_nothing(pins_python_copy: Path, r_board_copy: Path) -> None:
    """Reading a pins board through pinyard leaves every byte of it as it was."""
    before = {p: tree_digest(p) for p in (pins_python_copy, r_board_copy)}
    py_board = pinyard.board_pins(pins_python_copy)
    for pin in py_board.pin_list():
        py_board.pin_versions(pin)
        py_board.pin_download(pin)
    r_board = pinyard.board_pins(r_board_copy)
    for pin in r_board.pin_list():
        r_board.pin_versions(pin)
        if pin == "r_multi":
            with pytest.warns(UnverifiedVersionWarning):
                r_board.pin_download(pin)
        else:
            r_board.pin_download(pin)
    after = {p: tree_digest(p) for p in (pins_python_copy, r_board_copy)}
    assert after == before
    assert sorted(p.name for p in pins_python_copy.iterdir()) == sorted(PINS_PYTHON_VERSIONS)


# -- (b) a board written now by the installed pins-python -----------------------


@pytest.fixture
def fresh(tmp_path: Path) -> dict[str, Any]:
    """A pins board written by pins-python during the test, and what went into it."""
    path = tmp_path / "fresh_pins"
    path.mkdir()
    board = pins.board_folder(str(path), allow_pickle_read=True)
    df = shared_table()
    when = datetime(2024, 3, 4, 5, 6, 7)
    objects: dict[str, Any] = {}
    note = tmp_path / "note.txt"
    note.write_bytes(b"one file\n")
    other = tmp_path / "other.csv"
    other.write_bytes(b"a,b\n1,2\n")
    obj = {"name": "fresh", "values": [1, 2, 3], "nested": {"ok": True}}
    model = {"model": "mean", "coef": (0.5, 1.5), "classes": {"a", "b"}}
    # pins-python 0.9.2 leaves files open while writing (ResourceWarning); not ours to fix.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        for pin_type in ("csv", "parquet", "arrow"):
            board.pin_write(df, f"df_{pin_type}", type=pin_type, created=when)
            objects[f"df_{pin_type}"] = df
        board.pin_write(obj, "obj_json", type="json", title="t", metadata={"a": 1}, created=when)
        objects["obj_json"] = obj
        board.pin_write(model, "obj_joblib", type="joblib", created=when)
        objects["obj_joblib"] = model
        for i in range(2):
            board.pin_write({"v": i}, "two", type="json", created=when.replace(minute=10 + i))
        objects["two"] = {"v": 1}
        board.pin_upload(str(note), "up_one")
        board.pin_upload([str(note), str(other)], "up_two")
        gc.collect()
    files = {"up_one": [note.read_bytes()], "up_two": [note.read_bytes(), other.read_bytes()]}
    return {"path": path, "pins": board, "objects": objects, "files": files}


def test_fresh_pins_board_lists_and_reads(fresh: dict[str, Any]) -> None:
    board = pinyard.board_pins(fresh["path"])
    src = fresh["pins"]
    assert board.pin_list() == sorted(src.pin_list())
    for name, expected in fresh["objects"].items():
        got = board.pin_read(name)
        if isinstance(expected, pd.DataFrame):
            pdt.assert_frame_equal(got, expected)
            pdt.assert_frame_equal(got, src.pin_read(name))
        else:
            assert got == expected
            assert got == src.pin_read(name)
        meta, pins_meta = board.pin_meta(name), src.pin_meta(name)
        assert meta.version == pins_meta.version.version
        assert meta.pin_hash == pins_meta.pin_hash
        assert meta.type == pins_meta.type
        assert meta.title == pins_meta.title
        assert dict(meta.user) == dict(pins_meta.user)
    assert board.pin_meta("obj_json").title == "t"
    assert dict(board.pin_meta("obj_json").user) == {"a": 1}
    assert list(board.pin_versions("two")["version"]) == list(src.pin_versions("two")["version"])
    assert len(board.pin_versions("two")) == 2


def test_fresh_pins_board_downloads(fresh: dict[str, Any]) -> None:
    board = pinyard.board_pins(fresh["path"])
    for name, contents in fresh["files"].items():
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnverifiedVersionWarning)
            paths = board.pin_download(name)
        assert [Path(p).read_bytes() for p in paths] == contents
        assert [Path(p).name for p in paths] == [
            Path(p).name for p in fresh["pins"].pin_download(name)
        ]


def test_fresh_pins_joblib_verified_before_unpickling(fresh: dict[str, Any]) -> None:
    board = pinyard.board_pins(fresh["path"])
    assert board.pin_read("obj_joblib") == fresh["objects"]["obj_joblib"]
    version = board.pin_meta("obj_joblib").version
    flip_byte(fresh["path"] / "obj_joblib" / version / "obj_joblib.joblib", offset=30)
    with pytest.raises(IntegrityError, match="obj_joblib"):
        board.pin_read("obj_joblib")


def test_fresh_mixed_writers_one_pin(fresh: dict[str, Any]) -> None:
    """pinyard adds a version to a pin pins-python wrote; both see it as latest."""
    board = pinyard.board_pins(fresh["path"])
    result = board.pin_write({"v": 99}, "two", type="json")
    src = pins.board_folder(str(fresh["path"]), allow_pickle_read=True)
    assert src.pin_read("two") == {"v": 99}
    assert list(src.pin_versions("two")["version"])[-1] == result.version
    assert board.pin_read("two") == {"v": 99}
    assert len(board.pin_versions("two")) == 3


def test_fresh_pins_versions_carry_no_digest_and_read_without_a_new_warning(
    fresh: dict[str, Any],
) -> None:
    """Versions pins-python writes have no pinyard key and no digest (decision 0018):
    they read as before, checked against pin_hash, with no warning, and are flagged
    ``metadata_verified=False``; a damaged ``type`` in them is a typed error naming
    the version, not a raw decode or unpickling error."""
    board = pinyard.board_pins(fresh["path"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, expected in fresh["objects"].items():
            got = board.pin_read(name)
            if isinstance(expected, pd.DataFrame):
                pdt.assert_frame_equal(got, expected)
            else:
                assert got == expected
            meta = board.pin_meta(name)
            assert not meta.written_by_pinyard
            assert not meta.metadata_verified
            assert "pinyard_digest" not in meta.extra
    for name, wrong in (("df_parquet", "json"), ("df_parquet", "joblib"), ("df_csv", "parquet"),
                        ("obj_json", "parquet")):  # fmt: skip
        version = board.pin_meta(name).version
        data_txt = fresh["path"] / name / version / "data.txt"
        good = data_txt.read_text()
        current = board.pin_meta(name).type
        data_txt.write_text(good.replace(f"type: {current}", f"type: {wrong}"))
        with pytest.raises((MetadataError, UnverifiedError)) as info:
            board.pin_read(name)
        assert name in str(info.value)
        assert version in str(info.value)
        data_txt.write_text(good)


# -- (c) the R pins board (hand-made in R's format) ----------------------------


@pytest.fixture
def r_board(r_board_copy: Path) -> pinyard.Board:
    return pinyard.board_pins(r_board_copy)


def test_r_pin_list_skips_manifest(r_board: pinyard.Board, r_board_copy: Path) -> None:
    assert (r_board_copy / "_pins.yaml").is_file()
    assert r_board.pin_list() == sorted(R_VERSIONS)
    assert "_pins.yaml" not in r_board.pin_list()
    assert sorted(r_board.pin_search()["name"]) == sorted(R_VERSIONS)
    with pytest.raises((PinNotFoundError, InvalidNameError)):
        r_board.pin_meta("_pins.yaml")


@pytest.mark.parametrize(("pin", "row"), _rows(R_VERSIONS))
def test_r_meta(r_board: pinyard.Board, pin: str, row: tuple[Any, ...]) -> None:
    _check_meta(r_board.pin_meta(pin, row[0]), pin, row)


def test_r_versions_in_order(r_board: pinyard.Board) -> None:
    expected = [row[0] for row in R_VERSIONS["r_json"]]
    assert list(r_board.pin_versions("r_json")["version"]) == expected
    assert r_board.pin_meta("r_json").version == expected[-1]


def test_r_old_api_version_and_nulls(r_board: pinyard.Board) -> None:
    """r_csv: ``api_version: 1.0``, ``~`` nulls and no ``urls`` key."""
    meta = r_board.pin_meta("r_csv")
    assert meta.api_version == 1
    assert meta.description is None
    assert meta.tags is None
    assert meta.urls is None
    assert dict(meta.user) == {}
    assert meta.title == "r_csv: a pinned 3 x 3 data frame"


def test_r_csv_read(r_board: pinyard.Board) -> None:
    pdt.assert_frame_equal(r_board.pin_read("r_csv"), shared_table())


def test_r_json_read(r_board: pinyard.Board) -> None:
    first, latest = (row[0] for row in R_VERSIONS["r_json"])
    assert r_board.pin_read("r_json") == {
        "name": "r_json",
        "values": [1, 2, 3, 4],
        "nested": {"ok": False},
    }
    assert r_board.pin_read("r_json", version=first) == {
        "name": "r_json",
        "values": [1, 2, 3],
        "nested": {"ok": True},
    }
    assert r_board.pin_meta("r_json", latest).urls is None


def test_r_rds_read(r_board: pinyard.Board) -> None:
    got = r_board.pin_read("r_rds")
    expected = pd.DataFrame(
        {
            "x": pd.array([1, 2, 3], dtype="Int32"),
            "y": [0.5, 1.25, 3.0],
            "z": pd.array(["a", "b c", "d,e"], dtype="string"),
        },
        index=pd.RangeIndex(1, 4),
    )
    pdt.assert_frame_equal(got, expected)


def test_r_tags_urls_user_preserved(r_board: pinyard.Board) -> None:
    meta = r_board.pin_meta("r_tags")
    assert meta.tags == ("a", "b")
    assert meta.urls == ("https://example.com",)
    assert meta.description == "A pin with tags, urls and user metadata"
    assert dict(meta.user) == {"owner": "data-team", "reviewed": True, "n_rows": 3.0}
    assert r_board.pin_read("r_tags") == {"a": 1, "b": ["x", "y"]}


def test_r_multi_file_download_is_unverified(r_board: pinyard.Board) -> None:
    meta = r_board.pin_meta("r_multi")
    assert re.fullmatch(r"[0-9a-f]{32}", meta.pin_hash)
    with pytest.warns(UnverifiedVersionWarning, match="r_multi"):
        paths = r_board.pin_download("r_multi")
    assert [Path(p).name for p in paths] == list(R_MULTI_FILES)
    assert [Path(p).read_bytes() for p in paths] == list(R_MULTI_FILES.values())


def test_r_single_file_corruption_detected(r_board_copy: Path) -> None:
    """R's single-file pin_hash is xxh64 too, so pinyard checks it."""
    (version,) = [row[0] for row in R_VERSIONS["r_tags"]]
    flip_byte(r_board_copy / "r_tags" / version / "r_tags.json", offset=3)
    with pytest.raises(IntegrityError, match="r_tags"):
        pinyard.board_pins(r_board_copy).pin_read("r_tags")


def test_pins_python_agrees_on_r_board(r_board: pinyard.Board, r_board_copy: Path) -> None:
    """pinyard and pins-python read the R board the same way."""
    src = pins.board_folder(str(r_board_copy))
    assert sorted(src.pin_list()) == r_board.pin_list()
    for pin in ("r_csv", "r_json", "r_tags"):
        ours, theirs = r_board.pin_read(pin), src.pin_read(pin)
        if isinstance(ours, pd.DataFrame):
            pdt.assert_frame_equal(ours, theirs)
        else:
            assert ours == theirs
        assert dict(r_board.pin_meta(pin).user) == dict(src.pin_meta(pin).user)
    raw = (r_board_copy / "r_tags" / "20240301T120200Z-347d4" / "r_tags.json").read_bytes()
    assert r_board.pin_read("r_tags") == json.loads(raw)
