"""`Signature`: the columns a model takes, inferred from a prototype, checked on every call."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pinyard.errors import InvalidArgumentError, SignatureError
from pinyard.models._columns import (
    arrow_type,
    convert,
    json_int_bounds,
    kind,
    python_kind,
    type_name,
)
from pinyard.models._fastpath import numeric_plan, numeric_table
from pinyard.models._inputs import CONTAINERS, as_table, container_of, to_container

ExtraColumns = Literal["reject", "drop"]
_EXAMPLE_ROWS = 3


@dataclass(frozen=True)
class Column:
    """One input column: its name, type (an Arrow type name such as ``float64``), whether
    it may hold nulls (NaN counts as null), and its categories if it is categorical."""

    name: str
    type: str
    nullable: bool = False
    categories: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        arrow_type(self.type)  # refuses unknown type names
        if self.categories is not None and self.type != "string":
            raise SignatureError(
                f"column {self.name!r}: categories need type 'string', not {self.type!r}",
                column=self.name,
                expected="string",
                received=self.type,
            )

    def describe(self) -> str:
        """``float64``, ``string (one of 'a', 'b')``, with ``or null`` when nullable."""
        text = self.type
        if self.categories is not None:
            shown = ", ".join(repr(c) for c in self.categories[:10])
            more = ", ..." if len(self.categories) > 10 else ""
            text = f"{text} (one of {shown}{more})"
        return f"{text} or null" if self.nullable else text


@dataclass(frozen=True)
class Signature:
    """What a model takes: ordered columns, the container handed to the model
    (``pandas``, ``polars``, ``arrow`` or ``numpy``), what to do with extra
    columns (``reject`` or ``drop``), and a few example rows (synthetic unless
    the user gave them)."""

    columns: tuple[Column, ...]
    container: str = "pandas"
    extra_columns: ExtraColumns = "reject"
    examples: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not self.columns:
            raise SignatureError("a signature needs at least one column")
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise SignatureError(f"column names repeat: {names}")
        if self.container not in CONTAINERS:
            raise InvalidArgumentError(
                f"container {self.container!r} is not one of {', '.join(CONTAINERS)}"
            )
        if self.extra_columns not in ("reject", "drop"):
            raise InvalidArgumentError(
                f"extra_columns must be 'reject' or 'drop', got {self.extra_columns!r}"
            )

    # -- building --------------------------------------------------------------------

    @classmethod
    def from_prototype(
        cls,
        prototype: Any,
        *,
        examples: Any = None,
        extra_columns: ExtraColumns = "reject",
    ) -> Signature:
        """Infer a signature from data shaped like the model's input.

        ``prototype`` is a pandas or polars DataFrame, a pyarrow Table, a 2-D
        numpy array (columns named ``"0"``, ``"1"``, ...) or a dict of columns.
        Pass the training data itself: only its types, nullability and
        categories are kept. Example rows are synthetic unless ``examples``
        gives rows, or is ``"prototype"`` to keep the prototype's first rows.
        """
        container = container_of(prototype)
        table = as_table(prototype, None)
        columns = []
        for name, values in zip(table.column_names, table.columns, strict=True):
            type_str, dictionary = type_name(name, values.type)
            categories = None
            if dictionary is not None:
                categories = _categories(values)
            nulls = values.null_count
            if kind(values.type) == "float":
                nulls += pc.sum(pc.is_nan(values)).as_py() or 0
            columns.append(Column(name, type_str, nulls > 0, categories))
        signature = cls(tuple(columns), container, extra_columns)
        if examples is None:
            rows: tuple[Mapping[str, Any], ...] = (signature.synthetic_example(),)
        elif isinstance(examples, str) and examples == "prototype":
            rows = signature.rows(table.slice(0, _EXAMPLE_ROWS))
        else:
            rows = signature.rows(signature.validate(examples))
        return dataclasses.replace(signature, examples=rows)

    def allow_nulls(self, *names: str) -> Signature:
        """A copy in which the named columns accept nulls."""
        unknown = set(names) - {c.name for c in self.columns}
        if unknown:
            raise SignatureError(f"no column named {sorted(unknown)[0]!r} in the signature")
        columns = tuple(
            dataclasses.replace(c, nullable=True) if c.name in names else c for c in self.columns
        )
        return dataclasses.replace(self, columns=columns)

    # -- checking ----------------------------------------------------------------------

    def validate(self, data: Any) -> pa.Table:
        """``data`` as an Arrow table of exactly the signature's columns and types.

        Accepts what `from_prototype` does, plus Arrow record batches, a list of
        records, one record (a dict of scalars) and, for numpy signatures,
        rows as lists. Raises `SignatureError` naming the first column at fault.
        """
        plan = self._numeric_plan
        if plan is not None and isinstance(data, list | dict):
            fast = numeric_table(data, plan)
            if fast is not None:
                return fast
        table = as_table(data, self)
        if table.num_rows == 0:
            raise SignatureError("the input has no rows; send at least one")
        present = set(table.column_names)
        missing = [c for c in self.columns if c.name not in present]
        if missing:
            col = missing[0]
            raise SignatureError(
                f"column {col.name!r} is missing; the model takes {self.column_list()}",
                column=col.name,
                expected=col.describe(),
                received="missing",
            )
        extra = [n for n in table.column_names if n not in {c.name for c in self.columns}]
        if extra and self.extra_columns == "reject":
            raise SignatureError(
                f"column {extra[0]!r} is not an input of this model (it takes "
                f"{self.column_list()}); drop it, or build the bundle with "
                "extra_columns='drop'",
                column=extra[0],
                expected="absent",
                received="present",
            )
        arrays = [self._checked(c, table.column(c.name)) for c in self.columns]
        return pa.Table.from_arrays(arrays, names=[c.name for c in self.columns])

    @functools.cached_property
    def _numeric_plan(self) -> tuple[tuple[str, bool], ...] | None:
        return numeric_plan(self)

    def _checked(self, column: Column, values: pa.ChunkedArray) -> pa.ChunkedArray:
        converted = convert(column.name, values, column.type)
        if not column.nullable:
            missing = converted.null_count or _nan_count(converted)
            if missing:
                raise SignatureError(
                    f"column {column.name!r} has {missing} missing value(s) (null or NaN); "
                    "the model was given none in training. Fill them, or allow them "
                    f"with signature.allow_nulls({column.name!r})",
                    column=column.name,
                    expected=column.describe(),
                    received="null",
                )
        if column.categories is not None:
            known = pc.is_in(converted, value_set=pa.array(column.categories, pa.string()))
            if not pc.all(pc.or_kleene(known, pc.is_null(converted))).as_py():
                position = pc.index(known, False).as_py()
                bad = converted[position].as_py()
                raise SignatureError(
                    f"column {column.name!r}: {bad!r} is not a known category; expected "
                    f"{column.describe()}",
                    column=column.name,
                    expected=column.describe(),
                    received=repr(bad),
                )
        return converted

    def to_model_input(self, table: pa.Table) -> Any:
        """A validated table in the container the model was trained on."""
        return to_container(table, self)

    # -- describing ---------------------------------------------------------------------

    def column_list(self) -> str:
        """``'a' (float64), 'b' (string)`` for error messages."""
        shown = ", ".join(f"{c.name!r} ({c.describe()})" for c in self.columns[:20])
        return shown + (", ..." if len(self.columns) > 20 else "")

    def synthetic_example(self) -> dict[str, Any]:
        """One made-up row of the right types (no training value in it)."""
        return {c.name: _placeholder(c) for c in self.columns}

    def rows(self, table: pa.Table) -> tuple[dict[str, Any], ...]:
        """JSON-ready records of a table (dates and times as ISO 8601 strings)."""
        return tuple(
            {k: _jsonable(v) for k, v in row.items()} for row in table.to_pylist()[:_EXAMPLE_ROWS]
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description, stored with the model."""
        return {
            "columns": [
                {
                    "name": c.name,
                    "type": c.type,
                    "nullable": c.nullable,
                    **({"categories": list(c.categories)} if c.categories is not None else {}),
                }
                for c in self.columns
            ],
            "container": self.container,
            "extra_columns": self.extra_columns,
            "examples": [dict(r) for r in self.examples],
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Signature:
        """The inverse of `to_dict`."""
        try:
            columns = tuple(
                Column(
                    str(c["name"]),
                    str(c["type"]),
                    bool(c.get("nullable", False)),
                    None if c.get("categories") is None else tuple(map(str, c["categories"])),
                )
                for c in doc["columns"]
            )
            return cls(
                columns,
                str(doc.get("container", "pandas")),
                doc.get("extra_columns", "reject"),
                tuple(doc.get("examples") or ()),
            )
        except (KeyError, TypeError) as exc:
            raise SignatureError(f"a stored signature is malformed: {exc!r}") from None

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema of a request body: a list of records, or a mapping of columns."""
        props = {c.name: _column_schema(c) for c in self.columns}
        required = [c.name for c in self.columns]
        record = {
            "type": "object",
            "properties": props,
            "required": required,
            "additionalProperties": self.extra_columns == "drop",
        }
        # JSON Schema cannot say that arrays under different keys have one length, so
        # the columns form says it in words and in an extension keyword; the server
        # refuses unequal lengths (and empty columns) with 422 naming the lengths.
        columns = {
            "type": "object",
            "description": "A mapping of columns: every column has the same number of "
            "values, at least one.",
            "properties": {
                n: {"type": "array", "items": s, "minItems": 1} for n, s in props.items()
            },
            "required": required,
            "additionalProperties": self.extra_columns == "drop",
            "x-pinyard-equal-lengths": True,
        }
        return {
            "title": "Model input",
            "description": "Rows as a list of records, one record, or a mapping of columns.",
            "anyOf": [
                {"type": "array", "items": record, "minItems": 1},
                record,
                columns,
            ],
            "examples": [list(self.examples)],
        }


def _nan_count(values: pa.ChunkedArray) -> int:
    """NaNs in a float column without nulls (numpy on each chunk: cheaper than a compute
    kernel call per column for the small tables requests carry)."""
    if kind(values.type) != "float":
        return 0
    return sum(int(np.count_nonzero(np.isnan(chunk.to_numpy()))) for chunk in values.chunks)


def _categories(values: pa.ChunkedArray) -> tuple[str, ...]:
    dictionaries = [chunk.dictionary for chunk in values.chunks]
    seen: dict[str, None] = {}
    for dictionary in dictionaries:
        for item in dictionary.to_pylist():
            if item is not None:
                seen[str(item)] = None
    return tuple(seen)


def _placeholder(column: Column) -> Any:
    if column.categories:
        return column.categories[0]
    family = kind(arrow_type(column.type))
    if family == "time":
        if column.type == "date32":
            return "2000-01-01"
        return "2000-01-01T00:00:00" + ("Z" if "tz=" in column.type else "")
    return {"bool": False, "int": 0, "float": 0.0}.get(family, "example")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _column_schema(column: Column) -> dict[str, Any]:
    family = kind(arrow_type(column.type))
    schema: dict[str, Any]
    if column.categories is not None:
        schema = {"type": "string", "enum": list(column.categories)}
    elif family == "time":
        fmt = "date" if column.type == "date32" else "date-time"
        schema = {"type": "string", "format": fmt}
    else:
        json_type = {"bool": "boolean", "int": "integer", "float": "number"}.get(family, "string")
        schema = {"type": json_type}
        bounds = json_int_bounds(column.type)
        if bounds is not None:  # the range the server takes: beyond it is a 422
            schema["minimum"], schema["maximum"] = bounds
    schema["description"] = column.type
    if column.nullable:
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


def describe_values(column: str, values: Sequence[Any], target: str) -> SignatureError:
    """The error for a JSON column Arrow could not read: names the first bad value."""
    family = kind(arrow_type(target))
    for position, value in enumerate(values):
        if value is None:
            continue
        ok = {
            "int": (isinstance(value, int) and not isinstance(value, bool))
            or (isinstance(value, float) and value.is_integer()),
            "float": isinstance(value, int | float) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "string": isinstance(value, str),
            "time": isinstance(value, str),
        }.get(family, False)
        if not ok:
            return SignatureError(
                f"column {column!r}: expected {target}, received {python_kind(value)} "
                f"at row {position}",
                column=column,
                expected=target,
                received=python_kind(value),
            )
    return SignatureError(
        f"column {column!r}: expected {target}; the values could not be read as one type",
        column=column,
        expected=target,
    )
