"""A store over any fsspec file system (object stores, SFTP, ...).

Publishing uploads the data files into the final folder and then creates
``data.txt`` with an exclusive create (``pipe_file(mode="create")``), so a
version exists only once its metadata does and two writers cannot both
commit the same id. Backends that do not honour ``mode="create"`` set
``exclusive_create = False``; the board refuses concurrent-unsafe writes on
them unless told otherwise.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from pinyard.boards._store import BytesLike, Entry, Staging, Store

# Protocols whose pipe_file(mode="create") is a real conditional create.
_EXCLUSIVE_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"})


class FsspecStore(Store):
    """Objects on an fsspec file system under ``root`` (no protocol prefix)."""

    atomic_publish = False

    def __init__(self, fs: Any, root: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        protocols = fs.protocol if isinstance(fs.protocol, tuple | list) else (fs.protocol,)
        self.exclusive_create = bool(_EXCLUSIVE_PROTOCOLS.intersection(protocols))
        self._protocol = protocols[0]

    @property
    def url(self) -> str:
        return f"{self._protocol}://{self.root}"

    def _abs(self, path: str) -> str:
        return f"{self.root}/{path}" if path else self.root

    def list_dir(self, path: str) -> list[Entry]:
        try:
            infos = self.fs.ls(self._abs(path), detail=True)
        except FileNotFoundError:
            return []
        entries = []
        for info in infos:
            name = str(info["name"]).rstrip("/").rsplit("/", 1)[-1]
            if name:
                entries.append(Entry(name, info.get("type") == "directory"))
        return sorted(entries, key=lambda e: e.name)

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(self._abs(path)))

    def read_bytes(self, path: str) -> bytes:
        return bytes(self.fs.cat_file(self._abs(path)))

    @contextmanager
    def open_read(self, path: str) -> Iterator[BinaryIO]:
        with self.fs.open(self._abs(path), "rb") as f:
            yield f

    def write_exclusive(self, path: str, data: bytes) -> None:
        target = self._abs(path)
        if not self.exclusive_create and self.fs.exists(target):
            raise FileExistsError(target)
        self.fs.pipe_file(target, data, mode="create")

    def new_staging(self, pin_dir: str) -> Staging:
        return _FsspecStaging(self)

    def delete_tree(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._abs(path), recursive=True)


class _FsspecStaging(Staging):
    """Holds each file in memory until publish, then uploads it and data.txt last.

    Simple and correct for small pins; streaming multipart uploads for large
    files belong to the remote-board work (see docs/decisions).
    """

    def __init__(self, store: FsspecStore) -> None:
        self._store = store
        self._files: dict[str, bytes] = {}

    @contextmanager
    def open_sink(self, file_name: str) -> Iterator[Callable[[BytesLike], object]]:
        buffer = io.BytesIO()
        yield buffer.write
        self._files[file_name] = buffer.getvalue()

    def publish(self, final_dir: str, meta_name: str, meta: bytes) -> None:
        store = self._store
        if store.exists(f"{final_dir}/{meta_name}"):
            raise FileExistsError(store._abs(final_dir))
        for name, data in self._files.items():
            store.fs.pipe_file(store._abs(f"{final_dir}/{name}"), data)
        store.write_exclusive(f"{final_dir}/{meta_name}", meta)
        self._files = {}

    def discard(self) -> None:
        self._files = {}
