"""The filter language of ``tracker.search(...)`` and ``tracker.best_run(..., where=...)``.

A filter selects rows of the runs table (one row per run, with columns such as
``run_id``, ``status``, ``start_time``, ``params.*``, ``metrics.*``, ``tags.*``)::

    params.model = 'ridge' and (metrics.rmse < 2.0 or tags.team in ('a', 'b'))

Grammar (keywords are case-insensitive; ``and`` binds tighter than ``or``)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" expr ")" | comparison
    comparison := column op value
                | column ["not"] "in" "(" value ("," value)* ")"
                | column ["not"] ("like" | "ilike") 'pattern'
                | column "is" ["not"] "null"
    op         := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    column     := name ("." name)*     status, params.lambda, metrics.`val loss`
    value      := number | 'string' | "string" | true | false | null

A name is letters, digits and ``_`` (a leading digit only after a dot); any
other name goes in backquotes (which it may not contain). Numbers look like
``2``, ``-0.5`` or ``1e-3``; ``inf`` and ``nan`` are not values (find them with
``> 1e308`` and ``is null``). In a string a backslash escapes the next character.
A ``like`` pattern must match the whole string, ``%`` standing for any characters
and ``_`` for one; ``ilike`` ignores case.

Meaning, run by run:

* Values keep their logged type: numbers compare by value (``1 = 1.0``), a
  string never equals a number (``'1'`` is not ``1``), true/false equal only
  booleans, and ``<``/``>`` between a number and a string are false.
* Every comparison with a missing value (None, NaN, NaT) is false, ``!=`` and
  ``not in`` included. ``is null`` finds missing values (NaN metrics too), as
  do ``= null`` and a ``null`` in an ``in`` list; ``!= null`` is ``is not null``.
  ``not`` negates plainly: ``not metrics.rmse < 2`` includes runs without an rmse.
* ``metrics.*`` hold numbers and ``tags.*`` strings: comparing them with the
  other kind is an error. A datetime column compares with a quoted date or
  time (``start_time >= '2024-05-01'``, UTC unless a zone is given).
* A ``params.``/``metrics.``/``tags.`` name that no run has is a column of
  missing values (``tags.stage = 'prod'`` matches nothing, ``tags.stage is null``
  every run, until some run has that tag). Naming any other column the table
  lacks is an error that suggests close names. An empty filter selects every run.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Collection, Mapping
from itertools import repeat
from typing import Any, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from pinyard.tracking._query_syntax import (
    _BOOL,
    _KIND_OF_TYPE,
    _MISSING,
    _NUM,
    _STR,
    _TIME,
    _UNSEEN,
    Value,
    _Column,
    _error,
    _kind,
    _literal,
    _Logic,
    _Node,
    _Parser,
    _references,
    _render,
    _Test,
)

__all__ = ["Factorized", "Filter", "compile_filter"]

_Mask: TypeAlias = npt.NDArray[np.bool_]


class Factorized(NamedTuple):
    """A column given as values and, for each row, the position of its value among them
    (``values[codes]`` is the column): a filter tests each of ``values`` once."""

    values: npt.NDArray[Any]
    codes: npt.NDArray[np.intp]


class _Read(NamedTuple):
    """A column as a filter reads it: values, their kind codes, and for a factorized
    column the position of each row's value (None: one value per row)."""

    values: npt.NDArray[Any]
    kinds: npt.NDArray[np.int8]
    codes: npt.NDArray[np.intp] | None


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip
_INFERRED = {"string": _STR, "integer": _NUM, "floating": _NUM, "mixed-integer-float": _NUM,
             "boolean": _BOOL, "empty": _MISSING}  # fmt: skip


def compile_filter(text: str) -> Filter:
    """Parse ``text`` once; raise `QueryError` pointing at the first thing that is wrong."""
    return Filter(text, _Parser(text).parse())


class Filter:
    """A parsed filter: `mask` selects the matching rows of a runs table."""

    __slots__ = ("_refs", "_root", "_text")

    def __init__(self, text: str, root: _Node | None) -> None:
        self._text, self._root = text, root
        self._refs = list(_references(root)) if root is not None else []

    @property
    def columns(self) -> frozenset[str]:
        """The names of the columns the filter reads."""
        return frozenset(ref.name for ref in self._refs)

    def mask(self, df: pd.DataFrame) -> pd.Series[bool]:
        """Which rows of ``df`` match, as a boolean Series on ``df.index``."""
        self.check(df.columns)
        return pd.Series(self.select(df, len(df)), index=df.index, dtype=bool)

    def select(self, columns: Mapping[str, Any] | pd.DataFrame, rows: int) -> _Mask:
        """Which of ``rows`` rows match, given at least the columns the filter reads
        (`check` first): Series, numpy arrays, pandas arrays or `Factorized`, by name. A
        runs table passes its converted columns here without building a DataFrame."""
        if self._root is None or rows == 0:
            return np.ones(rows, dtype=bool)
        return _Table(columns, self._text, rows).evaluate(self._root)

    def check(self, columns: Collection[str]) -> None:
        """Raise `QueryError` if the filter names a column that a table of ``columns``
        lacks, other than a params/metrics/tags one (`select` reads those as missing in
        every row), so that `select` may then run on just the columns it reads."""
        for ref in self._refs:
            self._check_column(ref, columns)

    def _check_column(self, ref: _Column, columns: Collection[str]) -> None:
        if ref.name in columns or _is_logged(ref.name):
            return
        known = sorted(str(c) for c in columns)
        message = f"unknown column {ref.name!r} at position {ref.pos}"
        if close := difflib.get_close_matches(ref.name, known, n=3, cutoff=0.6):
            message += f" (did you mean {' or '.join(map(repr, close))}?)"
        else:
            message += f"; the columns are {_listing(known)}"
        raise _error(self._text, ref.pos, message)

    def __str__(self) -> str:
        return "" if self._root is None else _render(self._root)

    def __repr__(self) -> str:
        return f"compile_filter({str(self)!r})"


class _Table:
    """The columns a filter reads, each read once as values and kind codes."""

    def __init__(self, columns: Mapping[str, Any] | pd.DataFrame, text: str, rows: int) -> None:
        self.columns, self.text, self.rows = columns, text, rows
        self.cache: dict[str, _Read] = {}

    def column(self, name: str) -> _Read:
        if name not in self.cache:
            if name in self.columns:
                self.cache[name] = self._read(self.columns[name])
            else:  # a params/metrics/tags name no run has (`check`): missing in every row
                missing = np.array([None], dtype=object), np.array([_MISSING], dtype=np.int8)
                self.cache[name] = _Read(*missing, np.zeros(self.rows, dtype=np.intp))
        return self.cache[name]

    def _read(self, s: Any) -> _Read:
        if isinstance(s, Factorized):
            values, kinds, _ = self._read(s.values)
            return _Read(values, kinds, s.codes)
        if isinstance(s, pd.Series):  # its array: a numpy one, or a pandas extension array
            s = s.array if isinstance(s.dtype, pd.api.extensions.ExtensionDtype) else s.to_numpy()
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.tz_convert(None)
        if isinstance(s.dtype, np.dtype) and s.dtype.kind in "biufM":
            values = np.asarray(s)
            code = {"b": _BOOL, "M": _TIME}.get(values.dtype.kind, _NUM)
            kind = values.dtype.kind
            missing = (
                np.isnan(values) if kind == "f" else np.isnat(values) if kind == "M"
                else np.zeros(len(values), bool)
            )  # fmt: skip
            return _Read(values, np.where(missing, _MISSING, code).astype(np.int8), None)
        values = s if isinstance(s, np.ndarray) and s.dtype == object else s.astype(object)
        if (same := _INFERRED.get(pd.api.types.infer_dtype(values, skipna=True))) is not None:
            kinds = np.full(len(values), same, dtype=np.int8)
        else:  # mixed types: look at each value
            kinds = np.fromiter(
                map(_KIND_OF_TYPE.get, map(type, values), repeat(_UNSEEN)), np.int8
            )
            for i in np.flatnonzero(kinds == _UNSEEN):
                kinds[i] = _kind(values[i])
        kinds[pd.isna(values)] = _MISSING
        return _Read(values, kinds, None)

    def literal(self, col: _Column, value: Value) -> tuple[int, Any]:
        """The kind code and value to compare ``col`` with (a quoted date for time columns)."""
        if not pd.api.types.is_datetime64_any_dtype(self.column(col.name).values.dtype):
            return _kind(value), value
        try:
            stamp = pd.Timestamp(value) if isinstance(value, str) else pd.NaT
        except ValueError:
            stamp = pd.NaT
        if pd.isna(stamp):
            message = f"cannot compare {col} with {_literal(value)} at position {col.pos}"
            raise _error(self.text, col.pos, f"{message}: it holds times, as in '2024-05-01'")
        return _TIME, (stamp.tz_convert(None) if stamp.tzinfo else stamp).to_datetime64()

    def evaluate(self, node: _Node) -> _Mask:
        if isinstance(node, _Logic):
            parts = [self.evaluate(item) for item in node.items]
            if node.op == "not":
                return ~parts[0]
            reduce = np.logical_and.reduce if node.op == "and" else np.logical_or.reduce
            return np.asarray(reduce(parts), dtype=bool)
        read = self.column(node.column.name)
        tested = self._test(node, read.values, read.kinds)
        return tested if read.codes is None else tested[read.codes]

    def _test(self, node: _Test, values: npt.NDArray[Any], kinds: npt.NDArray[np.int8]) -> _Mask:
        """Which of ``values`` (of kinds ``kinds``) pass the comparison ``node``."""
        present: _Mask = kinds != _MISSING
        if node.op == "null":
            return present if node.negated else ~present
        if node.op in _COMPARE:
            kind, value = self.literal(node.column, node.values[0])
            return _compared(values, kinds == kind, _COMPARE[node.op], value)
        hit = np.zeros(len(values), dtype=bool)
        if node.op in ("like", "ilike"):
            body = "".join({"%": ".*", "_": "."}.get(c, re.escape(c)) for c in str(node.values[0]))
            regex = re.compile(body, re.DOTALL | (re.IGNORECASE if node.op == "ilike" else 0))
            strings = kinds == _STR
            codes, uniques = pd.factorize(values[strings])  # match each distinct string once
            hit[strings] = np.array([regex.fullmatch(u) is not None for u in uniques], bool)[codes]
        else:  # in, not in, !=
            for value in node.values:
                if value is None:  # a null in a list matches missing values
                    hit |= ~present
                    continue
                kind, lit = self.literal(node.column, value)
                hit |= _compared(values, kinds == kind, operator.eq, lit)
        return present & ~hit if node.negated or node.op == "!=" else hit


def _compared(
    values: npt.NDArray[Any], same: _Mask, compare: Callable[..., Any], lit: Any
) -> _Mask:
    if same.all():
        return np.asarray(compare(values, lit), dtype=bool)
    out = np.zeros(len(same), dtype=bool)
    if same.any():
        out[same] = np.asarray(compare(values[same], lit), dtype=bool)
    return out


def _is_logged(name: str) -> bool:
    """Whether ``name`` is a params/metrics/tags column (one a run may simply lack)."""
    prefix, dot, key = name.partition(".")
    return bool(dot and key) and prefix in ("params", "metrics", "tags")


def _listing(names: list[str], limit: int = 20) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
