"""What the command groups share: the board (``--board``, a leading BOARD, or
``PINYARD_BOARD``), how it is opened, and the help layout (an example on every command).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import pinyard
from pinyard.cli._output import add_json_flag
from pinyard.errors import InvalidArgumentError

Handler = Callable[[argparse.Namespace], Any]
BOARD_ENV = "PINYARD_BOARD"
#: Marks a parser whose command takes the board (read by `normalize`).
_BOARD_MARK = "_pinyard_takes_board"


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error that names the command's --help."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"pinyard: error: {message} (see `{self.prog} --help`)\n")
        sys.exit(2)


def add_board(cmd: argparse.ArgumentParser) -> None:
    """``--board URL`` and ``-o KEY=VALUE`` storage options; the board may also come
    first among the positionals (see `normalize`) or from ``PINYARD_BOARD``."""
    cmd.add_argument(
        "--board",
        metavar="URL",
        default=None,
        help=f"board path or URL: ./board, s3://bucket/path, ... (default: ${BOARD_ENV}); "
        "may also be given as the first argument",
    )
    cmd.add_argument(
        "-o",
        "--storage-option",
        dest="storage_options",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="an fsspec option for the storage, e.g. -o endpoint_url=http://127.0.0.1:9000 "
        "(credentials are best left to the environment: AWS_*, AZURE_*, ...)",
    )
    setattr(cmd, _BOARD_MARK, True)


def board_url(args: argparse.Namespace) -> str:
    """The board the command names: ``--board``, else ``PINYARD_BOARD``."""
    url = getattr(args, "board", None) or getattr(args, "root_board", None)
    url = url or os.environ.get(BOARD_ENV)
    if not url:
        raise InvalidArgumentError(
            f"which board? pass --board URL (or the board as the first argument), or set "
            f"{BOARD_ENV}"
        )
    return str(url)


def storage_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in getattr(args, "storage_options", []) or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgumentError(f"--storage-option {item!r} is not KEY=VALUE")
        options[key] = _option_value(value)
    return options


def _option_value(text: str) -> Any:
    """``true``/``false`` and numbers as such (``-o retries=1``); anything else as text."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def open_board(args: argparse.Namespace, **more: Any) -> pinyard.Board:
    """The existing board the command names (never created unless ``create=True``)."""
    more.setdefault("create", False)
    return pinyard.board(board_url(args), storage_options=storage_options(args), **more)


def with_example(text: str, example: str, epilog: str = "") -> dict[str, Any]:
    """Keyword arguments for ``add_parser``: help, description, and an epilog that starts
    with the example."""
    lines = "\n".join(f"  {line}" for line in example.strip().splitlines())
    return {
        "help": text,
        "description": text,
        "epilog": f"example:\n{lines}" + (f"\n\n{epilog}" if epilog else ""),
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }


def group(
    sub: Any, name: str, help_text: str, epilog: str, example: str
) -> Callable[..., argparse.ArgumentParser]:
    """A command group ``pinyard NAME ACTION``; returns ``add(action, handler, help,
    example, board=True)`` which makes one action with the board options and ``--json``."""
    parser = sub.add_parser(name, **with_example(help_text, example, epilog))
    actions = parser.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")

    def add(
        action: str, handler: Handler, text: str, example: str, *, board: bool = True
    ) -> argparse.ArgumentParser:
        cmd: argparse.ArgumentParser = actions.add_parser(
            action, **with_example(text, example, epilog)
        )
        cmd.set_defaults(handler=handler)
        if board:
            add_board(cmd)
        add_json_flag(cmd)
        return cmd

    return add


# -- the leading BOARD shortcut ----------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _arity(parser: argparse.ArgumentParser) -> tuple[int, float]:
    low, high = 0, 0.0
    for action in parser._actions:
        if action.option_strings:
            continue
        nargs = action.nargs
        if nargs is None:
            low, high = low + 1, high + 1
        elif nargs == "?":
            high += 1
        elif nargs == "*":
            high = math.inf
        elif nargs == "+":
            low, high = low + 1, math.inf
        elif isinstance(nargs, int):
            low, high = low + nargs, high + nargs
    return low, high


def _looks_like_board(token: str) -> bool:
    """A path or URL (no pin, experiment or run name holds a slash)."""
    return "/" in token or "\\" in token or token in (".", "..")


def normalize(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """``argv`` with a leading positional BOARD turned into ``--board BOARD``.

    ``pinyard pins versions ./board sales`` is ``pinyard pins versions --board ./board
    sales``: the first positional is the board when there is one more positional than
    the command takes, or (without ``--board``) one more than it needs and either
    ``PINYARD_BOARD`` is unset or the word is a path or URL.
    """
    argv = list(argv)
    i, board_given = 0, False
    while i < len(argv) and argv[i].startswith("-"):
        board_given = board_given or argv[i] == "--board" or argv[i].startswith("--board=")
        i += 2 if argv[i] == "--board" else 1
    leaf = parser
    while i < len(argv) and argv[i] in _subcommands(leaf):
        leaf = _subcommands(leaf)[argv[i]]
        i += 1
    if not getattr(leaf, _BOARD_MARK, False):
        return argv
    options = leaf._option_string_actions
    positions: list[int] = []
    j = i
    while j < len(argv):
        token = argv[j]
        if token == "--":  # noqa: S105 - the end of options, not a password
            positions.extend(range(j + 1, len(argv)))
            break
        if token.startswith("-") and len(token) > 1 and not _is_number(token):
            name = token.split("=", 1)[0]
            board_given = board_given or name == "--board"
            action = options.get(name)
            if action is not None and "=" not in token and action.nargs != 0:
                j += action.nargs if isinstance(action.nargs, int) else 1
            j += 1
            continue
        positions.append(j)
        j += 1
    if board_given or not positions:
        return argv
    low, high = _arity(leaf)
    first = argv[positions[0]]
    count = len(positions)
    if count > high or (
        count > low and (not os.environ.get(BOARD_ENV) or _looks_like_board(first))
    ):
        rest = argv[i:]
        rest.pop(positions[0] - i)
        return [*argv[:i], "--board", first, *rest]
    return argv


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True
