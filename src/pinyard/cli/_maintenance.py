"""Board upkeep: ``gc``, ``fsck``, ``cache info|prune`` and ``import-pins``."""

from __future__ import annotations

import argparse
import tempfile
from datetime import timedelta
from typing import Any

import pinyard
from pinyard.cli._common import add_board, open_board, with_example
from pinyard.cli._output import add_json_flag, emit, one_line, size
from pinyard.cli._pins_reads import fresh_board, verify_lines, verify_pins
from pinyard.cli._render import verify_text
from pinyard.errors import ChainError, IntegrityError, PinyardError


def _gc_doc(report: Any, dry_run: bool) -> dict[str, Any]:
    return {
        "dry_run": dry_run,
        "staging": report.staging,
        "orphan_versions": report.orphan_versions,
        "temporary": report.temporary,
        "uploads": report.uploads,
        "run_artifacts": report.run_artifacts,
        "run_series": report.run_series,
    }


def _gc_lines(doc: dict[str, Any]) -> list[str]:
    lines = []
    for key, label in (
        ("staging", "stale staging"),
        ("orphan_versions", "orphan version"),
        ("temporary", "temporary file"),
        ("uploads", "incomplete upload"),
        ("run_artifacts", "artifact no run refers to"),
        ("run_series", "series of a run that never finished"),
    ):
        lines += [f"  {label}: {entry}" for entry in doc[key]]
    return lines


def _count(doc: dict[str, Any]) -> int:
    kinds = ("staging", "orphan_versions", "temporary", "uploads", "run_artifacts", "run_series")
    return sum(len(doc[k]) for k in kinds)


def _gc(args: argparse.Namespace) -> None:
    board = open_board(args)
    report = board.gc(timedelta(hours=args.older_than_hours), dry_run=args.dry_run)
    doc = _gc_doc(report, args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    text = "\n".join([f"{verb} {_count(doc)} leftover(s) ({report})", *_gc_lines(doc)])
    emit(args, doc, text)


def verify_runs(board: pinyard.Board) -> dict[str, Any]:
    """Read every run record, series and artifact of every experiment through the
    tracking API; every failure is collected."""
    checked = 0
    failed: list[dict[str, str]] = []
    for experiment in pinyard.Tracker.experiments(board):
        tracker = pinyard.Tracker(board, experiment)
        try:
            run_ids = [str(r) for r in tracker.runs()["run_id"]]
        except PinyardError as exc:
            failed.append({"experiment": experiment, "run_id": "", "error": one_line(exc)})
            continue
        for run_id in run_ids:
            try:
                record = tracker.get_run(run_id)
                if record.series:
                    tracker.history(run_id)
                for name in record.artifacts:
                    tracker.artifact(run_id, name)
                tracker.notes(run_id)
            except PinyardError as exc:
                failed.append({"experiment": experiment, "run_id": run_id, "error": one_line(exc)})
            else:
                checked += 1
    return {"ok": not failed, "checked": checked, "failed": failed}


def _fsck(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="pinyard-fsck-") as scratch:
        board = fresh_board(args, scratch)
        pins = verify_pins(board, board.pin_list())
        runs: dict[str, Any] = (
            verify_runs(board)
            if board.kind == "pinyard"
            else {"ok": True, "checked": 0, "failed": []}
        )
        reports = pinyard.Registry(board).verify() if board.kind == "pinyard" else []
        older = timedelta(hours=args.older_than_hours)
        leftovers = _gc_doc(board.gc(older, dry_run=True), True)
        if args.repair and _count(leftovers):
            leftovers = _gc_doc(board.gc(older, dry_run=False), False)
    registry = [{**r.__dict__, "ok": r.ok} for r in reports]
    broken = any(r.chain_broken for r in reports)
    ok = pins["ok"] and runs["ok"] and all(r.ok for r in reports)
    doc = {
        "ok": ok,
        "board": board.store.url,
        "pins": pins,
        "runs": runs,
        "registry": registry,
        "leftovers": leftovers,
        "repaired": args.repair,
    }
    lines = [f"pins: {verify_lines(pins)[-1]}"] + [f"  {x}" for x in verify_lines(pins)[:-1]]
    lines.append(
        f"runs: {runs['checked'] + len(runs['failed'])} run(s) read: "
        f"{runs['checked']} ok, {len(runs['failed'])} damaged"
    )
    lines += [
        f"  DAMAGED {f['experiment']}/{f['run_id'] or '*'}: {f['error']}" for f in runs["failed"]
    ]
    if reports:
        lines.append("registry:")
        lines += [f"  {x}" for x in verify_text(reports).splitlines()]
    else:
        lines.append("registry: no chains")
    found = _count(leftovers)
    verb = "removed" if args.repair and not leftovers["dry_run"] else "found"
    hint = (
        "" if args.repair or not found else " (pinyard fsck --repair, or pinyard gc, removes them)"
    )
    lines.append(f"leftovers: {found} {verb}{hint}")
    lines += [f"  {x}" for x in _gc_lines(leftovers)]
    lines.append("board OK" if ok else "board DAMAGED: see the lines marked above")
    emit(args, doc, "\n".join(lines))
    if not ok:
        problems = (
            len(pins["failed"]) + len(runs["failed"]) + sum(len(r.problems) for r in reports)
        )
        kind = ChainError if broken else IntegrityError
        raise kind(
            f"fsck found {problems} problem(s) on {board.store.url}, listed above; --repair "
            "removes leftovers only: restore damaged items from a backup"
        )


def _cache_info(args: argparse.Namespace) -> None:
    info = pinyard.Cache(args.cache_dir).info()
    doc = {
        "path": info.path,
        "entries": info.entries,
        "bytes": info.bytes,
        "max_bytes": info.max_bytes,
    }
    emit(
        args,
        doc,
        f"{info.path}: {info.entries} file(s), {size(info.bytes)} of at most "
        f"{size(info.max_bytes)}",
    )


def _cache_prune(args: argparse.Namespace) -> None:
    cache = pinyard.Cache(args.cache_dir)
    freed = cache.prune(args.max_bytes)
    info = cache.info()
    doc = {"freed_bytes": freed, "entries": info.entries, "bytes": info.bytes}
    emit(args, doc, f"freed {size(freed)}; {info.entries} file(s), {size(info.bytes)} remain")


def _import_pins(args: argparse.Namespace) -> None:
    dest = pinyard.board(args.dest, create=True if args.create else None)
    report = pinyard.import_pins(args.source, dest)
    doc = {
        "imported": [f"{n}@{v}" for n, v in report.imported],
        "already_present": [f"{n}@{v}" for n, v in report.already_present],
        "unverified": [f"{n}@{v}" for n, v in report.unverified],
    }
    emit(
        args,
        doc,
        f"imported {len(doc['imported'])} version(s), "
        f"{len(doc['already_present'])} already there, {len(doc['unverified'])} without a "
        "digest to check",
    )


def add_maintenance_commands(sub: Any, epilog: str) -> None:
    """Register ``gc``, ``fsck``, ``cache`` and ``import-pins``."""
    cmd = sub.add_parser(
        "gc",
        **with_example(
            "Remove leftovers of interrupted writes (stale staging, version folders without "
            "data.txt, temporary files, incomplete uploads, artifacts no run refers to, "
            "series of runs that never finished).",
            "pinyard gc ./board --dry-run",
            epilog,
        ),
    )
    cmd.set_defaults(handler=_gc)
    add_board(cmd)
    add_json_flag(cmd)
    cmd.add_argument(
        "--older-than-hours",
        type=float,
        default=24.0,
        help="only entries untouched this long (default 24)",
    )
    cmd.add_argument("--dry-run", action="store_true", help="list what would be removed")

    cmd = sub.add_parser(
        "fsck",
        **with_example(
            "Check a whole board: re-hash every pin version, read every run record, verify every "
            "registry chain, list leftovers; exit non-zero with a full report if anything is "
            "damaged.",
            "pinyard fsck ./board\npinyard fsck s3://bucket/models --repair",
            epilog,
        ),
    )
    cmd.set_defaults(handler=_fsck)
    add_board(cmd)
    add_json_flag(cmd)
    cmd.add_argument(
        "--repair",
        action="store_true",
        help="remove the leftovers (never anything damaged: that needs a backup)",
    )
    cmd.add_argument(
        "--older-than-hours",
        type=float,
        default=24.0,
        help="leftovers untouched this long count (default 24)",
    )

    cache = sub.add_parser(
        "cache",
        **with_example(
            "Inspect or shrink the local cache of remote boards.",
            "pinyard cache info\npinyard cache prune --max-bytes 0",
            epilog,
        ),
    )
    cache_sub = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    info = cache_sub.add_parser(
        "info",
        **with_example("Where the cache is and what it holds.", "pinyard cache info", epilog),
    )
    info.set_defaults(handler=_cache_info)
    prune = cache_sub.add_parser(
        "prune",
        **with_example(
            "Evict least-recently-used files until the cache fits --max-bytes.",
            "pinyard cache prune --max-bytes 0",
            epilog,
        ),
    )
    prune.set_defaults(handler=_cache_prune)
    prune.add_argument(
        "--max-bytes",
        type=int,
        default=None,
        help="bound to prune to (0 empties the cache; default: PINYARD_CACHE_MAX_BYTES or 10 GiB)",
    )
    for command in (info, prune):
        add_json_flag(command)
        command.add_argument(
            "--cache-dir",
            default=None,
            help="cache folder (default: PINYARD_CACHE_DIR or ~/.cache/pinyard)",
        )

    cmd = sub.add_parser(
        "import-pins",
        **with_example(
            "Copy a plain pins board into a pinyard board, verifying every file.",
            "pinyard import-pins ./old-pins-board ./board",
            epilog,
        ),
    )
    cmd.set_defaults(handler=_import_pins)
    add_json_flag(cmd)
    cmd.add_argument("source", help="path or URL of the pins board to copy from")
    cmd.add_argument(
        "dest", help="path or URL of the pinyard board (created if absent, in an existing folder)"
    )
    cmd.add_argument(
        "--create", action="store_true", help="also make the missing folders above dest"
    )
