"""A local cache for remote boards, keyed by content hash.

Versions never change, so a cached file is valid forever. Layout under the
cache root (``PINYARD_CACHE_DIR``, else ``~/.cache/pinyard``)::

    blobs/<first 2 hex>/<sha256>                  file contents, named by their sha256
    paths/<first 2 hex>/<sha256 of location>      files of pins-written versions (no sha256 known)
    meta/<board key>/<pin>/<version>              data.txt of a committed version, after
                                                  a line holding its sha256

Every entry is written to a temporary name in the same folder and renamed
into place only after its digest verified, so several processes can share
one cache: a reader sees a whole, verified entry or none. A cache hit is
verified again by hashing it before use (DESIGN invariant 3); no trusted
size-and-mtime shortcut is taken, because such a shortcut would miss a file
edited in place with its mtime restored, and re-hashing costs about 0.5 ms
per MiB here. Entries are touched on use; `Cache.prune` evicts the least
recently used until the cache fits its size bound.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from pinyard.boards._hashing import CHUNK_SIZE, FileDigest, HashingWriter, digest_stream
from pinyard.errors import IntegrityError, InvalidArgumentError

DEFAULT_MAX_BYTES = 10 * 1024**3
_META_HEAD = b"sha256:"
_T = TypeVar("_T")


@dataclass(frozen=True)
class CacheInfo:
    """What the cache holds: where, how many entries, how many bytes, and its bound."""

    path: str
    entries: int
    bytes: int
    max_bytes: int


def default_cache_dir() -> Path:
    """``PINYARD_CACHE_DIR``, else ``$XDG_CACHE_HOME/pinyard``, else ``~/.cache/pinyard``."""
    env = os.environ.get("PINYARD_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pinyard"


def _max_bytes_from_env() -> int:
    raw = os.environ.get("PINYARD_CACHE_MAX_BYTES")
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgumentError(
            f"PINYARD_CACHE_MAX_BYTES must be a whole number of bytes, got {raw!r}"
        ) from None
    if value <= 0:
        raise InvalidArgumentError(f"PINYARD_CACHE_MAX_BYTES must be positive, got {value}")
    return value


class Cache:
    """Content-addressed files and immutable metadata from remote boards."""

    def __init__(self, root: str | os.PathLike[str] | None = None, max_bytes: int | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.max_bytes = max_bytes if max_bytes is not None else _max_bytes_from_env()
        if self.max_bytes <= 0:
            raise InvalidArgumentError(f"cache max_bytes must be positive, got {self.max_bytes}")

    # -- paths -----------------------------------------------------------------

    def blob_path(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256[:2] / sha256

    def location_path(self, location: str) -> Path:
        key = hashlib.sha256(location.encode("utf-8")).hexdigest()
        return self.root / "paths" / key[:2] / key

    def meta_path(self, board_url: str, name: str, version: str) -> Path:
        board_key = hashlib.sha256(board_url.encode("utf-8")).hexdigest()[:16]
        return self.root / "meta" / board_key / name / version

    # -- metadata ----------------------------------------------------------------

    def get_meta(self, board_url: str, name: str, version: str) -> bytes | None:
        """The cached data.txt of a committed version, if any and intact: an entry whose
        bytes no longer match the sha256 stored with them (or an older pinyard's entry,
        stored without one) is dropped, so the board's copy is fetched again."""
        path = self.meta_path(board_url, name, version)
        try:
            stored = path.read_bytes()
        except OSError:
            return None
        head, newline, raw = stored.partition(b"\n")
        if newline and head == _META_HEAD + hashlib.sha256(raw).hexdigest().encode():
            return raw
        self.drop_meta(board_url, name, version)
        return None

    def put_meta(self, board_url: str, name: str, version: str, raw: bytes) -> None:
        """Remember a committed version's data.txt (it never changes), after a line
        holding its sha256 so that damage to the cached copy is seen."""
        target = self.meta_path(board_url, name, version)
        head = _META_HEAD + hashlib.sha256(raw).hexdigest().encode() + b"\n"
        with contextlib.suppress(OSError):  # a cache that cannot be written is only slower
            _write_atomically(target, lambda f: f.write(head + raw))

    def drop_meta(self, board_url: str, name: str, version: str) -> None:
        """Forget a cached data.txt (one that failed a check is fetched again)."""
        with contextlib.suppress(OSError):
            self.meta_path(board_url, name, version).unlink()

    # -- files -------------------------------------------------------------------

    def lookup(self, target: Path, check: Callable[[FileDigest], None]) -> Path | None:
        """``target`` if cached and it passes ``check`` after re-hashing; a corrupt
        entry is removed (and None returned) so it is fetched again."""
        try:
            with open(target, "rb") as f:
                digest = digest_stream(f)  # both digests: pins-written files check xxh64
        except OSError:
            return None
        try:
            check(digest)
        except IntegrityError:
            with contextlib.suppress(OSError):
                target.unlink()
            return None
        with contextlib.suppress(OSError):
            os.utime(target)  # least-recently-used order
        return target

    def store(
        self, target: Path, source: BinaryIO, check: Callable[[FileDigest], None]
    ) -> FileDigest:
        """Copy ``source`` into the cache at ``target``; it appears only if ``check`` passes."""

        def copy(out: BinaryIO) -> FileDigest:
            writer = HashingWriter(out.write)
            with writer:
                while chunk := source.read(CHUNK_SIZE):
                    writer.write(chunk)
            check(writer.digest)
            return writer.digest

        digest = _write_atomically(target, copy)
        self._evict_if_needed()
        return digest

    def store_file(
        self,
        target: Path,
        fill: Callable[[str], FileDigest | None],
        check: Callable[[FileDigest], None],
        *,
        keep_open: bool = False,
    ) -> tuple[FileDigest, BinaryIO | None]:
        """Let ``fill`` write a temporary file, and move it to ``target`` only if
        ``check`` passes on its digest (what ``fill`` returns, else the file is hashed).

        With ``keep_open``, also returns the checked file opened for reading, opened
        before it was moved into place: the very bytes that were checked.
        """
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        handle: BinaryIO | None = None
        try:
            digest = fill(str(tmp))
            if digest is None:
                with open(tmp, "rb") as f:
                    digest = digest_stream(f)
            check(digest)
            handle = open(tmp, "rb") if keep_open else None  # noqa: SIM115 - returned
            os.replace(tmp, target)
        except BaseException:
            if handle is not None:
                handle.close()
            raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        self._evict_if_needed()
        return digest, handle

    # -- size bound --------------------------------------------------------------

    def _entries(self) -> list[tuple[float, int, Path]]:
        found = []
        for section in ("blobs", "paths"):
            for dirpath, _, files in os.walk(self.root / section):
                for file_name in files:
                    path = Path(dirpath) / file_name
                    with contextlib.suppress(OSError):
                        st = path.stat()
                        found.append((st.st_mtime, st.st_size, path))
        return found

    def info(self) -> CacheInfo:
        """Entries and bytes held now (data files only; metadata is tiny)."""
        entries = self._entries()
        return CacheInfo(
            str(self.root), len(entries), sum(s for _, s, _ in entries), self.max_bytes
        )

    def prune(self, max_bytes: int | None = None, stale_temp_after_s: float = 3600.0) -> int:
        """Evict least-recently-used files until at most ``max_bytes`` remain; returns bytes freed.

        ``max_bytes=0`` empties the cache. Temporary files of downloads that
        died (older than ``stale_temp_after_s``) are removed first. Safe while
        other processes read: an open file stays readable after it is unlinked.
        """
        bound = self.max_bytes if max_bytes is None else max_bytes
        if bound < 0:
            raise InvalidArgumentError(f"max_bytes must be 0 or more, got {bound}")
        entries = sorted(self._entries())
        now = time.time()
        freed = 0
        for mtime, size, path in list(entries):
            if path.name.endswith(".tmp") and now - mtime >= stale_temp_after_s:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    freed += size
                entries.remove((mtime, size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in entries:
            if total <= bound:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                freed += size
            total -= size
        return freed

    def _evict_if_needed(self) -> None:
        entries = self._entries()
        if sum(size for _, size, _ in entries) > self.max_bytes:
            self.prune()


def _write_atomically(target: Path, write: Callable[[BinaryIO], _T]) -> _T:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            result = write(f)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return result
