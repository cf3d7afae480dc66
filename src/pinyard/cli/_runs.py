"""``pinyard runs ...``: experiments and their runs — list, show, best, search, compare,
plot, compact. Each action is a few calls into `pinyard.Tracker`."""

from __future__ import annotations

import argparse
import math
import os
from datetime import timedelta
from typing import Any

import pinyard
from pinyard.cli._common import group, open_board
from pinyard.cli._output import duration, emit, pairs, table, when
from pinyard.errors import InvalidArgumentError, NotFoundError

#: The columns of `runs list` before params.* and metrics.* (tags go to --json).
BASE = ("run_id", "status", "start_time", "duration_s")


def tracker(args: argparse.Namespace) -> pinyard.Tracker:
    """The experiment's tracker; an experiment with no runs is a not-found error."""
    board = open_board(args)
    known = pinyard.Tracker.experiments(board)
    if args.experiment not in known:
        pinyard.Tracker(board, args.experiment)  # a bad name is refused as such first
        raise NotFoundError(
            f"experiment {args.experiment!r} has no runs on {board.store.url} (experiments "
            f"there: {', '.join(known[:20]) or 'none'}; see `pinyard runs experiments`)"
        )
    return pinyard.Tracker(board, args.experiment)


def run_doc(record: Any) -> dict[str, Any]:
    """One run as ``runs show --json`` prints it."""
    return {
        "run_id": record.run_id,
        "experiment": record.experiment,
        "status": record.status,
        "start_time": record.start_time.isoformat(),
        "end_time": record.end_time.isoformat() if record.end_time else None,
        "duration_s": record.duration_s,
        "params": dict(record.params),
        "metrics": dict(record.metrics),
        "tags": dict(record.tags),
        "seed": record.seed,
        "data": dict(record.data),
        "artifacts": dict(record.artifacts),
        "models": list(record.models),
        "context": dict(record.context),
        "error": record.error,
    }


def _records(frame: Any) -> list[dict[str, Any]]:
    import json

    return list(json.loads(frame.to_json(orient="records", date_format="iso")))


def _runs_table(frame: Any, columns: list[str] | None) -> str:
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InvalidArgumentError(
                f"no column {', '.join(missing)}; columns: {', '.join(frame.columns)}"
            )
        shown = columns
    else:
        params = [c for c in frame.columns if c.startswith("params.")]
        metrics = [c for c in frame.columns if c.startswith("metrics.")]
        shown = [c for c in BASE if c in frame.columns or c == "duration_s"] + params + metrics
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for c in shown:
            if c == "duration_s" and c not in frame.columns:
                start, end = row.get("start_time"), row.get("end_time")
                ended = end is not None and not _missing(end)
                seconds = (end - start).total_seconds() if ended else None
                cells.append(duration(seconds))
            elif c == "duration_s":
                cells.append(duration(None if _missing(row[c]) else float(row[c])))
            elif c in ("start_time", "end_time"):
                cells.append("-" if _missing(row[c]) else when(row[c].to_pydatetime()))
            else:
                cells.append(_cell(row[c]))
        rows.append(cells)
    heads = [c.replace("params.", "").replace("metrics.", "") if not columns else c for c in shown]
    heads = [
        "DURATION" if h == "duration_s" else h.upper() if c in BASE else h
        for h, c in zip(heads, shown, strict=True)
    ]
    return table(heads, rows, empty="(no runs)")


def _missing(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def _cell(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _experiments(args: argparse.Namespace) -> None:
    board = open_board(args)
    docs = []
    for name in pinyard.Tracker.experiments(board):
        frame = pinyard.Tracker(board, name).runs()
        last = frame["start_time"].max() if len(frame) else None
        docs.append(
            {
                "experiment": name,
                "runs": len(frame),
                "finished": int((frame["status"] == "finished").sum()) if len(frame) else 0,
                "last_start": last.isoformat() if last is not None else None,
            }
        )
    rows = [
        (d["experiment"], d["runs"], d["finished"], when(str(d["last_start"] or ""))) for d in docs
    ]
    emit(
        args,
        docs,
        table(("EXPERIMENT", "RUNS", "FINISHED", "LAST START"), rows, empty="(no experiments)"),
    )


def _list(args: argparse.Namespace) -> None:
    found = tracker(args)
    frame = found.search(args.where) if args.where else found.runs()
    if args.limit is not None:
        frame = frame.tail(args.limit)
    emit(args, _records(frame), _runs_table(frame, args.columns))


def _search(args: argparse.Namespace) -> None:
    args.where = args.filter
    _list(args)


def _show_record(args: argparse.Namespace, record: Any, found: pinyard.Tracker) -> None:
    doc = run_doc(record)
    rows: list[tuple[str, Any]] = [
        ("status", record.status),
        ("started", when(record.start_time)),
        ("ended", when(record.end_time)),
        ("duration", duration(record.duration_s)),
        ("seed", record.seed),
    ]
    rows += [(f"params.{k}", v) for k, v in sorted(record.params.items())]
    rows += [(f"metrics.{k}", v) for k, v in sorted(record.metrics.items())]
    rows += [(f"tags.{k}", v) for k, v in sorted(record.tags.items())]
    rows += [
        (f"artifact {k}", v.get("sha256", "")[:12] if isinstance(v, dict) else v)
        for k, v in sorted(record.artifacts.items())
    ]
    rows += [("model", f"{m.get('name')}:{m.get('version')}") for m in record.models]
    commit = (
        (record.context.get("git") or {}).get("commit")
        if isinstance(record.context.get("git"), dict)
        else None
    )
    if commit:
        rows.append(("code commit", commit))
    if record.error:
        rows.append(("error", record.error))
    emit(args, doc, pairs(f"run {record.run_id} of {record.experiment}", rows))


def _show(args: argparse.Namespace) -> None:
    found = tracker(args)
    _show_record(args, found.get_run(args.run_id), found)


def _best(args: argparse.Namespace) -> None:
    found = tracker(args)
    record = found.best_run(args.metric, maximize=args.max, where=args.where)
    _show_record(args, record, found)


def _compare(args: argparse.Namespace) -> None:
    found = tracker(args)
    records = [found.get_run(run_id) for run_id in args.run_ids]
    docs = [run_doc(r) for r in records]
    keys: list[str] = []
    for section in ("params", "metrics", "tags"):
        names = sorted({k for d in docs for k in d[section]})
        keys += [f"{section}.{k}" for k in names]

    def value(doc: dict[str, Any], key: str) -> Any:
        section, _, name = key.partition(".")
        return doc[section].get(name)

    differ = [k for k in keys if len({repr(value(d, k)) for d in docs}) > 1]
    rows = [
        ("status", *[d["status"] for d in docs]),
        ("duration", *[duration(d["duration_s"]) for d in docs]),
    ]
    for key in keys:
        mark = "*" if key in differ else ""
        rows.append((mark + key, *[value(d, key) for d in docs]))
    text = table(("", *[r.run_id for r in records]), rows)
    if differ:
        text += "\n(* differs between the runs)"
    emit(args, {"experiment": args.experiment, "runs": docs, "differs": differ}, text)


def _plot(args: argparse.Namespace) -> None:
    suffix = os.path.splitext(args.out)[1].lower()
    if suffix not in (".png", ".svg", ".pdf"):
        raise InvalidArgumentError(f"--out {args.out!r}: a plot is written as .png, .svg or .pdf")
    found = tracker(args)
    if args.steps:
        figure = found.plot_history(args.steps, args.y)
    else:
        if not args.x:
            raise InvalidArgumentError(
                "say what goes on the x axis: --x PARAM (or --steps RUN_ID ... for a metric "
                "over steps)"
            )
        figure = found.plot(args.x, args.y, maximize=args.max, where=args.where)
    figure.savefig(args.out)
    doc = {"experiment": args.experiment, "out": os.path.abspath(args.out)}
    emit(args, doc, f"wrote {args.out}")


def _compact(args: argparse.Namespace) -> None:
    found = tracker(args)
    segments = found.compact(timedelta(hours=args.grace_hours), all_finished=args.all_finished)
    emit(
        args,
        {"segments": segments},
        f"wrote {len(segments)} segment(s)" + "".join(f"\n  {s}" for s in segments),
    )


EXAMPLES = {
    "experiments": "pinyard runs experiments ./board",
    "list": 'pinyard runs list ./board ridge-sweep --where "metrics.val_rmse < 2"',
    "show": "pinyard runs show ./board ridge-sweep 20261203T101500Z-1a2b3c4d",
    "best": "pinyard runs best ./board ridge-sweep val_rmse",
    "search": 'pinyard runs search ./board ridge-sweep "params.lambda >= 1 and '
    'metrics.val_rmse < 2"',
    "compare": "pinyard runs compare ./board ridge-sweep RUN_ID_1 RUN_ID_2",
    "plot": "pinyard runs plot ./board ridge-sweep --x lambda --y val_rmse --out sweep.png",
    "compact": "pinyard runs compact ./board ridge-sweep --all-finished",
}


def add_runs_commands(sub: Any, epilog: str) -> None:
    """Register ``pinyard runs ACTION``."""
    add = group(
        sub,
        "runs",
        "Experiment runs: list, show, best, search, compare, plot.",
        epilog,
        "pinyard runs experiments ./board\npinyard runs best ./board ridge-sweep val_rmse",
    )

    def experiment(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("experiment", metavar="EXPERIMENT", help="experiment name")

    def where(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument(
            "--where",
            metavar="FILTER",
            default=None,
            help="only runs matching, e.g. \"params.model = 'ridge' and metrics.rmse < 2\"",
        )

    def shown(cmd: argparse.ArgumentParser, columns_help: str) -> None:
        cmd.add_argument(
            "--columns",
            type=lambda s: [c.strip() for c in s.split(",") if c.strip()],
            default=None,
            metavar="A,B",
            help=columns_help,
        )
        cmd.add_argument("--limit", type=int, default=None, metavar="N", help="only the newest N")

    add(
        "experiments",
        _experiments,
        "List the experiments with runs on a board.",
        EXAMPLES["experiments"],
    )
    cmd = add("list", _list, "List an experiment's runs, oldest first.", EXAMPLES["list"])
    experiment(cmd)
    where(cmd)
    shown(cmd, "columns to show, e.g. run_id,params.lambda,metrics.rmse")
    cmd = add(
        "search",
        _search,
        "The runs a filter selects (as `runs list --where`).",
        EXAMPLES["search"],
    )
    experiment(cmd)
    cmd.add_argument("filter", metavar="FILTER", help='e.g. "metrics.rmse < 2"')
    shown(cmd, "columns to show")
    cmd = add("show", _show, "Everything one run recorded.", EXAMPLES["show"])
    experiment(cmd)
    cmd.add_argument("run_id", metavar="RUN_ID", help="run id")
    cmd = add("best", _best, "The finished run with the best value of a metric.", EXAMPLES["best"])
    experiment(cmd)
    cmd.add_argument("metric", metavar="METRIC", help="metric key, e.g. val_rmse")
    cmd.add_argument("--max", action="store_true", help="highest wins (default: lowest)")
    where(cmd)
    cmd = add(
        "compare",
        _compare,
        "Chosen runs side by side; what differs is marked.",
        EXAMPLES["compare"],
    )
    experiment(cmd)
    cmd.add_argument("run_ids", metavar="RUN_ID", nargs="+", help="two or more run ids")
    cmd = add(
        "plot",
        _plot,
        "Plot a metric against a param (best run marked), or over steps; writes PNG, SVG or PDF.",
        EXAMPLES["plot"],
    )
    experiment(cmd)
    cmd.add_argument("--x", default=None, metavar="PARAM", help="param on the x axis")
    cmd.add_argument("--y", required=True, metavar="METRIC", help="metric on the y axis")
    cmd.add_argument(
        "--steps",
        nargs="+",
        default=None,
        metavar="RUN_ID",
        help="plot METRIC over steps for these runs instead",
    )
    cmd.add_argument("--max", action="store_true", help="mark the highest as best")
    cmd.add_argument("--out", required=True, metavar="FILE", help="FILE.png, .svg or .pdf")
    where(cmd)
    cmd = add(
        "compact",
        _compact,
        "Merge past hours' run records into a Parquet segment (faster queries).",
        EXAMPLES["compact"],
    )
    experiment(cmd)
    cmd.add_argument(
        "--grace-hours", type=float, default=1.0, help="leave records this recent alone"
    )
    cmd.add_argument(
        "--all-finished",
        action="store_true",
        help="also every other run that has ended, this hour's too",
    )
