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

import asyncio
import contextlib
import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, BinaryIO, TypeVar

from fsspec.callbacks import Callback

from pinyard.boards._azure import BlockListUpload, wait_for_copy
from pinyard.boards._azure_listing import blob_exists as azure_blob_exists
from pinyard.boards._azure_listing import list_folder as azure_list_folder
from pinyard.boards._azure_listing import list_keys as azure_list_keys
from pinyard.boards._gcs import list_keys as gcs_list_keys
from pinyard.boards._gcs import object_exists as gcs_object_exists
from pinyard.boards._hashing import FileDigest
from pinyard.boards._names import is_version_id, refuse_store_path
from pinyard.boards._remote_staging import (
    SINGLE_PUT_BYTES,
    SMALL_FILE_BYTES,
    RemoteStaging,
    Upload,
)
from pinyard.boards._retry import retrying
from pinyard.boards._s3 import MultipartUpload
from pinyard.boards._s3 import download as s3_download
from pinyard.boards._s3 import list_folder as s3_list_folder
from pinyard.boards._s3 import list_keys as s3_list_keys
from pinyard.boards._s3 import object_exists as s3_object_exists
from pinyard.boards._store import (
    Entry,
    Staging,
    Store,
)
from pinyard.errors import StorageError

_T = TypeVar("_T")

#: S3: delimited listings, one-GET downloads, large files sent straight to their key.
DIRECT_PROTOCOLS = frozenset({"s3", "s3a"})
AZURE_PROTOCOLS = frozenset({"az", "abfs", "abfss"})
GCS_PROTOCOLS = frozenset({"gs", "gcs"})
#: Protocols where a large file is streamed straight to its final name at publish.
STREAM_PROTOCOLS = DIRECT_PROTOCOLS | AZURE_PROTOCOLS
#: Protocols whose ``pipe_file(mode="create")`` is a real conditional create.
EXCLUSIVE_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})
#: Object checks in flight at once (`RemoteStore.has_files`).
CONCURRENT_CHECKS = 16
#: Listing chains in flight at once (`RemoteStore.committed_versions`).
CONCURRENT_LISTINGS = 8
#: One-request listings and checks where the fsspec library makes more (else fsspec's).
_FOLDER_LISTERS = {
    **dict.fromkeys(DIRECT_PROTOCOLS, s3_list_folder),
    **dict.fromkeys(AZURE_PROTOCOLS, azure_list_folder),
}
_KEY_LISTERS = {
    **dict.fromkeys(DIRECT_PROTOCOLS, s3_list_keys),
    **dict.fromkeys(AZURE_PROTOCOLS, azure_list_keys),
    **dict.fromkeys(GCS_PROTOCOLS, gcs_list_keys),
}
_FILE_CHECKS = {
    **dict.fromkeys(DIRECT_PROTOCOLS, s3_object_exists),
    **dict.fromkeys(AZURE_PROTOCOLS, azure_blob_exists),
    **dict.fromkeys(GCS_PROTOCOLS, gcs_object_exists),
}


class RemoteStore(Store):
    """Objects under ``root`` (no protocol prefix) on an fsspec object-store file system."""

    atomic_publish = False
    needs_cache = True
    #: S3: a file up to this size is spilled to local disk while hashed and sent in one
    #: PutObject; a larger one is produced again into a multipart upload.
    single_put_bytes = SINGLE_PUT_BYTES

    def __init__(self, fs: Any, root: str, *, staging_prefix: str | None) -> None:
        self.fs = fs
        self.root = root.strip("/")
        self.staging_prefix = staging_prefix
        protocols = fs.protocol if isinstance(fs.protocol, tuple | list) else (fs.protocol,)
        self.protocol = str(protocols[0])
        self.exclusive_create = bool(EXCLUSIVE_PROTOCOLS.intersection(protocols))
        if self.protocol not in DIRECT_PROTOCOLS:
            self.single_put_bytes = 0  # Azure streams blocks to the final name instead

    @property
    def url(self) -> str:
        return f"{self.protocol}://{self.root}"

    def abs(self, path: str) -> str:
        """The full object path (bucket and key) of a store path, refused if it has
        ``..``, empty or absolute segments (which URL handling may resolve outside
        the root), backslashes (separators on Azure) or NUL."""
        if not path:
            return self.root
        refuse_store_path(path, self.url)
        return f"{self.root}/{path}"

    def _call(self, what: str, path: str, fn: Callable[[], _T]) -> _T:
        return retrying(what, fn, f"{self.protocol}://{self.abs(path)}")

    def list_dir(self, path: str) -> list[Entry]:
        target = self.abs(path)

        lister = _FOLDER_LISTERS.get(self.protocol)
        if lister is not None:
            try:
                found = self._call("listing", path, lambda: lister(self.fs, target))
            except FileNotFoundError:  # no bucket: as before, the write that follows says so
                return []
            return sorted(
                {Entry(name, is_dir) for name, is_dir in found if name}, key=lambda e: e.name
            )

        def ls() -> list[dict[str, Any]]:
            self.fs.invalidate_cache(target)
            try:
                return list(self.fs.ls(target, detail=True))
            except FileNotFoundError:
                return []

        entries = []
        for info in self._call("listing", path, ls):
            name = str(info["name"]).rstrip("/").rsplit("/", 1)[-1]
            if name and str(info["name"]).rstrip("/") != target:
                entries.append(Entry(name, info.get("type") == "directory"))
        return sorted(set(entries), key=lambda e: e.name)

    def _find(self, path: str) -> list[str]:
        target = self.abs(path)
        parent, _, base = target.rpartition("/")

        def find() -> list[str]:
            self.fs.invalidate_cache(target)
            try:
                if self.protocol in ("s3", "s3a") and parent:
                    # With prefix=, s3fs makes one LIST; without it an empty result
                    # costs a HEAD and a second LIST to ask whether path is a file.
                    return [str(p) for p in self.fs.find(parent, prefix=f"{base}/")]
                return [str(p) for p in self.fs.find(target)]
            except FileNotFoundError:
                return []

        prefix = f"{target}/"
        return [
            p[len(prefix) :] for p in self._call("listing", path, find) if p.startswith(prefix)
        ]

    def committed_versions(
        self, pin_dir: str, meta_name: str, prefixes: Sequence[str] | None = None
    ) -> list[str]:
        """Every version folder under the pin that holds ``meta_name`` (whose name starts
        with one of ``prefixes``, when given): undelimited LIST chains, one per prefix,
        up to `CONCURRENT_LISTINGS` at once. They list every object under the folders,
        so boards list versions through an index first (`pinyard.boards._listing`)."""
        versions = {
            rel.split("/", 1)[0]
            for rel in self._keys(pin_dir, [""] if prefixes is None else list(prefixes))
            if rel.count("/") == 1 and rel.endswith(f"/{meta_name}")
        }
        return sorted(v for v in versions if is_version_id(v))

    def _keys(self, path: str, pieces: list[str]) -> list[str]:
        """Every object under ``path`` whose name there starts with one of ``pieces``,
        relative to ``path``."""
        target = self.abs(path)
        lister = _KEY_LISTERS.get(self.protocol)
        if lister is None:
            return [k for k in self._find(path) if k.startswith(tuple(pieces))]

        async def all_pieces() -> list[str]:
            gate = asyncio.Semaphore(CONCURRENT_LISTINGS)

            async def one(piece: str) -> list[str]:
                async with gate:
                    return await lister(self.fs, target, piece)

            found = await asyncio.gather(*(one(p) for p in pieces))
            return [key for keys in found for key in keys]

        from fsspec.asyn import sync as on_loop

        try:
            return self._call("listing", path, lambda: list(on_loop(self.fs.loop, all_pieces)))
        except FileNotFoundError:  # no bucket: nothing is there
            return []

    def pin_names(self, pins_dir: str, meta_name: str) -> list[str]:
        """One delimited LIST: every pin folder (not checked for committed versions,
        which would cost a request per pin)."""
        return [e.name for e in self.list_dir(pins_dir) if e.is_dir and not e.name.startswith(".")]

    def newest_change(self, path: str) -> float | None:
        target = self.abs(path)

        def find() -> dict[str, Any]:
            self.fs.invalidate_cache(target)
            try:
                found = self.fs.find(target, detail=True)
                if isinstance(found, dict):
                    return dict(found)
                return {target: self.fs.info(target)}  # adlfs lists one file as a list
            except FileNotFoundError:
                return {}

        stamps = [_modified(info) for info in self._call("listing", path, find).values()]
        known = [t for t in stamps if t is not None]
        return max(known) if known else None

    def exists(self, path: str) -> bool:
        target = self.abs(path)

        def exists() -> bool:
            self.fs.invalidate_cache(target)
            return bool(self.fs.exists(target))

        return self._call("checking", path, exists)

    def has_files(self, paths: list[str]) -> list[bool]:
        check = _FILE_CHECKS.get(self.protocol)
        if check is None or not paths:
            return [self.exists(p) for p in paths]

        async def all_of() -> list[bool]:
            gate = asyncio.Semaphore(CONCURRENT_CHECKS)

            async def one(path: str) -> bool:
                async with gate:
                    return await check(self.fs, self.abs(path))

            return list(await asyncio.gather(*(one(p) for p in paths)))

        from fsspec.asyn import sync as on_loop

        return self._call("checking", paths[0], lambda: list(on_loop(self.fs.loop, all_of)))

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
                    started = _modified({"LastModified": upload.get("Initiated")})
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


def _modified(info: dict[str, Any]) -> float | None:
    """An object's modification time from s3fs, adlfs or gcsfs listing details."""
    from datetime import datetime

    for key in ("LastModified", "last_modified", "updated", "mtime"):
        value = info.get(key)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None


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
