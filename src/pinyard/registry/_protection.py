"""The protection hook every pinyard board gets: no deleting what an alias or stage holds."""

from __future__ import annotations

from pinyard.boards import ProtectionHook
from pinyard.boards._board_base import BoardBase
from pinyard.errors import ChainError
from pinyard.registry._chain import Chain
from pinyard.registry._reads import REGISTRY_DIR


def protection_for(board: BoardBase) -> ProtectionHook:
    """A hook that names what holds a version (``alias @champion``, ``stage production``).

    A version in the archive stage is not protected. A name whose chain is
    broken protects all of its versions until `Registry.verify` is clean.
    """

    def holders(name: str, version: str) -> str | None:
        chain = Chain(board.store, f"{REGISTRY_DIR}/{name}", name)
        try:
            state = chain.load()
        except ChainError as exc:
            return f"the registry of {name!r} cannot be read ({exc}), so nothing of it is deleted"
        labels = state.holders_of(version)
        if not labels:
            return None
        return (
            f"{' and '.join(labels)} of the registry hold it; move them first "
            f"(pinyard registry rollback / remove-alias / transition)"
        )

    return holders


__all__ = ["protection_for"]
