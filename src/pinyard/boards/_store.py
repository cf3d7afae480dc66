"""The storage seam: the few operations a board needs, with capability flags.

A `Store` addresses objects by ``/``-separated paths relative to its root.
Writing a version goes through a `Staging` area: the data files are streamed
into it, then `Staging.publish` makes the whole version visible under its
final folder with ``data.txt`` last, and refuses (``FileExistsError``) when
that folder already holds a committed version. Nothing in staging is ever
read as a version.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, TypeAlias

if TYPE_CHECKING:
    from pinyard.boards._hashing import FileDigest

#: Anything that exposes the buffer protocol as bytes.
BytesLike: TypeAlias = bytes | bytearray | memoryview
#: Where a file's bytes go, chunk by chunk, in order.
Sink: TypeAlias = Callable[[BytesLike], object]
#: Produces a staged file's bytes again, in order, into the sink it is given.
Replay: TypeAlias = Callable[[Sink], None]


class ReplayMismatchError(Exception):
    """A file produced again for publishing differed from its first, hashed pass.

    Nothing was published; the writer stages the version again with
    ``new_staging(..., replay=False)``.
    """


class SinkWriter(io.RawIOBase):
    """A write-only binary stream over a sink (what serializers write to)."""

    def __init__(self, sink: Sink) -> None:
        super().__init__()
        self._sink = sink
        self._size = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._size

    def write(self, data: BytesLike) -> int:  # type: ignore[override]
        n = memoryview(data).nbytes
        if n:
            self._sink(data)
            self._size += n
        return n


@dataclass(frozen=True)
class Entry:
    """One child of a folder: its base name and whether it is a folder."""

    name: str
    is_dir: bool


class Staging(ABC):
    """A private area where one version's files are written before publishing."""

    #: Bytes the hashing writer may queue ahead of the sink (None: its default).
    max_pending_bytes: int | None = None

    @abstractmethod
    def open_sink(
        self, file_name: str, replay: Replay | None = None
    ) -> AbstractContextManager[Sink]:
        """A context whose value accepts the file's bytes, chunk by chunk, in order.

        ``replay``, when given, can produce the same bytes again: a store may
        then keep only their digest now and stream them to their final place
        at publish (raising `ReplayMismatchError` there if they differ).
        """

    def note_digest(self, file_name: str, digest: FileDigest) -> None:  # noqa: B027
        """The digest of a file just written through `open_sink` (a store may use it at
        publish, e.g. to have the server check the bytes). Optional to call."""

    @abstractmethod
    def publish(self, final_dir: str, meta_name: str, meta: bytes) -> None:
        """Make the staged files visible in ``final_dir`` with ``meta`` written last.

        Raises ``FileExistsError`` if ``final_dir`` already holds a version.
        """

    @abstractmethod
    def discard(self) -> None:
        """Remove everything staged (idempotent)."""


class Store(ABC):
    """Minimal storage for a board; one implementation per kind of backend."""

    #: Creating an object only if absent is atomic (no silent overwrite race).
    exclusive_create: bool = False
    #: A whole version folder appears at once, so no reader ever sees part of one.
    atomic_publish: bool = False
    #: Reads are slow or cost requests, so boards keep a local, verified cache.
    needs_cache: bool = False

    @property
    @abstractmethod
    def url(self) -> str:
        """Where the store's root is, for messages."""

    @abstractmethod
    def list_dir(self, path: str) -> list[Entry]:
        """Children of ``path``; an absent folder lists as empty."""

    def list_names(self, path: str) -> list[str]:
        """The names of the children of ``path``, sorted (files and folders alike)."""
        return [e.name for e in self.list_dir(path)]

    def name_set(self, path: str) -> frozenset[str]:
        """The names of the children of ``path``, unordered: for membership checks, which
        need no sort."""
        return frozenset(self.list_names(path))

    @abstractmethod
    def exists(self, path: str) -> bool:
        """True if an object or folder exists at ``path``."""

    def has_files(self, paths: list[str]) -> list[bool]:
        """For each path, True if an object (not a folder) exists there; object stores
        check them concurrently, one request each."""
        return [self.exists(p) for p in paths]

    @abstractmethod
    def read_bytes(self, path: str) -> bytes:
        """The whole object (small objects only); FileNotFoundError if absent."""

    @abstractmethod
    def open_read(self, path: str, size: int | None = None) -> AbstractContextManager[BinaryIO]:
        """A seekable binary stream over the object (``size`` if known spares a request);
        FileNotFoundError if absent."""

    def download(
        self, path: str, local: str, progress: Callable[[int], object] | None = None
    ) -> FileDigest | None:
        """Copy one object to a local file (stores with a faster way override this);
        its digest when taken on the way (None: the caller hashes the file).
        ``progress(nbytes)`` is called as bytes arrive."""
        with self.open_read(path) as source, open(local, "wb") as out:
            while chunk := source.read(8 * 1024 * 1024):
                out.write(chunk)
                if progress is not None:
                    progress(len(chunk))
        return None

    def local_path(self, path: str) -> str | None:
        """A path on the local disk for the object, when the store has one."""
        return None

    @abstractmethod
    def write_exclusive(self, path: str, data: bytes, *, sync: bool = True) -> None:
        """Create a small object; FileExistsError if it already exists. ``sync=False``
        may skip making it durable against power loss (local disks only)."""

    @abstractmethod
    def replace_small(self, path: str, data: bytes) -> None:
        """Create or replace a small derived object (a snapshot other objects prove):
        readers see the old bytes or the new ones, never a mix."""

    @abstractmethod
    def new_staging(self, pin_dir: str, *, replay: bool = True) -> Staging:
        """A fresh staging area for one version of the pin in ``pin_dir``;
        ``replay=False`` makes it store every byte as it comes (see `Staging.open_sink`)."""

    @abstractmethod
    def delete_tree(self, path: str) -> None:
        """Delete a folder and everything under it (absent is fine)."""

    @abstractmethod
    def delete_file(self, path: str) -> None:
        """Delete one object (absent is fine)."""

    def committed_versions(
        self, pin_dir: str, meta_name: str, prefixes: Sequence[str] | None = None
    ) -> list[str]:
        """Names of the version folders under ``pin_dir`` that hold ``meta_name``, sorted
        (only those whose names start with one of ``prefixes``, when given).

        Folders whose names are not version ids are ignored (pins readers
        would otherwise take them for versions).
        """
        from pinyard.boards._names import is_version_id

        return [
            e.name
            for e in self.list_dir(pin_dir)
            if e.is_dir
            and is_version_id(e.name)
            and (prefixes is None or e.name.startswith(tuple(prefixes)))
            and self.exists(f"{pin_dir}/{e.name}/{meta_name}")
        ]

    def version_folders(self, pin_dir: str) -> list[str]:
        """Every folder under ``pin_dir`` named like a version id, committed or not,
        sorted (one listing of ``pin_dir`` itself, not of what the folders hold)."""
        from pinyard.boards._names import is_version_id

        return [e.name for e in self.list_dir(pin_dir) if e.is_dir and is_version_id(e.name)]

    def latest_committed(self, pin_dir: str, meta_name: str) -> str | None:
        """The last committed version under ``pin_dir`` (one listing, then checks from
        the newest down, so the cost does not grow with the number of versions)."""
        for name in reversed(self.version_folders(pin_dir)):
            if self.has_files([f"{pin_dir}/{name}/{meta_name}"])[0]:
                return name
        return None

    def pin_names(self, pins_dir: str, meta_name: str) -> list[str]:
        """Folders under ``pins_dir`` that hold a committed version (entries that are not
        plain names, such as ``a\\b`` written by pins on Linux, are skipped unread)."""
        from pinyard.boards._names import is_safe_component

        return [
            e.name
            for e in self.list_dir(pins_dir)
            if e.is_dir
            and not e.name.startswith(".")
            and is_safe_component(e.name)
            and self.latest_committed(f"{pins_dir}/{e.name}" if pins_dir else e.name, meta_name)
        ]

    def newest_change(self, path: str) -> float | None:
        """Epoch seconds of the newest change to any object under ``path`` (None if
        nothing is there or the store does not know)."""
        return None

    def drop_stale_uploads(self, cutoff: float, dry_run: bool = False) -> list[str]:
        """Abort uploads under the root started before ``cutoff`` (epoch seconds) that
        never completed (invisible, but billed); returns their paths. None by default."""
        return []

    def walk_files(self, path: str) -> Iterator[str]:
        """Every object path under ``path``, depth first."""
        for entry in self.list_dir(path):
            child = f"{path}/{entry.name}" if path else entry.name
            if entry.is_dir:
                yield from self.walk_files(child)
            else:
                yield child
