"""Fixed-size blocks for block and multipart uploads, and their shared lifecycle."""

from __future__ import annotations

import io
import threading

import pytest

from pinyard.boards._blocks import BlockFiller, BlockUpload


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


class Recorded(BlockUpload[str]):
    """An upload into memory (beside the real S3 and Azure ones, tested on their
    emulators): what a subclass sees of the shared lifecycle."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.stored: dict[int, bytes] = {}
        self.most_in_flight = 0
        self.running = 0
        self.committed: list[str] | None = None
        self.discarded = False
        self._fail_on = fail_on
        self._lock = threading.Lock()
        self._two = threading.Event()  # set once two blocks were in flight together
        super().__init__(block_size=4, in_flight=2)

    def _send(self, number: int, block: io.BytesIO) -> str:
        with self._lock:
            self.running += 1
            self.most_in_flight = max(self.most_in_flight, self.running)
            if self.running >= 2:
                self._two.set()
        try:
            # the first block waits for a second one to be sent beside it (no sleep
            # decides it: an upload that sends one block at a time waits here 5 s and
            # then fails the in-flight assertion)
            self._two.wait(timeout=5)
            if number == self._fail_on:
                raise OSError(f"block {number} lost")
            self.stored[number] = block.read()
            return f"id-{number}"
        finally:
            with self._lock:
                self.running -= 1

    def _commit(self) -> bool:
        self.committed = list(self._sent)
        return True

    def _discard(self) -> None:
        self.discarded = True


def test_an_upload_sends_blocks_in_order_two_at_a_time_and_commits_them() -> None:
    upload = Recorded()
    for _ in range(5):
        upload.write(b"abc")  # 15 bytes: three full blocks and 3 bytes
    assert upload.complete() is True
    assert upload.committed == ["id-1", "id-2", "id-3", "id-4"]
    assert b"".join(upload.stored[n] for n in range(1, 5)) == b"abc" * 5
    assert upload.most_in_flight == 2  # two at a time, never more
    assert not upload.discarded


def test_an_empty_upload_commits_one_empty_block() -> None:
    upload = Recorded()
    assert upload.complete() is True
    assert upload.committed == ["id-1"]
    assert upload.stored == {1: b""}


def test_a_failed_block_aborts_the_upload_and_takes_back_what_was_sent() -> None:
    upload = Recorded(fail_on=2)
    upload.write(b"x" * 12)
    with pytest.raises(OSError, match="block 2 lost"):
        upload.complete()
    assert upload.committed is None
    assert upload.discarded
