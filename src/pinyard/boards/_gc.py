"""Removing what interrupted writes leave behind: stale staging, orphan version folders,
temporary files of small local writes and incomplete multipart uploads.

None is ever read as a version or a record by pinyard. Orphans (a version folder
with data but no ``data.txt``) do confuse pins readers, which take any folder
for a version. A process killed inside `LocalStore.write_exclusive` or
`LocalStore.replace_small` leaves its ``<target>.<32 hex>.tmp`` beside the
target (anywhere on the board: a registry event, a snapshot, a run record).
Only entries untouched for ``older_than`` are removed, so a write still in
progress elsewhere is left alone.

What lies under ``runs/`` (artifacts no run refers to, series of runs that never
finished) is the tracker's to judge: boards know no record format, so the layer
above registers a `GcExtension` (see `register_gc`) that `Board.gc` calls.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pinyard.boards._meta import META_FILENAME
from pinyard.boards._names import is_safe_component, is_version_id
from pinyard.boards._store import Store
from pinyard.errors import InvalidArgumentError


@dataclass
class GcReport:
    """What `collect_garbage` removed (or would remove, with ``dry_run``)."""

    staging: list[str] = field(default_factory=list)
    orphan_versions: list[str] = field(default_factory=list)
    uploads: list[str] = field(default_factory=list)  # incomplete multipart uploads
    temporary: list[str] = field(default_factory=list)  # a killed local write's temp files
    run_artifacts: list[str] = field(default_factory=list)  # artifacts no run refers to
    run_series: list[str] = field(default_factory=list)  # series of runs that never finished

    def __str__(self) -> str:
        return (
            f"{len(self.staging)} stale staging entr{'y' if len(self.staging) == 1 else 'ies'}, "
            f"{len(self.orphan_versions)} orphan version folder(s), "
            f"{len(self.temporary)} temporary file(s), "
            f"{len(self.uploads)} incomplete upload(s), "
            f"{len(self.run_artifacts)} unreferenced run artifact(s), "
            f"{len(self.run_series)} series of unfinished runs"
        )


#: Called by `Board.gc` as ``extension(board, cutoff, dry_run, report)``: finds (and
#: unless ``dry_run`` removes) leftovers untouched since ``cutoff`` (epoch seconds),
#: adding them to ``report``.
GcExtension = Callable[[Any, float, bool, GcReport], None]
_EXTENSIONS: list[GcExtension] = []


def register_gc(extension: GcExtension) -> None:
    """Have `Board.gc` of every pinyard board also call ``extension`` (``import pinyard``
    registers the tracker's, for ``runs/``)."""
    if extension not in _EXTENSIONS:
        _EXTENSIONS.append(extension)


def gc_extensions() -> tuple[GcExtension, ...]:
    return tuple(_EXTENSIONS)


def cutoff_of(older_than: timedelta) -> float:
    """Epoch seconds before which an untouched leftover is stale."""
    if older_than < timedelta(0):
        raise InvalidArgumentError(f"older_than must not be negative, got {older_than}")
    return time.time() - older_than.total_seconds()


#: How `LocalStore` names the temporary file of a small write (``<target>.<uuid4 hex>.tmp``).
TEMPORARY_FILE = re.compile(r"\.[0-9a-f]{32}\.tmp$")


def collect_garbage(
    store: Store,
    pins_dir: str,
    staging_dir: str | None,
    older_than: timedelta,
    dry_run: bool = False,
) -> GcReport:
    """Remove staging entries and uncommitted version folders older than ``older_than``."""
    cutoff = cutoff_of(older_than)
    report = GcReport()

    def stale(path: str) -> bool:
        changed = store.newest_change(path)
        return changed is not None and changed <= cutoff

    if staging_dir is not None:
        for entry in store.list_dir(staging_dir):
            if not is_safe_component(entry.name):
                continue
            path = f"{staging_dir}/{entry.name}"
            if stale(path):
                report.staging.append(path)
    for pin in store.list_dir(pins_dir):
        if not pin.is_dir or not is_safe_component(pin.name):
            continue
        pin_dir = f"{pins_dir}/{pin.name}" if pins_dir else pin.name
        for entry in store.list_dir(pin_dir):
            path = f"{pin_dir}/{entry.name}"
            if (
                entry.is_dir
                and is_version_id(entry.name)
                and not store.exists(f"{path}/{META_FILENAME}")
                and stale(path)
            ):
                report.orphan_versions.append(path)
    report.temporary = _stale_temporary_files(store, staging_dir, cutoff)
    if not dry_run:
        for path in [*report.staging, *report.orphan_versions]:
            store.delete_tree(path)
        for path in report.temporary:
            store.delete_file(path)
    report.uploads = store.drop_stale_uploads(cutoff, dry_run)
    return report


def _stale_temporary_files(store: Store, staging_dir: str | None, cutoff: float) -> list[str]:
    """Temporary files of small local writes older than ``cutoff``, outside staging (whose
    entries go whole). Object stores write small objects in one request: none there."""
    root = store.local_path("")
    if root is None:
        return []
    found = []
    for folder, dirs, files in os.walk(root):
        relative = os.path.relpath(folder, root).replace(os.sep, "/")
        prefix = "" if relative == "." else f"{relative}/"
        if staging_dir is not None and prefix == "":
            dirs[:] = [d for d in dirs if d != staging_dir]
        for name in files:
            if not TEMPORARY_FILE.search(name):
                continue
            try:
                changed = os.stat(os.path.join(folder, name)).st_mtime
            except FileNotFoundError:  # its write just finished
                continue
            if changed <= cutoff:
                found.append(f"{prefix}{name}")
    return sorted(found)
