"""What a query lists of the run records no segment covers, and which of those runs a
checkpoint holds.

The names are kept as listed (``<run_id>.json``, plus any write in progress) in
unordered sets: a cold query over 1,000 runs then compares sets of names with
the checkpoint's instead of building a path per run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

Where: TypeAlias = tuple[str, bool]  # (record path, final record?)
_SUFFIX = ".json"  # a record; anything else in a records folder is a write in progress


class Listing:
    """The names in ``started/<hour>/`` and ``records/<hour>/`` of the hours no segment
    covers (hour -> names), as one query listed them."""

    def __init__(
        self, started: Mapping[str, frozenset[str]], records: Mapping[str, frozenset[str]]
    ) -> None:
        self.started = dict(started)
        self.records = dict(records)
        self._final = frozenset[str]().union(*self.records.values())

    @property
    def key(self) -> tuple[Any, ...]:
        """Equal for equal listings (records are immutable: the same rows)."""
        return (tuple(sorted(self.started.items())), tuple(sorted(self.records.items())))

    def __bool__(self) -> bool:
        return any(self.started.values()) or any(self.records.values())

    def without(self, names: frozenset[str]) -> Listing:
        """This listing less the records named ``names`` (``<run_id>.json``)."""
        if not names:
            return self
        return Listing(
            {hour: found - names for hour, found in self.started.items()},
            {hour: found - names for hour, found in self.records.items()},
        )

    def runs(self) -> dict[str, Where]:
        """Run id -> (path of its newest record, whether that is its final record); a
        final record wins over a start record."""
        found: dict[str, Where] = {}
        for kind, final, folders in (("started", False, self.started),
                                     ("records", True, self.records)):  # fmt: skip
            for hour in sorted(folders):
                found.update(
                    {n[: -len(_SUFFIX)]: (f"{kind}/{hour}/{n}", final)
                     for n in folders[hour] if n.endswith(_SUFFIX)}
                )  # fmt: skip
        return found

    def split(
        self, names: frozenset[str], final_names: frozenset[str]
    ) -> tuple[frozenset[str], list[str]]:
        """Given the runs a checkpoint holds (``names``: ``<run_id>.json``; ``final_names``:
        those it holds as finished, failed or killed), the names of the listed runs whose
        newest record it holds, and the paths of the other runs' newest records."""
        held_final = self._final & final_names
        only_started = frozenset[str]().union(*self.started.values()) - self._final
        held = held_final | (only_started & names)
        unread = [
            *_paths("records", self.records, self._final - held_final),
            *_paths("started", self.started, only_started - held),
        ]
        return held, unread


def _paths(kind: str, folders: Mapping[str, frozenset[str]], names: Iterable[str]) -> list[str]:
    """The path of each record name in ``names`` (of the newest hour listing it)."""
    hours = sorted(folders, reverse=True)
    found = []
    for name in sorted(n for n in names if n.endswith(_SUFFIX)):
        hour = next(h for h in hours if name in folders[h])
        found.append(f"{kind}/{hour}/{name}")
    return found
