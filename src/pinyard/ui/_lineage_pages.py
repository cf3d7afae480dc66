"""Lineage: from a version or an alias to the run that made it, its data and its commit,
and back from a data fingerprint or a commit to the runs and the versions they made."""

from __future__ import annotations

from typing import Any

from pinyard.boards import Board
from pinyard.errors import InvalidArgumentError, NotFoundError
from pinyard.registry import Registry
from pinyard.tracking import Tracker
from pinyard.ui._html import e, link, number, pairs, table

#: How many runs the data and commit pages list (newest first).
MAX_RUNS = 200


def lineage_page(board: Board, reference: str) -> str:
    """``name:version``, ``name@alias`` or a stage: the version, its digests, what holds
    it, the run that made it (params, metrics), the data it saw and the commit."""
    found = Registry(board).lineage(reference)
    facts: dict[str, Any] = {
        "version": found.version,
        "created": found.created.isoformat(),
        "data.txt sha256": found.meta_sha256,
        "held by": ", ".join(found.holders) or "nothing",
    }
    top = (
        f"<p>{link(f'/pins/{found.name}/{found.version}', f'{found.name}:{found.version}')}"
        f" · {link(f'/registry/{found.name}', 'registry timeline')}</p>" + pairs(facts)
    )
    files = table(
        ["file", "sha256"], [[e(n), f"<code>{e(d)}</code>"] for n, d in found.files.items()]
    )
    if found.run_id is None:
        origin = '<p class="muted">No run is recorded for this version.</p>'
    else:
        run = (
            link(f"/runs/{found.experiment}/{found.run_id}", found.run_id)
            if found.run is not None
            else e(found.run_id) + " <span class=muted>(its record is not on this board)</span>"
        )
        origin = (
            "<div class=grid>"
            f"<span class=muted>run</span><span>{run}</span>"
            f"<span class=muted>experiment</span><span>"
            f"{link(f'/runs/{found.experiment}', found.experiment)}</span>"
            f"<span class=muted>status</span><span>{e(found.run.status if found.run else '')}"
            "</span>"
            f"<span class=muted>commit</span><span>{_commit_link(found.code_commit)}</span>"
            "</div>"
        )
    data = _data_table(found.data)
    params = table(
        ["param", "value"], [[e(k), number(v)] for k, v in sorted(found.params.items())]
    )
    metrics = table(
        ["metric", "value"],
        [[e(k), number(v)] for k, v in sorted(found.metrics.items())],
        numeric=[1],
    )
    return (
        top
        + "<h2>Files</h2>"
        + files
        + "<h2>Made by</h2>"
        + origin
        + "<h2>Data</h2>"
        + data
        + "<h2>Params</h2>"
        + params
        + "<h2>Metrics</h2>"
        + metrics
    )


def _commit_link(commit: str | None) -> str:
    if not commit:
        return "<span class=muted>not recorded</span>"
    return link(f"/lineage/commit/{commit}", commit)


def _data_table(data: dict[str, Any]) -> str:
    """A run's data fingerprint: one dataset, or named ones (``data={"train": df, ...}``)."""
    if not data:
        return '<p class="muted">No data fingerprint recorded.</p>'
    sets = (
        {"": data} if "sha256" in data else {k: v for k, v in data.items() if isinstance(v, dict)}
    )
    rows = []
    for label, fp in sets.items():
        sha = str(fp.get("sha256", ""))
        rows.append(
            [
                e(label or "data"),
                link(f"/lineage/data/{sha}", sha) if sha else "",
                number(fp.get("rows")),
                e(", ".join(map(str, fp.get("columns") or []))),
            ]
        )
    return table(["dataset", "sha256", "rows", "columns"], rows, numeric=[2])


def runs_by(board: Board, column: str, value: str) -> str:
    """Every run (in every experiment) whose ``column`` is ``value``, with the versions
    each made: the way back from a data fingerprint or a commit."""
    if not value or len(value) > 128 or not all(c in "0123456789abcdef" for c in value.lower()):
        raise InvalidArgumentError(
            f"{value!r} is not a hex digest; a data fingerprint is 64 hex digits, a commit 40"
        )
    rows = []
    for experiment in Tracker.experiments(board):
        frame = Tracker(board, experiment).runs()
        if column not in frame.columns:
            continue
        hits = frame[frame[column].astype(str).str.lower() == value.lower()]
        for run_id in hits["run_id"]:
            rows.append((experiment, str(run_id)))
    if not rows:
        what = "data fingerprint" if column == "data_sha256" else "commit"
        raise NotFoundError(f"no run on this board used {what} {value}")
    rows = sorted(rows, key=lambda r: r[1], reverse=True)
    cells = []
    for experiment, run_id in rows[:MAX_RUNS]:
        record = Tracker(board, experiment).get_run(run_id)
        made = ", ".join(
            link(f"/lineage/{m['name']}:{m['version']}", f"{m['name']}:{m['version']}")
            for m in record.models
        )
        cells.append(
            [
                link(f"/runs/{experiment}", experiment),
                link(f"/runs/{experiment}/{run_id}", run_id),
                e(record.status),
                made or '<span class="muted">none</span>',
            ]
        )
    note = (
        f'<p class="muted">The newest {MAX_RUNS} of {len(rows)} runs.</p>'
        if len(rows) > MAX_RUNS
        else f'<p class="muted">{len(rows)} runs.</p>'
    )
    return note + table(["experiment", "run", "status", "versions it made"], cells)


def run_lineage(record: Any) -> str:
    """The part of a run's page that leads on: the versions it made, its data, its commit."""
    made = (
        table(
            ["version", "lineage"],
            [
                [
                    link(f"/pins/{m['name']}/{m['version']}", f"{m['name']}:{m['version']}"),
                    link(f"/lineage/{m['name']}:{m['version']}", "lineage"),
                ]
                for m in record.models
            ],
        )
        if record.models
        else '<p class="muted">This run logged no model.</p>'
    )
    return (
        "<h2>Versions it made</h2>"
        + made
        + "<h2>Data</h2>"
        + _data_table(record.data)
        + f"<p>commit {_commit_link(record.context.get('git_commit'))}</p>"
    )
