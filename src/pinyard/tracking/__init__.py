"""Experiment tracking: an append-only log of runs on a board, with queries and plots.

::

    tracker = pinyard.Tracker(board, "ridge-sweep")
    with tracker.start_run(params={"lambda": 1.0}, seed=7, data=train_df) as run:
        model = fit(...)
        run.log_metric("val_rmse", 1.93)
    tracker.runs()                                  # DataFrame: params.*, metrics.*, tags.*
    tracker.search("params.lambda >= 1 and metrics.val_rmse < 2")
    tracker.best_run("val_rmse").metrics["test_rmse"]
"""

from pinyard.tracking._records import RunRecord
from pinyard.tracking._run import Run
from pinyard.tracking._search_cv import log_search
from pinyard.tracking._tracker import Tracker

__all__ = ["Run", "RunRecord", "Tracker", "log_search"]
