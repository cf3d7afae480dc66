"""``pinyard pins ...``: list, inspect, read, write, upload, download, delete and verify
versions. Each action is a few calls into `pinyard.Board`; the reading actions are in
`_pins_reads`, the writing ones in `_pins_writes`."""

from __future__ import annotations

import argparse
from typing import Any

from pinyard.cli._common import group
from pinyard.cli._output import add_deletion_flags
from pinyard.cli._pins_reads import (
    READ_ROWS,
    _download,
    _list,
    _meta,
    _read,
    _verify,
    _versions,
)
from pinyard.cli._pins_writes import _delete_version, _prune, _upload, _write

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
        "--allow-pickle-read",
        action="store_const",
        const=True,
        default=None,
        help="allow unpickling a joblib pin (as pins asks; else PINS_ALLOW_PICKLE_READ=1 does)",
    )
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
    add_deletion_flags(cmd)
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
    add_deletion_flags(cmd)
    cmd = add(
        "verify",
        _verify,
        "Re-hash every version's files from the store; report every failure, exit 4 if any.",
        EXAMPLES["verify"],
    )
    cmd.add_argument("name", metavar="NAME", nargs="?", default=None, help="only this pin")
