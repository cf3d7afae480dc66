"""Pages of the runs: experiments, a filtered and sorted table in pages, charts, compare."""

from __future__ import annotations

import math
from typing import Any

from pinyard.boards import Board
from pinyard.errors import NotFoundError, PinyardError
from pinyard.tracking import Tracker
from pinyard.ui._charts import lines, scatter
from pinyard.ui._html import e, error_box, link, number, table
from pinyard.ui._lineage_pages import run_lineage

PAGE_ROWS = 100
MAX_POINTS = 2_000
_TRACKERS: dict[tuple[int, str], Tracker] = {}


def tracker_for(board: Board, experiment: str) -> Tracker:
    """One tracker per board and experiment for the app's life: a tracker keeps the
    runs it has read, and checks the board's listing on each query for new ones."""
    key = (id(board), experiment)
    if key not in _TRACKERS:
        tracker = Tracker(board, experiment)  # validates the name first
        known = Tracker.experiments(board)
        if experiment not in known:
            raise NotFoundError(
                f"experiment {experiment!r} does not exist on this board; its experiments are "
                f"{', '.join(map(repr, known)) or 'none yet'}"
            )
        _TRACKERS[key] = tracker
    return _TRACKERS[key]


BASE = ("run_id", "status", "start_time", "duration_s")


def experiments_page(board: Board) -> str:
    names = Tracker.experiments(board)
    if not names:
        return '<p class="muted">No runs on this board yet.</p>'
    return table(["experiment"], [[link(f"/runs/{n}", n)] for n in names])


def runs_page(
    board: Board,
    experiment: str,
    *,
    where: str | None,
    sort: str | None,
    descending: bool,
    page: int,
    x: str | None,
    y: str | None,
) -> str:
    """One page of an experiment's runs, filtered with the library's grammar; the filter's
    error is shown above the table instead of the rows."""
    tracker = tracker_for(board, experiment)
    form = (
        f'<form class=inline method=get action="/runs/{e(experiment)}">'
        '<input type=text name=where placeholder="params.alpha &gt;= 1 and metrics.rmse &lt; 2" '
        f'value="{e(where or "")}"><button>Filter</button></form>'
    )
    try:
        frame = tracker.search(where) if where else tracker.runs()
    except PinyardError as exc:
        return form + error_box(str(exc))
    columns = [
        c for c in frame.columns if c in BASE or c.startswith(("params.", "metrics.", "tags."))
    ]
    if sort and sort in frame.columns:
        frame = frame.sort_values(
            sort, ascending=not descending, na_position="last", kind="stable"
        )
    total = len(frame)
    pages = max(1, math.ceil(total / PAGE_ROWS))
    page = min(max(page, 1), pages)
    shown = frame.iloc[(page - 1) * PAGE_ROWS : page * PAGE_ROWS]
    chart = _chart(frame, x, y, where)
    header = [
        link(
            f"/runs/{experiment}",
            c + (" ▼" if c == sort and descending else " ▲" if c == sort else ""),
            where=where,
            sort=c,
            desc="1" if c == sort and not descending else None,
        )
        for c in columns
    ]
    rows = []
    for record in shown[columns].itertuples(index=False):
        cells = [number(v) for v in record]
        cells[0] = f'<input type=checkbox name=run value="{e(record[0])}" form=compare> ' + link(
            f"/runs/{experiment}/{record[0]}", record[0]
        )
        rows.append(cells)
    numeric = [i for i, c in enumerate(columns) if c.startswith("metrics.") or c == "duration_s"]
    pager = (
        f"<div class=pager><span>{total} runs · page {page} of {pages}</span>"
        + (
            link(
                f"/runs/{experiment}",
                "← previous",
                where=where,
                sort=sort,
                desc="1" if descending else None,
                page=page - 1,
            )
            if page > 1
            else ""
        )
        + (
            link(
                f"/runs/{experiment}",
                "next →",
                where=where,
                sort=sort,
                desc="1" if descending else None,
                page=page + 1,
            )
            if page < pages
            else ""
        )
        + "</div>"
    )
    compare = (
        f'<form id=compare method=get action="/runs/{e(experiment)}/compare">'
        "<button>Compare the checked runs</button></form>"
    )
    return (
        form
        + chart
        + pager
        + compare
        + table(columns, rows, header=header, numeric=numeric)
        + pager
    )


def _chart(frame: Any, x_asked: str | None, y_asked: str | None, where: str | None) -> str:
    """The chosen metric against the chosen param, one point per run, the best marked."""
    params = [str(c) for c in frame.columns if c.startswith("params.")]
    metrics = [str(c) for c in frame.columns if c.startswith("metrics.")]
    if not params or not metrics:
        return ""
    x = x_asked if x_asked in params else params[0]
    y = y_asked if y_asked in metrics else metrics[0]
    values = frame[[x, y, "run_id"]].dropna()
    points = []
    for px, py, run in values.itertuples(index=False):
        try:
            points.append((float(px), float(py), str(run)))
        except (TypeError, ValueError):
            continue
    best = min(points, key=lambda p: p[1])[2] if points else None
    note = ""
    if len(points) > MAX_POINTS:  # an even sample keeps the page light; the best stays
        step = len(points) / MAX_POINTS
        sample = [points[int(i * step)] for i in range(MAX_POINTS)]
        points = sample + [p for p in points if p[2] == best and p not in sample]
        note = f" · {MAX_POINTS:,} of {len(values):,} runs drawn"
    selects = "".join(
        f'<select name="{axis}">'
        + "".join(f"<option{' selected' if c == pick else ''}>{e(c)}</option>" for c in options)
        + "</select>"
        for axis, pick, options in (("x", x, params), ("y", y, metrics))
    )
    return (
        f"<form class=inline method=get>{selects}"
        f'<input type=hidden name=where value="{e(where or "")}">'
        "<button>Plot</button></form>"
        + scatter(points, x, y, best)
        + f"<p class=muted>best (lowest {e(y)}): {e(best)}{note}</p>"
    )


def run_page(board: Board, experiment: str, run_id: str, key: str | None) -> str:
    """One run: its record, and a chart of a stepped metric."""
    tracker = tracker_for(board, experiment)
    record = tracker.get_run(run_id)
    facts = table(
        ["field", "value"],
        [
            [e(k), e(v)]
            for k, v in (
                ("status", record.status),
                ("start", record.start_time),
                ("end", record.end_time),
                ("seed", record.seed),
                ("commit", record.context.get("git_commit")),
            )
        ],
    )
    params = table(
        ["param", "value"], [[e(k), number(v)] for k, v in sorted(record.params.items())]
    )
    metrics = table(
        ["metric", "value"],
        [[e(k), number(v)] for k, v in sorted(record.metrics.items())],
        numeric=[1],
    )
    history = tracker.history(run_id)
    keys = sorted(str(k) for k in set(history["key"])) if len(history) else []
    chart = ""
    if keys:
        shown_key = key if key in keys else keys[0]
        picked = history[history["key"] == shown_key]
        chart = (
            "<h2>Steps</h2>"
            + " ".join(link(f"/runs/{experiment}/{run_id}", k, key=k) for k in keys)
            + lines(
                {run_id: list(zip(picked["step"], picked["value"], strict=True))},
                "step",
                shown_key,
            )
        )
    return (
        facts
        + run_lineage(record)
        + "<h2>Params</h2>"
        + params
        + "<h2>Metrics</h2>"
        + metrics
        + chart
    )


def compare_page(board: Board, experiment: str, run_ids: list[str], key: str | None) -> str:
    """Chosen runs side by side: every param and metric in a row, one column per run."""
    if not run_ids:
        return error_box("check two or more runs in the table to compare them")
    tracker = tracker_for(board, experiment)
    records = [tracker.get_run(r) for r in run_ids]
    names = sorted({k for r in records for k in r.params})
    metric_names = sorted({k for r in records for k in r.metrics})
    rows = [[e(f"params.{n}")] + [number(r.params.get(n)) for r in records] for n in names]
    rows += [
        [e(f"metrics.{n}")] + [number(r.metrics.get(n)) for r in records] for n in metric_names
    ]
    header = ["", *[link(f"/runs/{experiment}/{r.run_id}", r.run_id) for r in records]]
    series: dict[str, list[tuple[float, float]]] = {}
    history_keys: set[str] = set()
    for record in records:
        history = tracker.history(record.run_id)
        history_keys |= set(history["key"]) if len(history) else set()
        if key is not None and len(history):
            picked = history[history["key"] == key]
            series[record.run_id] = list(zip(picked["step"], picked["value"], strict=True))
    chart = ""
    if history_keys:
        chart = (
            "<h2>Steps</h2>"
            + " ".join(
                link(f"/runs/{experiment}/compare", k, key=k, run=",".join(run_ids))
                for k in sorted(history_keys)
            )
            + (lines(series, "step", key) if key else "")
        )
    return table(["", *run_ids], rows, header=header, numeric=range(1, len(records) + 1)) + chart
