"""`Board`: immutable, verified, pins-compatible versions on a `Store`."""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pinyard.boards._meta import META_FILENAME, PinMeta, parse_data_txt
from pinyard.boards._names import validate_pin_name, validate_version_id
from pinyard.boards._reading import (
    check_pins_hash,
    copy_verified,
    verified_stream_digest,
    verify_version,
)
from pinyard.boards._store import Store
from pinyard.boards._types import get_serializer, infer_type
from pinyard.boards._versions import version_created
from pinyard.boards._writing import (
    Draft,
    WriteResult,
    build_meta,
    bump,
    check_yaml_safe,
    same_content,
    stage_file,
    stage_object,
    upload_names,
)
from pinyard.errors import (
    ConflictError,
    IntegrityError,
    InvalidArgumentError,
    InvalidNameError,
    PinNotFoundError,
    ProtectedVersionError,
    UnsupportedTypeError,
    UnverifiedError,
    VersionNotFoundError,
)

log = logging.getLogger("pinyard")

#: A protection hook gets (pin name, version id) and returns why the version
#: must be kept (an alias, a stage, a deployment) or None to allow deletion.
ProtectionHook = Callable[[str, str], str | None]

_PUBLISH_ATTEMPTS = 5


@dataclass(frozen=True)
class VersionInfo:
    """One committed version as listed by ``pin_versions(as_df=False)``."""

    version: str
    created: datetime
    hash: str


class Board:
    """A set of pins, each an append-only list of immutable, hashed versions.

    Open one with `board_folder`, `board_temp`, `board_memory`, `board` (any
    fsspec URL) or `board_pins` (a plain pins board). Method names and
    argument order follow pins-python, so switching is a one-line change.
    """

    def __init__(
        self,
        store: Store,
        *,
        pins_prefix: str,
        kind: Literal["pinyard", "pins"],
        allow_pickle_read: bool = True,
    ) -> None:
        self.store = store
        self.kind = kind
        self.allow_pickle_read = allow_pickle_read
        self._pins = pins_prefix.strip("/")
        self._hooks: list[ProtectionHook] = []
        self._download_dir: str | None = None

    def __repr__(self) -> str:
        return f"<pinyard {self.kind} board at {self.store.url}>"

    # -- paths ---------------------------------------------------------------

    def _pin_dir(self, name: str) -> str:
        validate_pin_name(name)
        return f"{self._pins}/{name}" if self._pins else name

    def _version_dir(self, name: str, version: str) -> str:
        return f"{self._pin_dir(name)}/{version}"

    # -- listing -------------------------------------------------------------

    def pin_list(self) -> list[str]:
        """Names of the pins that have at least one committed version, sorted.

        Stray files, dot-entries and folders holding no committed version
        (such as one whose only write was interrupted) are not pins.
        """
        names = []
        for entry in self.store.list_dir(self._pins):
            if not entry.is_dir or entry.name.startswith("."):
                continue
            try:
                pin_dir = self._pin_dir(entry.name)
            except InvalidNameError:
                continue
            if self.store.latest_committed(pin_dir, META_FILENAME) is not None:
                names.append(entry.name)
        return names

    def pin_exists(self, name: str) -> bool:
        """True when the pin has at least one committed version."""
        return self.store.latest_committed(self._pin_dir(name), META_FILENAME) is not None

    def _versions(self, name: str) -> list[str]:
        versions = self.store.committed_versions(self._pin_dir(name), META_FILENAME)
        if not versions:
            raise self._pin_not_found(name)
        return versions

    def _pin_not_found(self, name: str) -> PinNotFoundError:
        return PinNotFoundError(
            f"pin {name!r} does not exist on {self.store.url} "
            f"(pins there: {', '.join(self.pin_list()[:20]) or 'none'})"
        )

    def pin_versions(self, name: str, as_df: bool = True) -> Any:
        """The pin's committed versions, oldest first (the last one is latest).

        Returns a pandas DataFrame with columns ``created``, ``hash`` and
        ``version`` (as pins does), or a list of `VersionInfo` with
        ``as_df=False``. Listing reads no metadata: one folder listing only.
        """
        infos = []
        for version in self._versions(name):
            created = version_created(version)
            assert created is not None  # committed_versions keeps only well-formed ids
            infos.append(VersionInfo(version, created, version.rsplit("-", 1)[1]))
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

    def _latest(self, name: str) -> str:
        latest = self.store.latest_committed(self._pin_dir(name), META_FILENAME)
        if latest is None:
            raise self._pin_not_found(name)
        return latest

    def _resolve(self, name: str, version: str | None) -> str:
        if version is None:
            return self._latest(name)
        validate_version_id(version)
        if not self.store.exists(f"{self._version_dir(name, version)}/{META_FILENAME}"):
            versions = self._versions(name)
            raise VersionNotFoundError(
                f"pin {name!r} has no version {version!r}; it has {len(versions)} version(s), "
                f"the latest is {versions[-1]!r} (see pin_versions({name!r}))"
            )
        return version

    def pin_meta(self, name: str, version: str | None = None) -> PinMeta:
        """Metadata of a version (the latest by default)."""
        version = self._resolve(name, version)
        return self._read_meta(name, version)

    def _read_meta(self, name: str, version: str) -> PinMeta:
        path = f"{self._version_dir(name, version)}/{META_FILENAME}"
        try:
            raw = self.store.read_bytes(path)
        except FileNotFoundError:
            raise VersionNotFoundError(f"pin {name!r} has no version {version!r}") from None
        return parse_data_txt(raw, name, version, f"{self.store.url}/{path}")

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
            [m.name, m.version, m.type, m.title, m.created_at, sum(m.file_size), m] for m in metas
        ]
        return pd.DataFrame(rows, columns=columns)

    # -- reading -------------------------------------------------------------

    def pin_read(self, name: str, version: str | None = None, hash: str | None = None) -> Any:
        """The object stored in a version (the latest by default), verified first.

        Every file is hashed and checked before it is parsed, and a pickle
        (type ``joblib``) is loaded only when its digest verified. ``hash``
        makes the read conditional: it must equal (or prefix, 5+ hex) the
        version's ``pin_hash`` or be the sha256 of its file.
        """
        meta = self.pin_meta(name, version)
        if hash is not None:
            _check_requested_hash(meta, hash)
        if meta.type == "file":
            raise UnsupportedTypeError(
                f"pin {name!r} is of type 'file': use pin_download({name!r}) to get its files"
            )
        serializer = get_serializer(meta.type)
        if len(meta.file) != 1:
            raise UnsupportedTypeError(
                f"pin {name!r} version {meta.version} has {len(meta.file)} files; type "
                f"{meta.type!r} reads one. Use pin_download({name!r}) to get them."
            )
        if serializer.pickles and not self.allow_pickle_read:
            raise UnverifiedError(
                f"pin {name!r} is of type {meta.type!r}, which is unpickled on read, and this "
                "board was opened with allow_pickle_read=False"
            )
        path = f"{self._version_dir(name, meta.version)}/{meta.file[0]}"
        with self.store.open_read(path) as stream:
            verified = verified_stream_digest(meta, 0, stream)
            if serializer.pickles and not verified:
                raise UnverifiedError(
                    f"pin {name!r} version {meta.version} is of type {meta.type!r} and its "
                    "digest cannot be verified, so pinyard will not unpickle it. Import it "
                    "with pinyard import-pins after checking its source, or re-write it."
                )
            return serializer.read(stream, meta.object_kind)

    def pin_download(
        self, name: str, version: str | None = None, hash: str | None = None
    ) -> list[str]:
        """Local paths of a version's files, each verified before it is returned.

        For a folder board these are the files in the board: treat them as
        read-only. For other boards they are verified copies in a private
        temporary folder.
        """
        meta = self.pin_meta(name, version)
        if hash is not None:
            _check_requested_hash(meta, hash)
        version_dir = self._version_dir(name, meta.version)
        local = [self.store.local_path(f"{version_dir}/{f}") for f in meta.file]
        if all(p is not None for p in local):
            verify_version(self.store, version_dir, meta)
            return [p for p in local if p is not None]
        target = os.path.join(self._downloads(), name, meta.version)
        digests = [
            copy_verified(self.store, f"{version_dir}/{f}", os.path.join(target, f), meta, i)
            for i, f in enumerate(meta.file)
        ]
        if not meta.written_by_pinyard:
            check_pins_hash(meta, digests)
        return [os.path.join(target, f) for f in meta.file]

    def _downloads(self) -> str:
        if self._download_dir is None:
            self._download_dir = tempfile.mkdtemp(prefix="pinyard-download-")
        return self._download_dir

    # -- writing -------------------------------------------------------------

    def pin_write(
        self,
        x: Any,
        name: str | None = None,
        type: str | None = None,
        title: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        versioned: bool | None = None,
        created: datetime | None = None,
        *,
        force_identical_write: bool = False,
        tags: Sequence[str] | None = None,
        urls: Sequence[str] | None = None,
        lineage: Mapping[str, Any] | None = None,
    ) -> WriteResult:
        """Write ``x`` as a new immutable version of pin ``name``.

        ``type`` is one of the registered types (``parquet``, ``arrow``,
        ``csv``, ``json``, ``joblib``, ...); when omitted it is inferred:
        DataFrame or Arrow table -> parquet, dict or list -> json, anything
        else -> joblib. ``metadata`` is stored as the pins ``user`` field and
        ``lineage`` under pinyard's own key. If the content equals the
        latest version's, nothing is written unless
        ``force_identical_write=True``; the result's ``written`` says which.
        """
        if name is None:
            raise InvalidArgumentError("pin_write needs a pin name: pin_write(x, 'my-pin')")
        validate_pin_name(name)
        _check_versioned(versioned)
        type_name = type or infer_type(x)
        if type_name == "file":
            raise UnsupportedTypeError("type 'file' is written with pin_upload(paths, name)")
        serializer = get_serializer(type_name)
        if not serializer.can_write:
            raise UnsupportedTypeError(f"type {type_name!r} can be read but not written")
        if not serializer.accepts(x):
            raise UnsupportedTypeError(
                f"type {type_name!r} cannot hold a {builtins_type(x).__qualname__}; "
                f"use type={infer_type(x)!r} (what pinyard picks for this object) or convert it"
            )
        draft = self._draft(
            name,
            type_name,
            title or f"{name}: a pinned {serializer.describe(x)}",
            description,
            metadata,
            tags,
            urls,
            lineage,
            serializer.object_kind(x),
        )
        file_name = f"{name}.{serializer.extension}"

        def stage(staging: Any) -> list[tuple[str, Any]]:
            return [(file_name, stage_object(staging, serializer, x, file_name))]

        return self._commit(draft, stage, force_identical_write, created)

    def pin_upload(
        self,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        force_identical_write: bool = False,
        tags: Sequence[str] | None = None,
        urls: Sequence[str] | None = None,
        lineage: Mapping[str, Any] | None = None,
    ) -> WriteResult:
        """Store one or several local files, as they are, as a version of type ``file``."""
        if name is None:
            raise InvalidArgumentError("pin_upload needs a pin name: pin_upload(paths, 'my-pin')")
        validate_pin_name(name)
        path_list = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
        pairs = upload_names(path_list)
        label = pairs[0][1] if len(pairs) == 1 else f"{len(pairs)} files"
        draft = self._draft(
            name, "file", title or f"{name}: a pinned {label}", description, metadata,
            tags, urls, lineage, None,
        )  # fmt: skip

        def stage(staging: Any) -> list[tuple[str, Any]]:
            return [(base, stage_file(staging, src, base)) for src, base in pairs]

        return self._commit(draft, stage, force_identical_write, None)

    def _draft(
        self,
        name: str,
        type_name: str,
        title: str,
        description: str | None,
        metadata: Mapping[str, Any] | None,
        tags: Sequence[str] | None,
        urls: Sequence[str] | None,
        lineage: Mapping[str, Any] | None,
        object_kind: str | None,
    ) -> Draft:
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidArgumentError(
                f"metadata must be a dict, got {builtins_type(metadata).__name__}"
            )
        for value, what in ((metadata, "metadata"), (lineage, "lineage"), (tags, "tags")):
            if value is not None:
                check_yaml_safe(value if not isinstance(value, Mapping) else dict(value), what)
        if isinstance(tags, str) or isinstance(urls, str):
            raise InvalidArgumentError("tags and urls are lists of strings, not one string")
        return Draft(
            name=name,
            type=type_name,
            title=str(title),
            description=description,
            user=dict(metadata or {}),
            tags=None if tags is None else tuple(str(t) for t in tags),
            urls=None if urls is None else tuple(str(u) for u in urls),
            lineage=dict(lineage or {}),
            object_kind=object_kind,
        )

    def _commit(
        self,
        draft: Draft,
        stage: Callable[[Any], list[tuple[str, Any]]],
        force_identical_write: bool,
        created: datetime | None,
    ) -> WriteResult:
        pin_dir = self._pin_dir(draft.name)
        staging = self.store.new_staging(pin_dir)
        try:
            files = stage(staging)
            now = created.astimezone(UTC) if created else datetime.now(UTC)
            latest = self.store.latest_committed(pin_dir, META_FILENAME)
            meta = build_meta(draft, files, latest, now)
            if latest is not None and not force_identical_write:
                previous = self._read_meta(draft.name, latest)
                if same_content(meta, previous):
                    log.info(
                        "pin %r: content equals version %s; nothing written", draft.name, latest
                    )
                    return WriteResult(**_fields(previous), written=False)
            for _ in range(_PUBLISH_ATTEMPTS):
                try:
                    staging.publish(f"{pin_dir}/{meta.version}", META_FILENAME, meta.to_data_txt())
                except FileExistsError:
                    existing = self._read_meta(draft.name, meta.version)
                    if same_content(meta, existing) and not force_identical_write:
                        # Another writer stored the same bytes under the same id.
                        return WriteResult(**_fields(existing), written=False)
                    newest = self.store.latest_committed(pin_dir, META_FILENAME)
                    meta = bump(meta, max(newest or meta.version, meta.version))
                    continue
                log.info("pin %r: wrote version %s", draft.name, meta.version)
                return WriteResult(**_fields(meta), written=True)
            raise ConflictError(
                f"pin {draft.name!r}: {_PUBLISH_ATTEMPTS} attempts to publish a new version "
                "collided with other writers; try again"
            )
        finally:
            staging.discard()

    # -- deleting ------------------------------------------------------------

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

    def pin_version_delete(self, name: str, version: str) -> None:
        """Delete one version. The latest version and protected versions are refused."""
        version = self._resolve(name, version)
        versions = self._versions(name)
        if version == versions[-1]:
            raise ProtectedVersionError(
                f"version {version} is the latest of pin {name!r}; delete the pin with "
                f"pin_delete({name!r}) or write a newer version first"
            )
        reason = self._protection(name, version)
        if reason:
            raise ProtectedVersionError(f"pin {name!r} version {version} is protected: {reason}")
        self.store.delete_tree(self._version_dir(name, version))

    def pin_versions_prune(
        self, name: str, n: int | None = None, days: int | None = None
    ) -> list[str]:
        """Delete old versions, keeping the ``n`` newest or those of the last ``days`` days.

        The latest version is always kept, and so is every version a
        protection hook asks to keep (it is logged and skipped). Returns the
        ids deleted.
        """
        if (n is None) == (days is None):
            raise InvalidArgumentError("pin_versions_prune needs exactly one of n= or days=")
        for value, label in ((n, "n"), (days, "days")):
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise InvalidArgumentError(f"{label} must be a positive integer, got {value!r}")
        versions = self._versions(name)
        if n is not None:
            candidates = versions[: max(0, len(versions) - n)]
        else:
            assert days is not None
            cutoff = datetime.now(UTC) - timedelta(days=days)
            candidates = [
                v for v in versions[:-1] if (version_created(v) or datetime.now(UTC)) < cutoff
            ]
        deleted = []
        for version in candidates:
            reason = self._protection(name, version)
            if reason:
                log.info("pin %r: keeping protected version %s (%s)", name, version, reason)
                continue
            self.store.delete_tree(self._version_dir(name, version))
            deleted.append(version)
        return deleted

    def pin_delete(self, names: str | Sequence[str]) -> None:
        """Delete whole pins. Refused, before anything is deleted, if any version is protected."""
        name_list = [names] if isinstance(names, str) else list(names)
        for name in name_list:
            for version in self._versions(name):
                reason = self._protection(name, version)
                if reason:
                    raise ProtectedVersionError(
                        f"pin {name!r} cannot be deleted: version {version} is protected: {reason}"
                    )
        for name in name_list:
            self.store.delete_tree(self._pin_dir(name))


builtins_type = type


def _fields(meta: PinMeta) -> dict[str, Any]:
    return {f: getattr(meta, f) for f in PinMeta.__dataclass_fields__}


def _check_versioned(versioned: bool | None) -> None:
    if versioned is False:
        raise InvalidArgumentError(
            "versioned=False would replace the pin's version, and pinyard versions are "
            "immutable. Write a new version, then pin_versions_prune(name, n=1) to keep one."
        )


def _check_requested_hash(meta: PinMeta, wanted: str) -> None:
    wanted = wanted.lower()
    sha = [f.sha256 for f in meta.files]
    matches = (len(wanted) >= 5 and meta.pin_hash.startswith(wanted)) or wanted in sha
    if not matches:
        raise IntegrityError(
            f"pin {meta.name!r} version {meta.version} has pin_hash {meta.pin_hash}"
            f"{' and sha256 ' + ', '.join(sha) if sha else ''}, not the requested {wanted!r}"
        )
