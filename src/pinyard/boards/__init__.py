"""Boards: immutable, hashed, pins-compatible versions of any object."""

from pinyard.boards._board import Board
from pinyard.boards._board_base import (
    ProtectionFactory,
    ProtectionHook,
    VersionInfo,
    register_protection,
)
from pinyard.boards._cache import Cache, CacheInfo
from pinyard.boards._constructors import (
    board,
    board_azure,
    board_folder,
    board_gcs,
    board_memory,
    board_pins,
    board_s3,
    board_temp,
)
from pinyard.boards._gc import GcReport
from pinyard.boards._hashing import FileDigest
from pinyard.boards._import import ImportReport, import_pins
from pinyard.boards._meta import FileRecord, PinMeta
from pinyard.boards._names import validate_identifier
from pinyard.boards._types import (
    Serializer,
    get_serializer,
    infer_type,
    register_type,
    registered_types,
)
from pinyard.boards._version import PinVersion
from pinyard.boards._writing import PinPayload, WriteResult

__all__ = [
    "Board",
    "Cache",
    "CacheInfo",
    "FileDigest",
    "FileRecord",
    "GcReport",
    "ImportReport",
    "PinMeta",
    "PinPayload",
    "PinVersion",
    "ProtectionFactory",
    "ProtectionHook",
    "Serializer",
    "VersionInfo",
    "WriteResult",
    "board",
    "board_azure",
    "board_folder",
    "board_gcs",
    "board_memory",
    "board_pins",
    "board_s3",
    "board_temp",
    "get_serializer",
    "import_pins",
    "infer_type",
    "register_protection",
    "register_type",
    "registered_types",
    "validate_identifier",
]
