"""The part of `pinyard.boards._remote.RemoteStore` that names and finds objects: paths
under the root, retries, listings in as few requests as the backend allows, and
existence checks (see `pinyard.boards._remote` for the whole store)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pinyard.boards._azure_listing import blob_exists as azure_blob_exists
from pinyard.boards._azure_listing import list_folder as azure_list_folder
from pinyard.boards._azure_listing import list_keys as azure_list_keys
from pinyard.boards._gcs import list_keys as gcs_list_keys
from pinyard.boards._gcs import object_exists as gcs_object_exists
from pinyard.boards._names import is_version_id, refuse_store_path
from pinyard.boards._remote_staging import SINGLE_PUT_BYTES
from pinyard.boards._retry import retrying
from pinyard.boards._s3 import list_folder as s3_list_folder
from pinyard.boards._s3 import list_keys as s3_list_keys
from pinyard.boards._s3 import object_exists as s3_object_exists
from pinyard.boards._store import Entry, Store

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


class RemoteBase(Store):
    """Objects under ``root`` (no protocol prefix) on an fsspec object-store file system:
    paths, retries, listings and checks (`RemoteStore` adds reads and writes)."""

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

        stamps = [modified_time(info) for info in self._call("listing", path, find).values()]
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


def modified_time(info: dict[str, Any]) -> float | None:
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
