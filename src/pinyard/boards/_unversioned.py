"""``versioned=False``: pins' "one version kept", done without touching a committed version.

pins deletes a pin's version and then writes the new one in its place. pinyard
writes the new version first, as any other, and only then deletes the
version(s) it replaces, so a crash or a failed write never leaves the pin
empty and a reader never sees a half-replaced version. The rules are pins':

* ``versioned=None`` takes the board's setting, except that a pin which
  already has several versions stays versioned;
* ``versioned=False`` on a pin with several versions is refused (deleting
  its history needs an explicit prune or delete);
* a version a protection hook keeps (an alias, a stage) is kept, and said so.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pinyard.boards._meta import META_FILENAME
from pinyard.errors import InvalidArgumentError

if TYPE_CHECKING:
    from pinyard.boards._board_base import BoardBase

log = logging.getLogger("pinyard")


def versions_to_replace(board: BoardBase, name: str, versioned: bool | None) -> list[str] | None:
    """The committed versions a write of ``name`` replaces, or None when the write keeps
    every version. Lists the pin only when the write may be unversioned."""
    if versioned is True or (versioned is None and board.versioned):
        return None
    existing = board.store.committed_versions(board._pin_dir(name), META_FILENAME)
    if len(existing) <= 1:
        return existing
    if versioned is None:  # pins: a pin with history stays versioned
        return None
    raise InvalidArgumentError(
        f"Pin is versioned, but you have requested a write without versions: pin {name!r} "
        f"has {len(existing)} versions and versioned=False keeps one. To un-version it, "
        f"first pin_versions_prune({name!r}, n=1) (or pin_delete it), or write with "
        "versioned=True."
    )


def drop_replaced(board: BoardBase, name: str, replaced: list[str], new_version: str) -> None:
    """Delete the versions a new, committed version replaces (protected ones are kept)."""
    doomed = []
    for old in replaced:
        if old == new_version:
            continue
        reason = board._protection(name, old)
        if reason:
            log.warning(
                "pin %r: keeping version %s although the write is unversioned, because it "
                "is protected (%s); the pin now has several versions, so later writes "
                "keep versions (pins' rule) until it is pruned",
                name,
                old,
                reason,
            )
            continue
        log.info("pin %r: replacing version %r with %r", name, old, new_version)
        doomed.append(old)
    board._delete_versions(name, doomed)
