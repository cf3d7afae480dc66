"""Pages of the pins and the registry: lists, versions, one version, a name's timeline."""

from __future__ import annotations

import json
import re
from typing import Any

from pinyard.boards import Board, PinMeta
from pinyard.errors import PinyardError
from pinyard.registry import Registry
from pinyard.ui import _actions as actions
from pinyard.ui._html import badge, e, error_box, link, notice, pairs, table


def pins_list(board: Board, query: str | None) -> str:
    """The board's pins, filtered by a regular expression over names and titles."""
    form = (
        '<form class=inline method=get action="/"><input type=text name=q '
        f'placeholder="search names and titles (a regular expression)" value="{e(query or "")}">'
        "<button>Search</button></form>"
    )
    try:
        metas: list[PinMeta] = board.pin_search(query or None, as_df=False)
    except re.error as exc:
        return form + error_box(f"not a valid regular expression: {exc}")
    rows = [
        [
            link(f"/pins/{m.name}", m.name),
            e(m.type),
            e(m.title),
            e(m.version),
            e(m.created_at.strftime("%Y-%m-%d %H:%M")),
            e(_size(sum(m.file_sizes))),
        ]
        for m in metas
    ]
    if not rows:
        return form + '<p class="muted">No pins match.</p>'
    return form + table(["name", "type", "title", "latest", "created", "size"], rows, numeric=[5])


def versions_page(board: Board, name: str, verify: str | None) -> str:
    """A pin's versions, newest first; ``verify`` re-hashes one version ("all": every one)."""
    registry = Registry(board)
    holders = registry.state(name)
    results: dict[str, tuple[bool, str]] = {}
    versions = [i.version for i in board.pin_versions(name, as_df=False)]
    for version in versions if verify == "all" else [verify] if verify else []:
        if version not in versions:
            continue
        try:
            board.pin_download(name, version)
            results[version] = (True, "verified")
        except PinyardError as exc:
            results[version] = (False, str(exc))
    rows = []
    for version in reversed(versions):
        meta = board.pin_meta(name, version)
        ok, text = results.get(version, (None, "unverified"))
        check = badge(ok, text if ok is not False else "damaged")
        if ok is None:
            check += " " + link(f"/pins/{name}", "verify", verify=version)
        labels = ", ".join(holders.holders_of(version))
        rows.append(
            [
                link(f"/pins/{name}/{version}", version),
                e(meta.type),
                e(meta.title),
                e(meta.created_at.strftime("%Y-%m-%d %H:%M:%S")),
                e(_size(sum(meta.file_sizes))),
                f"<code>{e(meta.pin_hash)}</code>",
                check,
                e(labels),
            ]
        )
    problems = "".join(error_box(f"{v}: {t}") for v, (ok, t) in results.items() if not ok)
    top = f"<p>{link(f'/pins/{name}', 'verify every version', verify='all')}</p>"
    return (
        top
        + problems
        + table(
            ["version", "type", "title", "created", "size", "hash", "check", "held by"],
            rows,
            numeric=[4],
        )
    )


def version_page(board: Board, name: str, version: str) -> str:
    """One version: its metadata, files and digests, lineage and what holds it."""
    meta = board.pin_meta(name, version)
    files = table(
        ["file", "size", "sha256"],
        [
            [e(n), e(_size(s)), f"<code>{e(d)}</code>"]
            for n, s, d in zip(
                meta.file_names,
                meta.file_sizes,
                [f.sha256 for f in meta.files] or ["(pins: xxh64 only)"] * 9,
                strict=False,
            )
        ],
        numeric=[1],
    )
    holders = Registry(board).state(name).holders_of(version)
    facts = {
        "type": meta.type,
        "title": meta.title,
        "description": meta.description,
        "created": meta.created_at.isoformat(),
        "pin_hash": meta.pin_hash,
        "data.txt sha256": board.meta_sha256(name, version),
        "held by": ", ".join(holders) or "nothing",
    }
    lineage = dict(meta.lineage)
    return (
        pairs(facts)
        + "<h2>Files</h2>"
        + files
        + "<h2>Lineage</h2>"
        + f"<p>{link(f'/lineage/{name}:{version}', 'follow the lineage')}</p>"
        + (pairs(_flat(lineage)) if lineage else '<p class="muted">No lineage recorded.</p>')
        + "<h2>Metadata</h2>"
        + f"<pre class=mono>{e(json.dumps(dict(meta.user), indent=2, default=str))}</pre>"
    )


def registry_list(board: Board) -> str:
    """Every registered name with what its aliases and stages hold now."""
    registry = Registry(board)
    rows = []
    for name in registry.names():
        try:
            state = registry.state(name)
        except PinyardError as exc:
            rows.append([link(f"/registry/{name}", name), error_box(str(exc)), "", ""])
            continue
        aliases = ", ".join(f"@{a} → {v}" for a, v in sorted(state.aliases.items()))
        stages = ", ".join(f"{s} → {v}" for s, v in sorted(state.stage_holders().items()))
        rows.append([link(f"/registry/{name}", name), e(aliases), e(stages), e(state.seq)])
    if not rows:
        return '<p class="muted">No registry events on this board yet.</p>'
    return table(["name", "aliases", "stages", "events"], rows, numeric=[3])


def registry_page(board: Board, name: str, csrf: str | None, done: str | None = None) -> str:
    """A name's holders now, chain status, and every event with who, when, why, evidence;
    with ``csrf`` (the UI is not read-only) the forms that change it, and with ``done``
    the number of the event the last change recorded."""
    registry = Registry(board)
    (report,) = registry.verify(name)
    status = (
        badge(True, f"chain verified: {report.events} event{'' if report.events == 1 else 's'}")
        if report.ok
        else (badge(False, "chain damaged") + "".join(error_box(p) for p in report.problems))
    )
    try:
        events = registry.history(name)
    except PinyardError as exc:
        return status + error_box(str(exc))
    state = registry.state(name)
    now = table(
        ["alias or stage", "version", "lineage"],
        [
            [e(label), link(f"/pins/{name}/{v}", v), link(f"/lineage/{name}{ref}", "lineage")]
            for label, ref, v in [
                *((f"@{a}", f"@{a}", v) for a, v in sorted(state.aliases.items())),
                *((s, f"@{s}", v) for s, v in sorted(state.stage_holders().items())),
            ]
        ],
    )
    if not state.aliases and not state.stage_holders():
        now = '<p class="muted">No alias or stage holds a version now.</p>'
    shown = next((ev for ev in events if done and str(ev.seq) == done), None)
    top = (
        notice(
            f"Recorded event {shown.seq}: {shown.op} {shown.slot} → {shown.version} "
            f"by {shown.actor}."
        )
        if shown
        else ""
    )
    changes = actions.forms(board, name, state, csrf) if csrf is not None else ""
    rows = []
    for event in reversed(events):
        gate = event.gate or {}
        evidence = gate.get("message", "") if gate else ""
        rows.append(
            [
                e(event.seq),
                e(event.time.replace("T", " ")[:19]),
                e(event.actor),
                e(event.op),
                e(event.slot),
                e(event.version),
                e(event.previous),
                e(event.reason),
                e(evidence) + (" " + badge(True, "forced") if event.forced else ""),
            ]
        )
    head = f"<p>{status}</p><p class=muted>head sha256 <code>{e(report.head)}</code></p>"
    return (
        top
        + head
        + "<h2>Now</h2>"
        + now
        + changes
        + "<h2>Timeline</h2>"
        + table(
            ["seq", "time (UTC)", "who", "op", "alias/stage", "version", "before", "why", "gate"],
            rows,
            numeric=[0],
        )
    )


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover
