"""The reading half of ``pinyard pins``: list, versions, meta, read, download, verify."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import pinyard
from pinyard.cli import _files
from pinyard.cli._common import board_url, open_board, storage_options
from pinyard.cli._output import emit, one_line, pairs, progress, size, table, when
from pinyard.errors import IntegrityError, InvalidArgumentError, PinyardError

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
            damaged.append({"pin": name, "version": "", "error": one_line(exc)})
            continue
        for info in infos:
            try:
                board.pin_download(name, info.version)
            except PinyardError as exc:
                damaged.append({"pin": name, "version": info.version, "error": one_line(exc)})
            else:
                checked.append(f"{name}:{info.version}")
    return {"ok": not damaged, "verified": len(checked), "versions": checked, "failed": damaged}


def verify_lines(doc: dict[str, Any]) -> list[str]:
    lines = [f"DAMAGED {d['pin']}:{d['version'] or '*'}: {d['error']}" for d in doc["failed"]]
    total = doc["verified"] + len(doc["failed"])
    summary = f"{total} version(s) checked: {doc['verified']} ok, {len(doc['failed'])} damaged"
    return [*lines, summary]


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
