"""The rule a following server swaps by: the new model accepts every request the old one did."""

from __future__ import annotations

import dataclasses

import pytest

from pinyard.errors import SignatureError
from pinyard.models import Column, Signature
from pinyard.serving._compat import check_compatible

METHODS = ("predict", "predict_proba")
SERVED = Signature(
    (
        Column("x", "float64"),
        Column("n", "int64", nullable=True),
        Column("plan", "string", categories=("basic", "pro")),
        Column("note", "string"),
    )
)


def with_column(signature: Signature, name: str, **changes: object) -> Signature:
    columns = tuple(
        dataclasses.replace(c, **changes) if c.name == name else c  # type: ignore[arg-type]
        for c in signature.columns
    )
    return dataclasses.replace(signature, columns=columns)


@pytest.mark.parametrize(
    "new",
    [
        SERVED,
        with_column(SERVED, "x", nullable=True),  # accepts nulls it refused: wider
        with_column(SERVED, "plan", categories=("basic", "pro", "team")),
        with_column(SERVED, "plan", categories=None),  # any string
        dataclasses.replace(SERVED, extra_columns="drop"),
        dataclasses.replace(SERVED, container="polars"),  # not seen by clients
    ],
)
def test_a_model_that_accepts_every_request_the_served_one_does_is_compatible(
    new: Signature,
) -> None:
    check_compatible(SERVED, METHODS, new, (*METHODS, "decision_function"))


@pytest.mark.parametrize(
    ("old", "new", "methods", "column", "fragment"),
    [
        (SERVED, with_column(SERVED, "n", type="float64"), METHODS, "n",
         "column 'n' is float64; the served model takes int64 or null"),
        (SERVED, with_column(SERVED, "n", nullable=False), METHODS, "n", "refuses nulls"),
        (SERVED, with_column(SERVED, "plan", categories=("basic",)), METHODS, "plan",
         "refuses the categories ['pro']"),
        (SERVED, with_column(SERVED, "note", categories=("a",)), METHODS, "note",
         "takes only the categories ['a']"),
        (SERVED, dataclasses.replace(SERVED, columns=SERVED.columns[::-1]), METHODS, None,
         "the same names in the same order"),
        (SERVED, dataclasses.replace(SERVED, columns=SERVED.columns[:3]), METHODS, None,
         "takes the columns ['x', 'n', 'plan']"),
        (dataclasses.replace(SERVED, extra_columns="drop"), SERVED, METHODS, None,
         "refuses extra columns, which the served model drops"),
        (dataclasses.replace(SERVED, container="numpy"), SERVED, METHODS, None,
         "rows sent as lists"),
        (SERVED, SERVED, (*METHODS, "transform"), None, "has no 'transform' method"),
    ],
)  # fmt: skip
def test_a_model_that_would_refuse_a_request_the_served_one_accepts_is_not(
    old: Signature, new: Signature, methods: tuple[str, ...], column: str | None, fragment: str
) -> None:
    with pytest.raises(SignatureError) as caught:
        check_compatible(old, methods, new, METHODS, "version V of 'm'")
    assert str(caught.value).startswith("version V of 'm'")
    assert fragment in str(caught.value)
    assert caught.value.column == column
    assert caught.value.expected is not None
    assert caught.value.received is not None
