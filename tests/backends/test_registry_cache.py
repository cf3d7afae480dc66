"""The registry on a remote board reads versions through the local cache: a damaged
cached copy must never make a good remote version look tampered with."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import pinyard
from pinyard import errors
from pinyard.boards._meta import DIGEST_KEY, content_digest
from tests.backends.conftest import Bucket


def _board(bucket: Bucket, cache: Path) -> pinyard.Board:
    return pinyard.board(
        f"{bucket.url}/team", cache=pinyard.Cache(cache), **bucket.storage_options
    )


def test_a_damaged_cached_data_txt_is_fetched_again(s3_bucket: Bucket, tmp_path: Path) -> None:
    board = _board(s3_bucket, tmp_path / "cache")
    version = board.pin_write({"alpha": 1}, "churn").version
    registry = pinyard.Registry(board, user="ana")
    registry.set_alias("churn", "champion", version, reason="first")
    assert board.cache is not None
    cached = board.cache.meta_path(board.store.url, "churn", version)
    assert cached.exists()
    cached.write_bytes(cached.read_bytes().replace(b"churn", b"chure"))

    assert registry.resolve("churn@champion").version == version
    assert registry.read("churn@champion") == {"alpha": 1}
    assert b"chure" not in cached.read_bytes()  # the good copy replaced the damaged one


def test_an_edited_remote_data_txt_is_refused(s3_bucket: Bucket, tmp_path: Path) -> None:
    board = _board(s3_bucket, tmp_path / "cache")
    version = board.pin_write({"alpha": 1}, "churn").version
    registry = pinyard.Registry(board, user="ana")
    registry.set_alias("churn", "champion", version, reason="first")
    path = f"pins/churn/{version}/data.txt"
    edited = board.store.read_bytes(path).replace(b"a pinned", b"an edited")
    assert edited != board.store.read_bytes(path)
    board.store.replace_small(path, edited)

    fresh = _board(s3_bucket, tmp_path / "other-cache")
    # data.txt's own digest catches the edit first (decision 0018), naming the board's copy
    with pytest.raises(errors.IntegrityError, match=r"the board's copy, .*edited or damaged"):
        pinyard.Registry(fresh).resolve("churn@champion")
    (report,) = pinyard.Registry(fresh).verify("churn")
    assert not report.ok
    assert version in report.problems[0]

    # and an edit whose digest was recomputed (a forger's) meets the registry's record
    doc = yaml.safe_load(edited)
    doc[DIGEST_KEY] = f"sha256:{content_digest(doc)}"
    board.store.replace_small(path, yaml.safe_dump(doc, sort_keys=True).encode())
    forged = _board(s3_bucket, tmp_path / "third-cache")
    with pytest.raises(errors.IntegrityError, match=r"changed since the registry recorded it"):
        pinyard.Registry(forged).resolve("churn@champion")
