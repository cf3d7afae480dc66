"""Human-readable text for registry events, history tables, lineage and verify reports.

The JSON forms (``--json``) are the API's own dicts; these are for people.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pinyard.registry import Event, Lineage, VerifyReport


@dataclass(frozen=True)
class Output:
    """What a command prints: ``doc`` with --json, else ``text`` (None: nothing)."""

    doc: Any
    text: str | None


def emit(args: argparse.Namespace, out: Output) -> None:
    """Print ``out`` as the command's flags ask (``--json``: indented JSON)."""
    if args.json:
        print(json.dumps(out.doc, indent=2, default=str))
    elif out.text is not None:
        print(out.text)
    sys.stdout.flush()


def event_doc(event: Event) -> dict[str, Any]:
    """An event as JSON output: the stored fields plus its ``version``."""
    return {**event.as_dict(), "version": event.version}


def short_time(text: str) -> str:
    """``2026-12-03T07:33:02.424193Z`` -> ``2026-12-03 07:33:02Z``."""
    return f"{text[:10]} {text[11:19]}Z" if len(text) >= 19 else text


def change(event: Event) -> str:
    """What an event did, in a few words (no sequence number, actor or reason)."""
    name, slot, version, was = event.name, event.slot, event.version, event.previous
    before = f" (was {was})" if was and was != version else ""
    if event.op == "configure":
        return "board settings: " + config_text(event.config or {})
    if event.op == "set_alias":
        text = f"{name}@{slot} -> {version}{before}"
    elif event.op == "remove_alias":
        text = f"{name}@{slot} removed (was {was})"
    elif event.op == "transition":
        origin = f" (from {event.from_stage})" if event.from_stage else ""
        text = f"{name}:{version} -> stage {slot}{origin}"
    elif event.op == "promote":
        text = f"{name}:{version} promoted to {slot}{before}"
    elif event.op == "rollback":
        text = f"{name}@{slot} rolled back to {version}{before}"
    else:  # refused
        held = f" (held by {was})" if was else ""
        text = f"{name}:{version} refused for {slot}{held}"
    if event.displaced:
        text += f"; {event.displaced} -> {event.extra.get('archive') or 'no stage'}"
    return text + (" [forced]" if event.forced else "")


def event_line(event: Event) -> str:
    """One line per event: number, time, actor, change, reason."""
    reason = f' -- "{event.reason}"' if event.reason else ""
    return f"#{event.seq} {short_time(event.time)} {event.actor}: {change(event)}{reason}"


def gate_lines(gate: dict[str, Any] | None) -> list[str]:
    """What a gate measured, as printed under a promotion."""
    if not gate:
        return []
    lines = [f"  gate: {gate.get('message') or ('passed' if gate.get('passed') else 'failed')}"]
    if gate.get("data"):
        shas = gate.get("data_sha256") or []
        digest = f"sha256 {shas[0][:12]}..., " if shas else ""
        lines.append(
            f"  evaluation set: {gate['data']}:{gate.get('data_version')} ({digest}"
            f"{gate.get('rows')} rows), scored in {gate.get('seconds', 0):.2f} s"
        )
    return lines


def gate_note(gate: dict[str, Any] | None) -> str:
    """A gate's scores in a history table cell."""
    if not gate or gate.get("candidate_score") is None:
        return ""
    held = gate.get("holder_score")
    versus = f" vs {held:.6g}" if isinstance(held, int | float) else ""
    return f"{gate.get('metric')} {gate['candidate_score']:.6g}{versus}"


def config_text(config: dict[str, Any]) -> str:
    stages = list(config.get("stages") or [])
    archive = config.get("archive")
    order = " -> ".join(stages + ([archive] if archive else []))
    archive_text = f"archive {archive}" if archive else "no archive stage"
    reason = "a reason is required" if config.get("require_reason") else "reasons optional"
    return f"stages {order} ({archive_text}); {reason}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row[:-1], widths, strict=False)]
        lines.append("  ".join([*cells, str(row[-1])]).rstrip())
    return "\n".join(lines)


def history_table(events: Sequence[Event]) -> str:
    if not events:
        return "(no registry events yet)"
    headers = ("SEQ", "TIME", "ACTOR", "OP", "SLOT", "VERSION", "WAS", "NOTE")
    rows = []
    for e in events:
        notes = [n for n in ("forced" if e.forced else "", gate_note(e.gate)) if n]
        if e.op == "configure":
            notes.append(config_text(e.config or {}))
        if e.reason:
            notes.append(f'"{e.reason}"')
        rows.append(
            (
                str(e.seq),
                short_time(e.time),
                e.actor,
                e.op,
                e.slot or "-",
                e.version or "-",
                e.previous or "-",
                "; ".join(notes),
            )
        )
    return table(headers, rows)


def lineage_text(found: Lineage) -> str:
    run = found.run
    rows = [("data.txt sha256", found.meta_sha256)]
    rows += [(f"{file} sha256", sha) for file, sha in sorted(found.files.items())]
    rows += [
        ("created", found.created.isoformat()),
        ("held by", ", ".join(found.holders) or "nothing"),
        (
            "run",
            f"{found.run_id} (experiment {found.experiment}"
            f"{', ' + run.status if run else ', record not found'})"
            if found.run_id
            else "none recorded",
        ),
        ("params", _pairs(found.params)),
        ("metrics", _pairs(found.metrics)),
        ("data", _pairs(found.data)),
        ("code commit", found.code_commit or "unknown"),
    ]
    width = max(len(k) for k, _ in rows) + 1
    return "\n".join(
        [f"{found.name}:{found.version}"] + [f"  {(k + ':').ljust(width)} {v}" for k, v in rows]
    )


def _pairs(values: dict[str, Any]) -> str:
    if not values:
        return "-"
    return ", ".join(
        f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(values.items())
    )


def verify_text(reports: Sequence[VerifyReport]) -> str:
    lines = []
    for r in reports:
        label = "board settings (.board)" if r.name == ".board" else r.name
        events = f"{r.events} event{'s' if r.events != 1 else ''}"
        if r.ok:
            held = len(r.checked_versions)
            rehashed = f", {held} held version{'s' if held != 1 else ''} re-hashed" if held else ""
            lines.append(f"{label}: ok ({events}{rehashed})")
            continue
        what = "chain broken" if r.chain_broken else f"held versions damaged ({events})"
        lines.append(f"{label}: DAMAGED, {what}")
        lines += [f"  - {problem}" for problem in r.problems]
    lines.append(verify_summary(reports))
    return "\n".join(lines)


def verify_summary(reports: Sequence[VerifyReport]) -> str:
    damaged = [r for r in reports if not r.ok]
    problems = sum(len(r.problems) for r in damaged)
    checked = f"{len(reports)} chain{'s' if len(reports) != 1 else ''} checked"
    if not damaged:
        return f"{checked}, all intact"
    names = ", ".join(r.name for r in damaged)
    return f"{checked}, {len(damaged)} damaged ({names}): {problems} problem(s)"
