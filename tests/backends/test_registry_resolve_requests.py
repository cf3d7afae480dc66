"""Resolving ``name@alias`` on S3 costs two requests, whatever else the board holds."""

from __future__ import annotations

from pathlib import Path

import pinyard
from tests.backends.conftest import Bucket


def test_an_alias_resolves_in_two_requests_without_reading_board_settings(
    s3_bucket_via_proxy: Bucket, tmp_path: Path
) -> None:
    bucket = s3_bucket_via_proxy
    assert bucket.proxy is not None
    board = pinyard.board(f"{bucket.url}/team", cache=pinyard.Cache(tmp_path / "cache"),
                          **bucket.storage_options)  # fmt: skip
    version = board.pin_write({"k": 1}, "obj").version
    registry = pinyard.Registry(board)
    registry.set_alias("obj", "champion", version)  # no stage event: no archive recorded
    registry.resolve("obj@champion")  # the version's data.txt is now in the cache
    with bucket.proxy.measure() as window:
        assert registry.resolve("obj@champion").version == version
    # state.json and the event after it; the board's settings chain is not read
    assert window.total == 2, [r.path for r in bucket.proxy.records()[-window.total :]]
