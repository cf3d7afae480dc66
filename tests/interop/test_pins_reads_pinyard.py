"""Real pins-python opens ``<root>/pins`` of a pinyard board and reads what pinyard wrote."""

from __future__ import annotations

import hashlib
import json
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas.testing as pdt
import pins
import pytest
import xxhash

import pinyard

from ._support import shared_table

pytestmark = pytest.mark.interop

TABLE_TYPES = ("csv", "parquet", "arrow")

# A Python object that only joblib can hold (tuple, set, complex, bytes).
JOBLIB_OBJECT = {"model": "mean", "coef": (0.5, 1.5), "classes": {"a", "b"}, "z": 1 + 2j}
JSON_OBJECT = {"name": "cfg", "values": [1, 2.5, None], "nested": {"ok": True, "s": "a: b"}}
USER_META = {"owner": "data-team", "n": 3, "ratio": 0.25, "nested": {"k": [1, "two", None]}}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "yard"


@pytest.fixture
def yard(root: Path) -> pinyard.Board:
    return pinyard.board_folder(root)


def pins_board(root: Path) -> Any:
    """pins-python's view of the pinyard board's pins folder."""
    return pins.board_folder(str(root / "pins"), allow_pickle_read=True)


def version_dir(root: Path, name: str, version: str) -> Path:
    return root / "pins" / name / version


def check_pins_meta(
    meta: Any, result: pinyard.WriteResult, pins_root: Path, *, title: str, user: dict[str, Any]
) -> None:
    """pins-python's metadata of a version equals what pinyard wrote and the bytes on disk."""
    folder = pins_root / result.name / result.version
    files = list(result.file_names)
    contents = [(folder / f).read_bytes() for f in files]
    assert meta.version.version == result.version
    assert meta.title == title
    assert meta.type == result.type
    assert meta.api_version == 1
    if len(files) == 1:
        assert meta.file == files[0]
        assert meta.file_size == len(contents[0])
        assert meta.pin_hash == xxhash.xxh64(contents[0], seed=0).hexdigest()
    else:
        assert list(meta.file) == files
        assert list(meta.file_size) == [len(c) for c in contents]
        joined = "".join(xxhash.xxh64(c, seed=0).hexdigest() for c in contents)
        assert meta.pin_hash == xxhash.xxh64(joined.encode(), seed=0).hexdigest()
    assert result.version == f"{meta.created}-{meta.pin_hash[:5]}"
    assert dict(meta.user) == user


@pytest.mark.parametrize("pin_type", TABLE_TYPES)
def test_pins_reads_pinyard_data_frame(pin_type: str, yard: pinyard.Board, root: Path) -> None:
    df = shared_table()
    name = f"df_{pin_type}"
    result = yard.pin_write(
        df, name, type=pin_type, title=f"{name} title", metadata=USER_META, description="d"
    )
    assert result.written

    board = pins_board(root)
    assert board.pin_list() == [name]
    versions = board.pin_versions(name)
    assert list(versions["version"]) == [result.version]
    meta = board.pin_meta(name)
    check_pins_meta(meta, result, root / "pins", title=f"{name} title", user=USER_META)
    assert meta.description == "d"
    assert meta.file == f"{name}.{pin_type}"
    pdt.assert_frame_equal(board.pin_read(name), df)
    pdt.assert_frame_equal(board.pin_read(name, version=result.version), df)


def test_pins_reads_pinyard_json(yard: pinyard.Board, root: Path) -> None:
    result = yard.pin_write(JSON_OBJECT, "cfg", type="json", metadata=USER_META)
    board = pins_board(root)
    assert board.pin_list() == ["cfg"]
    meta = board.pin_meta("cfg")
    # pinyard's default title follows pins': "<name>: a pinned <description>"
    check_pins_meta(meta, result, root / "pins", title=result.title or "", user=USER_META)
    assert meta.title.startswith("cfg: a pinned ")
    assert meta.file == "cfg.json"
    assert board.pin_read("cfg") == JSON_OBJECT


def test_pins_reads_pinyard_joblib(yard: pinyard.Board, root: Path) -> None:
    result = yard.pin_write(JOBLIB_OBJECT, "model", type="joblib", title="a model")
    board = pins_board(root)
    meta = board.pin_meta("model")
    check_pins_meta(meta, result, root / "pins", title="a model", user={})
    assert meta.type == "joblib"
    assert meta.file == "model.joblib"
    assert board.pin_read("model") == JOBLIB_OBJECT


def test_pins_reads_inferred_types(yard: pinyard.Board, root: Path) -> None:
    """Without ``type``, pinyard picks parquet / json / joblib, all readable by pins."""
    df = shared_table()
    yard.pin_write(df, "df")
    yard.pin_write([1, 2, 3], "lst")
    yard.pin_write((1, "tuple"), "obj")
    board = pins_board(root)
    assert sorted(board.pin_list()) == ["df", "lst", "obj"]
    assert [board.pin_meta(n).type for n in ("df", "lst", "obj")] == ["parquet", "json", "joblib"]
    pdt.assert_frame_equal(board.pin_read("df"), df)
    assert board.pin_read("lst") == [1, 2, 3]
    assert board.pin_read("obj") == (1, "tuple")


def test_pins_downloads_pinyard_single_file(
    yard: pinyard.Board, root: Path, tmp_path: Path
) -> None:
    src = tmp_path / "notes.txt"
    src.write_bytes(b"hello from pinyard\n")
    result = yard.pin_upload(src, "one_file", title="notes", metadata={"k": "v"})
    assert result.type == "file"

    board = pins_board(root)
    assert board.pin_list() == ["one_file"]
    meta = board.pin_meta("one_file")
    check_pins_meta(meta, result, root / "pins", title="notes", user={"k": "v"})
    assert meta.file == "notes.txt"
    paths = board.pin_download("one_file")
    assert [Path(p).name for p in paths] == ["notes.txt"]
    assert Path(paths[0]).read_bytes() == b"hello from pinyard\n"


def test_pins_downloads_pinyard_two_files(yard: pinyard.Board, root: Path, tmp_path: Path) -> None:
    a = tmp_path / "part_a.txt"
    b = tmp_path / "part_b.csv"
    a.write_bytes(b"first file\n")
    b.write_bytes(b"k,v\n1,one\n2,two\n")
    result = yard.pin_upload([a, b], "multi_file")

    board = pins_board(root)
    meta = board.pin_meta("multi_file")
    check_pins_meta(meta, result, root / "pins", title=result.title or "", user={})
    assert meta.type == "file"
    # The same combined hash pins-python computes for this pair (fixture README).
    assert meta.pin_hash == "e8658f2993673643"
    paths = board.pin_download("multi_file")
    assert [Path(p).name for p in paths] == ["part_a.txt", "part_b.csv"]
    assert [Path(p).read_bytes() for p in paths] == [a.read_bytes(), b.read_bytes()]


def test_pins_lists_versions_in_write_order(yard: pinyard.Board, root: Path) -> None:
    written = [
        yard.pin_write({"v": i}, "cfg", created=datetime(2024, 1, 2, 3, 4, 5 + 10 * i, tzinfo=UTC))
        for i in range(3)
    ]
    board = pins_board(root)
    assert list(board.pin_versions("cfg")["version"]) == [r.version for r in written]
    for i, r in enumerate(written):
        assert board.pin_read("cfg", version=r.version) == {"v": i}
    assert board.pin_read("cfg") == {"v": 2}


def test_pins_latest_after_fast_writes(yard: pinyard.Board, root: Path) -> None:
    """Five writes as fast as possible: pins' latest is the last one pinyard wrote."""
    written = [yard.pin_write({"i": i, "pad": "x" * i}, "fast") for i in range(5)]
    assert all(r.written for r in written)
    versions = [r.version for r in written]
    assert len(set(versions)) == 5

    board = pins_board(root)
    assert list(board.pin_versions("fast")["version"]) == versions
    assert board.pin_meta("fast").version.version == versions[-1]
    assert board.pin_read("fast") == {"i": 4, "pad": "xxxx"}


def test_pins_latest_after_writes_in_one_second(yard: pinyard.Board, root: Path) -> None:
    """Five writes stamped with the same second (forced): still ordered as written for pins.

    With pins' own ids the order would be the hash prefixes' order; pinyard keeps
    the version ids' time part monotonic so lexical order is write order.
    """
    moment = datetime(2024, 5, 6, 7, 8, 9, 500_000, tzinfo=UTC)
    written = [yard.pin_write({"i": i}, "same_second", created=moment) for i in range(5)]
    versions = [r.version for r in written]
    assert len(set(versions)) == 5
    assert versions == sorted(versions)

    board = pins_board(root)
    assert list(board.pin_versions("same_second")["version"]) == versions
    assert board.pin_read("same_second") == {"i": 4}
    assert yard.pin_read("same_second") == {"i": 4}
    # The ids carry the requested second; the true write time (now, to the
    # microsecond) survives in pinyard's own key, and pins keeps that key.
    assert versions[0].startswith("20240506T070809Z-")
    written_at = datetime.fromisoformat(board.pin_meta("same_second").pinyard["written_at"])
    assert abs((datetime.now(UTC) - written_at).total_seconds()) < 120


def test_pins_search_on_pinyard_board(yard: pinyard.Board, root: Path, tmp_path: Path) -> None:
    df = shared_table()
    yard.pin_write(df, "sales", type="parquet", title="monthly sales")
    yard.pin_write({"a": 1}, "config", title="run config")
    yard.pin_write({"a": 2}, "config", title="run config")
    src = tmp_path / "report.txt"
    src.write_text("r\n")
    yard.pin_upload(src, "report")

    board = pins_board(root)
    # Nothing but pin folders under pins/, so pins' listing equals pinyard's.
    assert sorted(board.pin_list()) == yard.pin_list() == ["config", "report", "sales"]
    found = board.pin_search()
    assert sorted(found["name"]) == ["config", "report", "sales"]
    hits = board.pin_search("sales", as_df=False)
    assert [m.name for m in hits] == ["sales"]
    assert [m.title for m in board.pin_search("run conf", as_df=False)] == ["run config"]


def test_pinyard_key_does_not_break_pins(yard: pinyard.Board, root: Path) -> None:
    """pins keeps the unknown ``pinyard:`` key and reads around it."""
    result = yard.pin_write(
        {"a": 1}, "with_lineage", lineage={"run_id": "r-1", "commit": "abc123"}
    )
    folder = version_dir(root, "with_lineage", result.version)
    raw = (folder / "with_lineage.json").read_bytes()

    meta = pins_board(root).pin_meta("with_lineage")
    extra = meta.pinyard
    assert extra["files"] == [
        {"name": "with_lineage.json", "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
    ]
    assert extra["lineage"] == {"run_id": "r-1", "commit": "abc123"}
    assert pins_board(root).pin_read("with_lineage") == {"a": 1}


def test_vetiver_like_user_metadata_round_trips(yard: pinyard.Board, root: Path) -> None:
    """The ``user`` layout vetiver-python writes survives pinyard -> pins and back."""
    from numpy.polynomial import Polynomial

    df = shared_table()
    model = Polynomial.fit(df["x"].to_numpy(), df["y"].to_numpy(), deg=1)  # a fitted "model"
    user = {
        "user": {"team": "pricing"},
        "vetiver_meta": {
            "prototype": json.dumps({"x": {"0": 1}}),
            "required_pkgs": ["numpy"],
            "python_version": [3, 11, 7, "final", 0],
        },
    }
    result = yard.pin_write(model, "cars_mod", type="joblib", metadata=user)

    board = pins_board(root)
    meta = board.pin_meta("cars_mod")
    assert dict(meta.user) == user
    assert dict(yard.pin_meta("cars_mod").user) == user
    assert dict(result.user) == user
    restored = board.pin_read("cars_mod")
    assert restored == model
    assert list(restored([4.0, 5.0])) == list(model([4.0, 5.0]))


def test_pins_reads_what_board_pins_wrote(tmp_path: Path) -> None:
    """pinyard writing into a plain pins board (board_pins) stays readable by pins."""
    plain = tmp_path / "plain"
    plain.mkdir()
    writer = pinyard.board_pins(plain)
    df = shared_table()
    result = writer.pin_write(df, "df", type="csv", metadata={"k": 1})
    # Only the pin folder appears: no marker, no staging folder inside the pins board.
    assert sorted(p.name for p in plain.iterdir()) == ["df"]

    board = pins.board_folder(str(plain))
    assert board.pin_list() == ["df"]
    check_pins_meta(board.pin_meta("df"), result, plain, title=result.title or "", user={"k": 1})
    pdt.assert_frame_equal(board.pin_read("df"), df)


@pytest.mark.parametrize(
    ("obj", "pin_type"),
    [
        (shared_table(), "parquet"),
        ({"a": 1}, "json"),
        ([1, 2], "json"),
        ((1, 2), "joblib"),
    ],
)
def test_default_titles_match_pins(
    obj: Any, pin_type: str, yard: pinyard.Board, tmp_path: Path
) -> None:
    """A pins user switching to pinyard gets the same default titles."""
    theirs = pins.board_folder(str(tmp_path / "pins_side"), allow_pickle_read=True)
    with warnings.catch_warnings():  # pins-python 0.9.2 leaves data.txt open
        warnings.simplefilter("ignore", ResourceWarning)
        theirs.pin_write(obj, "p", type=pin_type)
    assert yard.pin_write(obj, "p", type=pin_type).title == theirs.pin_meta("p").title


def test_unicode_tags_and_urls_reach_pins(yard: pinyard.Board, root: Path) -> None:
    result = yard.pin_write(
        {"a": "café ✓"},
        "uni",
        title="Café ✓ données",
        description="dé: scription",
        metadata={"clé": "välue ✓"},
        tags=["t1", "t2"],
        urls=["https://example.com/x"],
    )
    meta = pins_board(root).pin_meta("uni")
    assert meta.version.version == result.version
    assert meta.title == "Café ✓ données"
    assert meta.description == "dé: scription"
    assert dict(meta.user) == {"clé": "välue ✓"}
    assert meta.tags == ["t1", "t2"]
    assert meta.urls == ["https://example.com/x"]
    assert pins_board(root).pin_read("uni") == {"a": "café ✓"}


def test_pinyard_write_is_latest_after_future_stamped_pins_version(tmp_path: Path) -> None:
    """pins-python stamps local time with a literal Z, so its latest can look hours ahead.

    A version pinyard writes afterwards must still be what pins reads as latest.
    """
    plain = tmp_path / "plain"
    theirs = pins.board_folder(str(plain))
    ahead = datetime.now() + timedelta(hours=14)  # the furthest any time zone is ahead of UTC
    with warnings.catch_warnings():  # pins-python 0.9.2 leaves data.txt open
        warnings.simplefilter("ignore", ResourceWarning)
        theirs.pin_write({"v": "pins"}, "cfg", type="json", created=ahead)
    result = pinyard.board_pins(plain).pin_write({"v": "pinyard"}, "cfg", type="json")
    assert list(theirs.pin_versions("cfg")["version"])[-1] == result.version
    assert theirs.pin_read("cfg") == {"v": "pinyard"}
    assert pinyard.board_pins(plain).pin_read("cfg") == {"v": "pinyard"}
