"""`Board`: immutable, verified, pins-compatible versions on a `Store`."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pickle
import shutil
import struct
import tempfile
import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pinyard.boards._board_base import BoardBase
from pinyard.boards._boundary import guarded
from pinyard.boards._gc import GcReport, collect_garbage, cutoff_of, gc_extensions
from pinyard.boards._legacy import read_plan
from pinyard.boards._meta import PinMeta
from pinyard.boards._names import validate_new_pin_name
from pinyard.boards._progress import progress_enabled
from pinyard.boards._reading import (
    check_pins_hash,
    copy_verified,
    fetch_to_cache,
    open_verified,
    verify_version,
    verify_version_files,
)
from pinyard.boards._types import get_serializer, infer_type
from pinyard.boards._unversioned import drop_replaced, versions_to_replace
from pinyard.boards._versions import version_created
from pinyard.boards._writing import (
    Draft,
    PinPayload,
    WriteResult,
    check_requested_hash,
    commit,
    make_draft,
    stage_file,
    stage_object,
    upload_names,
)
from pinyard.errors import (
    IntegrityError,
    InvalidArgumentError,
    MetadataError,
    PinyardError,
    ProtectedVersionError,
    UnsupportedTypeError,
    UnverifiedError,
)

log = logging.getLogger("pinyard")
FEATHER_NOTICE = (
    'pin type "feather" is deprecated, as in pins: switching type to "arrow", which '
    'stores the same Arrow IPC (Feather v2) file and is read by R pins too. Use type="arrow".'
)


@guarded(lambda board: board.store.url)
class Board(BoardBase):
    """A set of pins, each an append-only list of immutable, hashed versions.

    Open one with `board_folder`, `board_temp`, `board_memory`, `board` (any
    fsspec URL) or `board_pins` (a plain pins board). Method names and
    argument order follow pins-python, so switching is a one-line change.
    """

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
            check_requested_hash(meta, hash)
        plan = read_plan(meta)  # pins' old types name the file to read
        type_name, index = plan or (meta.type, 0)
        if type_name == "file":
            raise UnsupportedTypeError(
                f"pin {name!r} is of type {meta.type!r}: use pin_download({name!r}) to get "
                "its files"
            )
        serializer = get_serializer(type_name)
        if plan is None and len(meta.file_names) != 1:
            raise UnsupportedTypeError(
                f"pin {name!r} version {meta.version} has {len(meta.file_names)} files; type "
                f"{meta.type!r} reads one. Use pin_download({name!r}) to get them."
            )
        if serializer.pickles and not self.allow_pickle_read:
            raise UnverifiedError(
                f"pin {name!r} is of type {meta.type!r}, which is unpickled on read, and this "
                "board was opened with allow_pickle_read=False"
            )
        version_dir = self._version_dir(name, meta.version)
        opened = open_verified(
            self.store,
            self.cache,
            meta,
            version_dir,
            index,
            progress=progress_enabled(self.progress),
        )
        with opened as (stream, verified):
            if serializer.pickles and not verified:
                raise UnverifiedError(
                    f"pin {name!r} version {meta.version} is of type {meta.type!r} and its "
                    "digest cannot be verified, so pinyard will not unpickle it. Import it "
                    "with pinyard import-pins after checking its source, or re-write it."
                )
            return _parse(serializer, stream, meta, index)

    def pin_download(
        self, name: str, version: str | None = None, hash: str | None = None
    ) -> list[str]:
        """Local paths of a version's files, each verified before it is returned.

        For a folder board these are the files in the board, which are
        read-only on disk (a committed version never changes). For other
        boards they are verified copies in a private temporary folder.
        """
        meta = self.pin_meta(name, version)
        if hash is not None:
            check_requested_hash(meta, hash)
        version_dir = self._version_dir(name, meta.version)
        local = [self.store.local_path(f"{version_dir}/{f}") for f in meta.file_names]
        if all(p is not None for p in local):
            verify_version(self.store, version_dir, meta)
            return [p for p in local if p is not None]
        if self.cache is not None and self.store.needs_cache:
            paths = [
                str(
                    fetch_to_cache(
                        self.store,
                        self.cache,
                        meta,
                        version_dir,
                        i,
                        progress=progress_enabled(self.progress),
                    )
                )
                for i in range(len(meta.file_names))
            ]
            if not meta.written_by_pinyard:  # pins hashes its files only together
                try:
                    verify_version_files(meta, paths)
                except IntegrityError as exc:  # the cached set: drop it, fetch it once more
                    log.warning("%s (cached copies); fetching them again", exc)
                    for path in paths:
                        with contextlib.suppress(OSError):
                            os.unlink(path)
                    paths = [
                        str(fetch_to_cache(self.store, self.cache, meta, version_dir, i))
                        for i in range(len(meta.file_names))
                    ]
                    verify_version_files(meta, paths)  # the board's copies now
            return paths
        target = os.path.join(self._downloads(), name, meta.version)
        digests = [
            copy_verified(self.store, f"{version_dir}/{f}", os.path.join(target, f), meta, i)
            for i, f in enumerate(meta.file_names)
        ]
        if not meta.written_by_pinyard:
            check_pins_hash(meta, digests)
        return [os.path.join(target, f) for f in meta.file_names]

    def _downloads(self) -> str:
        if self._download_dir is None:
            self._download_dir = tempfile.mkdtemp(prefix="pinyard-download-")
            atexit.register(shutil.rmtree, self._download_dir, ignore_errors=True)
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
        latest version's, nothing is written (and logged, in pins' words)
        unless ``force_identical_write=True``; the result's ``written`` says
        which. ``versioned=False`` (or a board opened with it) keeps one
        version, as pins does: the new version is written, then the one it
        replaces deleted. ``created`` back-dates the version: its id and
        ``created`` carry that time.
        An object with ``__pin_payload__()`` (a `pinyard.models.ModelBundle`)
        says itself what to store.
        """
        if name is None:
            raise InvalidArgumentError("pin_write needs a pin name: pin_write(x, 'my-pin')")
        validate_new_pin_name(name)
        as_payload = getattr(x, "__pin_payload__", None)
        if callable(as_payload):
            payload: PinPayload = as_payload()
            if metadata is not None:
                raise InvalidArgumentError(
                    f"a {builtins_type(x).__name__} carries its own metadata; give it when "
                    "building it (metadata=...), not to pin_write"
                )
            if type not in (None, payload.type):
                raise UnsupportedTypeError(
                    f"a {builtins_type(x).__name__} is written as type {payload.type!r}, "
                    f"not {type!r}; leave type out"
                )
            x, type, metadata = payload.obj, payload.type, payload.user
            title = title or payload.title
            description = description or payload.description
            lineage = {**payload.lineage, **(lineage or {})}
        if type == "feather":
            warnings.warn(FEATHER_NOTICE, DeprecationWarning, stacklevel=2)
            type = "arrow"
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
        draft = make_draft(
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
            return [
                (
                    file_name,
                    stage_object(
                        staging, serializer, x, file_name, progress_enabled(self.progress)
                    ),
                )
            ]

        return self._commit(draft, stage, force_identical_write, created, versioned)

    def pin_upload(
        self,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        force_identical_write: bool = False,
        versioned: bool | None = None,
        tags: Sequence[str] | None = None,
        urls: Sequence[str] | None = None,
        lineage: Mapping[str, Any] | None = None,
    ) -> WriteResult:
        """Store one or several local files, as they are, as a version of type ``file``."""
        if name is None:
            raise InvalidArgumentError("pin_upload needs a pin name: pin_upload(paths, 'my-pin')")
        validate_new_pin_name(name)
        path_list = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
        pairs = upload_names(path_list)
        label = pairs[0][1] if len(pairs) == 1 else f"{len(pairs)} files"
        draft = make_draft(
            name,
            "file",
            title or f"{name}: a pinned {label}",
            description,
            metadata,
            tags,
            urls,
            lineage,
            None,
        )

        def stage(staging: Any) -> list[tuple[str, Any]]:
            return [
                (base, stage_file(staging, src, base, progress_enabled(self.progress)))
                for src, base in pairs
            ]

        return self._commit(draft, stage, force_identical_write, None, versioned)

    def _commit(
        self,
        draft: Draft,
        stage: Callable[[Any], list[tuple[str, Any]]],
        force_identical_write: bool,
        created: datetime | None,
        versioned: bool | None,
    ) -> WriteResult:
        replaced = versions_to_replace(self, draft.name, versioned)
        result = commit(
            self.store,
            self._pin_dir(draft.name),
            draft,
            stage,
            lambda version: self._read_meta(draft.name, version),
            force_identical_write=force_identical_write,
            created=created,
        )
        if replaced and result.written:
            drop_replaced(self, draft.name, replaced, result.version)
        return result

    # -- deleting ------------------------------------------------------------

    def pin_version_delete(self, name: str, version: str, *, dry_run: bool = False) -> None:
        """Delete one version. The latest version and protected versions are refused
        (with ``dry_run``, refused the same way, and nothing is deleted)."""
        version = self.pin_meta(name, version).version
        versions = self._versions(name)
        if version == versions[-1]:
            raise ProtectedVersionError(
                f"version {version} is the latest of pin {name!r}; delete the pin with "
                f"pin_delete({name!r}) or write a newer version first"
            )
        reason = self._protection(name, version)
        if reason:
            raise ProtectedVersionError(f"pin {name!r} version {version} is protected: {reason}")
        if not dry_run:
            self.store.delete_tree(self._version_dir(name, version))

    def pin_versions_prune(
        self, name: str, n: int | None = None, days: int | None = None, *, dry_run: bool = False
    ) -> list[str]:
        """Delete old versions, keeping the ``n`` newest or those of the last ``days`` days.

        The latest version is always kept, and so is every version a
        protection hook asks to keep (it is logged and skipped). Returns the
        ids deleted (with ``dry_run``, those it would delete; nothing is).
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
            if not dry_run:
                self.store.delete_tree(self._version_dir(name, version))
            deleted.append(version)
        return deleted

    def gc(self, older_than: timedelta = timedelta(days=1), dry_run: bool = False) -> GcReport:
        """Remove leftovers of interrupted writes untouched for ``older_than``: staging
        entries, version folders without ``data.txt`` (which confuse pins readers),
        temporary files, incomplete uploads and, under ``runs/``, artifacts no run
        refers to and series of runs that never finished (never those of a live run).
        ``dry_run=True`` only reports what would go."""
        staging = "staging" if self.kind == "pinyard" else None
        report = collect_garbage(self.store, self._pins, staging, older_than, dry_run)
        if self.kind == "pinyard":
            for extension in gc_extensions():
                extension(self, cutoff_of(older_than), dry_run, report)
        return report

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
#: What a serializer raises on bytes that are not of its type (a damaged ``type`` in a
#: pins-written data.txt, which carries no digest): translated, naming the version.
_NOT_OF_TYPE = (
    UnicodeDecodeError,
    pickle.UnpicklingError,
    EOFError,
    KeyError,
    IndexError,
    ValueError,  # json.JSONDecodeError, pyarrow.ArrowInvalid, csv parser errors
    TypeError,
    struct.error,
    zlib.error,
)


def _parse(serializer: Any, stream: Any, meta: PinMeta, index: int) -> Any:
    """Parse the verified bytes of a file; bytes that are not of the version's type are a
    `MetadataError` naming the pin, the version, the file and the type."""
    try:
        return serializer.read(stream, meta.object_kind)
    except PinyardError:
        raise
    except _NOT_OF_TYPE as exc:
        raise MetadataError(
            f"pin {meta.name!r} version {meta.version} file {meta.file_names[index]!r} "
            f"verified but cannot be read as type {meta.type!r} "
            f"({type(exc).__name__}: {exc}): its data.txt names the wrong type (damaged "
            "or edited), or this environment cannot load what was stored"
        ) from exc
