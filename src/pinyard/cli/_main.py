"""Command-line entry point: one parser of grouped commands, each a few calls into the
public API; every error becomes one line and the exit code `EXIT_CODES` gives it."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pinyard
from pinyard import errors
from pinyard.cli._common import BOARD_ENV, Parser, add_board, board_url, normalize, with_example
from pinyard.cli._completion import add_completion_command
from pinyard.cli._maintenance import add_maintenance_commands
from pinyard.cli._models import add_model_commands
from pinyard.cli._output import emit
from pinyard.cli._pins import add_pins_commands
from pinyard.cli._pins_reads import meta_doc
from pinyard.cli._registry import add_registry_commands
from pinyard.cli._runs import add_runs_commands
from pinyard.cli._ui import add_ui_command
from pinyard.cli._words import cli_words

#: Exit codes, the one place they are decided: 0 ok, 2 usage, 3.. pinyard errors, 1 the
#: rest. The first matching class wins (ChainError is an IntegrityError).
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (errors.NotFoundError, 3),
    (errors.NotAPinyardBoardError, 3),
    (errors.ChainError, 8),
    (errors.IntegrityError, 4),
    (errors.MetadataError, 4),
    (errors.BoardFormatError, 4),
    (errors.ProtectedVersionError, 5),
    (errors.ConflictError, 6),
    (errors.PromotionRefusedError, 7),
    (errors.StorageError, 9),
    (OSError, 9),
    (errors.InvalidArgumentError, 2),
    (errors.InsecureReadError, 2),
    (errors.UnsupportedTypeError, 2),
    (errors.SerializationError, 2),
    (errors.RunStateError, 2),
    (errors.PinyardError, 1),
    (KeyboardInterrupt, 130),
)

EXIT_HELP = """exit codes:
  0    success
  1    unexpected error (a bug: run again with PINYARD_DEBUG=1 and report the traceback)
  2    bad usage or input: a bad name, reference, filter or argument, a file of the wrong
       kind, a stage out of order without --force, a missing --reason the board requires,
       a gate that cannot score, a deletion not confirmed
  3    not found: board, pin, version, experiment, run, file, or nothing holds that alias
  4    damaged: stored bytes or metadata differ from their recorded digests
  5    protected: an alias or stage holds the version, or it is the latest
  6    conflict: other writers kept committing first; nothing changed, try again
  7    promotion refused: the gate found the candidate no better (both scores shown)
  8    broken chain: registry events were edited, removed, inserted or reordered
  9    storage failed: the board cannot be reached or read/written (network, permissions)
  130  interrupted (Ctrl-C)
errors are one line on stderr: "pinyard: error: <what> ... <what to do>".
the board: --board URL, or the first argument, or $PINYARD_BOARD."""


def exit_code_for(exc: BaseException) -> int:
    """The exit code the CLI uses for an error."""
    for kind, code in EXIT_CODES:
        if isinstance(exc, kind):
            return code
    return 1


# -- the flat commands of earlier releases --------------------------------------------


def _note(old: str, new: str) -> None:
    print(
        f"pinyard: note: `pinyard {old}` is now `pinyard {new}`; this form keeps printing "
        "JSON as before",
        file=sys.stderr,
    )


def _old_list(args: argparse.Namespace) -> None:
    from pinyard.cli._common import open_board

    _note("list BOARD", "pins list BOARD")
    args.json = True
    emit(args, open_board(args).pin_list(), None)


def _old_versions(args: argparse.Namespace) -> None:
    from pinyard.cli._common import open_board

    _note("versions BOARD NAME", "pins versions BOARD NAME")
    args.json = True
    infos = open_board(args).pin_versions(args.name, as_df=False)
    emit(
        args,
        [{"version": v.version, "created": v.created.isoformat(), "hash": v.hash} for v in infos],
        None,
    )


def _old_meta(args: argparse.Namespace) -> None:
    from pinyard.cli._common import open_board

    _note("meta BOARD NAME", "pins meta BOARD NAME")
    args.json = True
    emit(args, meta_doc(open_board(args).pin_meta(args.name, args.version)), None)


def _forward(old: str, new: Callable[[argparse.Namespace], Any], form: str) -> Any:
    def run(args: argparse.Namespace) -> Any:
        _note(old, form)
        args.json = True
        return new(args)

    return run


def _add_flat(sub: Any) -> None:
    """``list``, ``versions``, ``meta``, ``verify``, ``compact`` as they were (hidden from
    the help); ``runs BOARD EXPERIMENT`` is rewritten in `_old_runs`."""
    from pinyard.cli import _pins_reads, _runs

    for name, handler, positionals in (
        ("list", _old_list, ()),
        ("versions", _old_versions, ("name",)),
        ("meta", _old_meta, ("name",)),
        ("verify", _forward("verify BOARD", _pins_reads._verify, "pins verify BOARD"), ("name?",)),
        (
            "compact",
            _forward("compact BOARD EXPERIMENT", _runs._compact, "runs compact BOARD EXPERIMENT"),
            ("experiment",),
        ),
    ):
        cmd = sub.add_parser(name, description="(old form; see `pinyard --help`)")
        cmd.set_defaults(handler=handler, json=True)
        add_board(cmd)
        for positional in positionals:
            if positional.endswith("?"):
                cmd.add_argument(positional[:-1], nargs="?", default=None)
            else:
                cmd.add_argument(positional)
        if name == "meta":
            cmd.add_argument("--version", dest="version", default=None)
        if name == "compact":
            cmd.add_argument("--grace-hours", type=float, default=1.0)
            cmd.add_argument("--all-finished", action="store_true")


RUNS_ACTIONS = ("experiments", "list", "show", "best", "search", "compare", "plot", "compact")


def _old_runs(argv: list[str]) -> list[str]:
    """``runs BOARD EXPERIMENT [--where F]`` (the old form) -> ``runs list ... --json``."""
    if (
        len(argv) >= 3
        and argv[0] == "runs"
        and argv[1] not in RUNS_ACTIONS
        and not (argv[1].startswith("-"))
    ):
        _note("runs BOARD EXPERIMENT", "runs list BOARD EXPERIMENT")
        return ["runs", "list", "--board", argv[1], *argv[2:], "--json"]
    return argv


# -- the parser -------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    """The whole ``pinyard`` command tree."""
    root = Parser(
        prog="pinyard",
        description="Immutable, hashed versions of models, data and runs on a folder or an "
        "object store; aliases, stages and promotion; experiment runs.",
        epilog="first steps:\n  pinyard pins list ./board          what is on a board\n"
        "  pinyard runs experiments ./board   which experiments have runs\n"
        "  pinyard fsck ./board               is everything intact\n\n" + EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    root.add_argument("--version", action="version", version=f"pinyard {pinyard.__version__}")
    root.add_argument(
        "--board",
        dest="root_board",
        metavar="URL",
        default=None,
        help=f"the board for the command (default: ${BOARD_ENV})",
    )
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], Any], help_text: str) -> Any:
        cmd = sub.add_parser(name, **with_example(help_text, TOP_EXAMPLES[name], EXIT_HELP))
        cmd.set_defaults(handler=handler)
        return cmd

    add_pins_commands(sub, EXIT_HELP)
    add_runs_commands(sub, EXIT_HELP)
    add_registry_commands(sub, EXIT_HELP)
    add_model_commands(add)
    add_ui_command(add)
    add_maintenance_commands(sub, EXIT_HELP)
    add_completion_command(sub, root)
    _add_flat(sub)
    return root


TOP_EXAMPLES = {
    "serve": "pinyard serve ./board churn --alias production --port 8080",
    "docker": "pinyard docker ./board churn --version 20261203T101500Z-ab12c --out ./image",
    "ui": "pinyard ui --board ./board",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code. Nothing escapes as a traceback: every
    failure is one line on stderr and its documented exit code."""
    words = list(sys.argv[1:] if argv is None else argv)
    root = parser()
    try:
        args = root.parse_args(normalize(root, _old_runs(words)))
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return int(exc.code) if isinstance(exc.code, int) else 2
    with _log_lines(args):
        try:
            args.handler(args)
        except BrokenPipeError:  # `pinyard ... | head`: the reader has all it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except (Exception, KeyboardInterrupt) as exc:
            return _fail(exc, args)
    return 0


class _LogLine(logging.Handler):
    """pinyard's log warnings as ``pinyard: warning: ...`` lines in the CLI's words."""

    def __init__(self, board: str | None) -> None:
        super().__init__(logging.WARNING)
        self.board = board

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("The hash of pin"):
            return  # `pins write` says itself that nothing was written, and why
        text = " ".join(cli_words(record.getMessage(), self.board).split())
        print(f"pinyard: {record.levelname.lower()}: {text}", file=sys.stderr)


@contextlib.contextmanager
def _log_lines(args: argparse.Namespace) -> Iterator[None]:
    log = logging.getLogger("pinyard")
    if getattr(args, "command", None) in ("serve", "ui"):
        yield  # servers set up their own logging
        return
    try:
        board: str | None = board_url(args)
    except errors.PinyardError:
        board = None
    handler, propagate = _LogLine(board), log.propagate
    log.addHandler(handler)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.propagate = propagate


def _fail(exc: BaseException, args: argparse.Namespace) -> int:
    code = exit_code_for(exc)
    if os.environ.get("PINYARD_DEBUG"):  # where it came from, for a bug report
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, KeyboardInterrupt):
        message = "interrupted"
    elif isinstance(exc, errors.PinyardError):
        message = str(exc)
    elif isinstance(exc, OSError):
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        message = f"cannot read or write{where}: {exc.strerror or exc}"
    else:
        if os.environ.get("PINYARD_DEBUG"):
            raise exc
        message = (
            f"unexpected {type(exc).__name__}: {exc} (a bug in pinyard; run again with "
            "PINYARD_DEBUG=1 to see where, and report it)"
        )
    try:
        board: str | None = board_url(args)
    except errors.PinyardError:
        board = None
    text = " ".join(cli_words(message, board).split())
    print(f"pinyard: error: {text}", file=sys.stderr)
    sys.stderr.flush()
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
