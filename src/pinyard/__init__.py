"""pinyard: immutable, content-hashed versions of models, data and runs on storage you have.

Start with a board::

    import pinyard

    board = pinyard.board_folder("my-board")       # or board("s3://bucket/path"), ...
    meta = board.pin_write(df, "sales")             # a new immutable version
    df2 = board.pin_read("sales")                   # verified before it is parsed

The other views of the same board are built on it::

    tracker = pinyard.Tracker(board, "churn")       # experiment runs
    registry = pinyard.Registry(board)              # aliases, stages, promotion

The pins part of a board (``<root>/pins``) is readable by R pins and
pins-python as it is. Errors are in `pinyard.errors`.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _package_version

from pinyard.boards import (
    Board,
    Cache,
    ImportReport,
    PinMeta,
    Serializer,
    VersionInfo,
    WriteResult,
    board,
    board_azure,
    board_folder,
    board_gcs,
    board_memory,
    board_pins,
    board_s3,
    board_temp,
    import_pins,
    register_protection,
    register_type,
)
from pinyard.boards._gc import register_gc as _register_gc
from pinyard.registry import Registry
from pinyard.registry._protection import protection_for as _registry_protection
from pinyard.tracking import Tracker
from pinyard.tracking._gc import collect_runs_garbage as _runs_gc

# Every pinyard board refuses to delete a version an alias or a stage holds, in any
# process that imports pinyard (boards know no registry; the registry plugs in here).
register_protection(_registry_protection)
# and `Board.gc` looks under runs/ through the tracker, which knows what a record holds.
_register_gc(_runs_gc)

try:
    __version__ = _package_version("pinyard")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "Board",
    "Cache",
    "ImportReport",
    "PinMeta",
    "Registry",
    "Serializer",
    "Tracker",
    "VersionInfo",
    "WriteResult",
    "__version__",
    "board",
    "board_azure",
    "board_folder",
    "board_gcs",
    "board_memory",
    "board_pins",
    "board_s3",
    "board_temp",
    "import_pins",
    "register_type",
]
