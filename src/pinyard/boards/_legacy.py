"""pins' old format (``api_version`` 0), read on plain pins boards.

Older R pins (0.x) kept an unversioned pin as its files plus a ``data.txt``
directly in the pin's folder; some boards hold such a pin in a version
folder of any name (pins-python reads ``<pin>/v/``). The metadata lists
the files under ``path`` and has no hash or time. pinyard reads both
layouts, for plain pins boards only: the flat one as the single version
`FLAT_VERSION`, the other by its folder name. Nothing is written in this
format; a new write to such a pin adds an ordinary version, which is then
the pin's only listed one.
"""

from __future__ import annotations

from typing import Any

from pinyard.boards._meta import META_FILENAME, PinMeta, as_strings
from pinyard.boards._names import file_name_problem, is_version_id
from pinyard.boards._store import Store
from pinyard.boards._version import PinVersion
from pinyard.errors import MetadataError

#: The id of a pin kept flat, with no version folder (R pins 0.x, unversioned).
FLAT_VERSION = "legacy"
#: Old types -> (the type that reads them, the file read): a "table" is data.csv
#: (beside data.rds), "default" an R object in data.rds.
_READ_AS = {"table": ("csv", "data.csv"), "default": ("rds", "data.rds"), "files": ("file", "")}


def legacy_versions(store: Store, pin_dir: str) -> list[str]:
    """The old-format versions of a pin that has no ordinary version, sorted."""
    entries = store.list_dir(pin_dir)
    if any(e.name == META_FILENAME and not e.is_dir for e in entries):
        return [FLAT_VERSION]
    return [
        e.name
        for e in entries
        if e.is_dir
        and not is_version_id(e.name)
        and file_name_problem(e.name) is None
        and not e.name.startswith(".")
        and store.exists(f"{pin_dir}/{e.name}/{META_FILENAME}")
    ]


def legacy_dir(pin_dir: str, version: str) -> str:
    """The folder holding an old-format version's files."""
    return pin_dir if version == FLAT_VERSION else f"{pin_dir}/{version}"


def meta_from_v0(doc: dict[str, Any], name: str, version: str) -> PinMeta:
    """The metadata of an ``api_version`` 0 ``data.txt`` (``path:`` lists the files)."""
    if "path" not in doc:
        raise KeyError("required key 'path' (api_version 0) or 'file' (api_version 1) is missing")
    files = as_strings(doc["path"], "path")
    pin_type = doc.get("type")
    if not isinstance(pin_type, str) or not pin_type:
        raise ValueError(f"key 'type' must be a non-empty string, got {pin_type!r}")
    return PinMeta(
        name=name,
        version=PinVersion(version),
        type=pin_type,
        title=None if doc.get("title") is None else str(doc["title"]),
        description=None if doc.get("description") is None else str(doc["description"]),
        created="",
        pin_hash="",
        file_names=files,
        file_sizes=(),
        api_version=0,
        extra={k: v for k, v in doc.items() if k not in {"path", "type", "title", "description"}},
    )


def read_plan(meta: PinMeta) -> tuple[str, int] | None:
    """(type to read with, index of the file to read) for an old type, else None."""
    plan = _READ_AS.get(meta.type)
    if plan is None:
        return None
    type_name, file_name = plan
    if not file_name:
        return type_name, 0
    if file_name not in meta.file_names:
        raise MetadataError(
            f"pin {meta.name!r} version {meta.version} is of the old type {meta.type!r}, "
            f"which keeps its data in {file_name}; its data.txt lists no such file"
        )
    return type_name, meta.file_names.index(file_name)
