"""Fixed-size blocks for block and multipart uploads."""

from __future__ import annotations

import io

from pinyard.boards._blocks import BlockFiller


def test_writes_of_any_size_become_full_blocks_in_order_and_flush_sends_the_rest() -> None:
    sent: list[bytes] = []

    def send(block: io.BytesIO) -> None:
        sent.append(block.read())  # handed over at offset 0

    blocks = BlockFiller(4, send)
    for piece in (b"ab", b"cdefghij", b"k"):
        blocks.write(piece)
    assert sent == [b"abcd", b"efgh"]
    assert blocks.filled == 3
    blocks.flush()
    assert sent == [b"abcd", b"efgh", b"ijk"]
    assert blocks.filled == 0


def test_drop_forgets_the_block_being_filled() -> None:
    sent: list[bytes] = []
    blocks = BlockFiller(4, lambda block: sent.append(block.read()))
    blocks.write(memoryview(b"xyz"))
    blocks.drop()
    blocks.write(b"1234")
    assert sent == [b"1234"]
