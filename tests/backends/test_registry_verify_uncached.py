"""Registry verify on a remote board checks the board's bytes, not the local cache: a
version edited on the store after this machine cached it is reported."""

from __future__ import annotations

from pathlib import Path

import pinyard
from tests.backends.conftest import Bucket


def _aliased(bucket: Bucket, tmp_path: Path) -> tuple[pinyard.Board, pinyard.Registry, str]:
    board = pinyard.board(
        f"{bucket.url}/team", cache=pinyard.Cache(tmp_path / "cache"), **bucket.storage_options
    )
    version = board.pin_write({"alpha": 1}, "churn").version
    registry = pinyard.Registry(board, user="ana")
    registry.set_alias("churn", "champion", version, reason="first")
    assert registry.read("churn@champion") == {"alpha": 1}  # data.txt and file now cached
    assert registry.verify("churn")[0].ok
    return board, registry, version


def test_an_edited_data_txt_is_found_past_a_good_cached_copy(
    s3_bucket: Bucket, tmp_path: Path
) -> None:
    board, registry, version = _aliased(s3_bucket, tmp_path)
    path = f"pins/churn/{version}/data.txt"
    board.store.replace_small(path, board.store.read_bytes(path).replace(b"a pinned", b"edited"))
    (report,) = registry.verify("churn")
    assert not report.ok
    # the board's data.txt digest catches it before the registry's record does; either way
    # it is the board's copy that is read and named, not the good one in the cache
    assert f"data.txt of pin 'churn' version {version} (the board's copy" in report.problems[0]


def test_edited_file_bytes_are_found_past_a_good_cached_copy(
    s3_bucket: Bucket, tmp_path: Path
) -> None:
    board, registry, version = _aliased(s3_bucket, tmp_path)
    board.store.replace_small(f"pins/churn/{version}/churn.json", b'{"alpha": 2}')
    (report,) = registry.verify()[1:]
    assert (report.name, report.ok, report.chain_broken) == ("churn", False, False)
    assert "churn.json" in report.problems[0]
