"""Opening boards: folders, temporary folders, memory, fsspec URLs, plain pins boards."""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import tempfile
from typing import Any

from pinyard.boards._board import Board
from pinyard.boards._boundary import guarded_function
from pinyard.boards._cache import Cache
from pinyard.boards._local import LocalStore
from pinyard.boards._memory import MemoryStore
from pinyard.boards._meta import META_FILENAME
from pinyard.boards._names import is_version_id
from pinyard.boards._remote import RemoteStore
from pinyard.boards._store import Store
from pinyard.errors import (
    BoardFormatError,
    BoardNotFoundError,
    InvalidArgumentError,
    NotAPinyardBoardError,
)

log = logging.getLogger("pinyard")
MARKER = "pinyard.json"
BOARD_FORMAT = 1
PINS_DIR = "pins"
STAGING_DIR = "staging"
_LOCAL_PROTOCOLS = {"file", "local"}


@guarded_function(lambda *args, **kwargs: str(args[0] if args else kwargs))
def board_folder(
    path: str | os.PathLike[str],
    *,
    versioned: bool = True,
    create: bool | None = None,
    allow_pickle_read: bool = True,
    progress: bool | None = None,
) -> Board:
    """A pinyard board in a local folder (created, with its marker, if absent or empty).

    A new board is made only where the folder's parent exists, so that a mistyped
    path is an error (`BoardNotFoundError` naming it), not a new empty board:
    ``create=True`` also makes the missing parent folders, ``create=False`` never
    makes a board (what read-only callers pass).

    The folder holds ``pinyard.json``, the pins board ``pins/`` that R pins
    and pins-python open as it is, and pinyard's own folders beside it. A
    folder that already holds a plain pins board (pin folders at its root,
    as pins and R write them) is opened as that pins board, as `board_pins`
    opens it: nothing in it is created, moved or converted. The ``pins/``
    folder of a pinyard board opens that board. ``versioned=False`` keeps one
    version per pin, as in pins.
    """
    root = _local_root(os.fspath(path))
    _check_parent(root, create, "board_folder")
    store = LocalStore(root, os.path.join(root, STAGING_DIR))
    return _open_pinyard(
        store, create, allow_pickle_read=allow_pickle_read, progress=progress, versioned=versioned
    )


def board_temp(*, versioned: bool = True, allow_pickle_read: bool = True) -> Board:
    """A pinyard board in a new temporary folder, removed when the process exits."""
    root = tempfile.mkdtemp(prefix="pinyard-board-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return board_folder(root, versioned=versioned, allow_pickle_read=allow_pickle_read)


def board_memory(*, versioned: bool = True, allow_pickle_read: bool = True) -> Board:
    """A pinyard board held in this process's memory (tests, examples)."""
    return _open_pinyard(
        MemoryStore(), True, allow_pickle_read=allow_pickle_read, versioned=versioned
    )


@guarded_function(lambda *args, **kwargs: str(args[0] if args else kwargs))
def board(
    url: str | os.PathLike[str],
    path: str | None = None,
    *,
    versioned: bool = True,
    create: bool | None = None,
    allow_pickle_read: bool = True,
    cache: Cache | None = None,
    progress: bool | None = None,
    storage_options: dict[str, Any] | None = None,
    **more_options: Any,
) -> Board:
    """A pinyard board at a path or URL: ``file://``, ``memory://``, ``s3://``,
    ``az://``/``abfs://``, ``gs://`` or any other fsspec protocol.

    pins' form ``board(protocol, path)`` works too. ``storage_options`` (a
    dict, as pins takes it, or keyword arguments) go to the fsspec file
    system: credentials, ``endpoint_url`` for S3-compatible stores,
    ``connection_string`` for Azure, ``token``/``project`` for GCS. Without
    them each library looks in its usual places (environment, profiles,
    instance metadata). Remote boards keep a local cache (``cache=``,
    default `Cache()`). A location holding a plain pins board opens as that
    pins board, as in `board_folder`. ``create`` is as for `board_folder`: a local
    path must have an existing parent unless ``create=True``; on an object store
    the bucket or container must exist, and ``create=False`` makes no new board.
    """
    url = _join_protocol(os.fspath(url), path)
    options = {**(storage_options or {}), **more_options}
    store = _store_for_url(url, STAGING_DIR, options)
    if isinstance(store, LocalStore):
        _check_parent(store.root, create, "board")
    return _open_pinyard(
        store,
        create,
        allow_pickle_read=allow_pickle_read,
        cache=cache,
        progress=progress,
        versioned=versioned,
    )


def _join_protocol(url: str, path: str | None) -> str:
    """pins' ``board(protocol, path)``: the URL ``protocol://path``."""
    if path is None:
        return url
    if "://" in url:
        raise InvalidArgumentError(
            f"board({url!r}, {path!r}): give a URL alone, or a protocol ('file', 's3', ...) "
            "and a path"
        )
    return f"{url}://{path}"


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


def _check_parent(root: str, create: bool | None, function: str) -> None:
    """Refuse to make a new board whose parent folder does not exist, unless asked to
    (``create=True``): a typo in a path must not silently make folders."""
    if create is not None or os.path.isdir(root):
        return
    parent = os.path.dirname(root)
    if not os.path.isdir(parent):
        missing = parent
        while not os.path.isdir(os.path.dirname(missing)) and os.path.dirname(missing) != missing:
            missing = os.path.dirname(missing)
        raise BoardNotFoundError(
            f"no board at {root}, and its parent folder {parent} does not exist ({missing} "
            f"is missing): check the path, or pass create=True to {function}() to make "
            "the folders and a new board"
        )


def _open_pinyard(store: Store, create: bool | None, **board_args: Any) -> Board:
    try:
        marker = store.read_bytes(MARKER)  # one request for an existing board
    except FileNotFoundError:
        return _open_unmarked(store, create, board_args)
    _check_marker(marker, store.url)
    return _pinyard_board(store, board_args)


def _pinyard_board(store: Store, board_args: dict[str, Any]) -> Board:
    if isinstance(store, LocalStore):  # so that pins' board_folder(<root>/pins) opens it
        try:
            os.makedirs(os.path.join(store.root, PINS_DIR), exist_ok=True)
        except OSError:  # a read-only board: its readers need no new folder
            pass
    return Board(store, pins_prefix=PINS_DIR, kind="pinyard", **board_args)


def _open_unmarked(store: Store, create: bool | None, board_args: dict[str, Any]) -> Board:
    """A location without ``pinyard.json``: the pins folder of a pinyard board, a plain
    pins board, a new (empty) board, or something else, which is refused."""
    parent = _board_around(store)
    if parent is not None:
        log.info("%s is the pins folder of the pinyard board %s: opening that", store.url,
                 parent.url)  # fmt: skip
        return _open_pinyard(parent, False, **board_args)
    entries = [e for e in store.list_dir("") if not e.name.startswith(".")]
    if entries:
        if not looks_like_pins(store, entries):
            raise NotAPinyardBoardError(
                f"{store.url} is not empty and holds no {MARKER}, so it is not a pinyard "
                f"board (found {', '.join(e.name for e in entries[:5])}). Choose an empty "
                "or new folder."
            )
        log.info("%s holds a plain pins board: opening it as board_pins does", store.url)
        return Board(_as_plain_pins(store), pins_prefix="", kind="pins", **board_args)
    if create is False:
        raise BoardNotFoundError(
            f"no pinyard board at {store.url} (pass create=True to make one)"
        ) from None
    _init_marker(store)
    _check_marker(store.read_bytes(MARKER), store.url)
    return _pinyard_board(store, board_args)


def _board_around(store: Store) -> Store | None:
    """The store of the pinyard board whose ``pins/`` folder ``store`` is, if it is one."""
    parent: Store
    if isinstance(store, LocalStore) and os.path.basename(store.root) == PINS_DIR:
        up = os.path.dirname(store.root)
        parent = LocalStore(up, os.path.join(up, STAGING_DIR))
    elif isinstance(store, RemoteStore) and store.root.endswith(f"/{PINS_DIR}"):
        parent = RemoteStore(store.fs, store.root.rpartition("/")[0], staging_prefix=STAGING_DIR)
    else:
        return None
    return parent if parent.exists(MARKER) else None


def _as_plain_pins(store: Store) -> Store:
    """The same location as a plain pins board: writes stage outside it."""
    if isinstance(store, LocalStore):
        return LocalStore(store.root, _pins_staging(store.root))
    if isinstance(store, RemoteStore):
        return RemoteStore(store.fs, store.root, staging_prefix=None)
    return store


@guarded_function(lambda *args, **kwargs: str(args[0] if args else kwargs))
def board_pins(
    url: str | os.PathLike[str],
    *,
    versioned: bool = True,
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
        store = _as_plain_pins(store)
    return Board(
        store,
        pins_prefix="",
        kind="pins",
        allow_pickle_read=allow_pickle_read,
        cache=cache,
        progress=progress,
        versioned=versioned,
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


def looks_like_pins(store: Store, entries: list[Any]) -> bool:
    """True when some folder among the first entries is a pin: it holds a version folder
    (or, in pins' old format, a ``data.txt`` of its own or in a subfolder)."""
    for entry in entries[:50]:
        if not entry.is_dir:
            continue
        children = store.list_dir(entry.name)
        if any(c.is_dir and is_version_id(c.name) for c in children):
            return True
        if any(c.name == META_FILENAME and not c.is_dir for c in children):
            return True
        if any(c.is_dir and store.exists(f"{entry.name}/{c.name}/{META_FILENAME}")
               for c in children[:5]):  # fmt: skip
            return True
    return False


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
