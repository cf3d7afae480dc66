"""Writing one version to an object store: the staging area of `RemoteStore`.

Small files are held in memory and PUT at publish. When the caller can
produce a file's bytes again, a larger one is, on S3, spilled to a local
temporary file while it is hashed and sent in one exclusive PutObject at
publish; past the store's ``single_put_bytes`` (or if the local disk refuses
it), and always on Azure, only its fingerprint is kept and it is produced
again at publish straight into an exclusive upload at its final name (S3
multipart, Azure blocks; docs/decisions/0005, 0009). Otherwise (GCS, or bytes
that came out different twice) a large file is uploaded to ``staging/`` while
it is hashed and copied server-side at publish; plain pins boards, which have
no staging area, spool it to a local temporary file instead.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

import xxhash

from pinyard.boards._hashing import FileDigest, digest_stream
from pinyard.boards._names import is_safe_component
from pinyard.boards._s3 import put_exclusive
from pinyard.boards._store import BytesLike, Replay, ReplayMismatchError, Sink, Staging
from pinyard.errors import InvalidNameError

if TYPE_CHECKING:
    from pinyard.boards._remote import RemoteStore

SMALL_FILE_BYTES = 8 * 1024 * 1024
UPLOAD_BLOCK_BYTES = 16 * 1024 * 1024
#: Largest file sent to S3 in one PutObject (S3 allows 5 GiB); larger ones go multipart.
SINGLE_PUT_BYTES = 1024 * 1024 * 1024
#: The final short requests of a publish (completions, small files) sent at once.
FINAL_REQUESTS_IN_FLIGHT = 8


class Upload(Protocol):
    """An exclusive upload straight to an object's final name (`RemoteStore.open_upload`)."""

    def write(self, data: BytesLike) -> None: ...

    def finish_sending(self) -> None:
        """Send every byte written, without making the object appear."""
        ...

    def complete(self) -> bool:
        """Create the object; True if this call did, FileExistsError if another is there."""
        ...

    def abort(self) -> None: ...


class RemoteStaging(Staging):
    """Small files in memory; a large one spilled to a local file and PUT at publish (S3),
    or fingerprinted now and streamed to its final name at publish (S3, Azure; both
    need ``replay``), or uploaded to ``staging/`` and copied."""

    max_pending_bytes = UPLOAD_BLOCK_BYTES // 2  # one hashing chunk

    def __init__(self, store: RemoteStore, *, replay: bool) -> None:
        self._store = store
        self._replay = replay
        self._small: dict[str, bytes] = {}
        self._direct: dict[str, tuple[Replay, _Fingerprint]] = {}  # streamed at publish
        self._spilled: dict[str, _Spill] = {}  # sent in one PUT each at publish
        self._digests: dict[str, FileDigest] = {}
        self._staged: dict[str, str] = {}  # file name -> staged object path (relative)
        self._spooled: dict[str, str] = {}  # file name -> local temporary file
        self._id = uuid.uuid4().hex

    @contextmanager
    def open_sink(self, file_name: str, replay: Replay | None = None) -> Iterator[Sink]:
        if not is_safe_component(file_name):
            raise InvalidNameError(f"refusing staged file name {file_name!r}: not a plain name")
        buffer = io.BytesIO()
        target: list[Any] = []  # the large-file destination, once opened
        direct = replay if self._replay else None

        def sink(data: BytesLike) -> None:
            if target:
                target[0].write(data)
                return
            buffer.write(data)
            if buffer.tell() > SMALL_FILE_BYTES:
                limit = self._store.single_put_bytes
                target.append(_Spill(limit) if direct else self._open_large(file_name))
                target[0].write(buffer.getbuffer())
                buffer.seek(0)
                buffer.truncate()

        try:
            yield sink
        except BaseException:
            if target:
                _abandon(target[0])
            raise
        if target and direct is not None:
            spill: _Spill = target[0]
            if spill.close():
                self._spilled[file_name] = spill
            else:
                self._direct[file_name] = (direct, spill.fingerprint)
        elif target:
            self._store._call("uploading", file_name, target[0].close)
        else:
            self._small[file_name] = buffer.getvalue()

    def note_digest(self, file_name: str, digest: FileDigest) -> None:
        self._digests[file_name] = digest

    def _open_large(self, file_name: str) -> Any:
        store = self._store
        if store.staging_prefix is None:
            fd, local = tempfile.mkstemp(prefix="pinyard-spool-")
            self._spooled[file_name] = local
            return os.fdopen(fd, "wb")
        rel = f"{store.staging_prefix}/{self._id}/{file_name}"
        self._staged[file_name] = rel
        return store._call(
            "uploading",
            rel,
            lambda: store.fs.open(store.abs(rel), "wb", block_size=UPLOAD_BLOCK_BYTES),
        )

    def publish(self, final_dir: str, meta_name: str, meta: bytes) -> None:
        """Put the files at ``final_dir`` and then ``data.txt``, ordered so that the time
        during which the version folder is visible without its ``data.txt`` (what pins
        readers list as a version and fail to read, decision 0018) is as short as the
        store allows: every transfer that can stay invisible until a final short request
        (S3 multipart, Azure blocks) is sent first and completed only at the end; then
        the transfers that become visible as they finish (one-PUT large files, copies);
        then, back to back, the completions, the small files (in parallel) and
        ``data.txt``."""
        store = self._store
        if (self._staged or self._spooled) and store.exists(f"{final_dir}/{meta_name}"):
            raise FileExistsError(store.abs(final_dir))
        created: list[str] = []  # objects this call created, removed again if it fails
        pending: list[tuple[str, Upload]] = []  # sent, not yet completed: invisible
        try:
            for name, (replay, fingerprint) in self._direct.items():
                rel = f"{final_dir}/{name}"
                pending.append((rel, self._stream(name, rel, replay, fingerprint)))
            # Visible as each finishes: from the first one on, the folder is there.
            for name, spill in self._spilled.items():
                assert spill.file is not None
                if self._put(f"{final_dir}/{name}", spill.file, self._digest(name, spill.file)):
                    created.append(f"{final_dir}/{name}")
            for name, rel in self._staged.items():
                store.copy(rel, f"{final_dir}/{name}")
                created.append(f"{final_dir}/{name}")
            for name, local in self._spooled.items():
                store.upload(local, f"{final_dir}/{name}")
                created.append(f"{final_dir}/{name}")
            # The short end: the completions at once (a completion can take long, the
            # server assembling the parts), then the small files at once, then data.txt.
            completions: list[tuple[str, Callable[[], bool]]] = [
                (rel, upload.complete) for rel, upload in pending
            ]
            pending = []  # each is completed or, failing, aborted by its own complete()
            _all_at_once(completions, created)
            smalls = [(f"{final_dir}/{name}", data) for name, data in self._small.items()]
            _all_at_once(
                [(rel, functools.partial(store.put_small, rel, data)) for rel, data in smalls],
                created,
            )
            store.write_exclusive(f"{final_dir}/{meta_name}", meta)
        except BaseException:
            for _, upload in pending:
                with contextlib.suppress(Exception):
                    upload.abort()
            self._remove_orphans(final_dir, meta_name, created)
            raise

    def _digest(self, name: str, file: BinaryIO) -> FileDigest:
        if name not in self._digests:  # a caller that did not note it: hash the file
            file.seek(0)
            self._digests[name] = digest_stream(file, with_xxh64=False)
        return self._digests[name]

    def _put(self, rel: str, file: BinaryIO, digest: FileDigest) -> bool:
        """One exclusive PutObject of a spilled file at ``rel``; True if this call created
        the object."""
        store = self._store
        bucket, key, _ = store.fs.split_path(store.abs(rel))
        call = lambda what, fn: store._call(what, rel, fn)  # noqa: E731
        return put_exclusive(store.fs, call, bucket, key, file, digest.sha256)

    def _stream(self, name: str, rel: str, replay: Replay, fingerprint: _Fingerprint) -> Upload:
        """Produce a file again straight into an exclusive upload at ``rel`` (S3
        multipart, Azure blocks), every byte sent but not completed: nothing is visible
        at ``rel`` until the caller completes it."""
        store = self._store
        sha256 = self._digests[name].sha256 if name in self._digests else ""
        upload = store.open_upload(rel, fingerprint.size, sha256)
        again = _Fingerprint()

        def sink(data: BytesLike) -> None:
            again.write(data)
            upload.write(data)

        try:
            replay(sink)
        except BaseException:
            upload.abort()
            raise
        if (again.size, again.xxh64) != (fingerprint.size, fingerprint.xxh64):
            upload.abort()
            raise ReplayMismatchError(f"{store.protocol}://{store.abs(rel)}")
        upload.finish_sending()
        return upload

    def _remove_orphans(self, final_dir: str, meta_name: str, created: list[str]) -> None:
        """Best effort: take back files of a version that was not committed, so pins
        readers do not meet a folder without data.txt. A version committed meanwhile
        by another writer (same id, same bytes) keeps them."""
        store = self._store
        with contextlib.suppress(Exception):
            if store.exists(f"{final_dir}/{meta_name}"):
                return
            for rel in created:
                with contextlib.suppress(Exception):
                    store.fs.rm_file(store.abs(rel))

    def discard(self) -> None:
        store = self._store
        for rel in self._staged.values():
            with contextlib.suppress(Exception):
                store.fs.rm_file(store.abs(rel))
        for local in self._spooled.values():
            with contextlib.suppress(OSError):
                os.unlink(local)
        for spill in self._spilled.values():
            spill.discard()
        self._small, self._direct, self._staged, self._spooled = {}, {}, {}, {}
        self._spilled, self._digests = {}, {}


class _Fingerprint:
    """Size and xxh64 of the bytes written: tells whether a second pass produced the
    same bytes as the first (sha256 was taken in the first; reads verify it)."""

    def __init__(self) -> None:
        self._xxh = xxhash.xxh64(seed=0)
        self.size = 0

    def write(self, data: BytesLike) -> None:
        self._xxh.update(data)
        self.size += memoryview(data).nbytes

    @property
    def xxh64(self) -> str:
        return self._xxh.hexdigest()

    def close(self) -> None:
        pass


class _Spill:
    """A large file's fingerprint, and its bytes in an anonymous local temporary file
    while they are at most ``limit`` bytes and the disk takes them (then sent in one
    PUT). The file has no name: a killed writer leaves nothing on the disk."""

    def __init__(self, limit: int) -> None:
        self.fingerprint = _Fingerprint()
        self._limit = limit
        self.file: BinaryIO | None = None
        if limit <= 0:
            return
        with contextlib.suppress(OSError):
            self._tmp = tempfile.TemporaryFile(prefix="pinyard-put-")  # noqa: SIM115
            # A plain file object (Windows wraps it; the wrapper deletes it on close).
            self.file = getattr(self._tmp, "file", self._tmp)

    def write(self, data: BytesLike) -> None:
        self.fingerprint.write(data)
        if self.file is None:
            return
        if self.fingerprint.size > self._limit:
            self.discard()  # too large for one PUT: produced again at publish instead
            return
        try:
            self.file.write(data)
        except OSError:  # a full disk: the bytes will be produced again
            self.discard()

    def close(self) -> bool:
        """Finish writing; True if the file holds every byte."""
        if self.file is not None:
            try:
                self.file.flush()
            except OSError:
                self.discard()
        return self.file is not None

    def discard(self) -> None:
        if self.file is not None:
            self.file = None
            with contextlib.suppress(OSError):
                self._tmp.close()


def _all_at_once(requests: list[tuple[str, Callable[[], bool]]], created: list[str]) -> None:
    """Run the requests that make objects appear (each True if it created its object)
    in parallel, so that together they take about one round trip, adding the paths
    created to ``created``; if any fails, the first failure is raised once all ended."""
    if len(requests) <= 1:
        created += [rel for rel, make in requests if make()]
        return
    failures: list[BaseException] = []

    def run(item: tuple[str, Callable[[], bool]]) -> None:
        rel, make = item
        try:
            if make():
                created.append(rel)
        except BaseException as exc:  # re-raised below, once the others have ended
            failures.append(exc)

    with ThreadPoolExecutor(max_workers=min(len(requests), FINAL_REQUESTS_IN_FLIGHT)) as pool:
        list(pool.map(run, requests))
    if failures:
        raise failures[0]


def _abandon(handle: Any) -> None:
    """Drop a half-written upload without completing it (aborts an S3 multipart upload)."""
    discard = getattr(handle, "discard", None)
    with contextlib.suppress(Exception):
        if callable(discard):
            discard()
        else:
            handle.close()
