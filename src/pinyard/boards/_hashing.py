"""Digests taken in one streaming pass: sha256 for integrity, xxh64 for pins.

`HashingWriter` sits between a serializer and the storage: every chunk the
serializer writes is hashed once by both algorithms and handed on to the
sink. Writes to the sink run on a background thread so that hashing and I/O
overlap (both release the GIL on large buffers); at most `MAX_PENDING_BYTES`
are queued, so memory stays bounded whatever the payload size.
"""

from __future__ import annotations

import hashlib
import io
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import xxhash

from pinyard.boards._store import BytesLike

CHUNK_SIZE = 8 * 1024 * 1024
MAX_PENDING_BYTES = 32 * 1024 * 1024
_PIPELINE_MIN_BYTES = 256 * 1024


@dataclass(frozen=True)
class FileDigest:
    """The identity of one stored file: size, sha256 and xxh64 (both lowercase hex)."""

    size: int
    sha256: str
    xxh64: str


class HashingWriter(io.RawIOBase):
    """A write-only binary stream that hashes what passes through it.

    ``sink`` receives every byte in order. Large chunks are written to the
    sink on a helper thread while the caller's thread hashes them (at most
    ``max_pending_bytes`` queued, and never less than one chunk); call
    `close` (or use ``with``) to flush, and read `digest` afterwards.
    """

    def __init__(
        self, sink: Callable[[BytesLike], object], max_pending_bytes: int | None = None
    ) -> None:
        super().__init__()
        self._sink = sink
        self._sha = hashlib.sha256()
        self._xxh = xxhash.xxh64(seed=0)
        self._size = 0
        self._queue: queue.Queue[memoryview | None] | None = None
        self._thread: threading.Thread | None = None
        pending = max(max_pending_bytes or MAX_PENDING_BYTES, CHUNK_SIZE)
        self._pending = threading.BoundedSemaphore(pending // _PIPELINE_MIN_BYTES)
        self._error: BaseException | None = None
        self._digest: FileDigest | None = None

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._size

    def write(self, data: BytesLike) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("write to a closed HashingWriter")
        self._raise_sink_error()
        view = memoryview(data).cast("B")
        n = view.nbytes
        if n == 0:
            return 0
        if n < _PIPELINE_MIN_BYTES:
            self._hash(view)
            if self._thread is None:
                self._sink(view)
            else:  # keep order behind the queued large chunks
                self._enqueue(memoryview(bytes(view)))
            return n
        for start in range(0, n, CHUNK_SIZE):
            part = view[start : start + CHUNK_SIZE]
            # Own the bytes before handing them to another thread: callers
            # may reuse a writable buffer as soon as write() returns.
            owned = part if part.readonly else memoryview(bytes(part))
            self._enqueue(owned)
            self._hash(owned)
        return n

    def _hash(self, view: memoryview) -> None:
        self._sha.update(view)
        self._xxh.update(view)
        self._size += view.nbytes

    def _enqueue(self, part: memoryview) -> None:
        if self._thread is None:
            self._queue = queue.Queue()
            self._thread = threading.Thread(target=self._drain, name="pinyard-writer", daemon=True)
            self._thread.start()
        # One permit per started _PIPELINE_MIN_BYTES bounds the bytes in flight.
        permits = max(1, part.nbytes // _PIPELINE_MIN_BYTES)
        for _ in range(permits):
            self._pending.acquire()
        assert self._queue is not None
        self._queue.put(part)

    def _drain(self) -> None:
        assert self._queue is not None
        while True:
            part = self._queue.get()
            if part is None:
                return
            try:
                if self._error is None:
                    self._sink(part)
            except BaseException as exc:  # handed to the writer thread below
                self._error = exc
            finally:
                for _ in range(max(1, part.nbytes // _PIPELINE_MIN_BYTES)):
                    self._pending.release()

    def _flush_queue(self) -> None:
        if self._thread is not None and self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
            self._queue = None
        self._raise_sink_error()

    def _raise_sink_error(self) -> None:
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        if not self.closed:
            try:
                self._flush_queue()
                self._digest = FileDigest(self._size, self._sha.hexdigest(), self._xxh.hexdigest())
            finally:
                super().close()

    @property
    def digest(self) -> FileDigest:
        """Size and digests of everything written; available after `close`."""
        if self._digest is None:
            raise ValueError("the digest is known only after the writer is closed")
        return self._digest


def digest_stream(stream: BinaryIO, *, with_xxh64: bool = True) -> FileDigest:
    """Hash a readable stream to its end in fixed-size chunks (bounded memory).

    ``with_xxh64=False`` skips xxh64 (its digest is then ``""``): checking a
    pinyard-written file needs only its sha256.
    """
    sha = hashlib.sha256()
    xxh = xxhash.xxh64(seed=0) if with_xxh64 else None
    size = 0
    buf = bytearray(CHUNK_SIZE)
    view = memoryview(buf)
    readinto = getattr(stream, "readinto", None)
    while True:
        if readinto is not None:
            n = readinto(view)
            if not n:
                break
            part = view[:n]
        else:
            data = stream.read(CHUNK_SIZE)
            if not data:
                break
            part = memoryview(data)
            n = len(data)
        sha.update(part)
        if xxh is not None:
            xxh.update(part)
        size += n
    return FileDigest(size, sha.hexdigest(), xxh.hexdigest() if xxh is not None else "")


def digest_bytes(data: BytesLike) -> FileDigest:
    """Digest of an in-memory buffer."""
    view = memoryview(data).cast("B")
    return FileDigest(
        view.nbytes, hashlib.sha256(view).hexdigest(), xxhash.xxh64(view, seed=0).hexdigest()
    )


def combined_pin_hash(xxh64_hexes: list[str]) -> str:
    """pins-python's ``pin_hash`` for several files: xxh64 of the joined hex digests."""
    if len(xxh64_hexes) == 1:
        return xxh64_hexes[0]
    return xxhash.xxh64("".join(xxh64_hexes).encode("utf-8"), seed=0).hexdigest()
