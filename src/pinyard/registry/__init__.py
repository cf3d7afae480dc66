"""The registry: aliases and stages over exact versions, with gated promotion,
rollback by version id and a hash-chained, tamper-evident event log.

::

    registry = pinyard.Registry(board)
    registry.set_alias("churn", "champion", "20261203T101500Z-4f2a9", reason="beats v3")
    registry.resolve("churn@champion")          # the exact version, its digests checked

Every change is an event in ``registry/<name>/events/`` on the board itself:
no server, and the same guarantees on a folder, S3, Azure and GCS.
"""

from pinyard.registry._answers import Lineage, Resolved
from pinyard.registry._events import Event, Target
from pinyard.registry._gates import Gate, GateContext, GateResult, MetricGate
from pinyard.registry._hooks import CommandHook, EventHook, HttpHook
from pinyard.registry._refs import Reference, parse_reference
from pinyard.registry._registry import Registry
from pinyard.registry._state import Config, State
from pinyard.registry._verify import VerifyReport

__all__ = [
    "CommandHook",
    "Config",
    "Event",
    "EventHook",
    "Gate",
    "GateContext",
    "GateResult",
    "HttpHook",
    "Lineage",
    "MetricGate",
    "Reference",
    "Registry",
    "Resolved",
    "State",
    "Target",
    "VerifyReport",
    "parse_reference",
]
