"""`BoardBase`: where pins live on a `Store`, how versions are listed and their
metadata read, and the protection hooks deletions consult."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pinyard.boards._boundary import guarded
from pinyard.boards._cache import Cache
from pinyard.boards._legacy import legacy_dir, legacy_versions
from pinyard.boards._listing import committed_versions, forget, index_path
from pinyard.boards._meta import META_FILENAME, PinMeta
from pinyard.boards._names import (
    file_name_problem,
    is_version_id,
    validate_pin_name,
    validate_version_id,
)
from pinyard.boards._pickles import check_flag, pickle_read_allowed, refusal
from pinyard.boards._reading import read_meta, read_meta_bytes
from pinyard.boards._store import Store
from pinyard.boards._version import PinVersion
from pinyard.boards._versions import version_created
from pinyard.errors import InvalidNameError, PinNotFoundError, VersionNotFoundError

#: A protection hook gets (pin name, version id) and returns why the version
#: must be kept (an alias, a stage, a deployment) or None to allow deletion.
ProtectionHook = Callable[[str, str], str | None]
#: Makes the protection hook a capability above boards gives every pinyard board
#: (see `register_protection`); boards themselves know nothing of what it checks.
ProtectionFactory = Callable[["BoardBase"], ProtectionHook]

_PROTECTION_FACTORIES: list[ProtectionFactory] = []


def register_protection(factory: ProtectionFactory) -> None:
    """Give every pinyard board opened from now on the hook ``factory(board)`` returns.

    ``import pinyard`` registers the registry's, so a version an alias or a
    stage holds is protected in any process, whether it uses the registry or not.
    """
    if factory not in _PROTECTION_FACTORIES:
        _PROTECTION_FACTORIES.append(factory)


@dataclass(frozen=True)
class VersionInfo:
    """One committed version as listed by ``pin_versions(as_df=False)``."""

    version: str
    created: datetime
    hash: str


@guarded(lambda board: board.store.url)
class BoardBase:
    """The read-only half of a `Board`: paths, listings, metadata and protection hooks."""

    def __init__(
        self,
        store: Store,
        *,
        pins_prefix: str,
        kind: Literal["pinyard", "pins"],
        allow_pickle_read: bool | None = None,
        cache: Cache | None = None,
        progress: bool | None = None,
        versioned: bool = True,
    ) -> None:
        self.store = store
        #: pins' board setting: False keeps one version per pin (see `pin_write`).
        self.versioned = versioned
        self.progress = progress
        self.cache = cache if cache is not None or not store.needs_cache else Cache()
        self.kind = kind
        #: True or False as given; None: ``PINS_ALLOW_PICKLE_READ`` decides.
        self.allow_pickle_read = check_flag(allow_pickle_read)
        self._pins = pins_prefix.strip("/")
        self._hooks: list[ProtectionHook] = (
            [factory(self) for factory in _PROTECTION_FACTORIES] if kind == "pinyard" else []
        )
        self._download_dir: str | None = None

    def pickle_read_allowed(self) -> bool:
        """Whether this board may unpickle (type ``joblib``): its ``allow_pickle_read``, or
        when that was left out, ``PINS_ALLOW_PICKLE_READ`` (as pins decides)."""
        return pickle_read_allowed(self.allow_pickle_read)

    def check_pickle_read(self, name: str, pin_type: str, how: str = "") -> None:
        """Raise `InsecureReadError` for pin ``name`` of type ``pin_type``, naming what to
        pass (``how``: default, the board constructors' argument), unless this board may
        unpickle."""
        if not self.pickle_read_allowed():
            raise refusal(name, pin_type, self.store.url, how)

    def __repr__(self) -> str:
        return f"<pinyard {self.kind} board at {self.store.url}>"

    # -- pins' attributes ----------------------------------------------------

    @property
    def fs(self) -> Any:
        """The fsspec file system the board is on (pins' ``board.fs``); read through it
        only: what it writes is not verified. Memory boards have none."""
        remote = getattr(self.store, "fs", None)
        if remote is not None:
            return remote
        if self.store.local_path("") is None:
            raise AttributeError(f"{self!r} is not on an fsspec file system")
        import fsspec

        return fsspec.filesystem("file")

    @property
    def board(self) -> str:
        """Where the pins are on `fs` (pins' ``board.board``): what pins-python and R
        open as a pins board, ``<root>/pins`` for a pinyard board."""
        root = getattr(self.store, "root", None)
        if root is None:
            raise AttributeError(f"{self!r} is not on an fsspec file system")
        return f"{root}/{self._pins}" if self._pins else str(root)

    # -- paths ---------------------------------------------------------------

    def _pin_dir(self, name: str) -> str:
        validate_pin_name(name)
        return f"{self._pins}/{name}" if self._pins else name

    def _version_dir(self, name: str, version: str) -> str:
        if self.kind == "pins" and not is_version_id(version):
            return legacy_dir(self._pin_dir(name), version)
        return f"{self._pin_dir(name)}/{version}"

    # -- listing -------------------------------------------------------------

    def pin_list(self) -> list[str]:
        """Names of the pins that have at least one committed version, sorted.

        Stray files, dot-entries and folders holding no committed version
        (such as one whose only write was interrupted) are not pins.
        """
        names = []
        for name in self.store.pin_names(self._pins, META_FILENAME):
            try:
                validate_pin_name(name)
            except InvalidNameError:
                continue
            names.append(name)
        if self.kind == "pins":  # and pins in pins' old format
            known = set(names)
            names += [
                e.name
                for e in self.store.list_dir(self._pins)
                if e.is_dir
                and e.name not in known
                and not e.name.startswith(".")
                and self._legacy_versions(e.name)
            ]
            names.sort()
        return names

    def pin_exists(self, name: str) -> bool:
        """True when the pin has at least one committed version."""
        found = self.store.latest_committed(self._pin_dir(name), META_FILENAME) is not None
        return found or bool(self._legacy_versions(name))

    def _index(self, name: str) -> str | None:
        """The pin's listing index (`pinyard.boards._listing`); plain pins boards have none."""
        return index_path(name) if self.kind == "pinyard" else None

    def _delete_versions(self, name: str, versions: list[str]) -> None:
        """Delete version folders, out of the pin's listing index before and after."""
        forget(self.store, self._index(name), versions)
        for version in versions:
            self.store.delete_tree(self._version_dir(name, version))
        forget(self.store, self._index(name), versions)

    def _versions(self, name: str) -> list[str]:
        versions = committed_versions(self.store, self._pin_dir(name), self._index(name))
        if not versions:
            versions = self._legacy_versions(name)
        if not versions:
            raise self._pin_not_found(name)
        return versions

    def _legacy_versions(self, name: str) -> list[str]:
        """Versions in pins' old format, read on plain pins boards only."""
        if self.kind != "pins":
            return []
        try:
            validate_pin_name(name)
        except InvalidNameError:
            return []
        return legacy_versions(self.store, self._pin_dir(name))

    def _pin_not_found(self, name: str) -> PinNotFoundError:
        return PinNotFoundError(
            f"pin {name} does not exist on {self.store.url} "  # pins says "<name> does not exist"
            f"(pins there: {', '.join(self.pin_list()[:20]) or 'none'})"
        )

    def pin_versions(self, name: str, as_df: bool = True) -> Any:
        """The pin's committed versions, oldest first (the last one is latest).

        Returns a pandas DataFrame with columns ``created``, ``hash`` and
        ``version`` (as pins does), or a list of `VersionInfo` with
        ``as_df=False``. Listing reads no metadata (on object stores: a folder
        listing and the board's listing index, see `pinyard.boards._listing`).
        """
        infos = []
        for version in self._versions(name):
            created = version_created(version) or datetime(1970, 1, 1, tzinfo=UTC)
            infos.append(VersionInfo(version, created, PinVersion(version).hash))
        if not as_df:
            return infos
        import pandas as pd

        return pd.DataFrame(
            {
                "created": [i.created.replace(tzinfo=None) for i in infos],
                "hash": [i.hash for i in infos],
                "version": [i.version for i in infos],
            }
        )

    def _latest_meta(self, name: str) -> PinMeta:
        """The newest committed version's metadata: one listing of the pin's folder,
        then its newest ``data.txt`` read directly (from the cache when there); a
        folder without one (a write in progress, or interrupted) is skipped."""
        for version in reversed(self.store.version_folders(self._pin_dir(name))):
            try:
                return self._read_meta(name, version)
            except VersionNotFoundError:
                continue
        for version in reversed(self._legacy_versions(name)):
            return self._read_meta(name, version)
        raise self._pin_not_found(name)

    def pin_meta(self, name: str, version: str | None = None) -> PinMeta:
        """Metadata of a version (the latest by default)."""
        if version is None:
            return self._latest_meta(name)
        if self.kind != "pins" or is_version_id(version) or file_name_problem(version):
            validate_version_id(version)
        elif version not in self._versions(name):  # an old-format folder, by its listed name
            raise self._no_version(name, version)
        try:
            return self._read_meta(name, version)
        except VersionNotFoundError:
            raise self._no_version(name, version) from None

    def _no_version(self, name: str, version: str) -> VersionNotFoundError:
        versions = self._versions(name)
        return VersionNotFoundError(
            f"pin {name!r} has no version {version!r}; it has {len(versions)} version(s), "
            f"the latest is {versions[-1]!r} (see pin_versions({name!r}))"
        )

    def meta_sha256(self, name: str, version: str, expected: str | None = None) -> str:
        """The sha256 of a version's ``data.txt`` as stored (what a registry event records
        to make the version tamper-evident); `VersionNotFoundError` if it is not there.

        When a cached copy does not have the ``expected`` digest, the cached
        copy is dropped and the board's own is read: only the board can be wrong.
        """
        validate_version_id(version)
        path = f"{self._version_dir(name, version)}/{META_FILENAME}"
        try:
            digest = hashlib.sha256(
                read_meta_bytes(self.store, self.cache, name, version, path)
            ).hexdigest()
            if expected is not None and digest != expected and self.cache is not None:
                self.cache.drop_meta(self.store.url, name, version)
                digest = hashlib.sha256(
                    read_meta_bytes(self.store, self.cache, name, version, path)
                ).hexdigest()
        except FileNotFoundError:
            raise VersionNotFoundError(f"pin {name!r} has no version {version!r}") from None
        return digest

    def _read_meta(self, name: str, version: str) -> PinMeta:
        path = f"{self._version_dir(name, version)}/{META_FILENAME}"
        try:
            return read_meta(self.store, self.cache, name, version, path)
        except FileNotFoundError:
            raise VersionNotFoundError(f"pin {name!r} has no version {version!r}") from None

    def pin_search(self, search: str | None = None, as_df: bool = True) -> Any:
        """Pins whose name or title matches the regular expression ``search``.

        Returns a DataFrame (name, version, type, title, created, file_size,
        meta) or, with ``as_df=False``, the list of latest `PinMeta`.
        """
        pattern = re.compile(search) if search else None
        metas = []
        for name in self.pin_list():
            meta = self.pin_meta(name)
            if pattern is None or pattern.search(name) or pattern.search(meta.title or ""):
                metas.append(meta)
        if not as_df:
            return metas
        import pandas as pd

        columns = ["name", "version", "type", "title", "created", "file_size", "meta"]
        rows = [
            [m.name, m.version, m.type, m.title, m.created_at, sum(m.file_sizes), m] for m in metas
        ]
        return pd.DataFrame(rows, columns=columns)

    def add_protection_hook(self, hook: ProtectionHook) -> None:
        """Consult ``hook(name, version)`` before any version is deleted.

        A hook returns a reason to keep the version (for example "alias
        @champion points here") or None. The registry installs one.
        """
        self._hooks.append(hook)

    def _protection(self, name: str, version: str) -> str | None:
        for hook in self._hooks:
            reason = hook(name, version)
            if reason:
                return reason
        return None
