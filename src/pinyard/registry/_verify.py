"""Checking one chain end to end: its events, its snapshot, the versions it holds."""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pinyard.boards import Board, Cache
from pinyard.errors import ChainError, PinyardError

if TYPE_CHECKING:
    from pinyard.registry._chain import Chain
    from pinyard.registry._reads import RegistryReads


@dataclass
class VerifyReport:
    """What `Registry.verify` found for one name (``.board``: the settings chain): ``ok``
    when ``problems`` is empty; ``chain_broken`` when the events or their snapshot were."""

    name: str
    events: int = 0
    head: str | None = None
    problems: list[str] = field(default_factory=list)
    checked_versions: list[str] = field(default_factory=list)
    chain_broken: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(reads: RegistryReads, name: str, chain: Chain) -> VerifyReport:
    """Replay ``chain`` from its first event, compare the snapshot with the replay and
    re-hash every version an alias or stage holds, collecting every problem."""
    report = VerifyReport(name)
    try:
        state = chain.replay()
    except ChainError as exc:
        report.problems.append(str(exc))
        report.chain_broken = True
        return report
    report.events, report.head = state.seq, state.head
    report.problems.extend(chain.snapshot_problems(state))
    report.chain_broken = bool(report.problems)
    held = set(state.aliases.values()) | set(state.stage_holders().values())
    for version in sorted(held):
        try:
            reads._check_target(name, state.targets[version], f"{name}:{version}")
            reads.board.pin_download(name, version)
        except PinyardError as exc:
            report.problems.append(str(exc))
        else:
            report.checked_versions.append(version)
    return report


@contextmanager
def uncached(board: Board) -> Iterator[Board]:
    """``board`` with an empty temporary cache (a remote board's): what verify re-hashes
    must be the board's bytes, not copies this machine cached when they were still good."""
    if board.cache is None:
        yield board
        return
    with tempfile.TemporaryDirectory(prefix="pinyard-verify-") as root:
        fresh = copy.copy(board)
        fresh.cache = Cache(root)
        yield fresh
