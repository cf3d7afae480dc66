"""Opening boards: folders, temporary folders, memory, fsspec URLs, plain pins boards."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from typing import Any

from pinyard.boards._board import Board
from pinyard.boards._boundary import guarded_function
from pinyard.boards._cache import Cache
from pinyard.boards._local import LocalStore
from pinyard.boards._memory import MemoryStore
from pinyard.boards._names import is_version_id
from pinyard.boards._remote import RemoteStore
from pinyard.boards._store import Store
from pinyard.errors import (
    BoardFormatError,
    BoardNotFoundError,
    InvalidArgumentError,
    NotAPinyardBoardError,
)

MARKER = "pinyard.json"
BOARD_FORMAT = 1
PINS_DIR = "pins"
STAGING_DIR = "staging"
_LOCAL_PROTOCOLS = {"file", "local"}


@guarded_function(lambda *args, **kwargs: str(args[0] if args else kwargs))
def board_folder(
    path: str | os.PathLike[str],
    *,
    create: bool = True,
    allow_pickle_read: bool = True,
    progress: bool | None = None,
) -> Board:
    """A pinyard board in a local folder (created, with its marker, if absent or empty).

    The folder holds ``pinyard.json``, the pins board ``pins/`` that R pins
    and pins-python open as it is, and pinyard's own folders beside it.
    """
    root = _local_root(os.fspath(path))
    store = LocalStore(root, os.path.join(root, STAGING_DIR))
    return _open_pinyard(store, create, allow_pickle_read=allow_pickle_read, progress=progress)


def board_temp(*, allow_pickle_read: bool = True) -> Board:
    """A pinyard board in a new temporary folder, removed when the process exits."""
    root = tempfile.mkdtemp(prefix="pinyard-board-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return board_folder(root, allow_pickle_read=allow_pickle_read)


def board_memory(*, allow_pickle_read: bool = True) -> Board:
    """A pinyard board held in this process's memory (tests, examples)."""
    return _open_pinyard(MemoryStore(), True, allow_pickle_read=allow_pickle_read)


@guarded_function(lambda *args, **kwargs: str(args[0] if args else kwargs))
def board(
    url: str | os.PathLike[str],
    *,
    create: bool = True,
    allow_pickle_read: bool = True,
    cache: Cache | None = None,
    progress: bool | None = None,
    **storage_options: Any,
) -> Board:
    """A pinyard board at a path or URL: ``file://``, ``memory://``, ``s3://``,
    ``az://``/``abfs://``, ``gs://`` or any other fsspec protocol.

    ``storage_options`` go to the fsspec file system: credentials,
    ``endpoint_url`` for S3-compatible stores, ``connection_string`` for
    Azure, ``token``/``project`` for GCS. Without them each library looks in
    its usual places (environment, profiles, instance metadata). Remote
    boards keep a local cache (``cache=``, default `Cache()`).
    """
    store = _store_for_url(os.fspath(url), STAGING_DIR, storage_options)
    return _open_pinyard(
        store, create, allow_pickle_read=allow_pickle_read, cache=cache, progress=progress
    )


def board_s3(path: str, **options: Any) -> Board:
    """A pinyard board at ``s3://<path>`` (``bucket/prefix``); options as for `board`."""
    return board(f"s3://{_strip_scheme(path, 's3')}", **options)


def board_azure(path: str, **options: Any) -> Board:
    """A pinyard board in Azure Blob storage at ``<container>/<prefix>``; options as `board`."""
    return board(f"az://{_strip_scheme(path, 'az', 'abfs', 'abfss')}", **options)


def board_gcs(path: str, **options: Any) -> Board:
    """A pinyard board at ``gs://<path>`` (``bucket/prefix``); options as for `board`."""
    return board(f"gs://{_strip_scheme(path, 'gs', 'gcs')}", **options)


def _strip_scheme(path: str, *schemes: str) -> str:
    for scheme in schemes:
        if path.startswith(f"{scheme}://"):
            return path[len(scheme) + 3 :]
    if "://" in path:
        raise InvalidArgumentError(
            f"expected a {schemes[0]}:// path or bucket/prefix, got {path!r}"
        )
    return path


def _open_pinyard(
    store: Store,
    create: bool,
    *,
    allow_pickle_read: bool,
    cache: Cache | None = None,
    progress: bool | None = None,
) -> Board:
    _open_or_init(store, store.url, create)
    return Board(
        store,
        pins_prefix=PINS_DIR,
        kind="pinyard",
        allow_pickle_read=allow_pickle_read,
        cache=cache,
        progress=progress,
    )


@guarded_function(lambda *args, **kwargs: str(args[0] if args else kwargs))
def board_pins(
    url: str | os.PathLike[str],
    *,
    allow_pickle_read: bool = True,
    cache: Cache | None = None,
    progress: bool | None = None,
    **storage_options: Any,
) -> Board:
    """A plain pins board (pin folders directly under its root), as R pins and pins-python
    write it: the same reads, writes and verification, without registry or tracking.

    Writes stage outside the board so pins readers never see a partial version.
    """
    url = os.fspath(url)
    store = _store_for_url(url, None, storage_options)
    if isinstance(store, LocalStore):
        if not os.path.isdir(store.root):
            raise BoardNotFoundError(f"no pins board at {store.root}: the folder does not exist")
        if os.path.exists(os.path.join(store.root, MARKER)):
            raise InvalidArgumentError(
                f"{store.root} is a pinyard board; open it with board_folder({store.root!r}) "
                f"(its pins part alone is {os.path.join(store.root, PINS_DIR)})"
            )
        store = LocalStore(store.root, _pins_staging(store.root))
    return Board(
        store,
        pins_prefix="",
        kind="pins",
        allow_pickle_read=allow_pickle_read,
        cache=cache,
        progress=progress,
    )


def _pins_staging(root: str) -> str:
    """A staging folder on the same file system as ``root`` but outside it."""
    tmp = tempfile.gettempdir()
    try:
        same_device = os.stat(tmp).st_dev == os.stat(root).st_dev
    except OSError:
        same_device = False
    if same_device:
        return os.path.join(tmp, "pinyard-staging")
    return os.path.join(os.path.dirname(root), f".pinyard-staging-{os.path.basename(root)}")


def _local_root(path: str) -> str:
    root = os.path.abspath(path)
    if os.path.exists(root) and not os.path.isdir(root):
        raise BoardNotFoundError(f"{root} is a file, not a folder: a board is a folder")
    return root


def _store_for_url(url: str, staging: str | None, options: dict[str, Any]) -> Store:
    if not url:
        raise InvalidArgumentError("a board URL or path is needed, got ''")
    protocol, sep, rest = url.partition("://")
    if not sep:
        protocol, rest = "file", url
    if protocol in _LOCAL_PROTOCOLS:
        root = _local_root(rest)
        return LocalStore(root, os.path.join(root, staging or STAGING_DIR))
    if protocol == "memory":
        return _memory_store(rest)
    if not rest.strip("/"):
        raise InvalidArgumentError(f"{url!r} names no bucket or container")
    import fsspec

    try:
        fs = fsspec.filesystem(protocol, **options)
    except ImportError as exc:
        extra = _EXTRAS.get(protocol)
        hint = f"pip install 'pinyard[{extra}]'" if extra else str(exc)
        raise InvalidArgumentError(f"{protocol}:// boards need an extra package: {hint}") from exc
    except ValueError as exc:
        raise InvalidArgumentError(f"unknown storage protocol {protocol!r} in {url!r}") from exc
    except TypeError as exc:
        raise InvalidArgumentError(f"bad storage option for {protocol}://: {exc}") from exc
    return RemoteStore(fs, rest, staging_prefix=staging)


_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure",
           "abfss": "azure"}  # fmt: skip


_MEMORY_STORES: dict[str, MemoryStore] = {}


def _memory_store(name: str) -> MemoryStore:
    return _MEMORY_STORES.setdefault(name, MemoryStore(name))


def _init_marker(store: Store) -> None:
    doc = {"format": BOARD_FORMAT, "kind": "pinyard board", "pins": PINS_DIR}
    try:
        store.write_exclusive(MARKER, json.dumps(doc, indent=2).encode() + b"\n")
    except FileExistsError:
        pass  # another process initialised it first; it is read below
    except FileNotFoundError:
        raise BoardNotFoundError(
            f"cannot create a board at {store.url}: the bucket or container does not exist "
            "(or these credentials cannot see it). Create it first, or check the name."
        ) from None


def _open_or_init(store: Store, where: str, create: bool) -> None:
    try:
        marker = store.read_bytes(MARKER)  # one request for an existing board
    except FileNotFoundError:
        entries = [e for e in store.list_dir("") if not e.name.startswith(".")]
        if entries:
            _explain_not_pinyard(store, where, entries)
        if not create:
            raise BoardNotFoundError(
                f"no pinyard board at {where} (pass create=True to make one)"
            ) from None
        _init_marker(store)
        marker = store.read_bytes(MARKER)
    _check_marker(marker, where)


def _explain_not_pinyard(store: Store, where: str, entries: list[Any]) -> None:
    looks_like_pins = any(
        e.is_dir and any(v.is_dir and is_version_id(v.name) for v in store.list_dir(e.name))
        for e in entries[:50]
    )
    if looks_like_pins:
        raise NotAPinyardBoardError(
            f"{where} is a plain pins board (pin folders at its root, no {MARKER}). "
            f"Open it as it is with board_pins({where!r}), or copy it into a pinyard board "
            f"with `pinyard import-pins {where} DEST` (pinyard.boards.import_pins)."
        )
    raise NotAPinyardBoardError(
        f"{where} is not empty and holds no {MARKER}, so it is not a pinyard board "
        f"(found {', '.join(e.name for e in entries[:5])}). Choose an empty or new folder."
    )


def _check_marker(marker: bytes, where: str) -> None:
    try:
        doc = json.loads(marker)
        version = doc["format"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BoardFormatError(
            f"{where}/{MARKER} is unreadable ({exc}); expected JSON with 'format'"
        ) from exc
    if not isinstance(version, int) or version > BOARD_FORMAT:
        raise BoardFormatError(
            f"{where} has board format {version!r}; this pinyard reads format {BOARD_FORMAT}. "
            "Upgrade pinyard (pip install -U pinyard)."
        )
