"""The run filter language: parsing, typed semantics, errors, and agreement with a reference."""

from __future__ import annotations

import fnmatch
import math
import operator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinyard import errors
from pinyard.tracking._query import Factorized, compile_filter

NAN, INF = float("nan"), float("inf")


def runs() -> pd.DataFrame:
    """Six runs on a non-default index, with typed params and non-finite metrics."""
    df = pd.DataFrame(
        {
            "run_id": ["r0", "r1", "r2", "r3", "r4", "r5"],
            "status": ["FINISHED", "FAILED", "FINISHED", "KILLED", "FINISHED", "FINISHED"],
            "params.model": pd.Series(
                ["ridge", "lasso", "ridge", None, "Ridge", "o'k"], dtype=object
            ),
            "params.lambda": pd.Series([1, 1.0, "1", None, True, 2.5], dtype=object),
            "params.odd name": pd.Series(["x", "y", None, "x", "y", "x"], dtype=object),
            "params.a.b": pd.Series([1, 2, 3, 4, 5, 6], dtype=object),
            "metrics.rmse": [1.5, NAN, INF, 2.0, -INF, 0.5],
            "tags.team": pd.Series(["core", None, "Core", "data", "c.re", "c_re"], dtype=object),
            "start_time": pd.to_datetime(
                ["2024-01-01", "2024-05-01", "2024-05-01T12:00", None, "2025-01-01", "2023-06-30"],
                format="ISO8601",
                utc=True,
            ),
        }
    )
    df.index = pd.Index([10, 11, 12, 13, 14, 15])
    return df


def ids(text: str, df: pd.DataFrame | None = None) -> list[str]:
    frame = runs() if df is None else df
    mask = compile_filter(text).mask(frame)
    assert mask.dtype == bool
    assert mask.index.equals(frame.index)
    return list(frame.loc[mask, "run_id"])


def error_of(text: str, df: pd.DataFrame | None = None) -> str:
    """The message of the QueryError that compiling (and, given ``df``, applying) raises."""
    if df is None:
        with pytest.raises(errors.QueryError) as info:
            compile_filter(text)
    else:
        flt = compile_filter(text)
        with pytest.raises(errors.QueryError) as info:
            flt.mask(df)
    return str(info.value)


def assert_points_at(message: str, text: str, pos: int) -> None:
    """The message quotes the filter line and puts a caret under ``pos``."""
    lines = message.splitlines()
    assert lines[-2] == "    " + text
    assert lines[-1] == "    " + " " * pos + "^"


# --- operators, typed values, missing values ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.rmse = 1.5", ["r0"]),
        ("metrics.rmse == 1.5", ["r0"]),
        ("metrics.rmse != 1.5", ["r2", "r3", "r4", "r5"]),
        ("metrics.rmse <> 1.5", ["r2", "r3", "r4", "r5"]),
        ("metrics.rmse < 1.5", ["r4", "r5"]),
        ("metrics.rmse <= 1.5", ["r0", "r4", "r5"]),
        ("metrics.rmse > 1.5", ["r2", "r3"]),
        ("metrics.rmse >= 1.5", ["r0", "r2", "r3"]),
        ("metrics.rmse>=2", ["r2", "r3"]),
        ("metrics.rmse > -1e308", ["r0", "r2", "r3", "r5"]),
        ("metrics.rmse > 1e308", ["r2"]),
        ("metrics.rmse < -1e308", ["r4"]),
        ("metrics.rmse = 5e-1", ["r5"]),
        ("status = 'FAILED'", ["r1"]),
        ('status = "FAILED"', ["r1"]),
        ("status < 'G'", ["r0", "r1", "r2", "r4", "r5"]),
        ("status >= 'KILLED'", ["r3"]),
        ("run_id <= 'r1'", ["r0", "r1"]),
    ],
)
def test_every_comparison_operator(text: str, expected: list[str]) -> None:
    assert ids(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.lambda = 1", ["r0", "r1"]),  # 1 and 1.0 are the same number
        ("params.lambda = 1.0", ["r0", "r1"]),
        ("params.lambda = '1'", ["r2"]),  # a string never equals a number
        ("params.lambda = true", ["r4"]),  # a boolean is not the number 1
        ("params.lambda = false", []),
        ("params.lambda != 1", ["r2", "r4", "r5"]),  # missing r3 excluded
        ("params.lambda != '1'", ["r0", "r1", "r4", "r5"]),
        ("params.lambda > 0.5", ["r0", "r1", "r5"]),  # '1' and true are not ordered with numbers
        ("params.lambda >= 2.5", ["r5"]),
        ("params.lambda < 'a'", ["r2"]),
        ("params.lambda in (1, '1')", ["r0", "r1", "r2"]),
        ("params.lambda in (2.5, true)", ["r4", "r5"]),
        ("params.a.b > 4", ["r4", "r5"]),
    ],
)
def test_params_keep_their_logged_type(text: str, expected: list[str]) -> None:
    assert ids(text) == expected


def test_missing_values_make_every_comparison_false_but_not_negation() -> None:
    assert ids("metrics.rmse != 2") == ["r0", "r2", "r4", "r5"]  # NaN row r1 excluded
    assert ids("metrics.rmse is null") == ["r1"]
    assert ids("metrics.rmse is not null") == ["r0", "r2", "r3", "r4", "r5"]
    assert ids("not metrics.rmse < 2") == ["r1", "r2", "r3"]  # plain negation keeps NaN
    assert ids("tags.team != 'core'") == ["r2", "r3", "r4", "r5"]
    assert ids("tags.team not in ('core')") == ["r2", "r3", "r4", "r5"]
    assert ids("params.model is null") == ["r3"]
    assert ids("start_time is null") == ["r3"]


def test_null_literal_means_is_null() -> None:
    assert ids("params.model = null") == ids("params.model is null") == ["r3"]
    assert ids("params.model != null") == ids("params.model is not null")
    assert str(compile_filter("params.model <> NULL")) == "params.model is not null"
    assert ids("tags.team in ('data', null)") == ["r1", "r3"]
    assert ids("tags.team not in ('data', null)") == ["r0", "r2", "r4", "r5"]


def test_in_and_not_in() -> None:
    assert ids("params.model in ('ridge', 'lasso')") == ["r0", "r1", "r2"]
    assert ids("params.model not in ('ridge', 'lasso')") == ["r4", "r5"]
    assert ids("params.model NOT IN ('ridge')") == ["r1", "r4", "r5"]
    assert ids("metrics.rmse in (1.5, 2, -1e-3)") == ["r0", "r3"]
    assert ids("status in ('X')") == []


def test_like_and_ilike() -> None:
    assert ids("tags.team like 'c%'") == ["r0", "r4", "r5"]
    assert ids("tags.team ilike 'c%'") == ["r0", "r2", "r4", "r5"]
    assert ids("tags.team like 'c_re'") == ["r0", "r4", "r5"]  # _ is one character
    assert ids("tags.team like 'c.re'") == ["r4"]  # a dot is only a dot
    assert ids("tags.team like 'core'") == ["r0"]  # the whole string must match
    assert ids("tags.team not like 'c%'") == ["r2", "r3"]  # missing r1 excluded
    assert ids("params.lambda like '1'") == ["r2"]  # only strings match a pattern


def test_datetime_columns_compare_with_quoted_dates() -> None:
    assert ids("start_time >= '2024-05-01'") == ["r1", "r2", "r4"]
    assert ids("start_time > '2024-05-01T00:00:00Z'") == ["r2", "r4"]
    assert ids("start_time < '2024-05-01 10:00+02:00'") == ["r0", "r1", "r5"]
    assert ids("start_time in ('2024-01-01', '2023-06-30')") == ["r0", "r5"]
    message = error_of("start_time > 'soon'", runs())
    assert message.startswith("cannot compare start_time with 'soon' at position 0")
    assert "'2024-05-01'" in message
    assert "holds times" in error_of("start_time > 5", runs())


# --- structure: precedence, parentheses, keywords, names, strings -------------------------


def test_and_binds_tighter_than_or() -> None:
    a, b, c = "status = 'FAILED'", "tags.team = 'core'", "metrics.rmse > 1"
    assert ids(f"{a} or {b} and {c}") == ["r0", "r1"]
    assert ids(f"({a} or {b}) and {c}") == ["r0"]
    assert ids(f"{b} and {c} or {a}") == ids(f"{a} or {b} and {c}")
    assert ids(f"{b} and ({c} or {a})") == ["r0"]


def test_not_binds_tighter_than_and_and_nests() -> None:
    a, b = "status = 'FINISHED'", "metrics.rmse > 1"
    assert ids(f"not {a} and {b}") == ["r3"]  # (not a) and b
    assert ids(f"not ({a} and {b})") == ["r1", "r3", "r4", "r5"]
    assert ids(f"not not {a}") == ids(a)
    assert ids(f"((({a})))") == ids(a)


def test_keywords_are_case_insensitive() -> None:
    assert ids("params.model IN ('ridge') AND NOT metrics.rmse Is NuLL Or status = 'KILLED'") == [
        "r0",
        "r2",
        "r3",
    ]
    assert ids("params.lambda = TRUE") == ["r4"]
    assert ids("tags.team ILIKE 'CORE'") == ["r0", "r2"]


def test_quoted_names_and_string_escapes() -> None:
    assert ids("params.`odd name` = 'x'") == ["r0", "r3", "r5"]
    assert ids("`params.odd name` = 'x'") == ["r0", "r3", "r5"]
    assert ids("params.`a.b` = 3") == ["r2"]
    assert ids("params.model = 'o\\'k'") == ["r5"]
    assert ids('params.model = "o\'k"') == ["r5"]
    assert compile_filter("params.`odd name` = 'x'").columns == {"params.odd name"}


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        (
            "params.model=='ridge'  AND metrics.rmse<>2",
            "params.model = 'ridge' and metrics.rmse != 2",
        ),
        ("(a = 1 or b = 2) and c = 3", "(a = 1 or b = 2) and c = 3"),
        ("a = 1 or (b = 2 and c = 3)", "a = 1 or b = 2 and c = 3"),
        ("(a = 1 or b = 2) or (c = 3)", "a = 1 or b = 2 or c = 3"),
        ("NOT (a = 1 OR b = 2)", "not (a = 1 or b = 2)"),
        ("not a is not null", "not a is not null"),
        ("x in (1,2.0 , 'a', TRUE, null)", "x in (1, 2.0, 'a', true, null)"),
        ('x NOT ILIKE "a%"', "x not ilike 'a%'"),
        ("x = -1e-3", "x = -0.001"),
        ("params.`odd name` = 'it\\'s'", "params.`odd name` = 'it\\'s'"),
        ("`in` = 1", "`in` = 1"),
        ("`1st` = 1", "`1st` = 1"),
        ("params.1st = 1", "params.1st = 1"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_str_is_the_normalized_filter(text: str, normalized: str) -> None:
    assert str(compile_filter(text)) == normalized
    assert str(compile_filter(normalized)) == normalized


def test_columns_lists_every_column_once() -> None:
    flt = compile_filter("a = 1 or (b in (1) and not a is null) or tags.`x y` like 'z'")
    assert flt.columns == frozenset({"a", "b", "tags.x y"})
    assert compile_filter("").columns == frozenset()


def test_empty_filter_and_empty_table() -> None:
    df = runs()
    assert ids("", df) == list(df["run_id"])
    empty = df.iloc[:0]
    assert compile_filter("params.model = 'ridge'").mask(empty).empty
    # With no runs yet, params/metrics/tags columns may not exist: nothing matches, no error.
    assert compile_filter("params.new = 1").mask(empty[["run_id"]]).empty
    assert "unknown column 'sttus'" in error_of("sttus = 'x'", empty)


def test_mask_follows_the_frame_index() -> None:
    df = runs().sample(frac=1.0, random_state=3)
    mask = compile_filter("metrics.rmse < 1.6").mask(df)
    assert mask.index.equals(df.index)
    assert sorted(df.loc[mask, "run_id"]) == ["r0", "r4", "r5"]


def test_frames_with_numpy_and_pandas_dtypes() -> None:
    df = pd.DataFrame(
        {
            "run_id": ["a", "b", "c"],
            "params.n": np.array([1, 2, 3], dtype=np.int64),
            "params.flag": np.array([True, False, True]),
            "params.mixed": pd.Series([np.int64(2), np.float64(2.0), np.str_("2")], dtype=object),
            "tags.t": pd.Series(["x", None, "y"], dtype="str"),
            "params.k": pd.array([1, None, 3], dtype="Int64"),
            "params.x": pd.Series([1, 2.5, None], dtype=object),
            "git_dirty": pd.array([True, None, False], dtype="boolean"),
        }
    )
    assert ids("params.n >= 2", df) == ["b", "c"]
    assert ids("params.n = '2'", df) == []
    assert ids("params.flag = true", df) == ["a", "c"]
    assert ids("params.flag = 1", df) == []
    assert ids("params.mixed = 2", df) == ["a", "b"]
    assert ids("params.mixed = '2'", df) == ["c"]
    assert ids("tags.t != 'x'", df) == ["c"]
    assert ids("tags.t is null", df) == ["b"]
    assert ids("params.k < 3", df) == ["a"]
    assert ids("params.k is null", df) == ["b"]
    assert ids("params.x < 3", df) == ["a", "b"]
    assert ids("params.x = '1'", df) == []
    assert ids("git_dirty = false", df) == ["c"]
    assert ids("git_dirty != true", df) == ["c"]


# --- errors -------------------------------------------------------------------------------


def value_after(op: str, found: str) -> str:
    return f"expected a value after '{op}' {{at}}, found {found}"


INF_HINT = "; inf and nan are not values: use 'is null' for NaN, '> 1e308' for inf"
OPERATOR = "expected an operator (=, !=, <, <=, >, >=, in, like, ilike, is) after 'params.model'"
COLUMN = "expected a column name or '(' {at}"
END = "the end of the filter"
CONTINUE = "expected 'and', 'or' or the end of the filter {at}"
NUMBERS_ONLY = "{at}: metrics hold numbers"
CLOSE = " (to close the '(' at position 0)"


@pytest.mark.parametrize(
    ("text", "pos", "message"),
    [
        ("metrics.rmse <", 14, value_after("<", END)),
        ("metrics.rmse < and", 15, value_after("<", "'and'")),
        ("metrics.rmse < inf", 15, value_after("<", "'inf'") + INF_HINT),
        ("metrics.rmse > -INF", 15, value_after(">", "'-INF'") + INF_HINT),
        ("metrics.rmse = nan", 15, value_after("=", "'nan'") + INF_HINT),
        ("params.model = ridge", 15, value_after("=", "'ridge'") + "; quote text, as in 'ridge'"),
        ("params.model 'ridge'", 13, OPERATOR + " {at}, found \"'ridge'\""),
        ("= 1", 0, COLUMN + ", found '='"),
        ("a = 1 and", 9, COLUMN + ", found " + END),
        ("not", 3, COLUMN + ", found " + END),
        ("a = 1 or ()", 10, COLUMN + ", found ')'"),
        ("(a = 1 or b = 2", 15, "expected ')' {at}, found " + END + CLOSE),
        ("a = 1)", 5, CONTINUE + ", found ')'"),
        ("a = 1 b = 2", 6, CONTINUE + ", found 'b'"),
        ("a in 1", 5, "expected '(' after 'in' {at}, found '1'"),
        ("a in ()", 6, "expected a value after '(' {at}, found ')'"),
        ("a in (1 2)", 8, "expected ',' or ')' in the list {at}, found '2'"),
        ("a in (1,)", 8, "expected a value after ',' {at}, found ')'"),
        ("a is 1", 5, "expected 'null' or 'not null' after 'is' {at}, found '1'"),
        ("a not = 1", 6, "expected 'in', 'like' or 'ilike' after 'not' {at}, found '='"),
        ("a like 1", 7, "expected a quoted pattern after 'like' {at}, found '1'"),
        ("a < true", 4, "cannot use '<' with true {at}; booleans take only =, != or in"),
        ("a >= null", 5, "cannot use '>=' with null {at}; use 'is null'"),
        ("a = 'abc", 4, "unterminated string starting {at}"),
        ('a = "abc\\"', 4, "unterminated string starting {at}"),
        ("params.`odd = 1", 7, "unterminated `quoted name` starting {at}"),
        ("params. = 1", 7, "expected a name after '.' {at}"),
        ("a = 1e999", 4, "number out of range {at}"),
        ("a @ 1", 2, "unexpected '@' {at}"),
        ("a = 1 && b = 2", 6, "unexpected '&' {at}"),
        ("metrics.rmse = 'low'", 15, "cannot compare metrics.rmse with 'low' " + NUMBERS_ONLY),
        ("metrics.rmse in (1, true)", 20, "cannot compare metrics.rmse with true " + NUMBERS_ONLY),
        ("metrics.rmse like '1%'", 18, "cannot compare metrics.rmse with '1%' " + NUMBERS_ONLY),
        ("tags.team = 5", 12, "cannot compare tags.team with 5 {at}: tags hold strings"),
    ],
)  # fmt: skip
def test_syntax_errors_say_where_and_what_was_expected(text: str, pos: int, message: str) -> None:
    error = error_of(text)
    assert error.splitlines()[0] == message.format(at=f"at position {pos}")
    assert_points_at(error, text, pos)


def test_error_on_a_later_line_points_into_that_line() -> None:
    text = "params.model = 'ridge'\n  and metrics.rmse <\n  or status = 'x'"
    error = error_of(text)
    assert error.startswith("expected a value after '<' at position 46, found 'or'")
    assert error.splitlines()[-2:] == ["      or status = 'x'", "      ^"]


def test_query_error_is_an_invalid_argument() -> None:
    with pytest.raises(ValueError, match="expected a value"):
        compile_filter("a <")
    assert issubclass(errors.QueryError, errors.InvalidArgumentError)


def test_a_params_metrics_or_tags_name_no_run_has_is_missing_in_every_run() -> None:
    df = runs()
    # As for any missing value: every comparison is false, `is null` true, `not` negates.
    for text in ("tags.stage = 'prod'", "tags.stage != 'prod'", "params.lamda > 1",
                 "metrics.val_rmse < 2", "tags.stage in ('a', 'b')", "tags.stage not in ('a')",
                 "tags.stage like '%'", "metrics.val_rmse is not null"):  # fmt: skip
        assert ids(text, df) == [], text
    assert ids("tags.stage is null", df) == list(df["run_id"])
    assert ids("tags.stage = null", df) == list(df["run_id"])
    assert ids("not tags.stage = 'prod'", df) == list(df["run_id"])
    assert ids("metrics.rmse < 1 or tags.stage = 'prod'", df) == ["r4", "r5"]
    assert ids("params.model = 'ridge' and tags.stage is null", df) == ["r0", "r2"]
    # The same holds when the table has no column of that kind at all.
    bare = df[["run_id", "status"]]
    assert ids("tags.owner = 'me' or status = 'FAILED'", bare) == ["r1"]


def test_unknown_prefixed_column_is_still_typed() -> None:
    # A metrics column holds numbers and a tags column strings, whether or not any run
    # logged it yet: comparing with the other kind stays an error.
    assert "metrics hold numbers" in error_of("metrics.nothing_yet = 'low'")
    assert "tags hold strings" in error_of("tags.nothing_yet = 5")


def test_unknown_plain_column_suggests_close_names_or_lists_all() -> None:
    error = error_of("metrics.rmse < 2 or stauts = 'FAILED'", runs())
    assert (
        error.splitlines()[0] == "unknown column 'stauts' at position 20 (did you mean 'status'?)"
    )
    first = error_of("zzz = 1", runs()[["run_id", "status"]]).splitlines()[0]
    assert first == "unknown column 'zzz' at position 0; the columns are run_id, status"


def test_unknown_column_listing_is_bounded() -> None:
    wide = pd.DataFrame({f"metrics.m{i:02d}": [1.0] for i in range(30)})
    first = error_of("zzz < 1", wide).splitlines()[0]
    assert first.endswith("metrics.m18, metrics.m19 and 10 more")


# --- agreement with a plain Python evaluation ---------------------------------------------

PARAM_VALUES = [0, 1, 1.0, 2, -2.5, "1", "a", "b", "", True, False, None, NAN]
METRIC_VALUES = [0.0, 1.0, -2.0, 2.5, NAN, INF, -INF]
TAG_VALUES = ["a", "b", "ab", "A", "a_b", "%", None]
NUMBERS = [0, 1, 1.0, 2, -2.5, 1e-3]
STRINGS = ["1", "a", "b", "", "A", "ab", "it's"]
PATTERNS = ["a%", "%b", "_", "A%", "%", "a_b", "%a%", ""]
OPS = {"=": operator.eq, "==": operator.eq, "<": operator.lt, "<=": operator.le}
OPS |= {">": operator.gt, ">=": operator.ge, "!=": operator.ne, "<>": operator.ne}
COLUMN_LITERALS = {
    "params.p": NUMBERS + STRINGS + [True, False],
    "metrics.m": NUMBERS,
    "tags.t": STRINGS,
}


def literal_text(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "\\'") + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else repr(value)


@st.composite
def comparisons(draw: st.DrawFn) -> tuple[Any, ...]:
    column = draw(st.sampled_from(sorted(COLUMN_LITERALS)))
    values = COLUMN_LITERALS[column]
    form = draw(st.sampled_from(["cmp", "in", "null", "like"]))
    negated = draw(st.booleans())
    if form == "cmp":
        value = draw(st.sampled_from(values))
        ops = ["=", "==", "!=", "<>"] if isinstance(value, bool) else sorted(OPS)
        return ("cmp", column, draw(st.sampled_from(ops)), value)
    if form == "in":
        listed = draw(st.lists(st.sampled_from([*values, None]), min_size=1, max_size=3))
        return ("in", column, tuple(listed), negated)
    if form == "like" and column != "metrics.m":
        return ("like", column, draw(st.sampled_from(PATTERNS)), draw(st.booleans()), negated)
    return ("null", column, negated)


filters = st.recursive(
    comparisons(),
    lambda inner: st.one_of(
        st.tuples(st.just("not"), inner),
        st.tuples(st.sampled_from(["and", "or"]), st.lists(inner, min_size=2, max_size=3)),
    ),
    max_leaves=6,
)


def render(node: tuple[Any, ...], upper: bool, outer: int = 0) -> str:
    """The filter as text, with only the parentheses precedence requires."""

    def kw(word: str) -> str:
        return word.upper() if upper else word

    kind = node[0]
    if kind == "cmp":
        return f"{node[1]} {node[2]} {literal_text(node[3])}"
    if kind == "in":
        listed = ", ".join(map(literal_text, node[2]))
        return f"{node[1]} {kw('not ') if node[3] else ''}{kw('in')} ({listed})"
    if kind == "null":
        return f"{node[1]} {kw('is')} {kw('not ') if node[2] else ''}{kw('null')}"
    if kind == "like":
        word = kw("ilike" if node[3] else "like")
        return f"{node[1]} {kw('not ') if node[4] else ''}{word} {literal_text(node[2])}"
    if kind == "not":
        return f"{kw('not')} {render(node[1], upper, 3)}"
    own = 1 if kind == "or" else 2
    text = f" {kw(kind)} ".join(render(item, upper, own) for item in node[1])
    return f"({text})" if own < outer else text


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, int | float) else "string"


def equal(value: Any, literal: Any) -> bool:
    return kind_of(value) == kind_of(literal) and value == literal


def reference(node: tuple[Any, ...], row: dict[str, Any]) -> bool:
    """The documented meaning, one row at a time."""
    kind = node[0]
    if kind == "not":
        return not reference(node[1], row)
    if kind in ("and", "or"):
        results = [reference(item, row) for item in node[1]]
        return all(results) if kind == "and" else any(results)
    value = row[node[1]]
    if kind == "null":
        return missing(value) != node[2]
    if missing(value):
        return kind == "in" and not node[3] and None in node[2]
    if kind == "in":
        return any(equal(value, v) for v in node[2] if v is not None) != node[3]
    if kind == "like":
        if not isinstance(value, str):
            return bool(node[4])
        pattern = node[2].replace("%", "*").replace("_", "?")
        if node[3]:
            value, pattern = value.lower(), pattern.lower()
        return fnmatch.fnmatchcase(value, pattern) != node[4]
    op, literal = node[2], node[3]
    if op in ("=", "=="):
        return equal(value, literal)
    if op in ("!=", "<>"):
        return not equal(value, literal)
    return kind_of(value) == kind_of(literal) and OPS[op](value, literal)


@st.composite
def tables(draw: st.DrawFn) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    n = draw(st.integers(0, 7))
    rows = [
        {
            "params.p": draw(st.sampled_from(PARAM_VALUES)),
            "metrics.m": draw(st.sampled_from(METRIC_VALUES)),
            "tags.t": draw(st.sampled_from(TAG_VALUES)),
        }
        for _ in range(n)
    ]
    tag_dtype = draw(st.sampled_from(["object", "str"]))
    df = pd.DataFrame(
        {
            "params.p": pd.Series([r["params.p"] for r in rows], dtype=object),
            "metrics.m": pd.Series([r["metrics.m"] for r in rows], dtype="float64"),
            "tags.t": pd.Series([r["tags.t"] for r in rows], dtype=tag_dtype),
        }
    )
    df.index = pd.Index(draw(st.permutations(range(100, 100 + n))), dtype="int64")
    return df, rows


@settings(max_examples=200, deadline=None)
@given(table=tables(), tree=filters, upper=st.booleans())
def test_mask_agrees_with_plain_python(
    table: tuple[pd.DataFrame, list[dict[str, Any]]], tree: tuple[Any, ...], upper: bool
) -> None:
    df, rows = table
    text = render(tree, upper)
    flt = compile_filter(text)
    expected = [reference(tree, row) for row in rows]
    mask = flt.mask(df)
    assert mask.index.equals(df.index)
    assert list(mask) == expected, text
    again = compile_filter(str(flt))
    assert str(again) == str(flt)
    assert list(again.mask(df)) == expected
    assert list(flt.select(factorized(df), len(df))) == expected


def factorized(df: pd.DataFrame) -> dict[str, Factorized]:
    """Each column as `Factorized`: its values reversed and twice over, rows pointing at
    either copy (values need not be distinct, nor in row order)."""
    n = len(df)
    codes = np.array([n - 1 - i + (n if i % 2 else 0) for i in range(n)], dtype=np.intp)
    out = {}
    for name in df.columns:
        values = list(df[name].to_numpy(dtype=object))[::-1] * 2
        array = np.empty(len(values), dtype=object)
        array[:] = values
        if df[name].dtype.kind == "f":
            array = array.astype(float)
        out[name] = Factorized(array, codes)
    return out
