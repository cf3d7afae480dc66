"""The reading half of ``pinyard registry``: resolve, history, lineage, verify, watch."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from pinyard.cli._render import (
    Output,
    emit,
    event_doc,
    event_line,
    history_table,
    lineage_text,
    verify_summary,
    verify_text,
)
from pinyard.errors import ChainError, IntegrityError
from pinyard.registry import CommandHook, EventHook, HttpHook, Registry

Handler = Callable[[argparse.Namespace, Registry], Output | None]
Add = Callable[..., argparse.ArgumentParser]


def _resolve(args: argparse.Namespace, registry: Registry) -> Output:
    found = registry.resolve(args.reference, as_of=args.as_of)
    doc = {
        "reference": args.reference,
        "as_of": args.as_of,
        "name": found.name,
        "version": found.version,
        "slot": found.slot,
        "seq": found.seq,
        "meta_sha256": found.meta_sha256,
        "files": found.files,
    }
    return Output(doc, found.version)


def _history(args: argparse.Namespace, registry: Registry) -> Output:
    events = registry.history(args.name)
    assert isinstance(events, list)
    return Output([event_doc(e) for e in events], history_table(events))


def _lineage(args: argparse.Namespace, registry: Registry) -> Output:
    found = registry.lineage(args.reference)
    return Output(found.as_dict(), lineage_text(found))


def _verify(args: argparse.Namespace, registry: Registry) -> Output | None:
    reports = registry.verify(args.name)
    docs = [{**r.__dict__, "ok": r.ok} for r in reports]
    emit(args, Output(docs, verify_text(reports)))
    damaged = [r for r in reports if not r.ok]
    if any(r.chain_broken for r in damaged):
        raise ChainError(
            f"{verify_summary(reports)}, listed above. Restore the named registry files from "
            "a backup (events are never rewritten in place, so any edit is damage)"
        )
    if damaged:
        raise IntegrityError(
            f"{verify_summary(reports)}, listed above. Restore each named version from a "
            "backup, or move its alias or stage elsewhere (pinyard registry rollback)"
        )
    return None


def _watch(args: argparse.Namespace, registry: Registry) -> None:
    name = args.name
    if name and not registry.state(name).seq:
        registry.board.pin_versions(name, as_df=False)  # a misspelt name fails here
    url = registry.board.store.url
    hooks: list[EventHook] = []
    if args.exec:
        hooks.append(CommandHook(args.exec, board_url=url))
    if args.post:
        hooks.append(HttpHook(args.post, board_url=url))
    events = registry.watch(name, since=args.since, interval=args.interval, timeout=args.timeout)
    try:
        for seen, event in enumerate(events, start=1):
            if args.json:
                print(json.dumps({"board": url, **event_doc(event)}, sort_keys=True), flush=True)
            else:
                print(event_line(event), flush=True)
            _run_hooks(hooks, event)
            if args.count is not None and seen >= args.count:
                return
    except KeyboardInterrupt:  # Ctrl-C is how a watch usually ends
        return


def _run_hooks(hooks: list[EventHook], event: Any) -> None:
    """Each hook in turn; a failing one is reported and the watch goes on."""
    for hook in hooks:
        try:
            hook(event)
        except Exception as exc:  # any failure of a user's command or endpoint
            detail = " ".join(str(exc).split()) or type(exc).__name__
            print(
                f"pinyard: warning: hook {_hook_name(hook)} failed for event {event.seq} "
                f"of {event.name!r}: {detail}",
                file=sys.stderr,
                flush=True,
            )


def _hook_name(hook: EventHook) -> str:
    if isinstance(hook, CommandHook):
        return f"--exec {hook.command!r}"
    if isinstance(hook, HttpHook):
        return f"--post {hook.url}"
    return repr(hook)


def add_read_commands(add: Add) -> None:
    """Register resolve, history, lineage, verify and watch with ``add(name, handler, help,
    writes=False)``."""
    cmd = add("resolve", _resolve, "Print the exact version a reference points at.", writes=False)
    cmd.add_argument(
        "reference",
        metavar="REFERENCE",
        help="NAME@ALIAS, NAME@STAGE, NAME:VERSION, NAME:HASH5, NAME",
    )
    cmd.add_argument(
        "--as-of",
        default=None,
        help="what it pointed at then (ISO 8601, e.g. 2026-12-02T14:02:00Z)",
    )
    cmd = add("history", _history, "Every registry event of a name, oldest first.", writes=False)
    cmd.add_argument("name", metavar="NAME", help="model (pin) name")
    cmd = add(
        "lineage",
        _lineage,
        "Where a version came from: digests, run, params, commit.",
        writes=False,
    )
    cmd.add_argument(
        "reference",
        metavar="REFERENCE",
        help="NAME@ALIAS, NAME@STAGE, NAME:VERSION, NAME:HASH5, NAME",
    )
    cmd = add(
        "verify",
        _verify,
        "Check every event chain and re-hash every held version; exit non-zero if damaged.",
        writes=False,
    )
    cmd.add_argument("name", metavar="NAME", nargs="?", default=None, help="only this name")
    cmd = add(
        "watch", _watch, "Print registry events as they land; run hooks for each.", writes=False
    )
    cmd.add_argument(
        "name", metavar="NAME", nargs="?", default=None, help="only this name (default: all)"
    )
    cmd.add_argument(
        "--exec",
        default=None,
        metavar="CMD",
        help="run CMD per event (event JSON on stdin, PINYARD_EVENT_* variables)",
    )
    cmd.add_argument("--post", default=None, metavar="URL", help="POST each event as JSON")
    cmd.add_argument(
        "--interval", metavar="S", type=float, default=1.0, help="seconds between polls"
    )
    cmd.add_argument(
        "--timeout", metavar="S", type=float, default=None, help="stop after this many seconds"
    )
    cmd.add_argument("--count", type=int, default=None, metavar="N", help="stop after N events")
    cmd.add_argument(
        "--since",
        type=int,
        default=None,
        metavar="SEQ",
        help="also print events after SEQ already there (0: all of them)",
    )
