"""Writing one version: stream the files into staging, hash them, publish."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import yaml

from pinyard.boards._hashing import FileDigest, HashingWriter, combined_pin_hash
from pinyard.boards._meta import FileRecord, PinMeta
from pinyard.boards._names import file_name_problem
from pinyard.boards._store import Staging
from pinyard.boards._types import Serializer
from pinyard.boards._versions import next_version_id
from pinyard.errors import InvalidArgumentError, SerializationError

READ_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class WriteResult(PinMeta):
    """What ``pin_write``/``pin_upload`` did: the version's metadata plus ``written``.

    ``written`` is False when the content was identical to the pin's latest
    version and nothing new was stored; the metadata is then that version's.
    """

    written: bool = True


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
    """Refuse metadata that YAML (and so data.txt) cannot hold, before writing anything."""
    try:
        yaml.safe_dump(value)
    except yaml.YAMLError as exc:
        raise SerializationError(
            f"{what} must hold only strings, numbers, booleans, None, lists and dicts "
            f"(it goes into data.txt as YAML): {exc}"
        ) from exc


def stage_object(
    staging: Staging, serializer: Serializer, obj: object, file_name: str
) -> FileDigest:
    """Serialise ``obj`` into the staging area, hashing it on the way."""
    with staging.open_sink(file_name) as sink:
        writer = HashingWriter(sink)
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
    return writer.digest


def stage_file(staging: Staging, source: str, file_name: str) -> FileDigest:
    """Copy a local file into the staging area, hashing it on the way."""
    with open(source, "rb") as src, staging.open_sink(file_name) as sink:
        writer = HashingWriter(sink)
        with writer:
            while chunk := src.read(READ_CHUNK):
                writer.write(chunk)
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
        base = os.path.basename(source)
        problem = file_name_problem(base)
        if problem:
            raise InvalidArgumentError(f"pin_upload: {problem}; rename the file")
        pairs.append((source, base))
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
) -> PinMeta:
    """The metadata of a new version whose files have the given digests."""
    pin_hash = combined_pin_hash([d.xxh64 for _, d in files])
    version = next_version_id(now, pin_hash, latest)
    return PinMeta(
        name=draft.name,
        version=version,
        type=draft.type,
        title=draft.title,
        description=draft.description,
        created=version.split("-", 1)[0],
        pin_hash=pin_hash,
        file=tuple(n for n, _ in files),
        file_size=tuple(d.size for _, d in files),
        tags=draft.tags,
        urls=draft.urls,
        user=dict(draft.user),
        files=tuple(FileRecord(n, d.size, d.sha256) for n, d in files),
        object_kind=draft.object_kind,
        written_at=now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        lineage=dict(draft.lineage),
    )


def same_content(new: PinMeta, old: PinMeta) -> bool:
    """True when two versions hold the same bytes under the same file names."""
    if old.written_by_pinyard:
        return [(f.name, f.sha256) for f in old.files] == [(f.name, f.sha256) for f in new.files]
    return old.pin_hash == new.pin_hash and old.file == new.file


def bump(meta: PinMeta, after: str) -> PinMeta:
    """The same version moved to an id that sorts after ``after``."""
    version = next_version_id(meta.created_at, meta.pin_hash, after)
    return replace(meta, version=version, created=version.split("-", 1)[0])
