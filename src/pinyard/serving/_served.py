"""What an app answers with: one loaded bundle and everything built from it, swapped whole.

A request reads `Current.served` once, when it arrives, and uses that `Served`
to the end: its endpoints (and so its own batcher), its headers, its
documents. Replacing the reference swaps the model for the requests that
arrive afterwards; requests in flight finish on the one they started with, and
a batch never holds requests of two models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pinyard.models import ModelBundle
from pinyard.serving._predict import PredictEndpoint
from pinyard.serving._responses import json_bytes

if TYPE_CHECKING:
    from pinyard.registry import Resolved
    from pinyard.serving._follow import Follower


@dataclass(frozen=True)
class Served:
    """One verified bundle as the app serves it (``resolved``: how the registry named it)."""

    bundle: ModelBundle
    endpoints: Mapping[str, PredictEndpoint]
    headers: list[tuple[bytes, bytes]]
    metadata: dict[str, Any]
    schema: bytes
    resolved: Resolved | None = None

    @classmethod
    def build(
        cls,
        bundle: ModelBundle,
        methods: Sequence[str],
        *,
        max_body_bytes: int,
        batching: bool,
        resolved: Resolved | None = None,
    ) -> Served:
        """Endpoints for ``methods`` (each with its own batcher), headers and documents."""
        assert bundle.pin is not None
        assert bundle.sha256 is not None
        pin = bundle.pin
        endpoints = {m: PredictEndpoint(bundle, m, max_body_bytes, batching) for m in methods}
        headers = [
            (b"x-pinyard-version", pin.version.encode()),
            (b"x-pinyard-sha256", bundle.sha256.encode()),
        ]
        metadata = {
            "name": pin.name,
            "version": pin.version,
            "sha256": bundle.sha256,
            "pin_hash": pin.pin_hash,
            "created": pin.created_at.isoformat(),
            "description": bundle.description,
            "model": f"{type(bundle.model).__module__}.{type(bundle.model).__qualname__}",
            "methods": list(bundle.methods),
            "metadata": bundle.metadata,
            "signature": bundle.signature.to_dict(),
            "environment": bundle.environment,
            "lineage": bundle.lineage,
        }
        schema = json_bytes(bundle.signature.json_schema())
        return cls(bundle, endpoints, headers, metadata, schema, resolved)

    @property
    def version(self) -> str:
        assert self.bundle.pin is not None
        return self.bundle.pin.version

    @property
    def sha256(self) -> str:
        assert self.bundle.sha256 is not None
        return self.bundle.sha256

    def describe(self) -> str:
        """``version V (sha256 S, registry event N)`` for the log."""
        seq = f", registry event {self.resolved.seq}" if self.resolved else ""
        return f"version {self.version} (sha256 {self.sha256}{seq})"


class Current:
    """The `Served` an app answers with now; ``follower`` replaces it, when there is one."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.follower: Follower | None = None
        #: called with each new `Served` after the swap (the app refreshes its OpenAPI)
        self.on_swap: Callable[[Served], None] | None = None

    def swap(self, served: Served) -> None:
        """Answer new requests with ``served``; those in flight keep the one they have."""
        self.served = served
        if self.on_swap is not None:
            self.on_swap(served)

    def ping(self, served: Served) -> bytes:
        """``/ping``: ``ok``, or ``degraded`` while a follower's last check failed."""
        status = "ok" if self.follower is None or self.follower.healthy else "degraded"
        return json_bytes(
            {"status": status, "name": served.metadata["name"], "version": served.version}
        )

    def metadata(self, served: Served) -> bytes:
        """``/metadata``: the served bundle's document, and how the registry named it."""
        registry: dict[str, Any] | None = None
        if self.follower is not None:
            registry = self.follower.status()
        elif served.resolved is not None:
            registry = {"reference": f"{served.resolved.name}@{served.resolved.slot}",
                        "seq": served.resolved.seq, "following": False}  # fmt: skip
        return json_bytes({**served.metadata, "registry": registry})
