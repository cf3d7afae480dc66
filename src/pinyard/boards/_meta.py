"""Version metadata: the pins ``data.txt`` (api_version 1) plus pinyard's own key.

``data.txt`` is YAML that R pins and pins-python read. pinyard writes the
fields pins writes, keys sorted as pins-python sorts them, and adds one key,
``pinyard``, that pins readers keep but ignore::

    pinyard:
      format: 2
      written_at: '2026-11-27T11:06:08.123456Z'   # true UTC write time
      object: pandas.DataFrame                    # what pin_read gives back
      files:
      - {name: df.parquet, size: 1234, sha256: 5f1c...}
      lineage: {}                                 # run id, code commit, data fingerprint
    pinyard_digest: sha256:9a0b...                # of everything above (decision 0018)

``pinyard_digest`` is the sha256 of the document as YAML parses it back, every
key but itself (pins fields, unknown keys and the ``pinyard`` key), in canonical
JSON. It sits beside the ``pinyard`` key, not inside it, so a ``data.txt`` that
lost its ``pinyard`` key still carries pinyard's mark and fails its check rather
than reading as a pins-written version. Format 1 (pinyard before 0018) has no
digest: its files are still checked by sha256, its other fields are not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import yaml

from pinyard.boards._names import file_name_problem
from pinyard.boards._version import PinVersion
from pinyard.errors import IntegrityError, MetadataError

META_FILENAME = "data.txt"
PINYARD_META_FORMAT = 2
#: The first format of the ``pinyard`` key whose data.txt carries `DIGEST_KEY`.
DIGESTED_FORMAT = 2
#: The top-level data.txt key holding the digest of the rest (beside ``pinyard``).
DIGEST_KEY = "pinyard_digest"

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
    ``data.txt`` keys. ``metadata_verified`` says whether data.txt itself was
    covered by pinyard's digest (see the module docstring).
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
    #: True when every field of data.txt is covered by a digest that checked out
    #: (pinyard format 2); False for pins-written versions and pinyard's format 1.
    metadata_verified: bool = False

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
            # Taken over the document as readers will parse it back, so YAML's own
            # changes to a value (a tuple read as a list) are the same on both sides.
            parsed = yaml.load(_dump(doc), Loader=_Loader)
            doc[DIGEST_KEY] = f"sha256:{content_digest(parsed)}"
        return _dump(doc).encode("utf-8")


def _dump(doc: dict[str, Any]) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=True, allow_unicode=True)


def content_digest(doc: Mapping[str, Any]) -> str:
    """sha256 (hex) of a parsed data.txt without `DIGEST_KEY`: canonical JSON (keys
    sorted, compact, UTF-8), dates and times tagged by their type."""
    body = {k: v for k, v in doc.items() if k != DIGEST_KEY}
    text = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_tagged
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _tagged(value: object) -> object:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    raise TypeError(f"a {type(value).__name__} in data.txt")


def _check_digest(doc: dict[str, Any], name: str, version: str, where: str) -> bool:
    """Check a parsed data.txt against its `DIGEST_KEY` before any field is used; True
    when it is covered and checked, False for documents that carry none (written by
    pins, or by pinyard before 0018). `IntegrityError` for an edit or damage."""
    claimed = doc.get(DIGEST_KEY)
    pinyard = doc.get("pinyard")
    fmt = pinyard.get("format", 1) if isinstance(pinyard, dict) else None
    what = f"data.txt of pin {name!r} version {version} ({where})"
    if claimed is None:
        if pinyard is not None and not isinstance(pinyard, dict):
            raise IntegrityError(f"{what} is damaged: its 'pinyard' key is not a mapping")
        if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt < DIGESTED_FORMAT:
            return False  # written by pinyard before data.txt carried a digest
        if fmt is not None:
            raise IntegrityError(
                f"{what} was edited after it was written: its {DIGEST_KEY!r} key is gone "
                f"(pinyard format {fmt!r} always writes one); nothing of the version is read"
            )
        return False  # no pinyard key and no digest: a version pins wrote
    if not isinstance(claimed, str) or not claimed.startswith("sha256:"):
        raise IntegrityError(f"{what} is damaged: {DIGEST_KEY!r} is {claimed!r}")
    try:
        actual = content_digest(doc)
    except (TypeError, ValueError) as exc:
        raise IntegrityError(f"{what} is damaged: {exc}") from exc
    if actual != claimed.removeprefix("sha256:"):
        lost = " and has lost its 'pinyard' key" if pinyard is None else ""
        raise IntegrityError(
            f"{what} was edited or damaged after pinyard wrote it{lost}: it records "
            f"{DIGEST_KEY} {claimed}, its content hashes to sha256:{actual}. Nothing of "
            "the version is read; restore data.txt from a backup (its data files may be "
            "intact)"
        )
    return True


def parse_data_txt(raw: bytes, name: str, version: str, where: str) -> PinMeta:
    """Parse ``data.txt`` bytes, checked against pinyard's digest when it carries one
    (`IntegrityError` if edited or damaged); any other defect raises `MetadataError`
    naming the pin, the version and ``where``."""
    what = f"data.txt of pin {name!r} version {version} ({where})"
    try:
        doc = yaml.load(raw.decode("utf-8"), Loader=_Loader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MetadataError(
            f"{what} is not valid YAML ({exc}); the version is unreadable"
        ) from exc
    if not isinstance(doc, dict):
        raise MetadataError(f"{what} must be a YAML mapping, got {type(doc).__name__}")
    verified = _check_digest(doc, name, version, where)
    try:
        meta = _meta_from_doc(doc, name, version)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MetadataError(f"{what} is incomplete or malformed: {exc}") from exc
    return replace(meta, metadata_verified=True) if verified else meta


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
        extra={
            k: v
            for k, v in doc.items()
            if k not in _PINS_KEYS and k not in ("pinyard", DIGEST_KEY)
        },
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
