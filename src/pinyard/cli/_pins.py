"""``pinyard pins ...``: list, inspect, read, write, upload, download, delete and verify
versions. Each action is a few calls into `pinyard.Board`."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import pinyard
from pinyard.cli import _files
from pinyard.cli._common import board_url, open_board, storage_options
from pinyard.cli._output import confirm, emit, pairs, progress, size, table, when
from pinyard.errors import (
    IntegrityError,
    InvalidArgumentError,
    PinyardError,
    VersionNotFoundError,
)

READ_ROWS = 20  # rows `pins read` prints of a table (--rows changes it)


def meta_doc(meta: pinyard.PinMeta) -> dict[str, Any]:
    """A version's metadata as ``pins meta --json`` prints it."""
    return {
        "name": meta.name,
        "version": str(meta.version),
        "type": meta.type,
        "title": meta.title,
        "description": meta.description,
        "created": meta.created_at.isoformat(),
        "pin_hash": meta.pin_hash,
        "size": sum(meta.file_sizes),
        "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in meta.files]
        or [
            {"name": n, "size": s, "sha256": None}
            for n, s in zip(meta.file_names, meta.file_sizes, strict=False)
        ],
        "user": dict(meta.user),
        "lineage": dict(meta.lineage),
    }


def _list(args: argparse.Namespace) -> None:
    board = open_board(args)
    metas = (
        board.pin_search(args.search, as_df=False)
        if args.search
        else [board.pin_meta(name) for name in board.pin_list()]
    )
    docs: list[dict[str, Any]] = [
        {
            "name": m.name,
            "type": m.type,
            "title": m.title,
            "latest": str(m.version),
            "created": m.created_at.isoformat(),
            "size": sum(m.file_sizes),
        }
        for m in metas
    ]
    rows = [
        (d["name"], d["type"], size(d["size"]), when(m.created_at), d["latest"], d["title"])
        for d, m in zip(docs, metas, strict=True)
    ]
    text = table(
        ("NAME", "TYPE", "SIZE", "CREATED", "LATEST", "TITLE"),
        rows,
        empty="(no pins)" if not args.search else f"(no pin matches {args.search!r})",
    )
    emit(args, docs, text)


def _versions(args: argparse.Namespace) -> None:
    board = open_board(args)
    infos = board.pin_versions(args.name, as_df=False)
    docs = []
    for i, info in enumerate(infos):
        meta = board.pin_meta(args.name, info.version)
        docs.append(
            {
                "version": info.version,
                "created": info.created.isoformat(),
                "hash": info.hash,
                "type": meta.type,
                "size": sum(meta.file_sizes),
                "latest": i == len(infos) - 1,
            }
        )
    rows = [
        (
            d["version"],
            when(info.created),
            size(d["size"]),
            d["type"],
            d["hash"],
            "latest" if d["latest"] else "",
        )
        for d, info in zip(docs, infos, strict=True)
    ]
    emit(args, docs, table(("VERSION", "CREATED", "SIZE", "TYPE", "HASH", ""), rows))


def _meta(args: argparse.Namespace) -> None:
    meta = open_board(args).pin_meta(args.name, args.version)
    doc = meta_doc(meta)
    rows: list[tuple[str, Any]] = [
        ("version", doc["version"]),
        ("type", doc["type"]),
        ("title", doc["title"]),
        ("description", doc["description"]),
        ("created", when(meta.created_at)),
        ("pin hash", doc["pin_hash"]),
        ("size", size(doc["size"])),
    ]
    rows += [
        (f"file {f['name']}", f"{size(f['size'])}, sha256 {f['sha256'] or '-'}")
        for f in doc["files"]
    ]
    rows += [(f"user.{k}", v) for k, v in sorted(doc["user"].items())]
    rows += [(f"lineage.{k}", v) for k, v in sorted(doc["lineage"].items())]
    emit(args, doc, pairs(f"{meta.name}:{meta.version}", rows))


def _read(args: argparse.Namespace) -> None:
    board = open_board(args)
    meta = board.pin_meta(args.name, args.version)
    obj = board.pin_read(args.name, meta.version)
    head = {"name": meta.name, "version": str(meta.version), "type": meta.type}
    if args.out:
        _files.save(obj, args.out)
        emit(
            args,
            {**head, "out": os.path.abspath(args.out)},
            f"wrote {meta.name}:{meta.version} to {args.out}",
        )
        return
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        shown = obj.head(args.rows)
        records = _files.json_records(shown)
        doc = {
            **head,
            "kind": "table",
            "columns": [str(c) for c in obj.columns],
            "total_rows": len(obj),
            "rows": records,
        }
        text = table(
            [str(c) for c in obj.columns], [list(r.values()) for r in records], empty="(no rows)"
        )
        if len(obj) > len(shown):
            text += f"\n({len(shown)} of {len(obj)} rows; --rows N for more, --out FILE for all)"
        emit(args, doc, text)
        return
    value = _files.as_json(obj, meta.name)
    import json

    emit(args, {**head, "kind": "value", "value": value}, json.dumps(value, indent=2))


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


def _download(args: argparse.Namespace) -> None:
    board = open_board(args)
    meta = board.pin_meta(args.name, args.version)
    out = args.out
    if os.path.exists(out) and not os.path.isdir(out):
        raise InvalidArgumentError(f"--out {out!r} is a file; give a folder to put the files in")
    paths = board.pin_download(args.name, meta.version)  # fetched and verified
    os.makedirs(out, exist_ok=True)
    total = sum(os.path.getsize(p) for p in paths)
    written = []
    with progress(f"copying {meta.name}", total) as advance:
        for file_name, path in zip(meta.file_names, paths, strict=True):
            dest = os.path.join(out, file_name)
            _copy(path, dest, advance)
            written.append(os.path.abspath(dest))
    doc = {"name": meta.name, "version": str(meta.version), "files": written, "size": total}
    lines = [f"{meta.name}:{meta.version} ({size(total)}, verified):"] + [
        f"  {p}" for p in written
    ]
    emit(args, doc, "\n".join(lines))


def _copy(src: str, dest: str, advance: Callable[[int], None]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".pinyard-", dir=os.path.dirname(dest) or ".")
    try:
        with open(src, "rb") as source, os.fdopen(fd, "wb") as target:
            while chunk := source.read(8 * 1024 * 1024):
                target.write(chunk)
                advance(len(chunk))
        shutil.copymode(src, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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
    if args.dry_run:
        emit(args, doc, f"would delete {args.name}:{version} (dry run; nothing deleted)")
        return
    if not confirm(f"delete version {version} of {args.name!r}?", args):
        emit(args, {**doc, "deleted": []}, "nothing deleted")
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
    if args.dry_run:
        emit(args, doc, f"would delete {len(going)} version(s) of {args.name} (dry run):{listing}")
        return
    if not args.yes and sys.stdin.isatty():
        print(f"{args.name}: {len(going)} version(s) to delete:{listing}")
    if not confirm(f"delete {len(going)} version(s) of {args.name!r}?", args):
        emit(args, {**doc, "deleted": []}, "nothing deleted")
        return
    deleted = board.pin_versions_prune(args.name, n=args.keep, days=args.days)
    doc["deleted"] = deleted
    emit(
        args,
        doc,
        f"deleted {len(deleted)} version(s) of {args.name}:"
        + "".join(f"\n  {v}" for v in deleted),
    )


def fresh_board(args: argparse.Namespace, scratch: str) -> pinyard.Board:
    """The board opened with an empty cache in ``scratch``, so every byte checked is read
    from the store itself (a local folder board is read in place)."""
    return pinyard.board(
        board_url(args),
        create=False,
        storage_options=storage_options(args),
        cache=pinyard.Cache(scratch),
    )


def verify_pins(board: pinyard.Board, names: list[str]) -> dict[str, Any]:
    """Re-hash every version of ``names``; every failure is collected, none stops it."""
    checked: list[str] = []
    damaged: list[dict[str, str]] = []
    for name in names:
        try:
            infos = board.pin_versions(name, as_df=False)
        except PinyardError as exc:
            damaged.append({"pin": name, "version": "", "error": _line(exc)})
            continue
        for info in infos:
            try:
                board.pin_download(name, info.version)
            except PinyardError as exc:
                damaged.append({"pin": name, "version": info.version, "error": _line(exc)})
            else:
                checked.append(f"{name}:{info.version}")
    return {"ok": not damaged, "verified": len(checked), "versions": checked, "failed": damaged}


def verify_lines(doc: dict[str, Any]) -> list[str]:
    lines = [f"DAMAGED {d['pin']}:{d['version'] or '*'}: {d['error']}" for d in doc["failed"]]
    total = doc["verified"] + len(doc["failed"])
    summary = f"{total} version(s) checked: {doc['verified']} ok, {len(doc['failed'])} damaged"
    return [*lines, summary]


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _verify(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="pinyard-verify-") as scratch:
        board = fresh_board(args, scratch)
        names = [args.name] if args.name else board.pin_list()
        if args.name:
            board.pin_versions(args.name, as_df=False)  # an unknown name is not found
        doc = verify_pins(board, names)
    emit(args, doc, "\n".join(verify_lines(doc)))
    if doc["failed"]:
        raise IntegrityError(
            f"{len(doc['failed'])} version(s) damaged, listed above; restore each from a "
            "backup or delete it (`pinyard pins delete-version`)"
        )


EXAMPLES = {
    "list": "pinyard pins list ./board\n"
    "pinyard pins list --board s3://bucket/models --search churn",
    "versions": "pinyard pins versions ./board sales",
    "meta": "pinyard pins meta ./board sales --version 20261203T101500Z-ab12c",
    "read": "pinyard pins read ./board sales --rows 5\n"
    "pinyard pins read ./board sales --out sales.csv",
    "write": "pinyard pins write ./board sales sales.csv --title 'daily sales'",
    "upload": "pinyard pins upload ./board report report.pdf appendix.xlsx",
    "download": "pinyard pins download ./board report --out ./report-files",
    "delete-version": "pinyard pins delete-version ./board sales 20261203T101500Z-ab12c --yes",
    "prune": "pinyard pins prune ./board sales --keep 5 --dry-run",
    "verify": "pinyard pins verify ./board",
}


def add_pins_commands(sub: Any, epilog: str) -> None:
    """Register ``pinyard pins ACTION``."""
    from pinyard.cli._common import group

    add = group(
        sub,
        "pins",
        "Pins: list, read, write, upload, download, prune, verify.",
        epilog,
        "pinyard pins list ./board\npinyard pins read ./board sales --rows 5",
    )

    def version_flag(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument(
            "--version", default=None, metavar="V", help="a version id (default: the latest)"
        )

    cmd = add(
        "list", _list, "List the pins of a board with their latest version.", EXAMPLES["list"]
    )
    cmd.add_argument(
        "--search", metavar="REGEX", default=None, help="only pins whose name or title matches"
    )
    cmd = add("versions", _versions, "List a pin's versions, oldest first.", EXAMPLES["versions"])
    cmd.add_argument("name", metavar="NAME", help="pin name")
    cmd = add(
        "meta", _meta, "Show a version's metadata: files, digests, lineage.", EXAMPLES["meta"]
    )
    cmd.add_argument("name", metavar="NAME", help="pin name")
    version_flag(cmd)
    cmd = add(
        "read",
        _read,
        "Print a version's table or JSON (verified), or write it to --out.",
        EXAMPLES["read"],
    )
    cmd.add_argument("name", metavar="NAME", help="pin name")
    version_flag(cmd)
    cmd.add_argument(
        "--rows",
        type=int,
        default=READ_ROWS,
        metavar="N",
        help=f"rows of a table to print (default {READ_ROWS})",
    )
    cmd.add_argument(
        "--out",
        metavar="FILE",
        default=None,
        help="write the object to FILE (.csv, .parquet, .json, .arrow, .joblib)",
    )
    for action, handler, text in (
        (
            "write",
            _write,
            "Store a file's contents as a new version; the type comes from the "
            "extension (.csv, .parquet, .json, .arrow, .joblib).",
        ),
        ("upload", _upload, "Store files as they are (type 'file') as a new version."),
    ):
        cmd = add(action, handler, text, EXAMPLES[action])
        cmd.add_argument("name", metavar="NAME", help="pin name")
        if action == "write":
            cmd.add_argument("file", metavar="FILE", help="the file to read")
            cmd.add_argument(
                "--type",
                default=None,
                help="store as this type instead (parquet, csv, json, arrow, joblib)",
            )
        else:
            cmd.add_argument("files", metavar="FILE", nargs="+", help="files to store")
        cmd.add_argument("--title", default=None, help="a one-line title")
        cmd.add_argument("--description", default=None, help="a longer description")
        cmd.add_argument(
            "--meta",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="user metadata (repeatable)",
        )
        cmd.add_argument(
            "--force-identical",
            action="store_true",
            help="write a version even if the content equals the latest",
        )
        cmd.add_argument(
            "--create", action="store_true", help="make the board if there is none there yet"
        )
    cmd = add(
        "download",
        _download,
        "Copy a version's files (verified) into a folder.",
        EXAMPLES["download"],
    )
    cmd.add_argument("name", metavar="NAME", help="pin name")
    version_flag(cmd)
    cmd.add_argument("--out", default=".", metavar="DIR", help="folder (default: here)")
    cmd = add(
        "delete-version",
        _delete_version,
        "Delete one version (never the latest, nor one an alias or stage holds).",
        EXAMPLES["delete-version"],
    )
    cmd.add_argument("name", metavar="NAME", help="pin name")
    cmd.add_argument("version", metavar="VERSION", help="version id")
    _deleting(cmd)
    cmd = add(
        "prune",
        _prune,
        "Delete old versions, keeping the newest N or the last D days "
        "(the latest and protected versions are kept).",
        EXAMPLES["prune"],
    )
    cmd.add_argument("name", metavar="NAME", help="pin name")
    cmd.add_argument("--keep", type=int, default=None, metavar="N", help="keep the newest N")
    cmd.add_argument(
        "--days", type=int, default=None, metavar="D", help="keep those of the last D days"
    )
    _deleting(cmd)
    cmd = add(
        "verify",
        _verify,
        "Re-hash every version's files from the store; report every failure, exit 4 if any.",
        EXAMPLES["verify"],
    )
    cmd.add_argument("name", metavar="NAME", nargs="?", default=None, help="only this pin")


def _deleting(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--yes", "-y", action="store_true", help="do not ask")
    cmd.add_argument("--dry-run", action="store_true", help="show what would go; delete nothing")
