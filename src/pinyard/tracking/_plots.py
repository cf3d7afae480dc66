"""Plots of an experiment's runs: a metric against a parameter, and metric histories.

Figures are built with ``matplotlib.figure.Figure`` directly, never through
``pyplot``: no global state, no GUI backend, safe in threads and on servers.
Save one with ``fig.savefig("plot.png")`` or store it with
``run.log_artifact(fig)``.

Artists carry a ``gid`` so code (and tests) can find them again:
``pinyard-runs`` (one marker per run), ``pinyard-line`` (the line through the
points, sorted by x), ``pinyard-best`` (the best run's marker) and
``pinyard-best-label`` (its annotation); ``pinyard-history:<run_id>`` for
the lines of `plot_history`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from typing import TYPE_CHECKING, Any

from pinyard.errors import InvalidArgumentError, RunNotFoundError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from pinyard.tracking._tracker import Tracker

LOG_SPAN = 100.0  # x spanning more than two decades gets a log axis
_PLOT_HINT = "plots need matplotlib: pip install 'pinyard[plot]'"


def plot_metric(
    tracker: Tracker,
    x: str,
    y: str,
    *,
    maximize: bool = False,
    where: str | None = None,
    ax: Axes | None = None,
    logx: bool | None = None,
) -> Figure:
    """Metric ``y`` of the finished runs against their parameter ``x``, best run marked.

    ``x`` is a param key (``"lambda"`` or ``"params.lambda"``), ``y`` a metric key
    (``"val_rmse"`` or ``"metrics.val_rmse"``); ``where`` filters runs as in
    `Tracker.search`. One marker per run, a line through the points sorted by
    ``x`` (through the mean ``y`` where several runs share an ``x``), and the
    best run (lowest ``y``, or highest with ``maximize``; ties go to the
    oldest run, as in `Tracker.best_run`) marked and labelled with its value.
    Finished runs that have ``x`` but no finite ``y`` (not logged, NaN or
    infinite) cannot be placed; the title says how many were left out.

    ``logx=None`` chooses the x scale: logarithmic when the values span more
    than two decades and are all positive, symmetric-log (linear around 0)
    when they also contain 0 or negatives, linear otherwise. ``True`` forces a
    log (or symlog) axis, ``False`` a linear one. Draws into ``ax`` if given,
    else a new figure; returns the figure.
    """
    _require_matplotlib()
    import numpy as np

    xkey = _key(x, "params.", "x")
    ykey = _key(y, "metrics.", "y")
    frame = tracker.search(where) if where else tracker.runs()
    xcol, ycol = f"params.{xkey}", f"metrics.{ykey}"
    _check_column(tracker, frame, xcol, "param", "x")
    _check_column(tracker, frame, ycol, "metric", "y")

    finished = frame[frame["status"] == "finished"]
    has_x = finished.loc[np.array([not _missing(v) for v in finished[xcol]], dtype=bool)]
    if has_x.empty:
        raise RunNotFoundError(
            f"no finished run of {tracker.experiment!r}"
            f"{f' matching {where!r}' if where else ''} has param {xkey!r}"
        )
    xs = _numeric(has_x[xcol], xkey)
    ys = has_x[ycol].to_numpy(dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    left_out = int((~ok).sum())
    if not ok.any():
        raise RunNotFoundError(
            f"no finished run of {tracker.experiment!r} has both a finite param {xkey!r} "
            f"and a finite metric {ykey!r}"
        )
    run_ids = has_x["run_id"].to_numpy()[ok]
    xs, ys = xs[ok], ys[ok]

    fig, axes = _figure_and_axes(ax)
    axes.plot(xs, ys, linestyle="none", marker="o", color="C0", label="runs", gid="pinyard-runs")
    line_x = np.unique(xs)
    line_y = np.array([ys[xs == value].mean() for value in line_x])
    axes.plot(line_x, line_y, color="C0", alpha=0.6, gid="pinyard-line",
              label="mean of runs" if len(line_x) < len(xs) else "_nolegend_")  # fmt: skip

    # Runs come oldest first; a stable argsort makes the oldest win a tie.
    order = np.argsort(-ys if maximize else ys, kind="stable")
    best = int(order[0])
    bx, by = float(xs[best]), float(ys[best])
    label = f"best ({'max' if maximize else 'min'}): {ykey} = {by:.4g} at {xkey} = {bx:g}"
    axes.plot([bx], [by], linestyle="none", marker="*", markersize=16, color="C3", zorder=3,
              gid="pinyard-best", label=f"{label}\nrun {run_ids[best]}")  # fmt: skip
    # The value beside the star, on the side away from the nearer edge of the data.
    right = bx > float(np.median(line_x))
    text = axes.annotate(
        f"{by:.4g}",
        xy=(bx, by),
        xytext=(-12 if right else 12, 0),
        textcoords="offset points",
        ha="right" if right else "left",
        va="center",
        fontsize="small",
        fontweight="bold",
        color="C3",
    )
    text.set_gid("pinyard-best-label")

    scale = _x_scale(xs, logx)
    if scale == "symlog":
        nonzero = np.abs(xs[xs != 0])
        axes.set_xscale("symlog", linthresh=float(nonzero.min()) if nonzero.size else 1.0)
    elif scale == "log":
        axes.set_xscale("log")
    axes.set_xlabel(xkey)
    axes.set_ylabel(ykey)
    title = f"{ykey} vs {xkey}: {tracker.experiment} ({len(xs)} runs)"
    if left_out:
        title += f"; {left_out} without a finite value not shown"
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small")
    return fig


def plot_history(
    tracker: Tracker,
    run_ids: str | Sequence[str],
    key: str,
    *,
    ax: Axes | None = None,
) -> Figure:
    """The stepped values of metric ``key`` over steps, one line per run.

    ``run_ids`` is one run id or a list of them; each run must have logged
    ``key`` with ``step=`` (a metric logged without a step has no history).
    Draws into ``ax`` if given, else a new figure; returns the figure.
    """
    _require_matplotlib()
    metric = _key(key, "metrics.", "key")
    ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
    if not ids:
        raise InvalidArgumentError("plot_history needs at least one run id")
    histories = []
    for run_id in ids:
        frame = tracker.history(run_id)
        points = frame[frame["key"] == metric].sort_values("step", kind="stable")
        if points.empty:
            stepped = sorted(set(frame["key"]))
            raise InvalidArgumentError(
                f"run {run_id} has no history of {metric!r} (log it with "
                f"run.log_metric(key, value, step=...)); metrics with a history: "
                f"{', '.join(stepped) or 'none'}"
            )
        histories.append((run_id, points))

    fig, axes = _figure_and_axes(ax)
    for run_id, points in histories:
        axes.plot(points["step"].to_numpy(), points["value"].to_numpy(dtype=float),
                  marker="." if len(points) < 50 else None, label=run_id,
                  gid=f"pinyard-history:{run_id}")  # fmt: skip
    axes.set_xlabel("step")
    axes.set_ylabel(metric)
    axes.set_title(f"{metric} by step: {tracker.experiment} ({len(histories)} runs)")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small")
    return fig


# -- helpers -----------------------------------------------------------------------------


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(_PLOT_HINT) from exc


def _figure_and_axes(ax: Axes | None) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure, SubFigure

    if ax is None:
        fig = Figure(figsize=(7.0, 4.5), layout="constrained")
        return fig, fig.add_subplot()
    parent: Any = ax.get_figure()
    while isinstance(parent, SubFigure):
        parent = parent.figure
    if not isinstance(parent, Figure):
        raise InvalidArgumentError("ax must belong to a matplotlib figure")
    return parent, ax


def _key(name: object, prefix: str, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(f"{what} must be a non-empty key, got {name!r}")
    return name[len(prefix) :] if name.startswith(prefix) else name


def _check_column(
    tracker: Tracker, frame: pd.DataFrame, column: str, kind: str, what: str
) -> None:
    if column in frame.columns:
        return
    prefix = f"{column.split('.', 1)[0]}."
    known = sorted(c[len(prefix) :] for c in frame.columns if c.startswith(prefix))
    raise InvalidArgumentError(
        f"{what}={column[len(prefix) :]!r}: no run of {tracker.experiment!r} logged a "
        f"{kind} of that name; {kind}s logged: {', '.join(known) or 'none'}"
    )


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _numeric(values: pd.Series, key: str) -> Any:
    import numpy as np

    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, Real)]
    if bad:
        shown = ", ".join(list(dict.fromkeys(repr(v) for v in bad))[:5])
        raise InvalidArgumentError(
            f"param {key!r} is not numeric in every run (values such as {shown}), so it "
            "cannot be an x axis; plot a numeric param, or filter runs with where="
        )
    return np.array([float(v) for v in values], dtype=float)


def _x_scale(xs: Any, logx: bool | None) -> str:
    """'linear', 'log' or 'symlog' for these (finite) x values."""
    import numpy as np

    if logx is False:
        return "linear"
    positive = bool((xs > 0).all())
    if logx is True:
        return "log" if positive else "symlog"
    nonzero = np.abs(xs[xs != 0])
    if nonzero.size == 0 or nonzero.max() / nonzero.min() <= LOG_SPAN:
        return "linear"
    return "log" if positive else "symlog"
