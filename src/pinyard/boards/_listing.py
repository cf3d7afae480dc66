"""Which version folders of a pin are committed (hold ``data.txt``), in few requests.

On a local or in-memory store each folder is checked directly. On an object
store, a listing that shows every ``data.txt`` lists every object under the
pin (each version's data files too), and object stores answer that far more
slowly than a delimited listing of the pin's folder, which gives one name per
version folder and is what pins itself does. So a pinyard board keeps, beside
``pins/``, a listing index per pin (``index/<pin>.txt``): the version folders
seen holding ``data.txt``. Listing a pin is then:

1. one delimited LIST of the pin's folder (its version folders) and, at the
   same time, one GET of the index;
2. with at most `FEW` folders, one undelimited LIST of them instead of the
   index;
3. folders the index does not name (new since it was written, written by pins
   or R, or not committed yet) are checked: one request each, all at once,
   when there are at most `FEW`, or at most `CHECKS_AT_ONCE` spread among the
   others; else by undelimited LISTs of them, in pieces that share a name
   prefix (`name_prefixes`), several at once;
4. when that changed what the index says, it is written again.

A folder counts only once its ``data.txt`` has been seen, by this listing or an
earlier one; a committed version stays committed until it is deleted, and
pinyard takes a version out of the index before deleting it (`forget`). An
index entry whose folder is gone is ignored. A plain pins board has no room
for an index (pins lists everything under its root): its folders are listed
undelimited, in pieces. See docs/decisions/0017-listing-index.md.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from pinyard.boards._meta import META_FILENAME
from pinyard.boards._names import is_version_id
from pinyard.boards._store import Store
from pinyard.errors import StorageError

INDEX_DIR = "index"
#: A pin of up to this many folders is listed without its index (one undelimited LIST
#: of them); up to this many folders the index does not name are checked one request
#: each, all at once (a check costs about what the GET of the index does).
FEW = 4
#: Up to this many folders the index does not name are checked one request each, all in
#: flight at once (one round trip), when a listing of them would list more than twice
#: as many folders (a folder left without data.txt early in a long history, and new
#: ones: the name prefixes that cover both cover everything between).
CHECKS_AT_ONCE = 16
#: At most this many folders go to one undelimited listing when a name prefix can split
#: them: for a one-file pin about one page (1,000 keys) of an S3 or GCS listing.
PIECE = 400
#: At most this many pieces: past it, pieces grow (a listing chain then takes pages).
MAX_PIECES = 32
_HEADER = b"# pinyard listing index: version folders seen holding data.txt\n"
log = logging.getLogger("pinyard")


def index_path(name: str) -> str:
    """Where a pinyard board keeps the listing index of pin ``name``."""
    return f"{INDEX_DIR}/{name}.txt"


def committed_versions(store: Store, pin_dir: str, index: str | None) -> list[str]:
    """The committed version folders under ``pin_dir``, sorted; ``index`` is the pin's
    listing index (None: the board keeps none)."""
    if not store.needs_cache:
        return store.committed_versions(pin_dir, META_FILENAME)
    # The index is read while the folder is listed: two requests in the time of one.
    pending = _background().submit(read_index, store, index) if index else None
    folders = store.version_folders(pin_dir)
    known = pending.result() if pending else frozenset()
    if index is None or len(folders) <= FEW:  # a listing of their objects, no index
        return sorted(_listed(store, pin_dir, folders, folders))
    seen = _unknown_checked(store, pin_dir, [f for f in folders if f not in known], folders)
    committed = [f for f in folders if f in known or f in seen]
    if seen or len(known) > len(committed):
        _write_index(store, index, committed)
    return committed


def name_prefixes(
    wanted: Sequence[str], within: Sequence[str] | None = None, most: int | None = None
) -> list[str]:
    """Name prefixes to list the sorted, distinct ``wanted`` names by: each of them starts
    with exactly one prefix, and a prefix covers at most ``most`` of the names ``within``
    (every folder there is; default: the wanted ones) unless no longer prefix splits
    them; at most `MAX_PIECES` prefixes (``most`` grows until they fit; default
    `PIECE`). One listing per prefix then lists those folders' objects, and few others."""
    if not wanted:
        return []
    most = PIECE if most is None else most
    want = set(wanted)
    found: list[str] = []

    def split(prefix: str, group: list[str]) -> None:
        if len(group) <= most or any(len(n) == len(prefix) for n in group):
            found.append(prefix)  # small enough, or a name is the prefix: list them as one
            return
        for _, same in itertools.groupby(group, key=lambda n: n[len(prefix)]):
            part = list(same)
            if want.intersection(part):
                split(prefix + part[0][len(prefix)], part)

    start = os.path.commonprefix([wanted[0], wanted[-1]])  # noqa: RUF071 - a name prefix
    names = sorted(want.union(within or ()))
    split(start, [n for n in names if n.startswith(start)])
    if len(found) > MAX_PIECES:
        return name_prefixes(wanted, within, most * 2)
    return found


@functools.cache
def _background() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="pinyard-listing")


def _unknown_checked(
    store: Store, pin_dir: str, unknown: list[str], folders: list[str]
) -> set[str]:
    """Which of the folders the index does not name hold ``data.txt``: a check of each
    when they are few, or when a listing of them would list mostly other folders too;
    else a listing, in pieces."""
    if len(unknown) <= FEW:
        return _checked(store, pin_dir, unknown)
    pieces = name_prefixes(unknown, folders)
    covered = sum(1 for f in folders if f.startswith(tuple(pieces)))
    if len(unknown) <= CHECKS_AT_ONCE and covered > 2 * len(unknown):
        return _checked(store, pin_dir, unknown)
    return _listed(store, pin_dir, unknown, folders, pieces)


def _listed(
    store: Store,
    pin_dir: str,
    wanted: list[str],
    folders: list[str],
    pieces: list[str] | None = None,
) -> set[str]:
    """The ``wanted`` folders that hold ``data.txt``, by undelimited listings of the
    pieces `name_prefixes` gives (several at once)."""
    if not wanted:
        return set()
    pieces = name_prefixes(wanted, folders) if pieces is None else pieces
    return set(wanted).intersection(store.committed_versions(pin_dir, META_FILENAME, pieces))


def _checked(store: Store, pin_dir: str, folders: list[str]) -> set[str]:
    """The folders that hold ``data.txt``."""
    if not folders:
        return set()
    found = store.has_files([f"{pin_dir}/{f}/{META_FILENAME}" for f in folders])
    return {f for f, there in zip(folders, found, strict=True) if there}


def read_index(store: Store, index: str) -> frozenset[str]:
    """The versions an index names (empty when it is absent or not an index)."""
    try:
        raw = store.read_bytes(index)
    except FileNotFoundError:
        return frozenset()
    if not raw.startswith(_HEADER):
        return frozenset()
    lines = raw[len(_HEADER) :].decode("ascii", "replace").splitlines()
    return frozenset(v for v in lines if is_version_id(v))


def forget(store: Store, index: str | None, versions: Iterable[str]) -> None:
    """Take versions out of the index before they are deleted (and again after: a
    listing running meanwhile may have written them back)."""
    if index is None or not store.needs_cache:
        return
    known = read_index(store, index)
    gone = known.intersection(versions)
    if gone:
        store.replace_small(index, _body(sorted(known - gone)))


def _write_index(store: Store, index: str, versions: list[str]) -> None:
    try:
        store.replace_small(index, _body(versions))
    except (StorageError, PermissionError) as exc:  # read-only credentials: list without it
        log.debug("listing index %s not written: %s", index, exc)


def _body(versions: list[str]) -> bytes:
    return _HEADER + "".join(f"{v}\n" for v in versions).encode("ascii")
