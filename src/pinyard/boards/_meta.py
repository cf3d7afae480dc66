"""Version metadata: the pins ``data.txt`` (api_version 1) plus pinyard's own key.

``data.txt`` is YAML that R pins and pins-python read. pinyard writes the
fields pins writes, keys sorted as pins-python sorts them, and adds one key,
``pinyard``, that pins readers keep but ignore::

    pinyard:
      format: 1
      written_at: '2026-11-27T11:06:08.123456Z'   # true UTC write time
      object: pandas.DataFrame                    # what pin_read gives back
      files:
      - {name: df.parquet, size: 1234, sha256: 5f1c...}
      lineage: {}                                 # run id, code commit, data fingerprint
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml

from pinyard.boards._names import file_name_problem
from pinyard.boards._version import PinVersion
from pinyard.errors import MetadataError

META_FILENAME = "data.txt"
PINYARD_META_FORMAT = 1

try:  # the C loader is ~10x faster; fall back where libyaml is missing
    from yaml import CSafeDumper as _Dumper
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the platform build
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

_PINS_KEYS = (
    "api_version",
    "created",
    "description",
    "file",
    "file_size",
    "pin_hash",
    "tags",
    "title",
    "type",
    "urls",
    "user",
)


@dataclass(frozen=True)
class FileRecord:
    """One data file of a version: base name, size in bytes and sha256 (hex)."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class PinMeta:
    """Everything recorded about one committed version of a pin.

    ``name``/``version`` locate it (``version`` is a `PinVersion`: a ``str``
    with pins' ``.version``/``.created``/``.hash``); ``title`` .. ``user``
    are the pins fields. ``file_names``/``file_sizes`` are always tuples;
    ``file``/``file_size`` give them as pins does (a str/int for one file, a
    list for several). ``files`` holds pinyard's per-file digests (empty for
    versions written by pins, which record none); ``extra`` keeps unknown
    ``data.txt`` keys.
    """

    name: str
    version: PinVersion
    type: str
    title: str | None
    description: str | None
    created: str
    pin_hash: str
    file_names: tuple[str, ...]
    file_sizes: tuple[int, ...]
    api_version: int = 1
    tags: tuple[str, ...] | None = None
    urls: tuple[str, ...] | None = None
    user: Mapping[str, Any] = field(default_factory=dict)
    files: tuple[FileRecord, ...] = ()
    object_kind: str | None = None
    written_at: str | None = None
    lineage: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if type(self.version) is not PinVersion:
            object.__setattr__(self, "version", PinVersion(self.version))

    @property
    def file(self) -> str | list[str]:
        """The data file name, or a list of names for several files (as pins gives it)."""
        return self.file_names[0] if len(self.file_names) == 1 else list(self.file_names)

    @property
    def file_size(self) -> int | list[int]:
        """The data file's size in bytes, or a list for several files (as pins gives it)."""
        return self.file_sizes[0] if len(self.file_sizes) == 1 else list(self.file_sizes)

    @property
    def written_by_pinyard(self) -> bool:
        """True when the version carries pinyard's sha256 digests."""
        return bool(self.files)

    @property
    def created_at(self) -> datetime:
        """The write time: pinyard's exact UTC time, else the pins ``created`` stamp."""
        from pinyard.boards._versions import parse_created

        if self.written_at:
            return datetime.fromisoformat(self.written_at)
        return parse_created(self.created)

    def to_data_txt(self) -> bytes:
        """Serialise as the YAML text of ``data.txt``."""
        doc: dict[str, Any] = {
            "api_version": self.api_version,
            "created": self.created,
            "description": self.description,
            "file": self.file,
            "file_size": self.file_size,
            "pin_hash": self.pin_hash,
            "title": self.title,
            "type": self.type,
            "user": dict(self.user),
        }
        if self.tags is not None:
            doc["tags"] = list(self.tags)
        if self.urls is not None:
            doc["urls"] = list(self.urls)
        doc.update(self.extra)
        if self.files:
            doc["pinyard"] = {
                "format": PINYARD_META_FORMAT,
                "written_at": self.written_at,
                "object": self.object_kind,
                "files": [
                    {"name": f.name, "size": f.size, "sha256": f.sha256} for f in self.files
                ],
                "lineage": dict(self.lineage),
            }
        text = yaml.dump(doc, Dumper=_Dumper, sort_keys=True, allow_unicode=True)
        return text.encode("utf-8")


def parse_data_txt(raw: bytes, name: str, version: str, where: str) -> PinMeta:
    """Parse ``data.txt`` bytes; any defect raises `MetadataError` naming ``where``."""
    try:
        doc = yaml.load(raw.decode("utf-8"), Loader=_Loader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MetadataError(
            f"{where} is not valid YAML ({exc}); the version is unreadable"
        ) from exc
    if not isinstance(doc, dict):
        raise MetadataError(f"{where} must be a YAML mapping, got {type(doc).__name__}")
    try:
        return _meta_from_doc(doc, name, version)
    except (KeyError, TypeError, ValueError) as exc:
        raise MetadataError(f"{where} is incomplete or malformed: {exc}") from exc


def _meta_from_doc(doc: dict[str, Any], name: str, version: str) -> PinMeta:
    api = doc.get("api_version", 1 if "file" in doc else 0)
    if api == 0:  # pins' old format
        from pinyard.boards._legacy import meta_from_v0

        return meta_from_v0(doc, name, version)
    if not isinstance(api, int | float) or int(api) != 1:
        raise ValueError(
            f"api_version {api!r} is not supported; pinyard reads pins metadata api_version "
            "1 (and pins' old format, 0)"
        )
    for key in ("file", "type"):
        if key not in doc:
            raise KeyError(f"required key {key!r} is missing")
    files = as_strings(doc["file"], "file")
    sizes = _as_tuple(doc.get("file_size", ()), int, "file_size")
    pinyard = doc.get("pinyard") or {}
    if not isinstance(pinyard, dict):
        raise TypeError("key 'pinyard' must be a mapping")
    records = tuple(
        FileRecord(str(f["name"]), int(f["size"]), str(f["sha256"]))
        for f in pinyard.get("files") or ()
    )
    if records and tuple(r.name for r in records) != files:
        raise ValueError("the files listed under 'pinyard' differ from 'file'")
    tags = doc.get("tags")
    urls = doc.get("urls")
    user = doc.get("user") or {}
    if not isinstance(user, dict):
        raise TypeError("key 'user' must be a mapping")
    return PinMeta(
        name=name,
        version=PinVersion(version),
        type=_pin_type(doc["type"]),
        title=None if doc.get("title") is None else str(doc["title"]),
        description=None if doc.get("description") is None else str(doc["description"]),
        created=str(doc.get("created", "")),
        pin_hash=str(doc.get("pin_hash", "")),
        file_names=files,
        file_sizes=sizes,
        api_version=1,
        tags=None if tags is None else _as_tuple(tags, str, "tags"),
        urls=None if urls is None else _as_tuple(urls, str, "urls"),
        user=user,
        files=records,
        object_kind=pinyard.get("object"),
        written_at=pinyard.get("written_at"),
        lineage=pinyard.get("lineage") or {},
        extra={k: v for k, v in doc.items() if k not in _PINS_KEYS and k != "pinyard"},
    )


def _pin_type(value: object) -> str:
    # R's development version may write a list such as [rds, csv]: read the first.
    if isinstance(value, list) and value:
        return str(value[0])
    if isinstance(value, str) and value:
        return value
    raise ValueError(f"key 'type' must be a non-empty string, got {value!r}")


def as_strings(value: object, key: str) -> tuple[str, ...]:
    """The data file name(s) under ``key``, each checked safe to join to its folder."""
    files = _as_tuple(value, str, key)
    for file_name in files:
        problem = file_name_problem(file_name)
        if problem:
            raise ValueError(f"key {key!r}: {problem}")
    return files


def _as_tuple(value: object, kind: type, key: str) -> tuple[Any, ...]:
    items = value if isinstance(value, list | tuple) else [value]
    out = []
    for item in items:
        if kind is int and (not isinstance(item, int) or isinstance(item, bool)):
            raise TypeError(f"key {key!r} must hold integers, got {item!r}")
        if kind is str and not isinstance(item, str):
            raise TypeError(f"key {key!r} must hold strings, got {item!r}")
        out.append(item)
    return tuple(out)
