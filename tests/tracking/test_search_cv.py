"""log_search: every candidate of a fitted scikit-learn search becomes a run."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import loguniform
from sklearn.datasets import make_regression
from sklearn.linear_model import Lasso, Ridge
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import pinyard
from pinyard import errors
from pinyard.tracking import Tracker
from pinyard.tracking._context import data_fingerprint
from pinyard.tracking._search_cv import log_search

ALPHAS = [0.1, 1, 10.0, 100.0]  # 1 is an int: types are kept


@pytest.fixture
def tracker(tmp_path: Path) -> Tracker:
    return pinyard.Tracker(pinyard.board_folder(tmp_path / "board"), "search")


@pytest.fixture(scope="module")
def xy() -> tuple[np.ndarray, np.ndarray]:
    x, y = make_regression(n_samples=60, n_features=4, noise=5.0, random_state=0)
    return x, y


def by_index(tracker: Tracker, ids: list[str]) -> pd.DataFrame:
    frame = tracker.runs().set_index("run_id").loc[ids]
    assert list(frame["tags.search_index"]) == [str(i) for i in range(len(ids))]
    return frame


def test_grid_search_candidates_become_runs(
    tracker: Tracker, xy: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = xy
    search = GridSearchCV(Ridge(), {"alpha": ALPHAS}, cv=3).fit(x, y)
    results = search.cv_results_

    ids = log_search(tracker, search, tags={"team": "ml"}, data=x)

    assert len(ids) == 4
    assert len(set(ids)) == 4
    runs = by_index(tracker, ids)
    assert (runs["status"] == "finished").all()
    assert list(runs["params.alpha"]) == ALPHAS
    assert [type(v) for v in runs["params.alpha"]] == [float, int, float, float]
    metrics = {c[len("metrics.") :] for c in runs.columns if c.startswith("metrics.")}
    assert metrics == {
        "mean_test_score",
        "std_test_score",
        "rank_test_score",
        "mean_fit_time",
        "mean_score_time",
    }
    for name in metrics:
        assert list(runs[f"metrics.{name}"]) == [float(v) for v in results[name]]
    assert list(runs["tags.best"]) == [
        "true" if i == search.best_index_ else "false" for i in range(4)
    ]
    assert set(runs["tags.search"]) == {"GridSearchCV"}
    assert set(runs["tags.estimator"]) == {"Ridge"}
    assert set(runs["tags.team"]) == {"ml"}
    assert runs["tags.search_group"].nunique() == 1
    assert "tags.search_str_params" not in runs.columns
    assert set(runs["data_sha256"]) == {data_fingerprint(x)["sha256"]}
    assert runs["seed"].isna().all()  # a grid search has no random_state

    best = tracker.best_run("mean_test_score", maximize=True)
    assert best.run_id == ids[search.best_index_]
    assert best.params == {"alpha": search.best_params_["alpha"]}
    selected = tracker.search("tags.best = 'true'")
    assert list(selected["run_id"]) == [ids[search.best_index_]]

    again = log_search(tracker, search)
    assert set(by_index(tracker, again)["tags.search_group"]).isdisjoint(runs["tags.search_group"])


def test_randomized_search_with_several_scorers_and_train_scores(
    tracker: Tracker, xy: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = xy
    search = RandomizedSearchCV(
        Ridge(),
        {"alpha": loguniform(1e-3, 1e2), "fit_intercept": [True, False]},
        n_iter=5,
        cv=3,
        scoring={"r2": "r2", "nmse": "neg_mean_squared_error"},
        refit="nmse",
        return_train_score=True,
        random_state=3,
    ).fit(x, y)
    results = search.cv_results_

    ids = log_search(tracker, search)

    runs = by_index(tracker, ids)
    assert len(runs) == 5
    assert list(runs["params.alpha"]) == [p["alpha"] for p in results["params"]]
    assert list(runs["params.fit_intercept"]) == [p["fit_intercept"] for p in results["params"]]
    assert all(type(v) is bool for v in runs["params.fit_intercept"])
    expected = {
        f"{stat}_{split}_{scorer}"
        for stat in ("mean", "std", "rank")
        for split in ("test", "train")
        for scorer in ("r2", "nmse")
        if not (stat == "rank" and split == "train")  # scikit-learn ranks test scores only
    } | {"mean_fit_time", "mean_score_time"}
    assert {c[len("metrics.") :] for c in runs.columns if c.startswith("metrics.")} == expected
    assert list(runs["metrics.mean_train_r2"]) == [float(v) for v in results["mean_train_r2"]]
    assert list(runs["metrics.rank_test_nmse"]) == [float(v) for v in results["rank_test_nmse"]]
    assert list(runs["tags.best"]).count("true") == 1
    assert runs["tags.best"].iloc[search.best_index_] == "true"
    assert set(runs["tags.search"]) == {"RandomizedSearchCV"}
    assert set(runs["seed"]) == {3}


def test_estimator_valued_params_are_recorded_as_text(
    tracker: Tracker, xy: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = xy
    pipe = Pipeline([("scale", StandardScaler()), ("model", Ridge())])
    grid = {
        "model": [Ridge(alpha=1.0), Lasso(alpha=0.5)],
        "scale": ["passthrough", StandardScaler()],
    }
    search = GridSearchCV(pipe, grid, cv=3).fit(x, y)

    ids = log_search(tracker, search)

    runs = by_index(tracker, ids)
    params = search.cv_results_["params"]
    assert list(runs["params.model"]) == [str(p["model"]) for p in params]
    assert set(runs["params.model"]) == {"Ridge()", "Lasso(alpha=0.5)"}
    assert list(runs["params.scale"]) == [str(p["scale"]) for p in params]
    # "passthrough" is a string param; the estimators were converted, and say so.
    assert list(runs["tags.search_str_params"]) == [
        "model" if p["scale"] == "passthrough" else "model,scale" for p in params
    ]
    assert set(runs["tags.estimator"]) == {"Pipeline"}
    winner = tracker.search("tags.best = 'true'")
    assert winner["params.model"].iloc[0] == str(search.best_params_["model"])


def test_failed_fits_keep_their_nan_scores(
    tracker: Tracker, xy: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = xy
    search = GridSearchCV(Ridge(), {"alpha": [1.0, -1.0]}, cv=3)  # a negative alpha fails
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns about the failed fits
        search.fit(x, y)

    runs = by_index(tracker, log_search(tracker, search))

    assert not math.isnan(runs["metrics.mean_test_score"].iloc[0])
    assert math.isnan(runs["metrics.mean_test_score"].iloc[1])
    assert list(runs["tags.best"]) == ["true", "false"]


def test_a_search_without_refit_marks_no_best(
    tracker: Tracker, xy: tuple[np.ndarray, np.ndarray]
) -> None:
    scoring = ["r2", "neg_mean_absolute_error"]  # several scorers and no refit: no best
    search = GridSearchCV(Ridge(), {"alpha": [1.0, 2.0]}, cv=3, scoring=scoring, refit=False)
    search.fit(*xy)
    assert not hasattr(search, "best_index_")
    runs = by_index(tracker, log_search(tracker, search))
    assert list(runs["tags.best"]) == ["false", "false"]


def test_our_tags_win_over_given_ones(tracker: Tracker, xy: tuple[np.ndarray, np.ndarray]) -> None:
    search = GridSearchCV(Ridge(), {"alpha": [1.0]}, cv=3).fit(*xy)
    runs = by_index(tracker, log_search(tracker, search, tags={"search": "mine", "note": 7}))
    assert list(runs["tags.search"]) == ["GridSearchCV"]
    assert list(runs["tags.note"]) == ["7"]


def test_an_unfitted_search_is_refused(tracker: Tracker) -> None:
    search = GridSearchCV(Ridge(), {"alpha": ALPHAS}, cv=3)
    with pytest.raises(errors.InvalidArgumentError, match=r"GridSearchCV is not fitted.*\.fit"):
        log_search(tracker, search)
    random = RandomizedSearchCV(Ridge(), {"alpha": ALPHAS}, n_iter=2)
    with pytest.raises(errors.InvalidArgumentError, match="RandomizedSearchCV is not fitted"):
        log_search(tracker, random)
    assert tracker.runs().empty


def test_other_objects_are_refused(tracker: Tracker, xy: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="Ridge has no cv_results_"):
        log_search(tracker, Ridge().fit(*xy))

    class Odd:
        cv_results_ = {"mean_test_score": [1.0]}  # noqa: RUF012

    with pytest.raises(errors.InvalidArgumentError, match="not in scikit-learn's format"):
        log_search(tracker, Odd())
    assert tracker.runs().empty


def test_bad_input_logs_nothing(tracker: Tracker, xy: tuple[np.ndarray, np.ndarray]) -> None:
    search = GridSearchCV(Ridge(), {"alpha": ALPHAS}, cv=3).fit(*xy)
    with pytest.raises(errors.InvalidArgumentError, match="data= takes"):
        log_search(tracker, search, data="not data")
    with pytest.raises(errors.InvalidArgumentError, match="separator"):
        log_search(tracker, search, tags={"a/b": 1})
    assert tracker.runs().empty
