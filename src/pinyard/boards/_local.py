"""A store on the local file system, with crash-safe, exclusive publishing.

A version is written into its own folder under the staging root, every file
fsynced, ``data.txt`` last; the folder is then renamed to its final place
with ``renameat2(RENAME_NOREPLACE)``, which is atomic and refuses to replace
an existing version. Readers therefore see a whole version or none, and a
crash leaves at most an orphan staging folder. Where ``renameat2`` is not
available (non-Linux, or a file system without it) the fallback creates the
final folder exclusively, moves the data files in, and links ``data.txt``
last: still exclusive and crash-safe for pinyard (no ``data.txt``, no
version), though a pins reader may briefly see the folder before it is
complete.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import BinaryIO

from pinyard.boards._names import is_safe_component, is_version_id, refuse_store_path
from pinyard.boards._store import BytesLike, Entry, Replay, Staging, Store
from pinyard.errors import InvalidNameError

#: Committed objects never change, so they are created read-only (the umask may take
#: more away): a path handed out by ``pin_download`` cannot be edited by accident.
#: Their folder stays writable, so pruning and pins' own deletes still work.
COMMITTED_MODE = 0o444

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


def _load_renameat2() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_renameat2 = _load_renameat2()


def _load_sync_file_range() -> Callable[[int, int, int], None] | None:
    """``sync_file_range(fd, offset, n, SYNC_FILE_RANGE_WRITE)``: start writing dirty
    pages back now, without waiting, so the final fsync waits only for the tail."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int

    def start_writeback(fd: int, offset: int, nbytes: int) -> None:
        fn(fd, offset, nbytes, 2)  # SYNC_FILE_RANGE_WRITE; a failure only loses the overlap

    return start_writeback


_start_writeback = _load_sync_file_range()
#: Whether an fsync of a new file also makes its directory entry durable.
_JOURNALED_METADATA = sys.platform.startswith("linux") or sys.platform == "darwin"
_WRITEBACK_EVERY = 8 * 1024 * 1024


class RenameUnsupportedError(OSError):
    """The platform or file system has no atomic non-replacing rename."""


def rename_no_replace(src: str, dst: str) -> None:
    """Rename ``src`` to ``dst`` atomically; ``FileExistsError`` if ``dst`` exists.

    Raises `RenameUnsupportedError` when the platform or file system cannot.
    """
    if _renameat2 is None:
        raise RenameUnsupportedError("renameat2 is not available")
    if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE):
        err = ctypes.get_errno()
        if err in (errno.EEXIST, errno.ENOTEMPTY):
            raise FileExistsError(err, os.strerror(err), dst)
        if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise RenameUnsupportedError(err, os.strerror(err), dst)
        raise OSError(err, os.strerror(err), src)


def fsync_dir(path: str) -> None:
    """Persist a folder's entries (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class LocalStore(Store):
    """Files under a root folder. ``staging_dir`` must be on the same file system."""

    exclusive_create = True
    atomic_publish = _renameat2 is not None

    def __init__(self, root: str | os.PathLike[str], staging_dir: str | os.PathLike[str]) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.staging_dir = os.path.abspath(os.fspath(staging_dir))
        self._real_root = os.path.realpath(self.root)
        self._prefix = os.path.join(self.root, "")  # the root with one separator after it

    @property
    def url(self) -> str:
        return self.root

    def _abs(self, path: str, *, changing: bool = False) -> str:
        """The local path of a store path, refused if it could leave the root: ``..``,
        empty or absolute segments, backslashes and NUL always; and, for ``changing``
        calls (create, delete), a folder that resolves outside the root through a
        symbolic link (a few stats, cheap next to the fsync that follows)."""
        if not path:
            return self.root
        refuse_store_path(path, self.root)
        # Checked segments joined by "/": on POSIX that is the path itself.
        target = self._prefix + (path if os.sep == "/" else path.replace("/", os.sep))
        if changing:
            real = os.path.realpath(os.path.dirname(target))
            if real != self._real_root and not real.startswith(self._real_root + os.sep):
                raise InvalidNameError(
                    f"refusing store path {path!r} under {self.root}: its folder resolves "
                    f"to {real}, outside the board's root (through a symbolic link)"
                )
        return target

    def local_path(self, path: str) -> str | None:
        return self._abs(path)

    def committed_versions(
        self, pin_dir: str, meta_name: str, prefixes: Sequence[str] | None = None
    ) -> list[str]:
        base = self._abs(pin_dir)
        try:
            names = os.listdir(base)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(
            n
            for n in names
            if is_version_id(n)
            and (prefixes is None or n.startswith(tuple(prefixes)))
            and os.path.exists(os.path.join(base, n, meta_name))
        )

    def latest_committed(self, pin_dir: str, meta_name: str) -> str | None:
        base = self._abs(pin_dir)
        try:
            names = sorted((n for n in os.listdir(base) if is_version_id(n)), reverse=True)
        except (FileNotFoundError, NotADirectoryError):
            return None
        for name in names:
            if os.path.exists(os.path.join(base, name, meta_name)):
                return name
        return None

    def version_folders(self, pin_dir: str) -> list[str]:
        # One listdir, no stat per entry: a write lists its pin's folder, and this must
        # not grow costly as versions accumulate. An entry named like a version id is a
        # folder unless someone put a file there, and then it holds no data.txt either.
        try:
            names = os.listdir(self._abs(pin_dir))
        except (FileNotFoundError, NotADirectoryError):
            return []
        names.sort()
        return [n for n in names if is_version_id(n)]

    def list_dir(self, path: str) -> list[Entry]:
        try:
            with os.scandir(self._abs(path)) as it:
                return sorted(
                    (Entry(e.name, e.is_dir(follow_symlinks=False)) for e in it),
                    key=lambda e: e.name,
                )
        except (FileNotFoundError, NotADirectoryError):
            return []

    def list_names(self, path: str) -> list[str]:
        try:  # no is_dir: one call per folder, not one stat per entry
            return sorted(os.listdir(self._abs(path)))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def name_set(self, path: str) -> frozenset[str]:
        try:  # one listdir, no sort
            return frozenset(os.listdir(self._abs(path)))
        except (FileNotFoundError, NotADirectoryError):
            return frozenset()

    def exists(self, path: str) -> bool:
        return os.path.lexists(self._abs(path))

    def read_bytes(self, path: str) -> bytes:
        with open(self._abs(path), "rb") as f:  # no Path object: this runs once per record
            return f.read()

    @contextmanager
    def open_read(self, path: str, size: int | None = None) -> Iterator[BinaryIO]:
        with open(self._abs(path), "rb") as f:
            yield f

    def write_exclusive(self, path: str, data: bytes, *, sync: bool = True) -> None:
        """Write a temporary file, link it to ``path`` (atomic and exclusive: the object
        appears whole or not at all), then fsync once. On journaling file systems
        (ext4, xfs, btrfs, APFS) that fsync also commits the new link; elsewhere the
        folder is fsynced too."""
        target = self._abs(path, changing=True)
        parent = os.path.dirname(target)
        tmp = f"{target}.{uuid.uuid4().hex}.tmp"
        fd = _create(tmp, COMMITTED_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            try:
                os.link(tmp, target)
            finally:
                os.unlink(tmp)
            if sync:
                os.fsync(fd)
                if not _JOURNALED_METADATA:
                    fsync_dir(parent)
        finally:
            os.close(fd)

    def replace_small(self, path: str, data: bytes) -> None:
        """Write a temporary file beside ``path`` and rename it over (atomic, not synced:
        what this holds is derived and can be made again)."""
        target = self._abs(path)
        tmp = f"{target}.{uuid.uuid4().hex}.tmp"
        try:
            with os.fdopen(_create(tmp, 0o666), "wb") as out:  # as open() makes it
                out.write(data)
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def new_staging(self, pin_dir: str, *, replay: bool = True) -> Staging:
        folder = os.path.join(self.staging_dir, uuid.uuid4().hex)
        os.makedirs(folder)
        return _LocalStaging(self, folder)

    def newest_change(self, path: str) -> float | None:
        newest: float | None = None
        target = self._abs(path)
        if os.path.isfile(target):  # one object, as on an object store
            with contextlib.suppress(OSError):
                newest = os.stat(target).st_mtime
            return newest
        for dirpath, _, files in os.walk(target):
            for name in [".", *files]:
                with contextlib.suppress(OSError):
                    mtime = os.stat(os.path.join(dirpath, name)).st_mtime
                    newest = mtime if newest is None else max(newest, mtime)
        return newest

    def delete_file(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._abs(path, changing=True))

    def delete_tree(self, path: str) -> None:
        target = self._abs(path, changing=True)
        if not os.path.lexists(target):
            return
        # Move aside first so the folder disappears in one step, then delete.
        trash = os.path.join(self.staging_dir, f"deleting-{uuid.uuid4().hex}")
        os.makedirs(self.staging_dir, exist_ok=True)
        try:
            os.rename(target, trash)
        except FileNotFoundError:
            return  # another process deleted it meanwhile: absent is fine
        except OSError:
            trash = target
        try:
            shutil.rmtree(trash, ignore_errors=False)
        except FileNotFoundError:
            if trash != target:
                raise
            # deleted in place while another process deleted it too: absent is fine


def _write_durably(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, COMMITTED_MODE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


class _LocalStaging(Staging):
    def __init__(self, store: LocalStore, folder: str) -> None:
        self._store = store
        self._folder = folder
        self._names: list[str] = []

    @contextmanager
    def open_sink(
        self, file_name: str, replay: Replay | None = None
    ) -> Iterator[Callable[[BytesLike], object]]:
        if not is_safe_component(file_name):
            raise InvalidNameError(f"refusing staged file name {file_name!r}: not a plain name")
        path = os.path.join(self._folder, file_name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, COMMITTED_MODE)
        written = [0, 0]  # bytes written, bytes already handed to writeback

        def sink(data: BytesLike) -> None:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            written[0] += memoryview(data).nbytes
            if _start_writeback is not None and written[0] - written[1] >= _WRITEBACK_EVERY:
                _start_writeback(fd, written[1], written[0] - written[1])
                written[1] = written[0]

        try:
            yield sink
            os.fsync(fd)
        finally:
            os.close(fd)
        self._names.append(file_name)

    def publish(self, final_dir: str, meta_name: str, meta: bytes) -> None:
        meta_path = os.path.join(self._folder, meta_name)
        # A previous attempt that lost its id to another writer left its data.txt here:
        # this attempt's (another id) replaces it, else the exclusive create below would
        # pass for another collision, and every retry would fail the same way.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(meta_path)
        _write_durably(meta_path, meta)
        fsync_dir(self._folder)
        final = self._store._abs(final_dir, changing=True)
        parent = os.path.dirname(final)
        os.makedirs(parent, exist_ok=True)
        try:
            rename_no_replace(self._folder, final)
        except RenameUnsupportedError:
            self._publish_by_links(final, meta_name)
        fsync_dir(parent)

    def _publish_by_links(self, final: str, meta_name: str) -> None:
        os.mkdir(final)  # exclusive: FileExistsError if another writer got there first
        for name in self._names:
            os.rename(os.path.join(self._folder, name), os.path.join(final, name))
        fsync_dir(final)
        os.link(os.path.join(self._folder, meta_name), os.path.join(final, meta_name))
        fsync_dir(final)
        self.discard()

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self._folder)


def _create(path: str, mode: int) -> int:
    """A new file at ``path``, open for writing; its folders are made only when missing
    (most writes go to a folder that exists: no stats for them)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        return os.open(path, flags, mode)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return os.open(path, flags, mode)
