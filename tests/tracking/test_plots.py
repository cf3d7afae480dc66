"""Plots of runs: metric against param with the best run marked, and metric histories."""

from __future__ import annotations

import io
import math
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Annotation

import pinyard
from pinyard import errors
from pinyard.tracking import Run, Tracker
from pinyard.tracking._plots import plot_history, plot_metric

LAMBDAS = (0.0, 0.1, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0)
PNG = b"\x89PNG\r\n\x1a\n"


def rmse_at(lam: float) -> float:
    """A U-shaped validation curve with its minimum at lambda = 10."""
    return 2.0 + (math.log10(lam + 1.0) - math.log10(11.0)) ** 2


@pytest.fixture
def tracker(tmp_path: Path) -> Tracker:
    return pinyard.Tracker(pinyard.board_folder(tmp_path / "board"), "sweep")


def log(tracker: Tracker, params: dict[str, Any], **metrics: float) -> str:
    with tracker.start_run(params=params) as run:
        run.log_metrics(metrics)
    return run.run_id


def log_failed(tracker: Tracker, params: dict[str, Any], **metrics: float) -> None:
    def crash(run: Run) -> None:
        run.log_metrics(metrics)
        _ = 1 / 0

    with pytest.raises(ZeroDivisionError), tracker.start_run(params=params) as run:
        crash(run)
    assert tracker.get_run(run.run_id).status == "failed"


@pytest.fixture
def sweep(tracker: Tracker) -> dict[float, str]:
    # Logged out of order: the plot sorts by x, not by time.
    order = (25.0, 0.0, 100.0, 1.0, 10.0, 0.1, 50.0, 5.0)
    return {lam: log(tracker, {"lambda": lam}, val_rmse=rmse_at(lam)) for lam in order}


def line(fig: Figure, gid: str) -> Line2D:
    found = [ln for ln in fig.axes[0].lines if ln.get_gid() == gid]
    assert len(found) == 1, [ln.get_gid() for ln in fig.axes[0].lines]
    return found[0]


def xy(artist: Line2D) -> tuple[list[float], list[float]]:
    return (
        [float(v) for v in np.asarray(artist.get_xdata())],
        [float(v) for v in np.asarray(artist.get_ydata())],
    )


def best_label(fig: Figure) -> Annotation:
    found = [t for t in fig.axes[0].texts if t.get_gid() == "pinyard-best-label"]
    assert len(found) == 1
    assert isinstance(found[0], Annotation)
    return found[0]


def test_metric_against_param_marks_the_best_run(
    tracker: Tracker, sweep: dict[float, str]
) -> None:
    log_failed(tracker, {"lambda": 3.0}, val_rmse=0.01)  # the lowest value, but failed
    log(tracker, {"depth": 3}, val_rmse=0.5)  # no lambda: not on this plot

    fig = plot_metric(tracker, "lambda", "val_rmse")

    assert isinstance(fig, Figure)
    points_x, points_y = xy(line(fig, "pinyard-runs"))
    assert sorted(zip(points_x, points_y, strict=True)) == [(lam, rmse_at(lam)) for lam in LAMBDAS]
    assert xy(line(fig, "pinyard-line")) == (list(LAMBDAS), [rmse_at(lam) for lam in LAMBDAS])
    assert xy(line(fig, "pinyard-best")) == ([10.0], [2.0])
    assert best_label(fig).get_text() == "2"
    assert best_label(fig).xy == (10.0, 2.0)
    legend = fig.axes[0].get_legend()
    assert legend is not None
    texts = [t.get_text() for t in legend.get_texts()]
    assert any("val_rmse = 2 at lambda = 10" in t and sweep[10.0] in t for t in texts)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "lambda"
    assert ax.get_ylabel() == "val_rmse"
    assert ax.get_title() == "val_rmse vs lambda: sweep (8 runs)"


def test_prefixed_names_and_maximize(tracker: Tracker, sweep: dict[float, str]) -> None:
    fig = plot_metric(tracker, "params.lambda", "metrics.val_rmse", maximize=True)
    assert xy(line(fig, "pinyard-best")) == ([0.0], [rmse_at(0.0)])  # the far end of the U
    assert fig.axes[0].get_xlabel() == "lambda"
    assert fig.axes[0].get_ylabel() == "val_rmse"


def test_ties_go_to_the_oldest_run_as_in_best_run(tracker: Tracker) -> None:
    first = log(tracker, {"k": 2}, score=1.0)
    log(tracker, {"k": 1}, score=1.0)
    log(tracker, {"k": 3}, score=3.0)
    assert tracker.best_run("score").run_id == first
    fig = plot_metric(tracker, "k", "score")
    assert xy(line(fig, "pinyard-best")) == ([2.0], [1.0])


def test_where_filters_the_runs(tracker: Tracker) -> None:
    for lam in (1.0, 2.0, 3.0):
        with tracker.start_run(params={"lambda": lam}, tags={"stage": "select"}) as run:
            run.log_metric("val_rmse", 5.0 - lam)
    log(tracker, {"lambda": 4.0}, val_rmse=0.0)  # better, but not in the selection
    fig = plot_metric(tracker, "lambda", "val_rmse", where="tags.stage = 'select'")
    assert xy(line(fig, "pinyard-runs"))[0] == [1.0, 2.0, 3.0]
    assert xy(line(fig, "pinyard-best")) == ([3.0], [2.0])


def test_runs_sharing_an_x_are_all_shown_with_the_line_through_their_mean(
    tracker: Tracker,
) -> None:
    for lam, value in ((1.0, 3.0), (1.0, 5.0), (2.0, 1.0)):
        log(tracker, {"lambda": lam}, val_rmse=value)
    fig = plot_metric(tracker, "lambda", "val_rmse")
    assert sorted(zip(*xy(line(fig, "pinyard-runs")), strict=True)) == [
        (1.0, 3.0),
        (1.0, 5.0),
        (2.0, 1.0),
    ]
    assert xy(line(fig, "pinyard-line")) == ([1.0, 2.0], [4.0, 1.0])


def test_runs_without_a_finite_metric_are_left_out_and_counted(tracker: Tracker) -> None:
    log(tracker, {"lambda": 1.0}, val_rmse=2.0)
    log(tracker, {"lambda": 2.0}, val_rmse=float("nan"))
    log(tracker, {"lambda": 3.0}, val_rmse=float("inf"))
    log(tracker, {"lambda": 4.0}, other=1.0)
    fig = plot_metric(tracker, "lambda", "val_rmse")
    assert xy(line(fig, "pinyard-runs")) == ([1.0], [2.0])
    assert fig.axes[0].get_title().endswith("(1 runs); 3 without a finite value not shown")


@pytest.mark.parametrize(
    ("xs", "logx", "scale"),
    [
        (LAMBDAS, None, "symlog"),  # contains 0 and spans 3 decades
        ((0.01, 0.1, 1.0, 10.0, 100.0), None, "log"),
        ((0.5, 1.0, 50.0), None, "linear"),  # exactly two decades: not more
        ((0.5, 1.0, 50.1), None, "log"),
        ((0.0, 1.0, 2.0, 50.0), None, "linear"),
        ((-1000.0, -1.0, 0.0, 1.0, 100.0), None, "symlog"),
        ((0.0, 1.0), None, "linear"),
        ((0.01, 0.1, 1.0, 10.0, 100.0), False, "linear"),
        ((1.0, 2.0, 3.0), True, "log"),
        ((0.0, 1.0, 2.0), True, "symlog"),
    ],
)  # fmt: skip
def test_x_scale_is_chosen_by_the_span_of_x(
    tracker: Tracker, xs: tuple[float, ...], logx: bool | None, scale: str
) -> None:
    for x in xs:
        log(tracker, {"x": x}, m=1.0 + abs(x))
    ax = plot_metric(tracker, "x", "m", logx=logx).axes[0]
    assert ax.get_xscale() == scale


def test_symlog_is_linear_up_to_the_smallest_nonzero_x(
    tracker: Tracker, sweep: dict[float, str]
) -> None:
    ax = plot_metric(tracker, "lambda", "val_rmse").axes[0]
    assert ax.get_xscale() == "symlog"
    assert ax.xaxis.get_transform().linthresh == pytest.approx(0.1)  # type: ignore[attr-defined]


def test_integer_params_plot(tracker: Tracker) -> None:
    for depth in (1, 2, 3):
        log(tracker, {"depth": depth}, acc=0.5 + depth / 10)
    fig = plot_metric(tracker, "depth", "acc", maximize=True)
    assert xy(line(fig, "pinyard-best")) == ([3.0], [0.8])


def test_unknown_param_or_metric_lists_what_exists(
    tracker: Tracker, sweep: dict[float, str]
) -> None:
    log(tracker, {"alpha": 1.0}, train_rmse=1.0)
    with pytest.raises(
        errors.InvalidArgumentError, match=r"x='lamda'.*params logged: alpha, lambda"
    ):
        plot_metric(tracker, "lamda", "val_rmse")
    with pytest.raises(
        errors.InvalidArgumentError, match=r"y='test_rmse'.*metrics logged: train_rmse, val_rmse"
    ):
        plot_metric(tracker, "lambda", "test_rmse")
    with pytest.raises(errors.InvalidArgumentError, match="params logged: none"):
        plot_metric(
            pinyard.Tracker(pinyard.board_folder(tracker.board.store.url), "empty"), "a", "b"
        )
    with pytest.raises(errors.InvalidArgumentError, match="non-empty"):
        plot_metric(tracker, "", "val_rmse")


@pytest.mark.parametrize("value", ["ridge", True, [1, 2], None])
def test_a_param_that_is_not_numeric_is_refused(tracker: Tracker, value: object) -> None:
    log(tracker, {"model": 1.0}, m=1.0)
    log(tracker, {"model": value}, m=2.0)
    if value is None:  # None is "not set": that run is simply not on the plot
        assert xy(line(plot_metric(tracker, "model", "m"), "pinyard-runs")) == ([1.0], [1.0])
        return
    with pytest.raises(errors.InvalidArgumentError, match="'model' is not numeric"):
        plot_metric(tracker, "model", "m")


def test_no_finished_run_to_plot(tracker: Tracker) -> None:
    log_failed(tracker, {"lambda": 1.0}, val_rmse=1.0)
    with pytest.raises(errors.RunNotFoundError, match="no finished run"):
        plot_metric(tracker, "lambda", "val_rmse")
    log(tracker, {"lambda": 2.0}, val_rmse=float("nan"))
    with pytest.raises(errors.RunNotFoundError, match="finite metric 'val_rmse'"):
        plot_metric(tracker, "lambda", "val_rmse")


def test_draws_into_a_given_axes_and_saves_as_png(
    tracker: Tracker, sweep: dict[float, str]
) -> None:
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plot_metric(tracker, "lambda", "val_rmse", ax=right) is fig
    assert not left.lines
    assert any(ln.get_gid() == "pinyard-best" for ln in right.lines)
    sub = Figure().subfigures(1, 2)[1]
    sub_ax: Axes = sub.add_subplot()
    assert plot_metric(tracker, "lambda", "val_rmse", ax=sub_ax) is sub.figure
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(PNG)


def test_figures_are_made_in_threads_without_pyplot(
    tracker: Tracker, sweep: dict[float, str]
) -> None:
    def render(maximize: bool) -> bytes:
        buffer = io.BytesIO()
        plot_metric(tracker, "lambda", "val_rmse", maximize=maximize).savefig(buffer)
        return buffer.getvalue()

    with ThreadPoolExecutor(4) as pool:
        images = list(pool.map(render, [False, True] * 4))
    assert all(image.startswith(PNG) and len(image) > 5_000 for image in images)


def test_missing_matplotlib_says_how_to_install(
    tracker: Tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(ImportError, match=r"pip install 'pinyard\[plot\]'"):
        plot_metric(tracker, "lambda", "val_rmse")
    with pytest.raises(ImportError, match=r"pinyard\[plot\]"):
        plot_history(tracker, ["x"], "loss")


# -- histories -------------------------------------------------------------------------


def test_history_has_one_line_per_run_over_steps(tracker: Tracker) -> None:
    ids = []
    for rate in (0.5, 0.8):
        with tracker.start_run(params={"rate": rate}) as run:
            for step in (2, 0, 1):  # logged out of order
                run.log_metric("loss", rate**step, step=step)
                run.log_metric("acc", 1 - rate**step, step=step)
        ids.append(run.run_id)

    fig = plot_history(tracker, ids, "metrics.loss")

    ax = fig.axes[0]
    assert [ln.get_gid() for ln in ax.lines] == [f"pinyard-history:{i}" for i in ids]
    assert [xy(ln) for ln in ax.lines] == [
        ([0.0, 1.0, 2.0], [1.0, 0.5, 0.25]),
        ([0.0, 1.0, 2.0], [1.0, 0.8, pytest.approx(0.64)]),
    ]
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == ids
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("step", "loss")
    assert ax.get_title() == "loss by step: sweep (2 runs)"
    single = plot_history(tracker, ids[0], "acc")  # one id, as a string
    assert len(single.axes[0].lines) == 1


def test_history_errors(tracker: Tracker) -> None:
    with tracker.start_run() as run:
        run.log_metric("final", 1.0)  # no step: no history
        run.log_metric("loss", 1.0, step=0)
    with pytest.raises(errors.InvalidArgumentError, match=r"no history of 'final'.*history: loss"):
        plot_history(tracker, [run.run_id], "final")
    with pytest.raises(errors.InvalidArgumentError, match="at least one run"):
        plot_history(tracker, [], "loss")
    with pytest.raises(errors.RunNotFoundError):
        plot_history(tracker, ["20990101T000000Z-00000000"], "loss")
