"""What resolving ``name@alias`` on S3 costs, counted at a proxy in front of moto.

A `Registry` that has confirmed a name's state asks only for the event after
it (one request); a new one reads state.json first (two); the version's
data.txt, checked against the event, comes from the cache once fetched. The
board's settings chain is never read for an alias.
"""

from __future__ import annotations

from pathlib import Path

import pinyard
from tests.backends.conftest import Bucket


def test_an_alias_resolves_in_one_request_warm_and_two_new(
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
    events = f"/{bucket.name}/team/registry/obj/events"
    with bucket.proxy.measure() as window:
        assert registry.resolve("obj@champion").version == version
    assert [r.path for r in window.records] == [f"{events}/000000000002.json"]
    with bucket.proxy.measure() as window:
        assert pinyard.Registry(board).resolve("obj@champion").version == version
    assert [r.path for r in window.records] == [
        f"/{bucket.name}/team/registry/obj/state.json",
        f"{events}/000000000002.json",
    ]


def test_a_warm_registry_sees_another_writers_move_in_one_more_request(
    s3_bucket_via_proxy: Bucket, tmp_path: Path
) -> None:
    bucket = s3_bucket_via_proxy
    assert bucket.proxy is not None
    board = pinyard.board(f"{bucket.url}/team", cache=pinyard.Cache(tmp_path / "cache"),
                          **bucket.storage_options)  # fmt: skip
    first, second = (board.pin_write({"k": i}, "obj").version for i in range(2))
    reader = pinyard.Registry(board)
    pinyard.Registry(board).set_alias("obj", "champion", first)
    assert reader.resolve("obj@champion").version == first
    pinyard.Registry(board).set_alias("obj", "champion", second)  # another process moves it
    board.pin_meta("obj", second)  # its data.txt cached, as a first resolve leaves it
    with bucket.proxy.measure() as window:
        assert reader.resolve("obj@champion").version == second
    # event 2 (the move, which links to the head the reader knew), then the probe for 3
    assert [r.path.rsplit("/", 1)[-1] for r in window.records] == [
        "000000000002.json",
        "000000000003.json",
    ]
