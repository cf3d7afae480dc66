"""Block and multipart uploads: a stream of writes cut into fixed-size blocks, each sent
on a worker thread as it fills, then committed once."""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from pinyard.boards._store import BytesLike

Sent = TypeVar("Sent")  # what sending one block returns (a part's ETag, a block id)


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


class BlockUpload(ABC, Generic[Sent]):
    """Write bytes with `write`, then `complete` (or `abort`) exactly once.

    Each full block goes to `_send` on a worker thread, ``in_flight`` at a time
    (memory is about ``(in_flight + 1) * block_size``); `_commit` then makes the
    object appear, given what sending each block returned (`_sent`, in order).
    """

    def __init__(self, block_size: int, in_flight: int) -> None:
        self._blocks = BlockFiller(block_size, self._submit)
        self._in_flight = in_flight
        self._sent: list[Sent] = []
        self._pending: deque[Future[Sent]] = deque()
        self._pool = ThreadPoolExecutor(in_flight, thread_name_prefix="pinyard-upload")

    @abstractmethod
    def _send(self, number: int, block: io.BytesIO) -> Sent:
        """Send block ``number`` (from 1; the block is this call's to keep)."""

    @abstractmethod
    def _commit(self) -> bool:
        """Make the object appear exclusively from `_sent`: True if this call created
        it, False if it was there with these very bytes, FileExistsError otherwise."""

    def _discard(self) -> None:
        """Take back what was sent, after `abort` stopped sending (best effort)."""

    def write(self, data: BytesLike) -> None:
        self._blocks.write(data)

    def _submit(self, block: io.BytesIO) -> None:
        if len(self._pending) >= self._in_flight:
            self._sent.append(self._pending.popleft().result())
        number = len(self._sent) + len(self._pending) + 1
        self._pending.append(self._pool.submit(self._send, number, block))

    def finish_sending(self) -> None:
        """Send the last block and wait for every block: `complete` then only commits
        (one short request), so the caller can choose when the object appears."""
        try:
            if self._blocks.filled or not (self._sent or self._pending):
                self._blocks.flush()  # the last block, or the only (empty) one
            while self._pending:
                self._sent.append(self._pending.popleft().result())
        except BaseException:
            self.abort()
            raise

    def complete(self) -> bool:
        """Send the last block, wait for every block, commit; see `_commit`."""
        try:
            self.finish_sending()
            return self._commit()
        except BaseException:
            self.abort()
            raise
        finally:
            self._pool.shutdown(wait=False)

    def abort(self) -> None:
        """Stop sending and take back what was sent; nothing was or will be visible."""
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True)
        self._discard()
        self._blocks.drop()
