"""Writing one version: stream the files into staging, hash them, publish."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from pinyard.boards._hashing import FileDigest, HashingWriter, combined_pin_hash
from pinyard.boards._meta import META_FILENAME, FileRecord, PinMeta
from pinyard.boards._names import refuse_collision, validate_identifier
from pinyard.boards._progress import Progress
from pinyard.boards._store import ReplayMismatchError, Sink, SinkWriter, Staging, Store
from pinyard.boards._types import Serializer
from pinyard.boards._version import PinVersion
from pinyard.boards._versions import backdated_version_id, next_version_id
from pinyard.errors import (
    ConflictError,
    HashMismatchError,
    InvalidArgumentError,
    SerializationError,
    VersionNotFoundError,
)

READ_CHUNK = 8 * 1024 * 1024
PUBLISH_ATTEMPTS = 5
log = logging.getLogger("pinyard")


@dataclass(frozen=True)
class WriteResult(PinMeta):
    """What ``pin_write``/``pin_upload`` did: the version's metadata plus ``written``.

    ``written`` is False when the content was identical to the pin's latest
    version and nothing new was stored; the metadata is then that version's.
    """

    written: bool = True


@dataclass(frozen=True)
class PinPayload:
    """What an object that knows how to be pinned (it has ``__pin_payload__()``, as
    `pinyard.models.ModelBundle` does) asks ``pin_write`` to store: the object to
    serialise, its type, the pins ``user`` metadata, and defaults for the rest."""

    obj: Any
    type: str
    user: Mapping[str, Any]
    title: str | None = None
    description: str | None = None
    lineage: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Draft:
    """The caller's description of a version, before its files are hashed."""

    name: str
    type: str
    title: str
    description: str | None
    user: Mapping[str, Any]
    tags: tuple[str, ...] | None
    urls: tuple[str, ...] | None
    lineage: Mapping[str, Any]
    object_kind: str | None


def check_yaml_safe(value: object, what: str) -> None:
    """Refuse metadata that data.txt cannot hold for every reader (pins-python, R pins
    and pinyard read it as YAML), naming the key at fault, before anything is written."""
    problem = _yaml_problem(value, what)
    if problem:
        raise SerializationError(
            f"{problem}; {what} may hold only text, numbers, booleans, None, dates and "
            "times, lists and dicts with text keys (it goes into data.txt as YAML)"
        )


def _yaml_problem(value: object, where: str) -> str | None:
    """Why ``value`` (at key path ``where``) cannot go into data.txt, or None."""
    if value is None or type(value) in (bool, int, float, datetime, date):
        return None  # exact types: numpy and pandas subclasses are not what YAML writes
    if type(value) in (str, PinVersion):  # a version id is written as its text
        assert isinstance(value, str)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{where} holds text that is not valid Unicode (a lone surrogate)"
        return None
    if type(value) in (list, tuple):
        assert isinstance(value, list | tuple)
        for index, item in enumerate(value):
            problem = _yaml_problem(item, f"{where}[{index}]")
            if problem:
                return problem
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{where} has the key {key!r}, which is not text"
            problem = _yaml_problem(key, f"{where} key {key!r}") or _yaml_problem(
                item, f"{where}[{key!r}]"
            )
            if problem:
                return problem
        return None
    hint = " (use .item() for a numpy number)" if hasattr(value, "item") else ""
    if hasattr(value, "to_pydatetime"):
        hint = " (use .to_pydatetime())"
    if isinstance(value, set | frozenset):
        hint = " (use a sorted list)"
    return f"{where} holds a {type(value).__name__}{hint}"


def stage_object(
    staging: Staging, serializer: Serializer, obj: object, file_name: str, progress: bool = False
) -> FileDigest:
    """Serialise ``obj`` into the staging area, hashing it on the way."""
    meter = Progress(f"writing {file_name}", progress)

    def replay(sink: Sink) -> None:
        serializer.write(obj, SinkWriter(sink))  # type: ignore[arg-type]

    with staging.open_sink(file_name, replay) as sink:
        writer = HashingWriter(meter.wrap(sink), staging.max_pending_bytes)
        try:
            serializer.write(obj, writer)  # type: ignore[arg-type]
        except (SerializationError, InvalidArgumentError):
            raise
        except (TypeError, ValueError, NotImplementedError, OverflowError) as exc:
            raise SerializationError(
                f"type {serializer.type!r} cannot hold this {type(obj).__qualname__}: {exc}"
            ) from exc
        finally:
            writer.close()
            meter.close()
    staging.note_digest(file_name, writer.digest)
    return writer.digest


def stage_file(
    staging: Staging, source: str, file_name: str, progress: bool = False
) -> FileDigest:
    """Copy a local file into the staging area, hashing it on the way (read once)."""
    meter = Progress(f"uploading {file_name}", progress)

    def replay(sink: Sink) -> None:
        with open(source, "rb") as again:
            while chunk := again.read(READ_CHUNK):
                sink(chunk)

    with open(source, "rb") as src, staging.open_sink(file_name, replay) as sink:
        writer = HashingWriter(meter.wrap(sink), staging.max_pending_bytes)
        with writer:
            while chunk := src.read(READ_CHUNK):
                writer.write(chunk)
    meter.close()
    staging.note_digest(file_name, writer.digest)
    return writer.digest


def upload_names(paths: Sequence[str | os.PathLike[str]]) -> list[tuple[str, str]]:
    """(source path, stored base name) for each file given to ``pin_upload``."""
    if not paths:
        raise InvalidArgumentError("pin_upload needs at least one file path")
    pairs = []
    for path in paths:
        source = os.fspath(path)
        if not os.path.isfile(source):
            raise InvalidArgumentError(f"pin_upload: {source!r} is not an existing file")
        pairs.append((source, validate_identifier(os.path.basename(source), "file name")))
    names = [b for _, b in pairs]
    duplicates = sorted({b for b in names if names.count(b) > 1})
    if duplicates:
        raise InvalidArgumentError(
            f"pin_upload: several files share the base name(s) {duplicates}; "
            "a version stores files by base name, so rename them apart"
        )
    return pairs


def build_meta(
    draft: Draft,
    files: list[tuple[str, FileDigest]],
    latest: str | None,
    now: datetime,
    stamp: datetime | None = None,
    existing: Sequence[str] = (),
) -> PinMeta:
    """The metadata of a new version whose files have the given digests.

    ``now`` is the true write time (``written_at``); ``stamp``, when given,
    is the time the version id carries (pins' ``created`` argument): a
    back-dated version sorts by that time, not after ``latest``, and after
    the ``existing`` versions of the same second.
    """
    pin_hash = combined_pin_hash([d.xxh64 for _, d in files])
    if stamp is not None:
        version = backdated_version_id(stamp, pin_hash, existing)
    else:
        version = next_version_id(now, pin_hash, latest)
    return PinMeta(
        name=draft.name,
        version=PinVersion(version),
        type=draft.type,
        title=draft.title,
        description=draft.description,
        created=version.split("-", 1)[0],
        pin_hash=pin_hash,
        file_names=tuple(n for n, _ in files),
        file_sizes=tuple(d.size for _, d in files),
        tags=draft.tags,
        urls=draft.urls,
        user=dict(draft.user),
        files=tuple(FileRecord(n, d.size, d.sha256) for n, d in files),
        object_kind=draft.object_kind,
        written_at=now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        lineage=dict(draft.lineage),
        metadata_verified=True,  # what to_data_txt writes is covered by its digest
    )


def same_content(new: PinMeta, old: PinMeta) -> bool:
    """True when two versions hold the same bytes under the same file names."""
    if old.written_by_pinyard:
        return [(f.name, f.sha256) for f in old.files] == [(f.name, f.sha256) for f in new.files]
    return old.pin_hash == new.pin_hash and old.file_names == new.file_names


def bump(meta: PinMeta, after: str) -> PinMeta:
    """The same version moved to an id that sorts after ``after``."""
    return _moved(meta, next_version_id(meta.created_at, meta.pin_hash, after))


def _moved(meta: PinMeta, version: str) -> PinMeta:
    return replace(meta, version=PinVersion(version), created=version.split("-", 1)[0])


def make_draft(
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
    """Check the caller's metadata arguments (before any byte is written) into a `Draft`."""
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidArgumentError(f"metadata must be a dict, got {type(metadata).__name__}")
    if isinstance(tags, str) or isinstance(urls, str):
        raise InvalidArgumentError("tags and urls are lists of strings, not one string")
    checked = ((metadata, "metadata"), (lineage, "lineage"), (tags, "tags"), (urls, "urls"),
               (title, "title"), (description, "description"))  # fmt: skip
    for value, what in checked:
        if value is not None:
            check_yaml_safe(dict(value) if isinstance(value, Mapping) else value, what)
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


def commit(
    store: Store,
    pin_dir: str,
    draft: Draft,
    stage: Callable[[Staging], list[tuple[str, FileDigest]]],
    read_meta: Callable[[str], PinMeta],
    *,
    force_identical_write: bool,
    created: datetime | None,
) -> WriteResult:
    """Stage a version's files, then publish it unless it repeats the latest version.

    The new id sorts after the pin's newest version folder, committed or not
    (one listing of the pin's folder). Identical content is looked for only
    when that folder's id carries the same hash prefix, so a typical write
    reads no metadata; if that folder is not committed yet (another writer of
    the same bytes may be publishing there), the id is not moved past it, so
    both writers meet at one id. A collision with another writer's id is
    retried under a later id; identical bytes published by someone else at
    the same id count as this write.

    A pin with no version folder yet is new: its name must not fold (case, Unicode
    form) onto another pin's, which costs one listing of the pins folder, once.

    A store may stream large files to their final place in a second pass
    (see `Staging.open_sink`); if those bytes differ from the first pass,
    the version is staged again the plain way.
    """
    args = (store, pin_dir, draft, stage, read_meta, force_identical_write, created)
    try:
        return _commit(*args, replay=True)
    except ReplayMismatchError:
        log.warning(
            "pin %r: the object serialized to different bytes twice; writing it once, "
            "through staging",
            draft.name,
        )
        return _commit(*args, replay=False)


def _commit(
    store: Store,
    pin_dir: str,
    draft: Draft,
    stage: Callable[[Staging], list[tuple[str, FileDigest]]],
    read_meta: Callable[[str], PinMeta],
    force_identical_write: bool,
    created: datetime | None,
    *,
    replay: bool,
) -> WriteResult:
    staging = store.new_staging(pin_dir, replay=replay)
    try:
        files = stage(staging)
        now = datetime.now(UTC)  # the true write time, unique to this attempt
        stamp = created.astimezone(UTC) if created else None  # the caller's `created`
        folders = store.version_folders(pin_dir)
        if not folders:  # a new pin: its name must not collide with another's
            refuse_collision(draft.name, store.list_names(pin_dir.rpartition("/")[0]), store.url)
        latest = folders[-1] if folders else None
        meta = build_meta(draft, files, latest, now, stamp, folders)
        if latest is not None and latest.rsplit("-", 1)[1] == meta.pin_hash[:5]:
            previous = _committed_meta(read_meta, latest)
            if previous is None:  # uncommitted: order after the folder before it
                meta = build_meta(
                    draft, files, folders[-2] if len(folders) > 1 else None, now, stamp,
                    folders[:-1],
                )  # fmt: skip
            elif same_content(meta, previous) and not force_identical_write:
                return _identical(previous)
        for _ in range(PUBLISH_ATTEMPTS):
            try:
                staging.publish(f"{pin_dir}/{meta.version}", META_FILENAME, meta.to_data_txt())
            except FileExistsError:
                existing = _committed_meta(read_meta, meta.version)
                same = existing is not None and same_content(meta, existing)
                if existing is not None and same and not force_identical_write:
                    return _identical(existing)
                folders = store.version_folders(pin_dir)
                if created is not None:  # back-dated: the next free second of its own
                    meta = _moved(meta, backdated_version_id(created, meta.pin_hash, folders))
                else:
                    meta = bump(meta, max(folders[-1] if folders else meta.version, meta.version))
                continue
            log.info("pin %r: wrote version %s", draft.name, meta.version)
            return WriteResult(**_fields(meta), written=True)
        raise ConflictError(
            f"pin {draft.name!r}: {PUBLISH_ATTEMPTS} attempts to publish a new version "
            "collided with other writers; try again"
        )
    finally:
        staging.discard()


def _identical(previous: PinMeta) -> WriteResult:
    """Nothing written: say so as pins does (its words, through logging), and return the
    version that already holds this content."""
    log.warning(
        'The hash of pin "%s" has not changed. Your pin will not be stored. (It equals '
        "version %s; pass force_identical_write=True to store a new version anyway.)",
        previous.name,
        previous.version,
    )
    return WriteResult(**_fields(previous), written=False)


def _committed_meta(read_meta: Callable[[str], PinMeta], version: str) -> PinMeta | None:
    """A version's metadata, or None while its folder holds no data.txt."""
    try:
        return read_meta(version)
    except VersionNotFoundError:
        return None


def _fields(meta: PinMeta) -> dict[str, Any]:
    return {f: getattr(meta, f) for f in PinMeta.__dataclass_fields__}


def check_requested_hash(meta: PinMeta, wanted: str) -> None:
    """``pin_read(hash=)``: the version's pin_hash (or a 5+ hex prefix) or a file's sha256."""
    wanted = wanted.lower()
    sha = [f.sha256 for f in meta.files]
    matches = (len(wanted) >= 5 and meta.pin_hash.startswith(wanted)) or wanted in sha
    if not matches:
        raise HashMismatchError(
            f"Specified hash {wanted!r} doesn't match pin hash {meta.pin_hash!r}: pin "
            f"{meta.name!r} version {meta.version} has pin_hash {meta.pin_hash}"
            f"{' and sha256 ' + ', '.join(sha) if sha else ''}, not the requested one "
            f"(see pin_versions({meta.name!r}) for each version's hash)"
        )
