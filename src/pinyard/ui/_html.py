"""HTML building blocks: every value is escaped here, so pages cannot inject markup."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

CSS = """
:root { --fg: #1d232a; --muted: #5b6672; --line: #d8dde3; --bg: #fbfcfd; --ok: #1a7f37;
        --bad: #c0362c; --accent: #2556a8; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
       background: var(--bg); margin: 0; }
header { display: flex; gap: 1.5rem; align-items: baseline; padding: .6rem 1.2rem;
         border-bottom: 1px solid var(--line); background: #fff; }
header b { font-size: 1.05rem; }
header a { color: var(--fg); text-decoration: none; }
header .board { color: var(--muted); margin-left: auto; font-size: .85rem; }
main { padding: 1rem 1.2rem; max-width: 1400px; }
h1 { font-size: 1.3rem; margin: .2rem 0 .8rem; }
h2 { font-size: 1.05rem; margin: 1.4rem 0 .5rem; }
a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .3rem .55rem; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { font-weight: 600; white-space: nowrap; background: #f3f5f7; }
th a { color: var(--fg); text-decoration: none; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font: 12.5px ui-monospace, SFMono-Regular, Menlo, monospace; }
main p, .grid span, .error, .notice { overflow-wrap: anywhere; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 0 .45rem; border-radius: .6rem; font-size: .8rem;
         border: 1px solid var(--line); }
.badge.ok { color: var(--ok); border-color: var(--ok); }
.badge.bad { color: var(--bad); border-color: var(--bad); }
.error { color: var(--bad); border: 1px solid var(--bad); background: #fff5f4;
         padding: .5rem .7rem; margin: .5rem 0; }
form.inline { display: flex; gap: .5rem; margin: .4rem 0 .8rem; }
form.inline input[type=text] { flex: 1; padding: .35rem .5rem; font: inherit; }
.pager { margin: .6rem 0; display: flex; gap: .8rem; }
.grid { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
svg text { font: 11px system-ui, sans-serif; fill: var(--muted); }
tr.best td { background: #eef6ee; }
pre { overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
svg { max-width: 100%; height: auto; }
header nav { display: flex; gap: 1rem; flex-wrap: wrap; }
header .who { color: var(--muted); font-size: .85rem; }
.notice { color: var(--ok); border: 1px solid var(--ok); background: #f2faf3;
          padding: .5rem .7rem; margin: .5rem 0; }
.scroll { overflow-x: auto; max-width: 100%; }
.actions { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr));
           gap: 1rem; }
form.action, form.confirm { border: 1px solid var(--line); background: #fff; padding: .6rem .8rem;
                            display: flex; flex-direction: column; gap: .45rem; }
form.action h3 { margin: 0; font-size: .95rem; }
form.action label { display: flex; flex-direction: column; gap: .15rem; color: var(--muted); }
form.action label.check { flex-direction: row; gap: .4rem; align-items: center; }
form.action input[type=text], form.action select { font: inherit; padding: .3rem .4rem;
                                                    color: var(--fg); min-width: 0; }
form.action fieldset { border: 1px solid var(--line); display: flex; flex-direction: column;
                       gap: .35rem; }
form.confirm { flex-direction: row; align-items: center; gap: 1rem; margin-top: 1rem; }
button { font: inherit; padding: .3rem .8rem; cursor: pointer; }
button.primary { background: var(--accent); color: #fff; border: 1px solid var(--accent); }
@media (max-width: 640px) {
  header { flex-wrap: wrap; gap: .6rem; padding: .5rem .7rem; }
  header .board { margin-left: 0; width: 100%; overflow-wrap: anywhere; }
  main { padding: .7rem; }
  .grid { grid-template-columns: 1fr; }
  .grid span { overflow-wrap: anywhere; }
  form.inline { flex-wrap: wrap; }
}
"""


def e(value: object) -> str:
    """Escape any value for HTML text or attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def link(href: str, text: object, **params: Any) -> str:
    """An anchor; ``params`` become the query string (None values are left out)."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    target = f"{href}?{query}" if query else href
    return f'<a href="{e(target)}">{e(text)}</a>'


def page(title: str, board_url: str, body: str, who: str = "") -> str:
    """A whole page: the header with the three views, then ``body`` (already HTML);
    ``who`` says whose name the UI's changes are recorded under (or that it is read-only)."""
    nav = " ".join(
        f'<a href="{href}">{label}</a>'
        for href, label in (("/", "Pins"), ("/registry", "Registry"), ("/runs", "Runs"))
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{e(title)} · pinyard</title>"
        '<link rel=icon href="data:,"><link rel=stylesheet href="/static/ui.css"></head><body>'
        f"<header><b>pinyard</b><nav>{nav}</nav><span class=board>{e(board_url)}</span>"
        + (f"<span class=who>{e(who)}</span>" if who else "")
        + "</header>"
        f"<main><h1>{e(title)}</h1>{body}</main></body></html>"
    )


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    header: Sequence[str] | None = None,
    numeric: Iterable[int] = (),
    row_classes: Sequence[str] | None = None,
) -> str:
    """A table of cells that are already HTML (escape with `e` or build with `link`)."""
    numbers = set(numeric)
    head = "".join(f"<th>{h}</th>" for h in (header or [e(c) for c in columns]))
    body = []
    for index, row in enumerate(rows):
        cls = f' class="{row_classes[index]}"' if row_classes and row_classes[index] else ""
        cells = "".join(
            f'<td class="num">{cell}</td>' if i in numbers else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return (
        f"<div class=scroll><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def pairs(values: Mapping[str, Any]) -> str:
    """A two-column grid of names and (escaped) values."""
    cells = "".join(
        f"<span class=muted>{e(k)}</span><span>{e(v)}</span>" for k, v in values.items()
    )
    return f"<div class=grid>{cells}</div>"


def error_box(message: str) -> str:
    return f'<div class="error" role="alert">{e(message)}</div>'


def notice(message: str) -> str:
    return f'<div class="notice" role="status">{e(message)}</div>'


def badge(ok: bool | None, text: str) -> str:
    kind = "ok" if ok else "bad" if ok is False else ""
    return f'<span class="badge {kind}">{e(text)}</span>'


def number(value: Any) -> str:
    """A cell value: numbers to 6 significant digits, missing values blank."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.6g}"
    return e(value)
