"""Cutting a stream of writes into fixed-size blocks for block and multipart uploads."""

from __future__ import annotations

import io
from collections.abc import Callable

from pinyard.boards._store import BytesLike


class BlockFiller:
    """Copies written bytes into a block of ``size`` bytes and hands each full block to
    ``send`` (a `io.BytesIO` at offset 0 that the receiver owns); `flush` sends the
    block being filled, full or not."""

    def __init__(self, size: int, send: Callable[[io.BytesIO], None]) -> None:
        self.size = size
        self._send = send
        self._block = io.BytesIO()

    @property
    def filled(self) -> int:
        """Bytes in the block being filled."""
        return self._block.tell()

    def write(self, data: BytesLike) -> None:
        view = memoryview(data).cast("B")
        while view.nbytes:
            n = min(view.nbytes, self.size - self._block.tell())
            self._block.write(view[:n])
            view = view[n:]
            if self._block.tell() == self.size:
                self.flush()

    def flush(self) -> None:
        block, self._block = self._block, io.BytesIO()
        block.seek(0)
        self._send(block)

    def drop(self) -> None:
        """Forget the block being filled."""
        self._block = io.BytesIO()
