"""``pinyard.import_pins`` and ``pinyard import-pins``: plain pins boards into pinyard boards."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pandas.testing as pdt
import pins
import pytest

import pinyard
from pinyard.cli import main as cli_main
from pinyard.errors import (
    IntegrityError,
    InvalidArgumentError,
    UnverifiedVersionWarning,
)

from ._support import (
    PINS_PYTHON_BOARD,
    PINS_PYTHON_VERSIONS,
    R_MULTI_FILES,
    R_PINS_BOARD,
    R_VERSIONS,
    all_versions,
    flip_byte,
    tree_digest,
)

pytestmark = pytest.mark.interop

R_MULTI = ("r_multi", R_VERSIONS["r_multi"][0][0])


def _assert_same(got: Any, expected: Any) -> None:
    if isinstance(expected, pd.DataFrame):
        pdt.assert_frame_equal(got, expected)
    else:
        assert got == expected


def _assert_imported_copy(src_path: Path, dest_path: Path) -> None:
    """Every version of the source is in the destination, same id, sha256 recorded, same data."""
    src = pinyard.board_pins(src_path)
    dest = pinyard.board_folder(dest_path, create=False)
    assert dest.pin_list() == src.pin_list()
    for name in src.pin_list():
        src_versions = [v.version for v in src.pin_versions(name, as_df=False)]
        assert [v.version for v in dest.pin_versions(name, as_df=False)] == src_versions
        for version in src_versions:
            src_meta = src.pin_meta(name, version)
            meta = dest.pin_meta(name, version)
            assert meta.written_by_pinyard
            assert (meta.type, meta.title, meta.description) == (
                src_meta.type,
                src_meta.title,
                src_meta.description,
            )
            assert meta.pin_hash == src_meta.pin_hash
            assert meta.created == src_meta.created
            assert meta.file == src_meta.file
            assert meta.file_size == src_meta.file_size
            assert dict(meta.user) == dict(src_meta.user)
            assert (meta.tags, meta.urls) == (src_meta.tags, src_meta.urls)
            for record in meta.files:
                raw = (src_path / name / version / record.name).read_bytes()
                assert record.sha256 == hashlib.sha256(raw).hexdigest()
                assert record.size == len(raw)
                assert (dest_path / "pins" / name / version / record.name).read_bytes() == raw
            if meta.type == "file":
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("error", UnverifiedVersionWarning)
                got = dest.pin_read(name, version)
            _assert_same(got, src.pin_read(name, version))


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pinyard.ImportReport]:
    """The golden pins-python board (a copy) imported once into a new pinyard board."""
    base = tmp_path_factory.mktemp("imported")
    src = Path(shutil.copytree(PINS_PYTHON_BOARD, base / "src"))
    dest = base / "yard"
    return src, dest, pinyard.import_pins(src, dest)


def test_import_pins_python_board(imported: tuple[Path, Path, pinyard.ImportReport]) -> None:
    src, dest, report = imported
    assert sorted(report.imported) == all_versions(PINS_PYTHON_VERSIONS)
    assert report.already_present == []
    assert report.unverified == []
    _assert_imported_copy(src, dest)
    yard = pinyard.board_folder(dest)
    meta = yard.pin_meta("obj_json")
    assert meta.lineage["pins_hash_verified"] is True
    paths = yard.pin_download("multi_file")
    assert [Path(p).read_bytes() for p in paths] == [b"first file\n", b"k,v\n1,one\n2,two\n"]


def test_import_leaves_source_untouched(imported: tuple[Path, Path, pinyard.ImportReport]) -> None:
    src, _, _ = imported
    assert tree_digest(src) == tree_digest(PINS_PYTHON_BOARD)


def test_import_result_readable_by_pins_python(
    imported: tuple[Path, Path, pinyard.ImportReport],
) -> None:
    src_path, dest, _ = imported
    src = pins.board_folder(str(src_path), allow_pickle_read=True)
    out = pins.board_folder(str(dest / "pins"), allow_pickle_read=True)
    assert sorted(out.pin_list()) == sorted(src.pin_list())
    assert len(out.pin_search()) == len(PINS_PYTHON_VERSIONS)
    for name in ("df_parquet", "obj_json", "obj_joblib", "two_versions"):
        _assert_same(out.pin_read(name), src.pin_read(name))
        assert out.pin_meta(name).version.version == src.pin_meta(name).version.version


def test_import_twice_is_idempotent(pins_python_copy: Path, tmp_path: Path) -> None:
    dest = tmp_path / "yard"
    first = pinyard.import_pins(pins_python_copy, dest)
    pins_before = tree_digest(dest / "pins")
    second = pinyard.import_pins(pins_python_copy, dest)
    assert second.imported == []
    assert sorted(second.already_present) == sorted(first.imported)
    assert second.unverified == []
    assert tree_digest(dest / "pins") == pins_before


def test_import_copies_only_new_versions(pins_python_copy: Path, tmp_path: Path) -> None:
    dest = tmp_path / "yard"
    pinyard.import_pins(pins_python_copy, dest)
    writer = pins.board_folder(str(pins_python_copy))
    with warnings.catch_warnings():  # pins-python 0.9.2 leaves data.txt open
        warnings.simplefilter("ignore", ResourceWarning)
        writer.pin_write({"v": 3}, "two_versions", type="json")
    new_version = writer.pin_meta("two_versions").version.version
    report = pinyard.import_pins(pins_python_copy, dest)
    assert report.imported == [("two_versions", new_version)]
    assert len(report.already_present) == len(all_versions(PINS_PYTHON_VERSIONS))
    assert pinyard.board_folder(dest).pin_read("two_versions") == {"v": 3}


@pytest.mark.parametrize(
    ("pin", "file_name", "offset"),
    [
        ("obj_json", "obj_json.json", 5),
        ("multi_file", "part_b.csv", 2),
        ("obj_joblib", "obj_joblib.joblib", 40),
    ],
)
def test_import_corrupted_file_is_refused(
    pins_python_copy: Path, tmp_path: Path, pin: str, file_name: str, offset: int
) -> None:
    version = PINS_PYTHON_VERSIONS[pin][0][0]
    flip_byte(pins_python_copy / pin / version / file_name, offset)
    dest = tmp_path / "yard"
    with pytest.raises(IntegrityError) as info:
        pinyard.import_pins(pins_python_copy, dest)
    assert pin in str(info.value)
    assert version in str(info.value)
    assert file_name in str(info.value)
    # The corrupt version is not published, not even as a partial folder pins would list.
    assert not (dest / "pins" / pin / version).exists()
    yard = pinyard.board_folder(dest)
    assert pin not in yard.pin_list()
    assert not yard.pin_exists(pin)
    # Whatever was imported before the failure is whole: pins-python can search it.
    out = pins.board_folder(str(dest / "pins"), allow_pickle_read=True)
    assert sorted(out.pin_search()["name"]) == yard.pin_list()


def test_import_from_pinyard_pins_folder_checks_sha256(tmp_path: Path) -> None:
    """A pinyard board's pins folder is a pins board too; its sha256 digests are checked.

    A corrupted file is refused with an error naming pin, version and file (as every
    other IntegrityError does), and nothing of that version is published.
    """
    first = pinyard.board_folder(tmp_path / "first")
    ok = first.pin_write({"a": 1}, "ok")
    bad = first.pin_write({"b": 2}, "bad")
    copy = pinyard.import_pins(tmp_path / "first" / "pins", tmp_path / "second")
    assert sorted(copy.imported) == [("bad", bad.version), ("ok", ok.version)]
    assert pinyard.board_folder(tmp_path / "second").pin_read("bad") == {"b": 2}

    flip_byte(tmp_path / "first" / "pins" / "bad" / bad.version / "bad.json", 2)
    dest = tmp_path / "third"
    with pytest.raises(IntegrityError) as info:
        pinyard.import_pins(tmp_path / "first" / "pins", dest)
    message = str(info.value)
    assert "bad" in message
    assert bad.version in message
    assert "bad.json" in message
    assert not (dest / "pins" / "bad" / bad.version).exists()


def test_import_r_board(r_board_copy: Path, tmp_path: Path) -> None:
    dest = tmp_path / "yard"
    with pytest.warns(UnverifiedVersionWarning, match="r_multi"):
        report = pinyard.import_pins(r_board_copy, dest)
    assert sorted(report.imported) == all_versions(R_VERSIONS)
    assert report.unverified == [R_MULTI]
    assert "_pins.yaml" not in [name for name, _ in report.imported]
    _assert_imported_copy(r_board_copy, dest)
    yard = pinyard.board_folder(dest)
    assert yard.pin_meta(*R_MULTI).lineage["pins_hash_verified"] is False
    # Imported, its sha256 is recorded: downloads now verify without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnverifiedVersionWarning)
        paths = yard.pin_download("r_multi")
    assert [Path(p).read_bytes() for p in paths] == list(R_MULTI_FILES.values())
    assert yard.pin_meta("r_tags").tags == ("a", "b")
    assert yard.pin_meta("r_tags").urls == ("https://example.com",)
    assert yard.pin_meta("r_csv").api_version == 1


def test_board_folder_opens_plain_pins_board_as_it_is(
    pins_python_copy: Path, r_board_copy: Path
) -> None:
    for path in (pins_python_copy, r_board_copy):
        before = tree_digest(path)
        board = pinyard.board_folder(path)
        assert board.kind == "pins"
        assert board.pin_list() == pinyard.board_pins(path).pin_list()
        assert tree_digest(path) == before
        assert not (path / "pinyard.json").exists()
        with pytest.raises(InvalidArgumentError, match="must be a pinyard board"):
            pinyard.import_pins(pinyard.board_pins(path), board)


# -- the CLI ---------------------------------------------------------------------


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pinyard.cli._main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_import_pins_subprocess(pins_python_copy: Path, tmp_path: Path) -> None:
    dest = tmp_path / "yard"
    expected = sorted(f"{n}@{v}" for n, v in all_versions(PINS_PYTHON_VERSIONS))
    first = _run_cli("import-pins", str(pins_python_copy), str(dest), "--json")
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert sorted(out["imported"]) == expected
    assert out["already_present"] == []
    assert out["unverified"] == []
    _assert_imported_copy(pins_python_copy, dest)

    second = _run_cli("import-pins", str(pins_python_copy), str(dest), "--json")
    assert second.returncode == 0, second.stderr
    out = json.loads(second.stdout)
    assert out["imported"] == []
    assert sorted(out["already_present"]) == expected


def test_cli_import_pins_in_process(
    r_board_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "yard"
    with pytest.warns(UnverifiedVersionWarning):
        code = cli_main(["import-pins", str(r_board_copy), str(dest), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = json.loads(captured.out)
    assert sorted(out["imported"]) == sorted(f"{n}@{v}" for n, v in all_versions(R_VERSIONS))
    assert out["unverified"] == ["{}@{}".format(*R_MULTI)]

    code = cli_main(["import-pins", str(r_board_copy), str(dest), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = json.loads(captured.out)
    assert out["imported"] == []
    assert out["unverified"] == []
    assert len(out["already_present"]) == len(all_versions(R_VERSIONS))


def test_cli_import_pins_corrupted(
    pins_python_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    version = PINS_PYTHON_VERSIONS["df_csv"][0][0]
    flip_byte(pins_python_copy / "df_csv" / version / "df_csv.csv", 3)
    dest = tmp_path / "yard"
    code = cli_main(["import-pins", str(pins_python_copy), str(dest), "--json"])
    captured = capsys.readouterr()
    assert code == 4  # IntegrityError's exit code
    assert "df_csv" in captured.err
    assert version in captured.err
    assert "Traceback" not in captured.err
    assert not (dest / "pins" / "df_csv" / version).exists()


def test_cli_import_pins_bad_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    yard_root = tmp_path / "yard"
    pinyard.board_folder(yard_root).pin_write({"a": 1}, "cfg")
    # A pinyard board is not a plain pins board: a usage error that points at board_folder.
    assert cli_main(["import-pins", str(yard_root), str(tmp_path / "dest")]) == 2
    assert "board_folder" in capsys.readouterr().err
    # A missing source is "not found".
    assert cli_main(["import-pins", str(tmp_path / "missing"), str(tmp_path / "dest")]) == 3
    assert "missing" in capsys.readouterr().err


def test_golden_boards_are_what_the_tests_expect() -> None:
    """Guard: the fixture folders hold exactly the pins the expected-values tables list."""
    assert sorted(p.name for p in PINS_PYTHON_BOARD.iterdir()) == sorted(PINS_PYTHON_VERSIONS)
    assert sorted(p.name for p in R_PINS_BOARD.iterdir()) == sorted([*R_VERSIONS, "_pins.yaml"])
