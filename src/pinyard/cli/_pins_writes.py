"""The writing half of ``pinyard pins``: write, upload, delete-version, prune."""

from __future__ import annotations

import argparse
from typing import Any

from pinyard.cli import _files
from pinyard.cli._common import board_url, open_board
from pinyard.cli._output import deletion_confirmed, emit, size
from pinyard.errors import InvalidArgumentError, VersionNotFoundError


def _write(args: argparse.Namespace) -> None:
    obj, inferred = _files.load(args.file, args.type)
    board = open_board(args, create=args.create)
    result = board.pin_write(
        obj,
        args.name,
        type=args.type or inferred,
        title=args.title,
        description=args.description,
        metadata=_key_values(args.meta) or None,
        force_identical_write=args.force_identical,
    )
    _report_write(args, result)


def _upload(args: argparse.Namespace) -> None:
    for path in args.files:
        _files.check_input(path)
    board = open_board(args, create=args.create)
    result = board.pin_upload(
        args.files,
        args.name,
        title=args.title,
        description=args.description,
        metadata=_key_values(args.meta) or None,
        force_identical_write=args.force_identical,
    )
    _report_write(args, result)


def _report_write(args: argparse.Namespace, result: Any) -> None:
    doc = {
        "name": result.name,
        "version": str(result.version),
        "type": result.type,
        "written": result.written,
        "pin_hash": result.pin_hash,
        "size": sum(result.file_sizes),
    }
    text = (
        f"wrote {result.name}:{result.version} ({result.type}, {size(doc['size'])})"
        if result.written
        else f"{result.name}: same content as version {result.version}; nothing written "
        "(--force-identical writes it anyway)"
    )
    emit(args, doc, text)


def _key_values(items: list[str]) -> dict[str, str]:
    found = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgumentError(f"--meta {item!r} is not KEY=VALUE")
        found[key] = value
    return found


def _delete_version(args: argparse.Namespace) -> None:
    board = open_board(args)
    version = str(board.pin_meta(args.name, args.version).version)
    listed = [v.version for v in board.pin_versions(args.name, as_df=False)]
    if version not in listed:  # a remote board's cache may still hold its metadata
        raise VersionNotFoundError(
            f"pin {args.name!r} has no version {version!r} (any more); see `pinyard pins "
            f"versions {board_url(args)} {args.name}`"
        )
    board.pin_version_delete(args.name, version, dry_run=True)  # refusals come first
    doc = {"name": args.name, "deleted": [version], "dry_run": args.dry_run}
    if not deletion_confirmed(
        args,
        doc,
        f"delete version {version} of {args.name!r}?",
        f"would delete {args.name}:{version} (dry run; nothing deleted)",
    ):
        return
    board.pin_version_delete(args.name, version)
    emit(args, doc, f"deleted {args.name}:{version}")


def _prune(args: argparse.Namespace) -> None:
    if (args.keep is None) == (args.days is None):
        raise InvalidArgumentError("say what to keep: --keep N (the newest N) or --days D")
    board = open_board(args)
    going = board.pin_versions_prune(args.name, n=args.keep, days=args.days, dry_run=True)
    doc = {"name": args.name, "deleted": going, "dry_run": args.dry_run}
    listing = "".join(f"\n  {v}" for v in going)
    if not going:
        emit(args, doc, f"{args.name}: nothing to prune")
        return
    if not deletion_confirmed(
        args,
        doc,
        f"delete {len(going)} version(s) of {args.name!r}?",
        f"would delete {len(going)} version(s) of {args.name} (dry run):{listing}",
        listing=f"{args.name}: {len(going)} version(s) to delete:{listing}",
    ):
        return
    deleted = board.pin_versions_prune(args.name, n=args.keep, days=args.days)
    doc["deleted"] = deleted
    emit(
        args,
        doc,
        f"deleted {len(deleted)} version(s) of {args.name}:"
        + "".join(f"\n  {v}" for v in deleted),
    )
