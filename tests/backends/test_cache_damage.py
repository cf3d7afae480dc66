"""The local cache of a remote board heals (decision 0018): a cached ``data.txt`` or data
file that fails its check is dropped and fetched again once, and only a board copy that
fails is reported as damaged, never with advice to delete a good version."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import pinyard
from pinyard import errors
from tests.backends.conftest import Bucket
from tests.interop._support import PINS_PYTHON_BOARD

BACKENDS = ["s3_bucket", "azure_container"]


@pytest.fixture(params=BACKENDS)
def bucket(request: pytest.FixtureRequest) -> Bucket:
    found: Bucket = request.getfixturevalue(request.param)
    return found


def _board(bucket: Bucket, cache: Path) -> pinyard.Board:
    return pinyard.board(
        f"{bucket.url}/team", cache=pinyard.Cache(cache), **bucket.storage_options
    )


def _cached_meta(board: pinyard.Board, name: str, version: str) -> Path:
    assert board.cache is not None
    board.pin_meta(name, version)  # a write caches nothing; a read caches data.txt
    return board.cache.meta_path(board.store.url, name, version)


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw.replace(b"type: json", b"type: joblib"),  # an edit, valid YAML
        lambda raw: raw[: len(raw) // 2],  # truncated
        lambda raw: raw.replace(b"pinyard", b"pinyarx"),
        lambda raw: b"\xff\xfe" + raw,  # not UTF-8
    ],
    ids=["edited", "truncated", "renamed-key", "not-utf8"],
)
def test_a_damaged_cached_data_txt_is_dropped_and_fetched_again(
    bucket: Bucket, tmp_path: Path, damage: object, caplog: pytest.LogCaptureFixture
) -> None:
    board = _board(bucket, tmp_path / "cache")
    version = board.pin_write({"alpha": 1}, "churn").version
    cached = _cached_meta(board, "churn", version)
    good = cached.read_bytes()
    head, _, raw = good.partition(b"\n")
    damaged = damage(raw)  # type: ignore[operator]
    assert damaged != raw
    cached.write_bytes(head + b"\n" + damaged)  # the old header: caught by the parse

    with caplog.at_level(logging.WARNING, logger="pinyard"):
        fresh = _board(bucket, tmp_path / "cache")
        assert fresh.pin_read("churn") == {"alpha": 1}
        assert fresh.pin_meta("churn", version).metadata_verified
    assert cached.read_bytes() == good  # the board's good copy replaced the damaged one
    assert "delete" not in caplog.text


def test_a_cached_data_txt_damaged_behind_its_header_is_dropped(
    bucket: Bucket, tmp_path: Path
) -> None:
    board = _board(bucket, tmp_path / "cache")
    version = board.pin_write({"alpha": 1}, "churn").version
    cached = _cached_meta(board, "churn", version)
    good = cached.read_bytes()
    cached.write_bytes(good.replace(b"a pinned", b"an edited"))
    assert (
        _board(bucket, tmp_path / "cache").pin_meta("churn").title == "churn: a pinned dict object"
    )
    assert cached.read_bytes() == good


def test_a_damaged_cached_data_file_is_dropped_and_fetched_again(
    bucket: Bucket, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    board = _board(bucket, tmp_path / "cache")
    written = board.pin_write({"alpha": 1}, "churn")
    assert board.cache is not None
    blob = board.cache.blob_path(written.files[0].sha256)
    board.pin_read("churn")
    assert blob.exists()
    for damage in (b'{"alpha": 2}', b""):
        blob.write_bytes(damage)
        with caplog.at_level(logging.WARNING, logger="pinyard"):
            fresh = _board(bucket, tmp_path / "cache")
            assert fresh.pin_read("churn") == {"alpha": 1}
            (path,) = fresh.pin_download("churn")
        assert Path(path).read_bytes() == board.store.read_bytes(
            f"pins/churn/{written.version}/churn.json"
        )
    assert "delete" not in caplog.text


def test_only_a_damaged_board_copy_is_reported_naming_it(bucket: Bucket, tmp_path: Path) -> None:
    board = _board(bucket, tmp_path / "cache")
    version = board.pin_write({"alpha": 1}, "churn").version
    path = f"pins/churn/{version}/data.txt"
    cached = _cached_meta(board, "churn", version)
    cached.write_bytes(cached.read_bytes()[:-10])  # the cache is damaged too
    board.store.replace_small(path, board.store.read_bytes(path).replace(b"a pinned", b"an odd"))
    with pytest.raises(errors.IntegrityError) as info:
        _board(bucket, tmp_path / "cache").pin_read("churn")
    message = str(info.value)
    assert f"the board's copy, {board.store.url}/{path}" in message
    assert "cached" not in message
    assert not cached.exists()  # a damaged board copy is never cached


def test_a_pins_written_multi_file_version_heals_its_cached_set(
    bucket: Bucket, tmp_path: Path
) -> None:
    """pins hashes several files only together: the cached set is dropped and fetched
    again as a whole."""
    bucket.fs.put(
        str(PINS_PYTHON_BOARD / "multi_file"), bucket.path("plain", "multi_file"), recursive=True
    )
    board = pinyard.board_pins(
        f"{bucket.url}/plain", cache=pinyard.Cache(tmp_path / "cache"), **bucket.storage_options
    )
    assert board.pin_list() == ["multi_file"]
    first = board.pin_download("multi_file")
    expected = [Path(p).read_bytes() for p in first]
    Path(first[0]).write_bytes(b"damaged in the cache")
    again = board.pin_download("multi_file")
    assert [Path(p).read_bytes() for p in again] == expected
