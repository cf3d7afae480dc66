"""A small board for the UI's tests: a sweep of ridge models made by runs, an evaluation
pin, and registry events by 'ana'."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

import pinyard
from pinyard.models import ModelBundle

LAMBDAS = [0.01, 1.0, 100.0]


@dataclass
class Sweep:
    board: pinyard.Board
    versions: list[str]  # by lambda: versions[0] is the best model, versions[-1] the worst
    holdout: str
    run_ids: list[str]


def make_board(path: Path) -> Sweep:
    board = pinyard.board_folder(path, allow_pickle_read=True)
    rng = np.random.default_rng(0)
    features = pd.DataFrame({"x1": rng.normal(size=80), "x2": rng.normal(size=80)})
    y = 2 * features["x1"] + rng.normal(scale=0.1, size=80)
    holdout = board.pin_write(features.assign(y=y), "holdout", title="holdout set").version
    tracker = pinyard.Tracker(board, "ridge")
    versions, run_ids = [], []
    for lam in LAMBDAS:
        with tracker.start_run(params={"lambda": lam}, seed=1, data=features) as run:
            for step in range(3):
                run.log_metric("loss", 1 / (step + 1) + lam / 100, step=step)
            run.log_metric("val_rmse", abs(np.log10(lam)) + 1)
            bundle = ModelBundle(Ridge(alpha=lam).fit(features, y), prototype=features)
            versions.append(run.log_model(bundle, "ridge").version)
            run_ids.append(run.run_id)
    registry = pinyard.Registry(board, user="ana")
    registry.set_alias("ridge", "champion", versions[1], reason="first pick")
    return Sweep(board, versions, holdout, run_ids)


def form_fields(page: str, op: str) -> dict[str, str]:
    """The hidden fields (csrf, expected, op) of the action form ``op`` on ``page``."""
    match = re.search(rf'<form class=action [^>]*data-op="{op}">(.*?)</form>', page, re.S)
    assert match, f"no {op} form on the page"
    return {
        html.unescape(k): html.unescape(v)
        for k, v in re.findall(r'<input type=hidden name="([^"]+)" value="([^"]*)">', match[1])
    }


def expected_of(fields: dict[str, str]) -> dict[str, str]:
    return dict(json.loads(fields["expected"]))
