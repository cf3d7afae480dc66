"""Command-line entry point. Thin: every command is one call into the public API."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import pinyard
from pinyard import errors
from pinyard.cli._models import add_model_commands
from pinyard.cli._registry import add_registry_commands
from pinyard.cli._ui import add_ui_command

#: Exit codes, one place: 0 ok, 1 unexpected, 2 usage (argparse), 3.. pinyard errors.
#: The first matching class wins (ChainError is an IntegrityError).
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (errors.NotFoundError, 3),
    (errors.ChainError, 8),
    (errors.IntegrityError, 4),
    (errors.ProtectedVersionError, 5),
    (errors.ConflictError, 6),
    (errors.PromotionRefusedError, 7),
    (errors.InvalidNameError, 2),
    (errors.InvalidArgumentError, 2),
    (errors.RunStateError, 2),
    (errors.PinyardError, 1),
)


EXIT_HELP = """exit codes:
  0  success
  1  unexpected error
  2  bad usage or input: a bad name, reference or argument, a stage out of order
     without --force, a missing --reason the board requires, a gate that cannot score
  3  not found: board, pin, version, run, or nothing holds that alias or stage
  4  integrity: stored bytes or a held version differ from their recorded digests
  5  protected: an alias or stage holds a version a deletion would remove (no command
     deletes versions yet; the code is kept for the ones that will)
  6  conflict: other writers kept committing first, or an import met a different
     version under the same id; nothing changed
  7  promotion refused: the gate found the candidate no better (both scores shown)
  8  broken chain: registry events were edited, removed, inserted or reordered
errors are one line on stderr: "pinyard: error: <what> ... <what to do>"."""


def exit_code_for(exc: BaseException) -> int:
    """The exit code the CLI uses for an error."""
    for kind, code in EXIT_CODES:
        if isinstance(exc, kind):
            return code
    return 1


def _open(url: str) -> pinyard.Board:
    return pinyard.board(url, create=False)


def _cmd_list(args: argparse.Namespace) -> Any:
    return _open(args.board).pin_list()


def _cmd_versions(args: argparse.Namespace) -> Any:
    return [
        {"version": v.version, "created": v.created.isoformat(), "hash": v.hash}
        for v in _open(args.board).pin_versions(args.name, as_df=False)
    ]


def _cmd_meta(args: argparse.Namespace) -> Any:
    meta = _open(args.board).pin_meta(args.name, args.version)
    return {
        "name": meta.name,
        "version": meta.version,
        "type": meta.type,
        "title": meta.title,
        "description": meta.description,
        "created": meta.created_at.isoformat(),
        "pin_hash": meta.pin_hash,
        "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in meta.files]
        or [
            {"name": n, "size": s} for n, s in zip(meta.file_names, meta.file_sizes, strict=False)
        ],
        "user": dict(meta.user),
        "lineage": dict(meta.lineage),
    }


def _cmd_verify(args: argparse.Namespace) -> Any:
    board = _open(args.board)
    names = [args.name] if args.name else board.pin_list()
    checked = []
    for name in names:
        for info in board.pin_versions(name, as_df=False):
            board.pin_download(name, info.version)
            checked.append(f"{name}@{info.version}")
    return {"verified": len(checked), "versions": checked}


def _cmd_import_pins(args: argparse.Namespace) -> Any:
    try:
        dest = pinyard.board(args.dest, create=True if args.create else None)
    except errors.BoardNotFoundError as exc:  # name the CLI's flag, not the Python argument
        message = str(exc).replace("pass create=True to board()", "pass --create")
        raise errors.BoardNotFoundError(message) from None
    report = pinyard.import_pins(args.source, dest)
    return {
        "imported": [f"{n}@{v}" for n, v in report.imported],
        "already_present": [f"{n}@{v}" for n, v in report.already_present],
        "unverified": [f"{n}@{v}" for n, v in report.unverified],
    }


def _cmd_gc(args: argparse.Namespace) -> Any:
    from datetime import timedelta

    report = _open(args.board).gc(timedelta(hours=args.older_than_hours), dry_run=args.dry_run)
    return {"dry_run": args.dry_run, "staging": report.staging,
            "orphan_versions": report.orphan_versions, "uploads": report.uploads,
            "temporary": report.temporary, "run_artifacts": report.run_artifacts,
            "run_series": report.run_series}  # fmt: skip


def _cmd_runs(args: argparse.Namespace) -> Any:
    tracker = pinyard.Tracker(_open(args.board), args.experiment)
    frame = tracker.search(args.where) if args.where else tracker.runs()
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def _cmd_compact(args: argparse.Namespace) -> Any:
    from datetime import timedelta

    tracker = pinyard.Tracker(_open(args.board), args.experiment)
    grace = timedelta(hours=args.grace_hours)
    return {"segments": tracker.compact(grace, all_finished=args.all_finished)}


def _cmd_cache_info(args: argparse.Namespace) -> Any:
    info = pinyard.Cache(args.cache_dir).info()
    return {"path": info.path, "entries": info.entries, "bytes": info.bytes,
            "max_bytes": info.max_bytes}  # fmt: skip


def _cmd_cache_prune(args: argparse.Namespace) -> Any:
    cache = pinyard.Cache(args.cache_dir)
    freed = cache.prune(args.max_bytes)
    info = cache.info()
    return {"freed_bytes": freed, "entries": info.entries, "bytes": info.bytes}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pinyard",
        description="Immutable, hashed versions of models and data on a folder or object store.",
        epilog=EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pinyard {pinyard.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], Any], help_text: str) -> Any:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.set_defaults(handler=handler)
        return cmd

    add("list", _cmd_list, "List the pins of a board.").add_argument(
        "board", help="board path or URL"
    )
    cmd = add("versions", _cmd_versions, "List a pin's committed versions, oldest first.")
    cmd.add_argument("board", help="board path or URL")
    cmd.add_argument("name", help="pin name")
    cmd = add("meta", _cmd_meta, "Show a version's metadata (the latest by default).")
    cmd.add_argument("board", help="board path or URL")
    cmd.add_argument("name", help="pin name")
    cmd.add_argument("--version", dest="version", default=None, help="version id")
    cmd = add("verify", _cmd_verify, "Re-hash every stored file and check its digest.")
    cmd.add_argument("board", help="board path or URL")
    cmd.add_argument("name", nargs="?", default=None, help="only this pin")
    cmd = add(
        "import-pins",
        _cmd_import_pins,
        "Copy a plain pins board into a pinyard board, verifying every file.",
    )
    cmd.add_argument("source", help="path or URL of the pins board to copy from")
    cmd.add_argument(
        "dest", help="path or URL of the pinyard board (created if absent, in an existing folder)"
    )
    cmd.add_argument(
        "--create", action="store_true", help="also make the missing folders above dest"
    )
    cmd = add(
        "gc",
        _cmd_gc,
        "Remove leftovers of interrupted writes (stale staging, version folders without "
        "data.txt).",
    )
    cmd.add_argument("board", help="board path or URL")
    cmd.add_argument(
        "--older-than-hours", type=float, default=24.0, help="only entries untouched this long"
    )
    cmd.add_argument("--dry-run", action="store_true", help="list what would be removed")
    cmd = add("runs", _cmd_runs, "List an experiment's runs (optionally filtered) as JSON.")
    cmd.add_argument("board", help="board path or URL")
    cmd.add_argument("experiment", help="experiment name")
    cmd.add_argument(
        "--where",
        default=None,
        help="filter, e.g. \"params.model = 'ridge' and metrics.rmse < 2\"",
    )
    cmd = add(
        "compact",
        _cmd_compact,
        "Merge an experiment's records of past hours into a Parquet segment (faster queries).",
    )
    cmd.add_argument("board", help="board path or URL")
    cmd.add_argument("experiment", help="experiment name")
    cmd.add_argument(
        "--grace-hours", type=float, default=1.0, help="leave records this recent alone"
    )
    cmd.add_argument(
        "--all-finished",
        action="store_true",
        help="also every other run that has ended, this hour's too (a segment covering no hour)",
    )
    add_model_commands(add)
    add_ui_command(add)
    add_registry_commands(sub, EXIT_HELP)
    cache = sub.add_parser("cache", help="Inspect or shrink the local cache of remote boards.")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    info = cache_sub.add_parser("info", help="Where the cache is and what it holds.")
    info.set_defaults(handler=_cmd_cache_info)
    prune = cache_sub.add_parser(
        "prune", help="Evict least-recently-used files until the cache fits --max-bytes."
    )
    prune.set_defaults(handler=_cmd_cache_prune)
    prune.add_argument(
        "--max-bytes", type=int, default=None, help="bound to prune to (0 empties the cache; "
        "default: PINYARD_CACHE_MAX_BYTES or 10 GiB)"
    )  # fmt: skip
    for command in (info, prune):
        command.add_argument(
            "--cache-dir", default=None, help="cache folder (default: PINYARD_CACHE_DIR or "
            "~/.cache/pinyard)"
        )  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (printed results go to stdout as JSON)."""
    args = _parser().parse_args(argv)
    try:
        result = args.handler(args)
    except errors.PinyardError as exc:
        print(f"pinyard: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return exit_code_for(exc)
    if result is not None:
        print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
