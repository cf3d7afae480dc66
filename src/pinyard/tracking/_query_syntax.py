"""The filter language's syntax: tokens, the parser, the tree and its printing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NoReturn, TypeAlias, cast

import numpy as np

from pinyard.errors import QueryError

Value: TypeAlias = str | int | float | bool | None
_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "true", "false", "like", "ilike"})
_NOT_VALUES = frozenset({"inf", "infinity", "nan"})
_RESERVED = _KEYWORDS | _NOT_VALUES
_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<bad>[+-](?i:inf(?:inity)?|nan)\b)
    |(?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    |(?P<name>(?:[^\W\d]\w*|`[^`]+`)(?:\.(?:\w+|`[^`]+`))*)
    |(?P<op><=|>=|<>|!=|==|=|<|>)
    |(?P<punct>[(),])""",
    re.VERBOSE | re.DOTALL,
)
_SEGMENT = re.compile(r"`([^`]+)`|([^.`]+)")
_MISSING, _NUM, _STR, _BOOL, _TIME, _OTHER, _UNSEEN = range(7)
_KIND_OF_TYPE: dict[type, int] = {
    str: _STR, int: _NUM, float: _NUM, bool: _BOOL, type(None): _MISSING,
    np.float64: _NUM, np.int64: _NUM, np.bool_: _BOOL, np.str_: _STR,
}  # fmt: skip
_HELD = {"metrics": _NUM, "tags": _STR}


@dataclass(frozen=True)
class _Column:
    segments: tuple[str, ...]
    pos: int = field(compare=False)

    @property
    def name(self) -> str:
        return ".".join(self.segments)

    def __str__(self) -> str:
        def plain(i: int, s: str) -> bool:
            if i:
                return re.fullmatch(r"\w+", s) is not None
            reserved = len(self.segments) == 1 and s.lower() in _KEYWORDS | _NOT_VALUES
            return re.fullmatch(r"[^\W\d]\w*", s) is not None and not reserved

        return ".".join(s if plain(i, s) else f"`{s}`" for i, s in enumerate(self.segments))


@dataclass(frozen=True)
class _Test:
    """One comparison; op is one of = != < <= > >= in like ilike null."""

    column: _Column
    op: str
    values: tuple[Value, ...] = ()
    negated: bool = False

    def __str__(self) -> str:
        col, neg = str(self.column), " not" if self.negated else ""
        if self.op == "null":
            return f"{col} is{neg} null"
        if self.op == "in":
            return f"{col}{neg} in ({', '.join(map(_literal, self.values))})"
        return f"{col}{neg} {self.op} {_literal(self.values[0])}"


@dataclass(frozen=True)
class _Logic:
    op: str  # and, or, not (one item)
    items: tuple[_Node, ...]


_Node: TypeAlias = _Test | _Logic


@dataclass(frozen=True)
class _Token:
    kind: str  # bad num str name kw op end, or the character ( ) ,
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            what = {"'": "string", '"': "string", "`": "`quoted name`"}.get(text[pos])
            problem = f"unterminated {what} starting" if what else f"unexpected {text[pos]!r}"
            raise _error(text, pos, f"{problem} at position {pos}")
        kind, word, pos = match.lastgroup or "", match.group(), match.end()
        if kind == "name" and text.startswith(".", pos):
            if not text.startswith("`", pos + 1):
                raise _error(text, pos + 1, f"expected a name after '.' at position {pos + 1}")
            pos += 1  # an unterminated `quoted name`, reported next round
        if kind == "name" and word.lower() in _RESERVED:
            kind = "kw" if word.lower() in _KEYWORDS else "bad"
        if kind != "ws":
            tokens.append(_Token(word if kind == "punct" else kind, word, match.start()))
    return [*tokens, _Token("end", "", len(text))]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.tokens, self.i = text, _tokenize(text), 0

    def take(self, kind: str, word: str | None = None) -> _Token | None:
        tok = self.tokens[self.i]
        if tok.kind != kind or (word is not None and tok.text.lower() != word):
            return None
        self.i += 1
        return tok

    def fail(self, expected: str, hint: str = "") -> NoReturn:
        tok = self.tokens[self.i]
        found = "the end of the filter" if tok.kind == "end" else repr(tok.text)
        message = f"expected {expected} at position {tok.pos}, found {found}{hint}"
        raise _error(self.text, tok.pos, message)

    def parse(self) -> _Node | None:
        if self.tokens[0].kind == "end":
            return None
        node = self.chain("or")
        if self.tokens[self.i].kind != "end":
            self.fail("'and', 'or' or the end of the filter")
        return node

    def chain(self, word: str) -> _Node:
        items: list[_Node] = []
        while not items or self.take("kw", word):
            item = self.chain("and") if word == "or" else self.negation()
            same = isinstance(item, _Logic) and item.op == word
            items.extend(item.items if isinstance(item, _Logic) and same else (item,))
        return items[0] if len(items) == 1 else _Logic(word, tuple(items))

    def negation(self) -> _Node:
        if self.take("kw", "not"):
            return _Logic("not", (self.negation(),))
        if opening := self.take("("):
            node = self.chain("or")
            if not self.take(")"):
                self.fail("')'", f" (to close the '(' at position {opening.pos})")
            return node
        return self.comparison()

    def comparison(self) -> _Node:
        if (tok := self.take("name")) is None:
            self.fail("a column name or '('")
        col = _Column(tuple(a or b for a, b in _SEGMENT.findall(tok.text)), tok.pos)
        if op_tok := self.take("op"):
            op, at = _OPS[op_tok.text], self.tokens[self.i].pos
            value = self.value(col, f"after {op_tok.text!r}")
            if value is None and op in ("=", "!="):
                return _Test(col, "null", negated=op == "!=")
            if value is None or (isinstance(value, bool) and op not in ("=", "!=")):
                hint = "booleans take only =, != or in" if value is not None else "use 'is null'"
                message = f"cannot use {op_tok.text!r} with {_literal(value)} at position {at}"
                raise _error(self.text, at, f"{message}; {hint}")
            return _Test(col, op, (value,))
        negated = self.take("kw", "not") is not None
        if self.take("kw", "in"):
            return _Test(col, "in", self.listing(col), negated)
        if like := self.take("kw", "like") or self.take("kw", "ilike"):
            if self.tokens[self.i].kind != "str":
                self.fail(f"a quoted pattern after {like.text.lower()!r}")
            return _Test(col, like.text.lower(), (self.value(col, ""),), negated)
        if not negated and self.take("kw", "is"):
            negated = self.take("kw", "not") is not None
            if not self.take("kw", "null"):
                self.fail("'null' or 'not null' after 'is'")
            return _Test(col, "null", negated=negated)
        if negated:
            self.fail("'in', 'like' or 'ilike' after 'not'")
        self.fail(f"an operator (=, !=, <, <=, >, >=, in, like, ilike, is) after {str(col)!r}")

    def listing(self, col: _Column) -> tuple[Value, ...]:
        if not self.take("("):
            self.fail("'(' after 'in'")
        values = [self.value(col, "after '('")]
        while self.take(","):
            values.append(self.value(col, "after ','"))
        if not self.take(")"):
            self.fail("',' or ')' in the list")
        return tuple(values)

    def value(self, col: _Column, where: str) -> Value:
        """The literal at the cursor, refused if ``col`` (metrics, tags) cannot hold it."""
        tok, value = self.tokens[self.i], cast("Value", None)
        if tok.kind == "num":
            value = float(tok.text) if re.search("[.eE]", tok.text) else int(tok.text)
            if abs(value) == float("inf"):
                raise _error(self.text, tok.pos, f"number out of range at position {tok.pos}")
        elif tok.kind == "str":
            value = re.sub(r"\\(.)", r"\1", tok.text[1:-1], flags=re.DOTALL)
        elif tok.kind == "kw" and tok.text.lower() in ("true", "false", "null"):
            value = {"true": True, "false": False}.get(tok.text.lower())
        elif tok.kind == "bad":
            hint = "; inf and nan are not values: use 'is null' for NaN, '> 1e308' for inf"
            self.fail(f"a value {where}", hint)
        else:
            hint = f"; quote text, as in {_literal(tok.text)}" if tok.kind == "name" else ""
            self.fail(f"a value {where}", hint)
        self.i += 1
        prefix, dot, _ = col.name.partition(".")
        need = _HELD.get(prefix) if dot else None
        if need is not None and _kind(value) not in (need, _MISSING):
            held = "numbers" if need == _NUM else "strings"
            message = f"cannot compare {col} with {_literal(value)} at position {tok.pos}"
            raise _error(self.text, tok.pos, f"{message}: {prefix} hold {held}")
        return value


def _kind(value: object) -> int:
    if value is None:
        return _MISSING
    if isinstance(value, bool | np.bool_):
        return _BOOL
    if isinstance(value, int | float | np.integer | np.floating):
        return _NUM
    return _STR if isinstance(value, str) else _OTHER


def _literal(value: Value) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return repr(value)


def _render(node: _Node, outer: int = 0) -> str:
    if isinstance(node, _Test):
        return str(node)
    if node.op == "not":
        return "not " + _render(node.items[0], 3)
    own = 1 if node.op == "or" else 2
    text = f" {node.op} ".join(_render(item, own) for item in node.items)
    return f"({text})" if own < outer else text


def _references(node: _Node) -> Iterator[_Column]:
    if isinstance(node, _Test):
        yield node.column
    else:
        for item in node.items:
            yield from _references(item)


def _error(text: str, pos: int, message: str) -> QueryError:
    start = text.rfind("\n", 0, pos) + 1
    end = len(text) if text.find("\n", pos) < 0 else text.find("\n", pos)
    line = text[start:end].replace("\t", " ")
    return QueryError(f"{message}\n    {line}\n    {' ' * (pos - start)}^")
