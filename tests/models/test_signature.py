"""Signatures: inferred from prototypes, enforced on every input, errors naming the column."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from pinyard.errors import SignatureError
from pinyard.models import Column, Signature


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [1.5, 2.5, 3.5],
            "n": [1, 2, 3],
            "flag": [True, False, True],
            "city": pd.Categorical(["Oslo", "Rome", "Oslo"]),
            "name": ["ann", "bob", "cy"],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
        }
    )


def test_inferred_from_pandas_with_types_categories_and_nullability(frame: pd.DataFrame) -> None:
    frame.loc[1, "x"] = np.nan
    sig = Signature.from_prototype(frame)
    cols = {c.name: c for c in sig.columns}
    assert [c.name for c in sig.columns] == list(frame.columns)
    assert cols["x"] == Column("x", "float64", nullable=True)
    assert cols["n"] == Column("n", "int64")
    assert cols["flag"].type == "bool"
    assert cols["city"].categories == ("Oslo", "Rome")
    assert cols["name"] == Column("name", "string")
    assert cols["when"].type.startswith("timestamp[")
    assert sig.container == "pandas"


@pytest.mark.parametrize(
    ("prototype", "container"),
    [
        (pl.DataFrame({"a": [1.0, 2.0], "b": ["u", "v"]}), "polars"),
        (pa.table({"a": [1.0, 2.0], "b": ["u", "v"]}), "arrow"),
        ({"a": [1.0, 2.0], "b": ["u", "v"]}, "pandas"),
    ],
)
def test_inferred_from_polars_arrow_and_dicts(prototype: Any, container: str) -> None:
    sig = Signature.from_prototype(prototype)
    assert [(c.name, c.type) for c in sig.columns] == [("a", "float64"), ("b", "string")]
    assert sig.container == container
    table = sig.validate([{"a": 1, "b": "w"}])
    model_input = sig.to_model_input(table)
    assert type(model_input).__module__.split(".")[0] == {
        "polars": "polars", "arrow": "pyarrow", "pandas": "pandas"
    }[container]  # fmt: skip


def test_numpy_prototype_names_columns_by_position() -> None:
    sig = Signature.from_prototype(np.arange(6, dtype="float32").reshape(3, 2))
    assert [(c.name, c.type) for c in sig.columns] == [("0", "float32"), ("1", "float32")]
    out = sig.to_model_input(sig.validate(np.array([[1.0, 2.0]])))
    assert isinstance(out, np.ndarray)
    assert out.shape == (1, 2)
    assert out.dtype == np.float32
    rows = sig.to_model_input(sig.validate([[1, 2], [3, 4]]))
    assert rows.tolist() == [[1, 2], [3, 4]]


def test_examples_are_synthetic_unless_asked(frame: pd.DataFrame) -> None:
    sig = Signature.from_prototype(frame)
    (example,) = sig.examples
    for column in ("x", "n", "name"):
        assert example[column] not in set(frame[column])
    assert example["city"] in ("Oslo", "Rome")  # a category is part of the schema anyway
    kept = Signature.from_prototype(frame, examples="prototype")
    assert kept.examples[0]["name"] == "ann"
    given = Signature.from_prototype(frame.drop(columns="when"), examples=[
        {"x": 9.0, "n": 9, "flag": False, "city": "Rome", "name": "zed"}
    ])  # fmt: skip
    assert given.examples == ({"x": 9.0, "n": 9, "flag": False, "city": "Rome", "name": "zed"},)


@pytest.mark.parametrize(
    ("prototype", "fragment"),
    [
        (pd.DataFrame({"l": [[1, 2], [3]]}), "column 'l'"),
        (pa.table({"b": pa.array([b"x"], pa.binary())}), "column 'b' has type binary"),
        (pd.DataFrame({"z": [None, None]}), "only nulls"),
        (pd.DataFrame({"m": ["a", 1.5]}), "column 'm'"),
        (np.arange(3), "2-D"),
        ([1, 2, 3], "a prototype must be"),
        ("text", "a prototype must be"),
    ],
)
def test_unsupported_prototypes_are_refused_by_column(prototype: Any, fragment: str) -> None:
    with pytest.raises(SignatureError, match=fragment.replace("(", r"\(")):
        Signature.from_prototype(prototype)


@pytest.fixture
def sig(frame: pd.DataFrame) -> Signature:
    return Signature.from_prototype(frame.drop(columns="when"))


GOOD = {"x": 1.0, "n": 2, "flag": True, "city": "Rome", "name": "dee"}


def test_accepts_records_one_record_columns_and_frames(sig: Signature) -> None:
    for data in (
        [GOOD, GOOD],
        GOOD,
        {k: [v] for k, v in GOOD.items()},
        pd.DataFrame([GOOD]),
        pa.Table.from_pylist([GOOD]),
        pa.RecordBatch.from_pylist([GOOD]),
    ):
        table = sig.validate(data)
        assert table.column_names == ["x", "n", "flag", "city", "name"]
        assert table.column("x").type == pa.float64()


def test_lossless_conversions_are_applied(sig: Signature) -> None:
    table = sig.validate([{**GOOD, "x": 3, "n": 4.0}])
    assert table.column("x").to_pylist() == [3.0]
    assert table.column("n").to_pylist() == [4]
    frame = sig.to_model_input(table)
    assert isinstance(frame["city"].dtype, pd.CategoricalDtype)
    assert list(frame["city"].cat.categories) == ["Oslo", "Rome"]


@pytest.mark.parametrize(
    ("change", "column", "expected", "received"),
    [
        ({"x": "1.5"}, "x", "float64", "string"),
        ({"x": True}, "x", "float64", "bool"),
        ({"n": 2.5}, "n", "int64", "float64"),
        ({"n": "2"}, "n", "int64", "a string ('2') at row 1"),
        ({"flag": 1}, "flag", "bool", "a number (1) at row 1"),
        ({"name": 7}, "name", "string", "a number (7) at row 1"),
        ({"x": None}, "x", "float64", "null"),
        ({"city": "Paris"}, "city", "string (one of 'Oslo', 'Rome')", "'Paris'"),
    ],
)
def test_wrong_values_name_column_expected_and_received(
    sig: Signature, change: dict[str, Any], column: str, expected: str, received: str
) -> None:
    with pytest.raises(SignatureError) as caught:
        sig.validate([GOOD, {**GOOD, **change}] if column != "x" else [{**GOOD, **change}])
    err = caught.value
    assert err.column == column
    assert err.expected == expected
    assert err.received is not None
    assert received in err.received or received in str(err)
    assert repr(column) in str(err)


def test_nan_counts_as_missing(sig: Signature) -> None:
    with pytest.raises(SignatureError, match="missing value") as caught:
        sig.validate(pd.DataFrame([{**GOOD, "x": float("nan")}]))
    assert caught.value.column == "x"
    assert sig.allow_nulls("x").validate([{**GOOD, "x": None}]).column("x").null_count == 1


def test_missing_and_extra_columns(sig: Signature) -> None:
    partial = {k: v for k, v in GOOD.items() if k != "flag"}
    with pytest.raises(SignatureError, match="'flag' is missing") as caught:
        sig.validate([partial])
    assert caught.value.received == "missing"
    with pytest.raises(SignatureError, match="'flag' is missing"):
        sig.validate(pd.DataFrame([partial]))
    with pytest.raises(SignatureError, match="'extra' is not an input") as caught:
        sig.validate([{**GOOD, "extra": 1}])
    assert caught.value.column == "extra"
    lenient = Signature(sig.columns, extra_columns="drop")
    assert lenient.validate([{**GOOD, "extra": 1}]).column_names == list(GOOD)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([], "no rows"),
        (pd.DataFrame({k: pd.Series([], dtype=object) for k in GOOD}), "no rows"),
        ("not rows", "cannot read model input"),
        ([1, 2], "records"),
        ({"x": [1.0, 2.0], "n": [1]}, "different lengths"),
        (np.ones((1, 5)), "named columns"),
    ],
)
def test_malformed_inputs(sig: Signature, data: Any, fragment: str) -> None:
    with pytest.raises(SignatureError, match=fragment):
        sig.validate(data)


def test_overflow_is_refused() -> None:
    sig = Signature((Column("small", "int8"),))
    with pytest.raises(SignatureError, match="without loss") as caught:
        sig.validate([{"small": 300}])
    assert caught.value.column == "small"
    float_col = Signature((Column("f", "float64"),))
    with pytest.raises(SignatureError, match="without loss"):
        float_col.validate([{"f": 2**53 + 1}])
    single = Signature((Column("f", "float32"),))
    assert single.validate([{"f": 0.1}]).column("f").type == pa.float32()  # rounded: allowed
    with pytest.raises(SignatureError, match="out of the range of float32"):
        single.validate([{"f": 1e300}])


def test_times_from_iso_strings() -> None:
    sig = Signature((Column("day", "date32"), Column("at", "timestamp[us, tz=UTC]")))
    table = sig.validate([{"day": "2024-02-29", "at": "2024-02-29T10:00:00Z"}])
    assert table.column("day").to_pylist() == [dt.date(2024, 2, 29)]
    with pytest.raises(SignatureError, match="'at'"):
        sig.validate([{"day": "2024-02-29", "at": "yesterday"}])


def test_round_trips_through_dict_and_describes_itself_as_json_schema(sig: Signature) -> None:
    assert Signature.from_dict(sig.to_dict()) == sig
    schema = sig.json_schema()
    record = schema["anyOf"][1]
    assert record["required"] == list(GOOD)
    assert record["properties"]["city"]["enum"] == ["Oslo", "Rome"]
    assert record["properties"]["n"]["type"] == "integer"
    assert record["additionalProperties"] is False
    with pytest.raises(SignatureError, match="malformed"):
        Signature.from_dict({"columns": [{"type": "int64"}]})


def test_bad_signatures_are_refused() -> None:
    with pytest.raises(SignatureError, match="unknown column type"):
        Column("a", "decimal")
    with pytest.raises(SignatureError, match="categories need type 'string'"):
        Column("a", "int64", categories=("1",))
    with pytest.raises(SignatureError, match="repeat"):
        Signature((Column("a", "int64"), Column("a", "int64")))
    with pytest.raises(SignatureError, match="at least one column"):
        Signature(())


NUMERIC = Signature((Column("a", "float64"), Column("b", "float64")))
MIXED = Signature((Column("a", "float64"), Column("n", "int64")))


@pytest.mark.parametrize(
    "data",
    [
        [{"a": 1.5, "b": 2}, {"a": -3, "b": 0.25}],
        {"a": 1.5, "b": 2},
        {"a": [1.5, -3], "b": [2, 0.25]},
        [{"b": 2.0, "a": 1.0}],
    ],
)
def test_plain_numbers_take_the_fast_path_with_the_same_result(data: Any) -> None:
    from pinyard.models._inputs import as_table

    fast = NUMERIC.validate(data)
    general = pa.Table.from_arrays(
        [NUMERIC._checked(c, as_table(data, NUMERIC).column(c.name)) for c in NUMERIC.columns],
        names=["a", "b"],
    )
    assert fast.equals(general)
    assert fast.schema == pa.schema([("a", pa.float64()), ("b", pa.float64())])
    mixed = MIXED.validate([{"a": 1, "n": 2}])
    assert mixed.column("n").type == pa.int64()
    assert mixed.column("a").to_pylist() == [1.0]


@pytest.mark.parametrize(
    ("signature", "record", "column", "fragment"),
    [
        (NUMERIC, {"a": True, "b": 1.0}, "a", "bool"),
        (NUMERIC, {"a": "1", "b": 1.0}, "a", "string"),
        (NUMERIC, {"a": float("nan"), "b": 1.0}, "a", "missing value"),
        (NUMERIC, {"a": None, "b": 1.0}, "a", "missing value"),
        (NUMERIC, {"a": 2**53 + 1, "b": 1.0}, "a", "without loss"),
        (NUMERIC, {"a": 1.0, "b": 1.0, "c": 1.0}, "c", "not an input"),
        (NUMERIC, {"a": 1.0}, "b", "missing"),
        (MIXED, {"a": 1.0, "n": 1.5}, "n", "without loss"),
        (MIXED, {"a": 1.0, "n": 2**64}, "n", "n"),
    ],
)
def test_the_fast_path_leaves_every_defect_to_the_checked_path(
    signature: Signature, record: dict[str, Any], column: str, fragment: str
) -> None:
    with pytest.raises(SignatureError, match=fragment) as caught:
        signature.validate([record])
    assert caught.value.column == column


@pytest.mark.parametrize(
    "data",
    [
        [{"a": 1.5, "b": 1.0}, {"a": True, "b": 1.0}],
        pd.DataFrame({"a": pd.Series([1.5, True], dtype=object), "b": [1.0, 2.0]}),
        {"a": [1.5, True], "b": [1.0, 2.0]},
    ],
)
def test_a_boolean_among_numbers_is_refused_wherever_it_stands(data: Any) -> None:
    with pytest.raises(SignatureError, match="boolean") as caught:
        NUMERIC.validate(data)
    assert caught.value.column == "a"
