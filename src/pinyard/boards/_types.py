"""Serializers: how an object becomes the data file of a pin, and back.

Each pins ``type`` (``parquet``, ``arrow``, ``csv``, ``json``, ``joblib``,
and read-only ``rds``) is one `Serializer` in a registry. A third party adds
a type with `register_type`; the board looks types up by name, or picks one
with `infer_type` when ``pin_write`` is called without ``type``.
"""

from __future__ import annotations

import io
import json
import re
from abc import ABC, abstractmethod
from typing import Any, BinaryIO, ClassVar

from pinyard.boards._names import MAX_EXTENSION_BYTES
from pinyard.errors import SerializationError, UnsupportedTypeError

_EXTENSION = re.compile(rf"[A-Za-z0-9]{{1,{MAX_EXTENSION_BYTES}}}")

PANDAS_DATAFRAME = "pandas.DataFrame"
ARROW_TABLE = "pyarrow.Table"


class Serializer(ABC):
    """One pin type: writes an object to a binary stream and reads it back.

    Subclasses set ``type`` (the pins type name, written to ``data.txt``),
    ``extension`` (the data file is ``<pin name>.<extension>``) and
    ``pickles`` (True when reading can run code, as unpickling does: pinyard
    then reads only versions whose digest verified).
    """

    type: ClassVar[str]
    extension: ClassVar[str]
    pickles: ClassVar[bool] = False
    can_write: ClassVar[bool] = True

    @abstractmethod
    def accepts(self, obj: object) -> bool:
        """True when `write` can store this object."""

    def object_kind(self, obj: object) -> str:
        """A label recorded with the version so `read` can return the same kind of object."""
        return f"{type(obj).__module__}.{type(obj).__qualname__}"

    def describe(self, obj: object) -> str:
        """A short description for the default title (``"<name>: a pinned <description>"``)."""
        return f"{type(obj).__qualname__} object"

    @abstractmethod
    def write(self, obj: Any, stream: BinaryIO) -> None:
        """Write ``obj`` to ``stream`` (write-only and not seekable)."""

    @abstractmethod
    def read(self, stream: BinaryIO, object_kind: str | None) -> Any:
        """Read the object back from a seekable binary stream."""


def _is_pandas(obj: object) -> bool:
    return type(obj).__module__.startswith("pandas") and type(obj).__name__ == "DataFrame"


def _is_arrow_table(obj: object) -> bool:
    return type(obj).__module__.startswith("pyarrow") and type(obj).__name__ == "Table"


def _is_table(obj: object) -> bool:
    return _is_pandas(obj) or _is_arrow_table(obj)


class _TableSerializer(Serializer):
    """Shared parts of the data-frame types: pandas DataFrames and pyarrow Tables."""

    def accepts(self, obj: object) -> bool:
        return _is_table(obj)

    def object_kind(self, obj: object) -> str:
        return ARROW_TABLE if _is_arrow_table(obj) else PANDAS_DATAFRAME

    def describe(self, obj: object) -> str:
        rows, cols = (obj.num_rows, obj.num_columns) if _is_arrow_table(obj) else obj.shape  # type: ignore[attr-defined]
        return f"{rows} x {cols} {'Table' if _is_arrow_table(obj) else 'DataFrame'}"


class ParquetSerializer(_TableSerializer):
    type = "parquet"
    extension = "parquet"

    def write(self, obj: Any, stream: BinaryIO) -> None:
        import pyarrow.parquet as pq

        if _is_arrow_table(obj):
            pq.write_table(obj, stream)
        else:
            obj.to_parquet(stream)

    def read(self, stream: BinaryIO, object_kind: str | None) -> Any:
        import pyarrow.parquet as pq

        table = pq.read_table(stream)
        return table if object_kind == ARROW_TABLE else table.to_pandas()


class ArrowSerializer(_TableSerializer):
    """Arrow IPC file (Feather v2), as R's ``arrow::write_feather`` writes it."""

    type = "arrow"
    extension = "arrow"

    def write(self, obj: Any, stream: BinaryIO) -> None:
        from pyarrow import feather

        if _is_arrow_table(obj):
            feather.write_feather(obj, stream)
        else:
            obj.to_feather(stream)

    def read(self, stream: BinaryIO, object_kind: str | None) -> Any:
        from pyarrow import feather

        table = feather.read_table(stream)
        return table if object_kind == ARROW_TABLE else table.to_pandas()


class CsvSerializer(_TableSerializer):
    """Comma-separated text without the index, readable by R's ``read.csv``."""

    type = "csv"
    extension = "csv"

    def write(self, obj: Any, stream: BinaryIO) -> None:
        if _is_arrow_table(obj):
            import pyarrow.csv as pacsv

            pacsv.write_csv(obj, stream)
            return
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=True)
        obj.to_csv(text, index=False)
        text.flush()
        text.detach()

    def read(self, stream: BinaryIO, object_kind: str | None) -> Any:
        if object_kind == ARROW_TABLE:
            import pyarrow.csv as pacsv

            return pacsv.read_csv(stream)
        import pandas as pd

        return pd.read_csv(stream)


class JsonSerializer(Serializer):
    """Strict, canonical JSON: keys sorted (equal dicts, equal bytes, one version), and
    no NaN or Infinity, which other JSON readers reject."""

    type = "json"
    extension = "json"

    def accepts(self, obj: object) -> bool:
        return isinstance(obj, dict | list | str | int | float | bool) or obj is None

    def object_kind(self, obj: object) -> str:
        return "json"

    def write(self, obj: Any, stream: BinaryIO) -> None:
        try:
            # Sorted keys: equal dicts give equal bytes, so equal content dedupes.
            text = json.dumps(obj, allow_nan=False, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise SerializationError(
                f"type 'json' cannot hold this {type(obj).__qualname__}: {exc}. "
                "JSON holds dicts with string keys, lists, strings, finite numbers, "
                "booleans and None; use type='joblib' for other Python objects."
            ) from exc
        stream.write(text.encode("utf-8"))

    def read(self, stream: BinaryIO, object_kind: str | None) -> Any:
        return json.loads(stream.read())


class JoblibSerializer(Serializer):
    """Any picklable Python object, through joblib (fast for numpy arrays).

    Reading unpickles, which can run code chosen by whoever wrote the file:
    pinyard reads a joblib version only after its sha256 verified, so the
    bytes are exactly what the writer stored, but it cannot tell whether the
    writer is trustworthy. Read pickles only from boards your team controls.
    """

    type = "joblib"
    extension = "joblib"
    pickles = True

    def accepts(self, obj: object) -> bool:
        return True

    def write(self, obj: Any, stream: BinaryIO) -> None:
        import pickle

        import joblib

        try:
            joblib.dump(obj, stream)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise SerializationError(
                f"type 'joblib' cannot hold this {type(obj).__qualname__}: it cannot be "
                f"pickled ({exc}). Pin the data it holds instead of the live object."
            ) from exc

    def read(self, stream: BinaryIO, object_kind: str | None) -> Any:
        import joblib

        return joblib.load(stream)


class RdsSerializer(Serializer):
    """R's ``.rds`` files, read (not written) through the ``rdata`` package."""

    type = "rds"
    extension = "rds"
    can_write = False

    def accepts(self, obj: object) -> bool:
        return False

    def write(self, obj: Any, stream: BinaryIO) -> None:
        raise UnsupportedTypeError("type 'rds' is read-only in pinyard; write 'parquet' instead")

    def read(self, stream: BinaryIO, object_kind: str | None) -> Any:
        try:
            import rdata
        except ImportError as exc:
            raise UnsupportedTypeError(
                "reading type 'rds' needs the 'rdata' package: pip install rdata"
            ) from exc
        return rdata.read_rds(stream)


_REGISTRY: dict[str, Serializer] = {}
#: Older names still read (and, with a DeprecationWarning, written): pins' ``feather``
#: is the Arrow IPC file that type ``arrow`` stores.
TYPE_ALIASES = {"feather": "arrow"}


def register_type(serializer: Serializer, *, replace: bool = False) -> None:
    """Make a pin type available to every board by its ``serializer.type`` name."""
    name = serializer.type
    if name == "file":
        raise UnsupportedTypeError("type 'file' is built in (pin_upload); choose another name")
    extension = getattr(serializer, "extension", "")
    if not _EXTENSION.fullmatch(extension):
        raise UnsupportedTypeError(
            f"type {name!r} has extension {extension!r}: an extension is 1 to "
            f"{MAX_EXTENSION_BYTES} ASCII letters or digits, so that every valid pin name "
            "plus the extension fits a file name"
        )
    if name in _REGISTRY and not replace:
        raise UnsupportedTypeError(
            f"type {name!r} is already registered; pass replace=True to override it"
        )
    _REGISTRY[name] = serializer


def get_serializer(type_name: str) -> Serializer:
    """The serializer registered under ``type_name`` (or an alias of it, `TYPE_ALIASES`),
    or `UnsupportedTypeError`."""
    try:
        return _REGISTRY[TYPE_ALIASES.get(type_name, type_name)]
    except KeyError:
        known = ", ".join(sorted([*_REGISTRY, "file"]))
        raise UnsupportedTypeError(
            f"unknown pin type {type_name!r}; known types: {known}"
        ) from None


def registered_types() -> tuple[str, ...]:
    """Names of every registered type, sorted."""
    return tuple(sorted(_REGISTRY))


def infer_type(obj: object) -> str:
    """The type ``pin_write`` uses when none is given.

    pandas DataFrame or pyarrow Table -> ``parquet``; dict or list ->
    ``json``; anything else -> ``joblib``.
    """
    if _is_table(obj):
        return "parquet"
    if isinstance(obj, dict | list):
        return "json"
    return "joblib"


for _serializer in (
    ParquetSerializer(),
    ArrowSerializer(),
    CsvSerializer(),
    JsonSerializer(),
    JoblibSerializer(),
    RdsSerializer(),
):
    register_type(_serializer)
