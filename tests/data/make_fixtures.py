"""Regenerate the golden pins boards used by pinyard's tests.

What it makes (all under ``tests/data/``):

``pins_python_board/``
    A board written by the REAL pins-python (0.9.2 when these fixtures were
    made) through ``pins.board_folder(...)``: ``df_csv``, ``df_parquet``,
    ``df_arrow``, ``obj_json``, ``obj_joblib``, ``two_versions`` (two json
    versions one minute apart), ``one_file`` (``pin_upload`` of one text
    file) and ``multi_file`` (``pin_upload`` of two files).

``r_pins_board/``
    A HAND-MADE board in R pins 1.x's on-disk format (R is not available
    here): ``r_csv`` (older pin, ``api_version: 1.0``), ``r_json`` (two
    versions), ``r_rds`` (an R data frame serialised with the ``rdata``
    package), ``r_tags`` (tags, urls and a ``user:`` mapping), ``r_multi``
    (a ``type: file`` pin holding two files) and the root ``_pins.yaml``
    manifest. data.txt is emitted with R's key order, ``~`` for null, R
    ``yaml`` quoting, and ``created`` in true UTC.

How to re-run (from the repository root)::

    python tests/data/make_fixtures.py

It deletes and rewrites the two board folders above (nothing else).
Everything is deterministic: every ``created`` time is fixed. pin_write gets
``created=``; pin_upload has no such argument, so its calls run with
pins-python's clock (``pins.versions.datetime.now``) frozen to a fixed
moment. All other code paths are pins-python's own.

Bytes of the parquet / arrow / joblib files (and hence their pin_hash and
version folder names) depend on the installed pandas / pyarrow / joblib /
Python versions; csv, json, text files and the whole R board do not. After a
dependency upgrade, re-run and update tests/data/README.md from the table the
script prints.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import tempfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import xxhash
import yaml

HERE = Path(__file__).resolve().parent
PY_BOARD = HERE / "pins_python_board"
R_BOARD = HERE / "r_pins_board"

# Fixed clocks ---------------------------------------------------------------

# pins-python board. pins-python writes a naive datetime verbatim with a
# literal "Z" (its own default is local time), so these are naive on purpose.
PY_CREATED = datetime(2024, 1, 2, 3, 4, 5)
PY_CREATED_LATER = datetime(2024, 1, 2, 3, 5, 5)  # one minute later

# R board: R stamps true UTC.
R_TIMES = {
    "r_csv": datetime(2022, 12, 15, 18, 3, 51, tzinfo=UTC),
    "r_json_1": datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC),
    "r_json_2": datetime(2024, 3, 1, 12, 30, 0, tzinfo=UTC),
    "r_rds": datetime(2024, 3, 1, 12, 1, 0, tzinfo=UTC),
    "r_tags": datetime(2024, 3, 1, 12, 2, 0, tzinfo=UTC),
    "r_multi": datetime(2024, 3, 1, 12, 3, 0, tzinfo=UTC),
}

# The same small logical table is used by the data-frame pins of both boards.
TABLE = {"x": [1, 2, 3], "y": [0.5, 1.25, 3.0], "z": ["a", "b c", "d,e"]}


def compact_time(dt: datetime) -> str:
    return dt.strftime("%Y%m%dT%H%M%SZ")


def xxh64_hex(data: bytes) -> str:
    return xxhash.xxh64(data, seed=0).hexdigest()


# ---------------------------------------------------------------------------
# pins-python board
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def frozen_pins_clock(moment: datetime):
    """Make pins-python's ``datetime.now()`` return ``moment``.

    pins.versions.Version.from_files calls ``datetime.now()`` when no
    ``created`` is given (pin_upload never passes one).
    """
    import pins.versions as pins_versions

    real = pins_versions.datetime

    class _FrozenDatetime(real):  # type: ignore[misc, valid-type]
        @classmethod
        def now(cls, tz=None):
            return moment

    pins_versions.datetime = _FrozenDatetime
    try:
        yield
    finally:
        pins_versions.datetime = real


def build_pins_python_board(root: Path) -> None:
    import pins

    root.mkdir(parents=True)
    board = pins.board_folder(str(root), allow_pickle_read=True)

    df = pd.DataFrame(TABLE)

    board.pin_write(df, "df_csv", type="csv", created=PY_CREATED)
    board.pin_write(df, "df_parquet", type="parquet", created=PY_CREATED)
    board.pin_write(df, "df_arrow", type="arrow", created=PY_CREATED)
    board.pin_write(
        {"name": "obj_json", "values": [1, 2, 3], "nested": {"ok": True}},
        "obj_json",
        type="json",
        title="obj_json: a small dict",
        description="A dict with a list inside, written by pins-python.",
        metadata={"source": "pinyard fixtures", "n": 3},
        created=PY_CREATED,
    )
    board.pin_write(
        {"model": "mean", "coef": [0.5, 1.5], "fitted": True},
        "obj_joblib",
        type="joblib",
        created=PY_CREATED,
    )
    board.pin_write({"v": 1}, "two_versions", type="json", created=PY_CREATED)
    board.pin_write({"v": 2}, "two_versions", type="json", created=PY_CREATED_LATER)

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp)
        (src / "notes.txt").write_bytes(b"hello from pinyard\n")
        (src / "part_a.txt").write_bytes(b"first file\n")
        (src / "part_b.csv").write_bytes(b"k,v\n1,one\n2,two\n")
        with frozen_pins_clock(PY_CREATED):
            board.pin_upload(str(src / "notes.txt"), "one_file")
            board.pin_upload([str(src / "part_a.txt"), str(src / "part_b.csv")], "multi_file")


# ---------------------------------------------------------------------------
# R pins board (hand-made)
# ---------------------------------------------------------------------------

_YAML_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")


def _reads_back_as_same_string(value: str) -> bool:
    try:
        return yaml.safe_load(value) == value
    except yaml.YAMLError:
        return False


def _r_yaml_scalar(value) -> str:
    """Render one scalar the way R's ``yaml::as.yaml`` does."""
    if value is None:
        return "~"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, int):  # R integer
        return str(value)
    if isinstance(value, float):  # R double: whole numbers keep ".0"
        return f"{int(value)}.0" if value.is_integer() else repr(value)
    if isinstance(value, str):
        needs_quotes = (
            value == ""
            or value[0] in _YAML_INDICATORS
            or value != value.strip()
            or ": " in value
            or " #" in value
            or value.endswith(":")
            or "\n" in value
            # anything a YAML 1.1 reader would turn into a non-string
            # (e.g. y, no, ~, 1.0, 12345)
            or not _reads_back_as_same_string(value)
        )
        if needs_quotes:
            return "'" + value.replace("'", "''") + "'"
        return value
    raise TypeError(f"unsupported scalar {value!r}")


def r_yaml(mapping: dict, indent: int = 0) -> str:
    """Block YAML as R's yaml package emits it.

    Sequences under a mapping key are NOT indented; nested mappings are
    indented by two spaces; NULL is ``~``; the document ends with one newline.
    """
    pad = " " * indent
    lines = []
    for key, value in mapping.items():
        k = _r_yaml_scalar(key)
        if isinstance(value, dict):
            lines.append(f"{pad}{k}:")
            lines.append(r_yaml(value, indent + 2).rstrip("\n"))
        elif isinstance(value, list):
            lines.append(f"{pad}{k}:")
            lines.extend(f"{pad}- {_r_yaml_scalar(v)}" for v in value)
        else:
            lines.append(f"{pad}{k}: {_r_yaml_scalar(value)}")
    return "\n".join(lines) + "\n"


def r_write_csv(table: dict) -> bytes:
    """``utils::write.csv(df, row.names = FALSE)`` for int/double/chr columns."""

    def cell(v):
        if isinstance(v, str):
            return '"' + v.replace('"', '""') + '"'
        if isinstance(v, float):
            return f"{v:.15g}"  # R: 3.0 -> 3, 1.25 -> 1.25
        return str(v)

    cols = list(table)
    rows = ['"' + '","'.join(cols) + '"']
    for i in range(len(table[cols[0]])):
        rows.append(",".join(cell(table[c][i]) for c in cols))
    return ("\n".join(rows) + "\n").encode()


def r_write_json(obj) -> bytes:
    """``jsonlite::write_json(x, auto_unbox = TRUE)``: compact, then a newline."""
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


def r_gzip(raw: bytes) -> bytes:
    """gzip the way R's ``gzfile()`` does: mtime 0, no name, OS byte 3 (Unix),
    zlib level 6."""
    comp = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS, 8)
    body = comp.compress(raw) + comp.flush()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
    trailer = zlib.crc32(raw).to_bytes(4, "little") + (len(raw) & 0xFFFFFFFF).to_bytes(4, "little")
    return header + body + trailer


def r_save_rds(table: dict) -> bytes:
    """``saveRDS(data.frame(...), version = 2)`` as R pins does, via rdata."""
    import rdata

    index = pd.RangeIndex(1, len(table["x"]) + 1)  # R's compact row names
    frame = pd.DataFrame(
        {
            # R integer / double / character columns. Explicit dtypes because
            # rdata 1.1 cannot convert pandas 3's default "str" dtype.
            "x": pd.Series(table["x"], dtype=np.int32, index=index),
            "y": pd.Series(table["y"], dtype=np.float64, index=index),
            "z": pd.Series(table["z"], dtype=object, index=index),
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.rds"
        # rdata's own gzip stamps the current time in the header, so write
        # uncompressed and gzip deterministically ourselves.
        rdata.write_rds(path, frame, compression=None, format_version=2)
        return r_gzip(path.read_bytes())


def write_r_version(
    root: Path,
    name: str,
    files: dict[str, bytes],
    *,
    type_: str,
    title: str,
    created: datetime,
    description: str | None = None,
    tags: list[str] | None = None,
    urls: list[str] | None = None,
    user: dict | None = None,
    api_version=1,
    keys_present=("tags", "urls"),
    pin_hash: str | None = None,
) -> str:
    """Write one version folder the way R pins 1.x's board_folder does."""
    names = list(files)
    single = len(names) == 1
    if pin_hash is None:
        if not single:
            raise ValueError("multi-file R pins need an explicit pin_hash")
        pin_hash = xxh64_hex(files[names[0]])

    meta: dict = {
        "file": names[0] if single else names,
        "file_size": len(files[names[0]]) if single else [len(files[n]) for n in names],
        "pin_hash": pin_hash,
        "type": type_,
        "title": title,
        "description": description,
    }
    # Older R pins wrote neither tags nor urls; 1.1.x added tags; 1.2 added urls.
    if "tags" in keys_present:
        meta["tags"] = tags
    if "urls" in keys_present:
        meta["urls"] = urls
    meta["created"] = compact_time(created)
    meta["api_version"] = api_version
    if user:  # R: meta$user <- NULL drops the key
        meta["user"] = user

    version = f"{compact_time(created)}-{pin_hash[:5]}"
    vdir = root / name / version
    vdir.mkdir(parents=True)
    (vdir / "data.txt").write_text(r_yaml(meta), encoding="utf-8", newline="\n")
    for fname, data in files.items():
        (vdir / fname).write_bytes(data)
    return version


def build_r_pins_board(root: Path) -> None:
    root.mkdir(parents=True)
    versions: dict[str, list[str]] = {}

    def add(name, *args, **kwargs):
        versions.setdefault(name, []).append(write_r_version(root, name, *args, **kwargs))

    # r_csv: an older pin (R pins 1.1.x era): api_version 1.0 (a double), has
    # `tags: ~` but no `urls` key.
    add(
        "r_csv",
        {"r_csv.csv": r_write_csv(TABLE)},
        type_="csv",
        title="r_csv: a pinned 3 x 3 data frame",
        created=R_TIMES["r_csv"],
        api_version=1.0,
        keys_present=("tags",),
    )

    # r_json: two versions, current R pins (api_version 1 integer).
    add(
        "r_json",
        {
            "r_json.json": r_write_json(
                {"name": "r_json", "values": [1, 2, 3], "nested": {"ok": True}}
            )
        },
        type_="json",
        title="r_json: a pinned list",
        created=R_TIMES["r_json_1"],
    )
    add(
        "r_json",
        {
            "r_json.json": r_write_json(
                {"name": "r_json", "values": [1, 2, 3, 4], "nested": {"ok": False}}
            )
        },
        type_="json",
        title="r_json: a pinned list",
        created=R_TIMES["r_json_2"],
    )

    add(
        "r_rds",
        {"r_rds.rds": r_save_rds(TABLE)},
        type_="rds",
        title="r_rds: a pinned 3 x 3 data frame",
        created=R_TIMES["r_rds"],
    )

    add(
        "r_tags",
        {"r_tags.json": r_write_json({"a": 1, "b": ["x", "y"]})},
        type_="json",
        title="r_tags: a pinned list",
        description="A pin with tags, urls and user metadata",
        tags=["a", "b"],
        urls=["https://example.com"],
        # R: metadata = list(owner = "data-team", reviewed = TRUE, n_rows = 3)
        user={"owner": "data-team", "reviewed": True, "n_rows": 3.0},
        created=R_TIMES["r_tags"],
    )

    # r_multi: pin_upload(board, c(".../readme.txt", ".../values.csv")).
    # R's pin_hash here is rlang::hash() (XXH3-128 of R's serialisation of the
    # per-file hashes) which cannot be reproduced outside R; we store a fixed
    # stand-in: XXH3-128 of the concatenated file bytes. Not verifiable.
    multi = {
        "readme.txt": b"two files pinned together\n",
        "values.csv": b'"k","v"\n1,"one"\n2,"two"\n',
    }
    add(
        "r_multi",
        multi,
        type_="file",
        title="r_multi: 2 pinned files",
        created=R_TIMES["r_multi"],
        pin_hash=xxhash.xxh3_128(b"".join(multi.values())).hexdigest(),
    )

    # _pins.yaml, as board_manifest() writes it: pins sorted by name, each a
    # list of "<pin>/<version>/" oldest first.
    manifest = {
        name: [f"{name}/{v}/" for v in sorted(versions[name])] for name in sorted(versions)
    }
    (root / "_pins.yaml").write_text(r_yaml(manifest), encoding="utf-8", newline="\n")


# ---------------------------------------------------------------------------


def summary_table(root: Path) -> str:
    """Markdown table of every version: the expected values for tests."""
    rows = ["| pin | version | type | file | file_size | pin_hash |", "|---|---|---|---|---|---|"]
    for pin_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for vdir in sorted(p for p in pin_dir.iterdir() if p.is_dir()):
            meta = yaml.safe_load((vdir / "data.txt").read_text())
            files, sizes = meta["file"], meta["file_size"]
            if not isinstance(files, list):
                files, sizes = [files], [sizes]
            for f, s in zip(files, sizes, strict=True):
                assert (vdir / f).stat().st_size == s, (vdir / f, s)
            rows.append(
                f"| {pin_dir.name} | {vdir.name} | {meta['type']} | {', '.join(files)} "
                f"| {', '.join(map(str, sizes))} | {meta['pin_hash']} |"
            )
    return "\n".join(rows)


def main() -> int:
    for board in (PY_BOARD, R_BOARD):
        if board.exists():
            shutil.rmtree(board)
    build_pins_python_board(PY_BOARD)
    build_r_pins_board(R_BOARD)

    import pins

    print(f"pins-python {pins.__version__}, pandas {pd.__version__}")
    for board in (PY_BOARD, R_BOARD):
        print(f"\n## {board.name}\n")
        print(summary_table(board))
    return 0


if __name__ == "__main__":
    sys.exit(main())
