"""A store on an object store (S3, Azure Blob, GCS, ...) through fsspec.

Few requests, bounded memory, no silent overwrite:

* Listing a pin's committed versions: one delimited LIST of the pin's folder
  (version folder names only, committed or not) checked against the board's
  listing index; an undelimited LIST chain of the pin when that cannot tell
  (see `pinyard.boards._listing`). Finding the newest is the delimited LIST
  alone; readers then fetch the newest ``data.txt`` directly and fall back to
  the next folder when it is missing.
* A small file (up to `SMALL_FILE_BYTES`) is held in memory and PUT once,
  straight into its version folder, with an exclusive create. A larger file
  goes straight to its final name too, created exclusively: on S3 one PutObject
  from a local spill up to `single_put_bytes`, else (and on Azure) a second
  serialization into a multipart/block upload (see `_remote_staging`). On GCS
  it streams, while it is hashed, into ``staging/`` (memory bounded by the
  block size) and is copied server-side into place at publish; plain pins
  boards there spool it to a local temporary file instead.
* ``data.txt`` is created last with the backend's conditional create
  (S3 ``If-None-Match: *``, Azure ``overwrite=False``, GCS
  ``ifGenerationMatch=0``). If the response is lost and the client's retry
  finds the object, its bytes are compared with ours: our own earlier
  attempt counts as success, anyone else's as ``FileExistsError``.
* Transient failures (5xx, timeouts, resets) are retried with backoff;
  anything else is translated into a `StorageError` naming the URL.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, TypeVar

from fsspec.callbacks import Callback

from pinyard.boards._azure import BlockListUpload, wait_for_copy
from pinyard.boards._hashing import FileDigest
from pinyard.boards._remote_base import (
    AZURE_PROTOCOLS,
    DIRECT_PROTOCOLS,
    STREAM_PROTOCOLS,
    RemoteBase,
    modified_time,
)
from pinyard.boards._remote_staging import SMALL_FILE_BYTES, RemoteStaging, Upload
from pinyard.boards._s3 import MultipartUpload
from pinyard.boards._s3 import download as s3_download
from pinyard.boards._store import Staging
from pinyard.errors import StorageError

_T = TypeVar("_T")


class RemoteStore(RemoteBase):
    """Objects under ``root`` (no protocol prefix) on an fsspec object-store file system."""

    def read_bytes(self, path: str) -> bytes:
        # s3fs asks for the size first (a HEAD) unless told to read in one request.
        extra = {"max_concurrency": 1} if self.protocol in ("s3", "s3a") else {}
        return self._call(
            "reading", path, lambda: bytes(self.fs.cat_file(self.abs(path), **extra))
        )

    @contextmanager
    def open_read(self, path: str, size: int | None = None) -> Iterator[BinaryIO]:
        if size is not None and size <= SMALL_FILE_BYTES:
            # One GET; a file handle would first ask for the object's size and ETag.
            yield io.BytesIO(self.read_bytes(path))
            return
        f = self._call("opening", path, lambda: self.fs.open(self.abs(path), "rb"))
        try:
            yield f
        finally:
            f.close()

    def download(
        self, path: str, local: str, progress: Callable[[int], object] | None = None
    ) -> FileDigest | None:
        """Stream one object to a local file in a single GET (ranged reads through a
        file handle cost a request each, and some servers reread the object for each);
        on S3 hashed on the way. ``progress(nbytes)`` is called as bytes arrive."""
        if self.protocol in DIRECT_PROTOCOLS:
            return self._call(
                "downloading",
                path,
                lambda: s3_download(self.fs, self.abs(path), local, progress),
            )
        callback = _Counted(progress) if progress is not None else None
        self._call(
            "downloading",
            path,
            lambda: self.fs.get_file(
                self.abs(path), local, **({"callback": callback} if callback is not None else {})
            ),
        )
        return None

    def write_exclusive(self, path: str, data: bytes, *, sync: bool = True) -> None:
        target = self.abs(path)
        if not self.exclusive_create:
            raise StorageError(
                f"{self.protocol}:// cannot create objects exclusively, so concurrent writers "
                "could overwrite each other; pinyard writes only where it can do so safely"
            )
        try:
            self._call("writing", path, lambda: self.fs.pipe_file(target, data, mode="create"))
        except FileExistsError:
            # A lost response makes the client's retry find our own object.
            try:
                existing = self.read_bytes(path)
            except FileNotFoundError:
                existing = None
            if existing != data:
                raise
        finally:
            self.fs.invalidate_cache(target)

    def replace_small(self, path: str, data: bytes) -> None:
        """One PUT (object stores replace whole objects atomically)."""
        target = self.abs(path)
        try:
            self._call("writing", path, lambda: self.fs.pipe_file(target, data))
        finally:
            self.fs.invalidate_cache(target)

    def put_small(self, path: str, data: bytes) -> bool:
        """Upload a small object that must not replace a different one; True if this
        call created it (False: identical bytes were already there)."""
        target = self.abs(path)
        try:
            self._call("writing", path, lambda: self.fs.pipe_file(target, data, mode="create"))
        except FileExistsError:
            if self.read_bytes(path) != data:
                raise
            return False
        return True

    def copy(self, src: str, dst: str) -> None:
        """Server-side copy; on Azure, wait until the copy has completed."""
        source, target = self.abs(src), self.abs(dst)
        self._call("copying", src, lambda: self.fs.copy(source, target))
        if self.protocol in ("az", "abfs", "abfss"):
            wait_for_copy(self.fs, target, f"{self.protocol}://{target}")

    def upload(self, local: str, dst: str) -> None:
        target = self.abs(dst)
        self._call("uploading", dst, lambda: self.fs.put_file(local, target))

    def new_staging(self, pin_dir: str, *, replay: bool = True) -> Staging:
        return RemoteStaging(self, replay=replay and self.protocol in STREAM_PROTOCOLS)

    def open_upload(self, path: str, size: int, sha256: str) -> Upload:
        """An exclusive upload straight to ``path``, fed with ``write`` and ended with
        ``complete`` (True: this call created the object) or ``abort``: S3 multipart,
        Azure blocks on the final name."""
        bucket, key, _ = self.fs.split_path(self.abs(path))

        def call(what: str, fn: Callable[[], _T]) -> _T:
            return self._call(what, path, fn)

        if self.protocol in AZURE_PROTOCOLS:
            return BlockListUpload(self.fs, call, bucket, key, size, sha256)
        return MultipartUpload(self.fs, call, bucket, key, size)

    def delete_file(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._rm(path, self.abs(path))

    def delete_tree(self, path: str) -> None:
        target = self.abs(path)
        # data.txt first: the version stops existing in one step, before its files go.
        for rel in sorted(self._find(path), key=lambda r: not r.endswith("/data.txt")):
            with contextlib.suppress(FileNotFoundError):
                self._rm(f"{path}/{rel}", f"{target}/{rel}")
        self.fs.invalidate_cache(target)

    def drop_stale_uploads(self, cutoff: float, dry_run: bool = False) -> list[str]:
        """S3 only: multipart uploads under the root that a killed writer left open."""
        if self.protocol not in DIRECT_PROTOCOLS:
            return []
        bucket, key, _ = self.fs.split_path(f"{self.root}/")
        prefix = f"{key.rstrip('/')}/" if key else ""

        def stale() -> list[tuple[str, str]]:
            found: list[tuple[str, str]] = []
            marks: dict[str, str] = {}
            while True:
                page = self.fs.call_s3(
                    "list_multipart_uploads", Bucket=bucket, Prefix=prefix, **marks
                )
                for upload in page.get("Uploads", []):
                    started = modified_time({"LastModified": upload.get("Initiated")})
                    if started is not None and started <= cutoff:
                        found.append((str(upload["Key"]), str(upload["UploadId"])))
                if not page.get("IsTruncated"):
                    return found
                marks = {"KeyMarker": page["NextKeyMarker"],
                         "UploadIdMarker": page["NextUploadIdMarker"]}  # fmt: skip

        def abort(upload_key: str, upload_id: str) -> None:
            with contextlib.suppress(FileNotFoundError):
                self._call(
                    "aborting an upload",
                    upload_key,
                    lambda: self.fs.call_s3(
                        "abort_multipart_upload", Bucket=bucket, Key=upload_key, UploadId=upload_id
                    ),
                )

        uploads = self._call("listing uploads", "", stale)
        for upload_key, upload_id in [] if dry_run else uploads:
            abort(upload_key, upload_id)
        return [f"{bucket}/{k}"[len(self.root) + 1 :] for k, _ in uploads]

    def _rm(self, path: str, full: str) -> None:
        self._call("deleting", path, lambda: self.fs.rm_file(full))


class _Counted(Callback):  # type: ignore[misc]
    """An fsspec transfer callback that reports the bytes each step moved."""

    def __init__(self, progress: Callable[[int], object]) -> None:
        super().__init__()
        self.progress = progress
        self.reported = 0

    def call(self, *args: Any, **kwargs: Any) -> None:
        moved, self.reported = self.value - self.reported, self.value
        if moved > 0:
            self.progress(moved)
