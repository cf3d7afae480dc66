"""Record every candidate of a fitted scikit-learn hyperparameter search as a run.

::

    search = GridSearchCV(Ridge(), {"alpha": [0.1, 1, 10]}, cv=5).fit(X, y)
    ids = log_search(tracker, search, data=X)
    tracker.search("tags.best = 'true'")
    tracker.plot("alpha", "mean_test_score", maximize=True)

scikit-learn is not imported: anything with a ``cv_results_`` dict in
scikit-learn's format works (``GridSearchCV``, ``RandomizedSearchCV``,
``HalvingGridSearchCV``, ...).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pinyard.errors import InvalidArgumentError
from pinyard.tracking._records import metric_value, param_value, validate_key

if TYPE_CHECKING:
    from pinyard.tracking._tracker import Tracker

_SCORE = re.compile(r"^(mean|std|rank)_(test|train)_(.+)$")
_TIMES = ("mean_fit_time", "mean_score_time")
STR_PARAMS_TAG = "search_str_params"


def log_search(
    tracker: Tracker,
    search: Any,
    *,
    tags: Mapping[str, Any] | None = None,
    data: Any = None,
) -> list[str]:
    """Log one finished run per candidate of a fitted search; returns their run ids in
    the order of ``search.cv_results_``.

    Each run records:

    * params: the candidate's parameters as the search tried them (types
      kept). A value a run cannot record as a param, such as an estimator in
      a pipeline grid (``{"model": [Ridge(), Lasso()]}``), is recorded as its
      ``str()``, and its key is listed in the tag ``search_str_params``.
    * metrics: for every scorer ``mean_test_<scorer>``, ``std_test_<scorer>``
      and ``rank_test_<scorer>``, the same for train scores when the search
      kept them (``return_train_score=True``), and ``mean_fit_time`` and
      ``mean_score_time``. A single scorer is named ``score`` by scikit-learn
      (``mean_test_score``). Failed fits score NaN and stay NaN.
    * tags: ``tags`` given here, then ``search`` (the search's class name),
      ``search_group`` (one id shared by the runs of this call),
      ``search_index`` (the candidate's row in ``cv_results_``), ``estimator``
      (the searched estimator's class) and ``best`` (``"true"`` for
      ``best_index_``, ``"false"`` for the others, and for all when the search
      did not refit and so chose none). These names win over ``tags``.
    * seed: the search's ``random_state`` when it is an integer.
    * data: the fingerprint of ``data`` (the training data), if given.

    Everything is checked before the first run is written, so bad input
    logs nothing.
    """
    results = _cv_results(search)
    candidates = results["params"]
    count = len(candidates)
    best_index = getattr(search, "best_index_", None)
    group = uuid.uuid4().hex[:12]
    base_tags = {validate_key(k, "tag"): str(v) for k, v in (tags or {}).items()}
    base_tags.update(
        search=type(search).__name__,
        search_group=group,
        estimator=type(getattr(search, "estimator", None)).__name__,
    )
    columns = [key for key in results if _SCORE.match(key)] + [k for k in _TIMES if k in results]
    for key in columns:
        validate_key(key, "metric")
        if len(results[key]) != count:
            raise InvalidArgumentError(
                f"cv_results_[{key!r}] has {len(results[key])} values for {count} candidates"
            )
    seed = getattr(search, "random_state", None)
    if isinstance(seed, bool) or not isinstance(seed, int):
        seed = None

    planned = []
    for index, candidate in enumerate(candidates):
        params, as_str = _params(candidate, index)
        metrics = {key: metric_value(key, results[key][index]) for key in columns}
        run_tags = {**base_tags, "search_index": str(index),
                    "best": "true" if index == best_index else "false"}  # fmt: skip
        if as_str:
            run_tags[STR_PARAMS_TAG] = ",".join(as_str)
        planned.append((params, metrics, run_tags))

    prepared = _prepared(data)
    run_ids = []
    for params, metrics, run_tags in planned:
        with tracker.start_run(params=params, tags=run_tags, seed=seed, data=prepared) as run:
            run.log_metrics(metrics)
        run_ids.append(run.run_id)
    return run_ids


def _cv_results(search: Any) -> Mapping[str, Any]:
    name = type(search).__name__
    results = getattr(search, "cv_results_", None)
    if results is None:
        if hasattr(search, "param_grid") or hasattr(search, "param_distributions"):
            raise InvalidArgumentError(
                f"{name} is not fitted (it has no cv_results_): call .fit(X, y) before log_search"
            )
        raise InvalidArgumentError(
            f"log_search takes a fitted GridSearchCV, RandomizedSearchCV or any object with "
            f"scikit-learn's cv_results_; {name} has no cv_results_"
        )
    if not isinstance(results, Mapping) or not isinstance(results.get("params"), list | tuple):
        raise InvalidArgumentError(
            f"{name}.cv_results_ is not in scikit-learn's format (a dict with a 'params' list "
            "of candidate settings and mean_test_* score arrays)"
        )
    if not any(_SCORE.match(key) for key in results):
        raise InvalidArgumentError(f"{name}.cv_results_ has no mean_test_* scores")
    return results


def _params(candidate: Any, index: int) -> tuple[dict[str, Any], list[str]]:
    if not isinstance(candidate, Mapping):
        raise InvalidArgumentError(
            f"cv_results_['params'][{index}] is {type(candidate).__name__}, not a dict"
        )
    params: dict[str, Any] = {}
    as_str: list[str] = []
    for key, value in candidate.items():
        name = validate_key(key, "param")
        try:
            params[name] = param_value(name, value)
        except InvalidArgumentError:  # an estimator, a function, an array ...
            params[name] = str(value)
            as_str.append(name)
    return params, as_str


def _prepared(data: Any) -> Any:
    """``data`` as Arrow once, so each run hashes it without converting it again."""
    if data is None:
        return None
    from pinyard.tracking._context import _as_arrow_table

    if isinstance(data, dict):
        return {str(k): _prepared(v) for k, v in data.items()}
    return _as_arrow_table(data)
