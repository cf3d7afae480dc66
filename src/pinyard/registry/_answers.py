"""What the registry's reads answer: a resolved reference, and a version's lineage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pinyard.tracking import RunRecord


@dataclass(frozen=True)
class Resolved:
    """What a reference points at: one exact version, with the digests that pin it.

    ``slot`` is the alias or stage it came through (None for ``name:VERSION``),
    ``seq`` the event that set it, ``meta_sha256`` the digest of the
    version's ``data.txt`` (checked against the board when resolved).
    """

    name: str
    version: str
    meta_sha256: str
    files: dict[str, str]
    slot: str | None = None
    seq: int | None = None

    def __str__(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class Lineage:
    """Where a version came from: its digests, the run that made it and what it logged."""

    name: str
    version: str
    meta_sha256: str
    files: dict[str, str]
    created: datetime
    holders: list[str]
    run_id: str | None
    experiment: str | None
    params: dict[str, Any]
    metrics: dict[str, Any]
    data: dict[str, Any]
    code_commit: str | None
    run: RunRecord | None = None

    def as_dict(self) -> dict[str, Any]:
        doc = {k: v for k, v in self.__dict__.items() if k != "run"}
        doc["created"] = self.created.isoformat()
        doc["run_status"] = self.run.status if self.run else None
        return doc
