"""An in-process store: a dict of path -> bytes, for tests and examples."""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

from pinyard.boards._names import is_safe_component, refuse_store_path
from pinyard.boards._store import BytesLike, Entry, Replay, Staging, Store
from pinyard.errors import InvalidNameError


class MemoryStore(Store):
    """Objects held in memory; every operation is atomic under one lock."""

    exclusive_create = True
    atomic_publish = True

    def __init__(self, name: str = "") -> None:
        self._name = name or uuid.uuid4().hex[:8]
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"memory://{self._name}"

    def _key(self, path: str) -> str:
        """``path`` as a key, refused if it has ``..``, empty or absolute segments (which a
        file system would resolve elsewhere), backslashes or NUL."""
        if path:
            refuse_store_path(path, self.url)
        return path

    def list_dir(self, path: str) -> list[Entry]:
        path = self._key(path)
        prefix = f"{path}/" if path else ""
        found: dict[str, bool] = {}
        with self._lock:
            for key in self._objects:
                if key.startswith(prefix):
                    head, sep, _ = key[len(prefix) :].partition("/")
                    found[head] = found.get(head, False) or bool(sep)
        return [Entry(name, is_dir) for name, is_dir in sorted(found.items())]

    def exists(self, path: str) -> bool:
        path = self._key(path)
        with self._lock:
            return path in self._objects or any(k.startswith(f"{path}/") for k in self._objects)

    def read_bytes(self, path: str) -> bytes:
        path = self._key(path)
        with self._lock:
            try:
                return self._objects[path]
            except KeyError:
                raise FileNotFoundError(f"{self.url}/{path}") from None

    @contextmanager
    def open_read(self, path: str, size: int | None = None) -> Iterator[BinaryIO]:
        yield io.BytesIO(self.read_bytes(path))

    def write_exclusive(self, path: str, data: bytes, *, sync: bool = True) -> None:
        path = self._key(path)
        with self._lock:
            if path in self._objects:
                raise FileExistsError(f"{self.url}/{path}")
            self._objects[path] = bytes(data)

    def new_staging(self, pin_dir: str, *, replay: bool = True) -> Staging:
        return _MemoryStaging(self)

    def replace_small(self, path: str, data: bytes) -> None:
        with self._lock:
            self._objects[path] = bytes(data)

    def delete_file(self, path: str) -> None:
        path = self._key(path)
        with self._lock:
            self._objects.pop(path, None)

    def delete_tree(self, path: str) -> None:
        path = self._key(path)
        with self._lock:
            for key in [k for k in self._objects if k == path or k.startswith(f"{path}/")]:
                del self._objects[key]

    def corrupt(self, path: str, data: bytes) -> None:
        """Replace an object's bytes behind the board's back (tests of verification)."""
        path = self._key(path)
        with self._lock:
            self._objects[path] = data

    def _publish(self, final_dir: str, files: dict[str, bytes]) -> None:
        final_dir = self._key(final_dir)
        with self._lock:
            if any(k.startswith(f"{final_dir}/") for k in self._objects):
                raise FileExistsError(f"{self.url}/{final_dir}")
            for name, data in files.items():
                self._objects[f"{final_dir}/{name}"] = data


class _MemoryStaging(Staging):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._files: dict[str, bytes] = {}

    @contextmanager
    def open_sink(
        self, file_name: str, replay: Replay | None = None
    ) -> Iterator[Callable[[BytesLike], object]]:
        if not is_safe_component(file_name):
            raise InvalidNameError(f"refusing staged file name {file_name!r}: not a plain name")
        buffer = io.BytesIO()
        yield buffer.write
        self._files[file_name] = buffer.getvalue()

    def publish(self, final_dir: str, meta_name: str, meta: bytes) -> None:
        self._store._publish(final_dir, {**self._files, meta_name: meta})
        self._files = {}

    def discard(self) -> None:
        self._files = {}
