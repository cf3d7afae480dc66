"""Expected values of the golden fixture boards (tests/data/README.md) and small helpers."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pandas as pd

DATA = Path(__file__).resolve().parent.parent / "data"
PINS_PYTHON_BOARD = DATA / "pins_python_board"
R_PINS_BOARD = DATA / "r_pins_board"


def shared_table() -> pd.DataFrame:
    """The 3 x 3 table every data-frame fixture pin holds."""
    return pd.DataFrame({"x": [1, 2, 3], "y": [0.5, 1.25, 3.0], "z": ["a", "b c", "d,e"]})


# pin -> version -> (type, files, file sizes, pin_hash); from the README's table.
PINS_PYTHON_VERSIONS: dict[str, list[tuple[str, str, tuple[str, ...], tuple[int, ...], str]]] = {
    "df_arrow": [
        ("20240102T030405Z-d2d92", "arrow", ("df_arrow.arrow",), (2330,), "d2d92db8683ee6c3")
    ],
    "df_csv": [("20240102T030405Z-fd68c", "csv", ("df_csv.csv",), (37,), "fd68c85985ffc43e")],
    "df_parquet": [
        (
            "20240102T030405Z-83f02",
            "parquet",
            ("df_parquet.parquet",),
            (2583,),
            "83f024571f4bdaef",
        )
    ],
    "multi_file": [
        (
            "20240102T030405Z-e8658",
            "file",
            ("part_a.txt", "part_b.csv"),
            (11, 16),
            "e8658f2993673643",
        )
    ],
    "obj_joblib": [
        ("20240102T030405Z-b9984", "joblib", ("obj_joblib.joblib",), (70,), "b9984f4cdd6dd1ca")
    ],
    "obj_json": [
        ("20240102T030405Z-21af7", "json", ("obj_json.json",), (65,), "21af7ea6d4a191b5")
    ],
    "one_file": [("20240102T030405Z-cddeb", "file", ("notes.txt",), (19,), "cddeb4062e108400")],
    "two_versions": [
        ("20240102T030405Z-d317e", "json", ("two_versions.json",), (8,), "d317e71c312df7cc"),
        ("20240102T030505Z-84cba", "json", ("two_versions.json",), (8,), "84cba42940e4ddd7"),
    ],
}

PINS_PYTHON_TITLES = {
    "df_arrow": "df_arrow: a pinned 3 x 3 DataFrame",
    "df_csv": "df_csv: a pinned 3 x 3 DataFrame",
    "df_parquet": "df_parquet: a pinned 3 x 3 DataFrame",
    "multi_file": "multi_file: a pinned list object",
    "obj_joblib": "obj_joblib: a pinned dict object",
    "obj_json": "obj_json: a small dict",
    "one_file": "one_file: a pinned str object",
    "two_versions": "two_versions: a pinned dict object",
}

# What pin_read returns for each non-file pin of pins_python_board (latest version).
PINS_PYTHON_OBJECTS: dict[str, Any] = {
    "obj_json": {"name": "obj_json", "values": [1, 2, 3], "nested": {"ok": True}},
    "obj_joblib": {"model": "mean", "coef": [0.5, 1.5], "fitted": True},
    "two_versions": {"v": 2},
}
PINS_PYTHON_TABLES = ("df_arrow", "df_csv", "df_parquet")

# File pins: pin -> {base name: bytes}.
PINS_PYTHON_FILES = {
    "one_file": {"notes.txt": b"hello from pinyard\n"},
    "multi_file": {"part_a.txt": b"first file\n", "part_b.csv": b"k,v\n1,one\n2,two\n"},
}

R_VERSIONS: dict[str, list[tuple[str, str, tuple[str, ...], tuple[int, ...], str]]] = {
    "r_csv": [("20221215T180351Z-d7f7d", "csv", ("r_csv.csv",), (45,), "d7f7d6610a46e392")],
    "r_json": [
        ("20240301T120000Z-d62c7", "json", ("r_json.json",), (56,), "d62c76d03de25248"),
        ("20240301T123000Z-f8f98", "json", ("r_json.json",), (59,), "f8f98d7cd55ce7e1"),
    ],
    "r_multi": [
        (
            "20240301T120300Z-c6d3b",
            "file",
            ("readme.txt", "values.csv"),
            (26, 24),
            "c6d3bf10555fd7dcd31a37fc1c91f5c4",
        )
    ],
    "r_rds": [("20240301T120100Z-241cd", "rds", ("r_rds.rds",), (146,), "241cd1c9ae4477e7")],
    "r_tags": [("20240301T120200Z-347d4", "json", ("r_tags.json",), (22,), "347d47e1a324bcbf")],
}
R_MULTI_FILES = {
    "readme.txt": b"two files pinned together\n",
    "values.csv": b'"k","v"\n1,"one"\n2,"two"\n',
}


def all_versions(table: dict[str, list[tuple[Any, ...]]]) -> list[tuple[str, str]]:
    """Every (pin, version) pair of an expected-values table, sorted."""
    return sorted((pin, row[0]) for pin, rows in table.items() for row in rows)


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root`` (to prove nothing changed)."""
    out = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def flip_byte(path: Path, offset: int = 0) -> None:
    """Corrupt one byte of a file in place."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
