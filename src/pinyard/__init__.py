"""pinyard: immutable, content-hashed versions of models, data and runs on storage you have.

Start with a board::

    import pinyard

    board = pinyard.board_folder("my-board")       # or board("s3://bucket/path"), ...
    meta = board.pin_write(df, "sales")             # a new immutable version
    df2 = board.pin_read("sales")                   # verified before it is parsed

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
    register_type,
)

try:
    __version__ = _package_version("pinyard")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "Board",
    "Cache",
    "ImportReport",
    "PinMeta",
    "Serializer",
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
