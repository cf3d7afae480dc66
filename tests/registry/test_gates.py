"""Gated promotion: scores on a frozen evaluation set, the evidence, refusals as events."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression

import pinyard
from pinyard import errors
from pinyard.models import ModelBundle
from pinyard.registry import GateContext, GateResult, MetricGate, Registry
from pinyard.registry._gates import _METRICS
from tests.registry.conftest import pin_regressor, regression_data


@pytest.fixture
def evaluation(board: pinyard.Board) -> tuple[str, pd.DataFrame]:
    """The frozen evaluation set: pin ``eval`` at one version, and its frame."""
    frame = regression_data(rows=40, seed=1)
    return board.pin_write(frame, "eval").version, frame


def rmse_of(board: pinyard.Board, version: str, frame: pd.DataFrame) -> float:
    model = ModelBundle.from_pin(board, "m", version).model
    predicted = model.predict(frame[["a", "b"]])
    return math.sqrt(metrics.mean_squared_error(frame["y"], predicted))


def test_a_gate_needs_a_board_allowed_to_unpickle_and_records_nothing_without(
    board: pinyard.Board, evaluation: tuple[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scoring loads the models, so the gate asks what pins asks, before any event."""
    monkeypatch.delenv("PINS_ALLOW_PICKLE_READ", raising=False)
    data_version, _ = evaluation
    candidate = pin_regressor(board, LinearRegression(), regression_data())
    refusing = Registry(pinyard.board_folder(board.store.url, create=False), user="ana")
    gate = MetricGate("eval", version=data_version, target="y", metric="rmse")
    with pytest.raises(errors.InsecureReadError, match="pass allow_pickle_read=True"):
        refusing.promote("m", candidate, "champion", gate=gate, reason="first")
    assert refusing.history("m") == []
    assert refusing.aliases("m") == {}


def test_a_worse_candidate_is_refused_with_both_scores_and_a_refused_event(
    registry: Registry, board: pinyard.Board, evaluation: tuple[str, pd.DataFrame]
) -> None:
    data_version, frame = evaluation
    train = regression_data()
    good = pin_regressor(board, LinearRegression(), train)
    worse = pin_regressor(board, DummyRegressor(), train)
    gate = MetricGate("eval", version=data_version, target="y", metric="rmse")
    registry.promote("m", good, "champion", gate=gate, reason="first")
    with pytest.raises(errors.PromotionRefusedError, match="refused: rmse") as refused:
        registry.promote("m", worse, "champion", gate=gate, reason="try the dummy")
    evidence = refused.value.evidence
    assert refused.value.candidate_score == pytest.approx(rmse_of(board, worse, frame))
    assert refused.value.holder_score == pytest.approx(rmse_of(board, good, frame))
    assert evidence["candidate_score"] > evidence["holder_score"]
    assert "Recorded as event 2" in str(refused.value)
    assert registry.aliases("m") == {"champion": good}  # nothing moved

    event = registry.history("m")[-1]
    assert isinstance(event, pinyard.registry.Event)
    assert (event.op, event.slot) == ("refused", "champion")
    assert (event.version, event.previous) == (worse, good)
    assert event.reason == "try the dummy"
    recorded = event.gate
    assert recorded is not None
    assert recorded["passed"] is False
    assert recorded["candidate_score"] == evidence["candidate_score"]
    assert recorded["holder_score"] == evidence["holder_score"]
    assert (recorded["metric"], recorded["higher_is_better"]) == ("rmse", False)
    assert (recorded["min_improvement"], recorded["threshold"]) == (0.0, None)
    eval_meta = board.pin_meta("eval", data_version)
    assert recorded["data"] == "eval"
    assert recorded["data_version"] == data_version
    assert recorded["data_sha256"] == [f.sha256 for f in eval_meta.files]
    assert recorded["data_meta_sha256"] == board.meta_sha256("eval", data_version)
    assert recorded["rows"] == len(frame)
    assert recorded["candidate_sha256"] == board.pin_meta("m", worse).files[0].sha256
    assert recorded["holder_sha256"] == board.pin_meta("m", good).files[0].sha256
    assert 0 <= recorded["seconds"] < 60
    frame_history = registry.history("m", as_df=True)
    assert frame_history["op"].tolist() == ["promote", "refused"]


def test_a_better_candidate_is_promoted_with_its_evidence(
    registry: Registry, board: pinyard.Board, evaluation: tuple[str, pd.DataFrame]
) -> None:
    data_version, frame = evaluation
    train = regression_data()
    dummy = pin_regressor(board, DummyRegressor(), train)
    better = pin_regressor(board, LinearRegression(), train)
    gate = MetricGate("eval", version=data_version, target="y", min_improvement=0.5)
    registry.transition("m", dummy, "staging")
    registry.transition("m", dummy, "production")
    registry.transition("m", better, "staging")
    event = registry.promote("m", better, "production", gate=gate, reason="beats the dummy")
    assert (event.op, event.version) == ("promote", better)
    assert (event.previous, event.displaced) == (dummy, dummy)
    assert event.gate is not None
    assert event.gate["passed"] is True
    assert event.gate["holder_score"] == pytest.approx(rmse_of(board, dummy, frame))
    assert event.gate["candidate_score"] == pytest.approx(rmse_of(board, better, frame))
    assert event.gate["improvement"] == pytest.approx(
        event.gate["holder_score"] - event.gate["candidate_score"]
    )
    assert event.gate["improvement"] >= 0.5
    assert registry.stages("m") == {"production": better}
    assert registry.state("m").archived == [dummy]


def test_an_improvement_below_the_minimum_is_refused(
    registry: Registry, board: pinyard.Board, evaluation: tuple[str, pd.DataFrame]
) -> None:
    data_version, _ = evaluation
    train = regression_data()
    first = pin_regressor(board, LinearRegression(), train)
    same = pin_regressor(board, LinearRegression(), train.sample(frac=1, random_state=3))
    registry.set_alias("m", "champion", first)
    gate = MetricGate("eval", version=data_version, target="y", min_improvement=0.01)
    with pytest.raises(errors.PromotionRefusedError, match=r"at least 0\.01"):
        registry.promote("m", same, "champion", gate=gate)


@pytest.mark.parametrize(("threshold", "passes"), [(5.0, True), (0.01, False)])
def test_with_no_holder_the_candidate_must_reach_the_threshold(
    registry: Registry,
    board: pinyard.Board,
    evaluation: tuple[str, pd.DataFrame],
    threshold: float,
    passes: bool,
) -> None:
    data_version, frame = evaluation
    candidate = pin_regressor(board, LinearRegression(), regression_data())
    gate = MetricGate("eval", version=data_version, target="y", threshold=threshold)
    if passes:
        event = registry.promote("m", candidate, "champion", gate=gate)
        evidence = event.gate
    else:
        with pytest.raises(errors.PromotionRefusedError, match=r"must reach 0\.01") as refused:
            registry.promote("m", candidate, "champion", gate=gate)
        evidence = refused.value.evidence
        assert registry.history("m")[-1].op == "refused"  # type: ignore[union-attr]
    assert evidence is not None
    assert evidence["holder"] is None
    assert evidence["holder_score"] is None
    assert evidence["threshold"] == threshold
    assert evidence["candidate_score"] == pytest.approx(rmse_of(board, candidate, frame))
    assert registry.aliases("m") == ({"champion": candidate} if passes else {})


def test_with_no_holder_and_no_threshold_the_candidate_passes(
    registry: Registry, board: pinyard.Board, evaluation: tuple[str, pd.DataFrame]
) -> None:
    candidate = pin_regressor(board, DummyRegressor(), regression_data())
    event = registry.promote(
        "m", candidate, "champion", gate=MetricGate("eval", version=evaluation[0], target="y")
    )
    assert event.gate is not None
    assert event.gate["rule"] == "nothing holds the target and no threshold is set"


# -- metrics against scikit-learn's own ------------------------------------------------


def classification(rows: int = 80, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows)})
    noisy = frame["a"] + frame["b"] + rng.normal(scale=0.7, size=rows)
    frame["y"] = (noisy > 0).astype(int)
    return frame


def score(
    registry: Registry, board: pinyard.Board, model: Any, frame: pd.DataFrame, metric: Any,
    **gate_args: Any,
) -> float:  # fmt: skip
    """The candidate score a MetricGate records for ``model`` fitted on ``frame``."""
    features = frame[["a", "b"]]
    bundle = ModelBundle(model.fit(features, frame["y"]), prototype=features)
    version = board.pin_write(bundle, "m").version
    data_version = board.pin_write(frame, "eval").version
    gate = MetricGate("eval", version=data_version, target="y", metric=metric, **gate_args)
    event = registry.promote("m", version, "champion", gate=gate)
    assert event.gate is not None
    assert event.gate["metric"] == getattr(metric, "__name__", metric)
    return float(event.gate["candidate_score"])


@pytest.mark.parametrize(
    ("metric", "reference"),
    [
        ("rmse", lambda y, p: math.sqrt(metrics.mean_squared_error(y, p))),
        ("mae", metrics.mean_absolute_error),
    ],
)
def test_regression_metrics_match_scikit_learn(
    registry: Registry, board: pinyard.Board, metric: str, reference: Any
) -> None:
    frame = regression_data(rows=50, seed=4)
    model = LinearRegression()
    got = score(registry, board, model, frame, metric)
    assert got == pytest.approx(reference(frame["y"], model.predict(frame[["a", "b"]])))


@pytest.mark.parametrize("metric", ["accuracy", "log_loss", "roc_auc"])
def test_classification_metrics_match_scikit_learn(
    registry: Registry, board: pinyard.Board, metric: str
) -> None:
    frame = classification()
    model = LogisticRegression()
    got = score(registry, board, model, frame, metric)
    features, y = frame[["a", "b"]], frame["y"]
    expected = {
        "accuracy": lambda: metrics.accuracy_score(y, model.predict(features)),
        "log_loss": lambda: metrics.log_loss(y, model.predict_proba(features)),
        "roc_auc": lambda: metrics.roc_auc_score(y, model.predict_proba(features)[:, 1]),
    }[metric]()
    assert got == pytest.approx(expected)
    assert 0 < got < 1  # a real score, neither perfect nor degenerate


def test_log_loss_on_an_evaluation_set_without_one_of_the_models_classes(
    registry: Registry, board: pinyard.Board
) -> None:
    """Found writing this test: the probabilities' columns were matched to the classes
    present in the evaluation set, so a 3-class model scored on classes 0 and 2 was
    scored with class 1's probabilities for class 2 (1.36 where scikit-learn says 0.24)."""
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"a": rng.normal(size=90), "b": rng.normal(size=90)})
    train["y"] = np.where(train["a"] > 0.5, 2, np.where(train["a"] < -0.5, 0, 1))
    model = LogisticRegression().fit(train[["a", "b"]], train["y"])
    version = board.pin_write(ModelBundle(model, prototype=train[["a", "b"]]), "m").version
    frame = train[train["y"] != 1].reset_index(drop=True)
    data_version = board.pin_write(frame, "eval").version
    gate = MetricGate("eval", version=data_version, target="y", metric="log_loss")
    event = registry.promote("m", version, "champion", gate=gate)
    assert event.gate is not None
    probabilities = model.predict_proba(frame[["a", "b"]])
    expected = metrics.log_loss(frame["y"], probabilities, labels=model.classes_)
    assert event.gate["candidate_score"] == pytest.approx(expected)


def test_a_label_the_model_never_saw_cannot_be_scored(
    registry: Registry, board: pinyard.Board
) -> None:
    frame = classification()
    features = frame[["a", "b"]]
    model = LogisticRegression().fit(features, frame["y"])
    version = board.pin_write(ModelBundle(model, prototype=features), "m").version
    data_version = board.pin_write(frame.assign(y=frame["y"] * 2), "eval").version
    gate = MetricGate("eval", version=data_version, target="y", metric="log_loss")
    with pytest.raises(errors.GateError, match=r"label\(s\) 2 .* the model knows 0, 1"):
        registry.promote("m", version, "champion", gate=gate)


@pytest.mark.parametrize(
    ("y", "scores"),
    [
        ([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.4, 0.4]),  # ties
        (["no", "yes", "yes", "no"], [0.3, 0.3, 0.9, 0.1]),  # string labels
        ([1, 0, 1, 0, 1], [0.9, 0.2, 0.2, 0.2, 0.7]),
    ],
)
def test_roc_auc_with_ties_and_labels_matches_scikit_learn(
    y: list[Any], scores: list[float]
) -> None:
    fn, higher, proba = _METRICS["roc_auc"]
    assert (higher, proba) == (True, True)
    expected = metrics.roc_auc_score(np.asarray(y), scores)
    assert fn(np.asarray(y), np.asarray(scores)) == pytest.approx(expected)


def test_log_loss_of_three_classes_matches_scikit_learn() -> None:
    y = np.asarray(["a", "b", "c", "a", "c"])
    probabilities = np.asarray(
        [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1], [0.3, 0.3, 0.4]]
    )
    fn, higher, _ = _METRICS["log_loss"]
    assert higher is False
    assert fn(y, probabilities) == pytest.approx(metrics.log_loss(y, probabilities))


def test_a_callable_metric(registry: Registry, board: pinyard.Board) -> None:
    frame = regression_data(rows=30, seed=5)
    model = LinearRegression()
    got = score(registry, board, model, frame, metrics.max_error, higher_is_better=False)
    assert got == pytest.approx(metrics.max_error(frame["y"], model.predict(frame[["a", "b"]])))


def test_a_callable_metric_where_higher_is_better_decides(
    registry: Registry, board: pinyard.Board, evaluation: tuple[str, pd.DataFrame]
) -> None:
    train = regression_data()
    good = pin_regressor(board, LinearRegression(), train)
    dummy = pin_regressor(board, DummyRegressor(), train)
    registry.set_alias("m", "champion", good)
    gate = MetricGate(
        "eval", version=evaluation[0], target="y", metric=metrics.r2_score, higher_is_better=True
    )
    with pytest.raises(errors.PromotionRefusedError) as refused:
        registry.promote("m", dummy, "champion", gate=gate)
    assert refused.value.evidence["metric"] == "r2_score"
    assert refused.value.holder_score > refused.value.candidate_score  # type: ignore[operator]


def test_a_classifier_scored_by_accuracy_is_refused_against_a_better_one(
    registry: Registry, board: pinyard.Board
) -> None:
    frame = classification()
    features = frame[["a", "b"]]
    versions = [
        board.pin_write(ModelBundle(m.fit(features, frame["y"]), prototype=features), "m").version
        for m in (LogisticRegression(), DummyClassifier())
    ]
    data_version = board.pin_write(frame, "eval").version
    gate = MetricGate("eval", version=data_version, target="y", metric="accuracy")
    registry.promote("m", versions[0], "champion", gate=gate)
    with pytest.raises(errors.PromotionRefusedError, match="accuracy"):
        registry.promote("m", versions[1], "champion", gate=gate)


# -- custom gates ------------------------------------------------------------------------


def test_a_custom_gate_returning_a_bool(registry: Registry, versions: list[str]) -> None:
    def signed_off(context: GateContext) -> bool:
        return context.candidate == versions[1]

    with pytest.raises(errors.PromotionRefusedError, match="gate signed_off fails") as refused:
        registry.promote("m", versions[0], "champion", gate=signed_off)
    assert refused.value.evidence["gate"] == "signed_off"
    assert refused.value.candidate_score is None
    event = registry.promote("m", versions[1], "champion", gate=signed_off)
    assert event.gate is not None
    assert (event.gate["gate"], event.gate["passed"], event.gate["candidate"]) == (
        "signed_off", True, versions[1],
    )  # fmt: skip
    assert event.gate["holder"] is None
    assert event.gate["seconds"] >= 0
    assert [e.op for e in registry.history("m")] == ["refused", "promote"]  # type: ignore[union-attr]


def test_a_custom_gate_returning_a_result(registry: Registry, versions: list[str]) -> None:
    class TicketGate:
        def __call__(self, context: GateContext) -> GateResult:
            ok = context.holder is not None
            return GateResult(ok, {"gate": "ticket", "ticket": 4711}, "QA ticket 4711")

    registry.set_alias("m", "champion", versions[0])
    event = registry.promote("m", versions[1], "champion", gate=TicketGate(), reason="QA")
    assert event.gate == {"gate": "ticket", "ticket": 4711, "passed": True,
                          "message": "QA ticket 4711"}  # fmt: skip
    registry.remove_alias("m", "champion")
    with pytest.raises(errors.PromotionRefusedError, match="QA ticket 4711") as refused:
        registry.promote("m", versions[2], "champion", gate=TicketGate())
    assert refused.value.evidence == {"gate": "ticket", "ticket": 4711}


def test_promoting_the_holder_again_runs_no_gate_and_writes_nothing(
    registry: Registry, versions: list[str]
) -> None:
    calls: list[str] = []

    def gate(context: GateContext) -> bool:
        calls.append(context.candidate)
        return True

    first = registry.promote("m", versions[0], "champion", gate=gate)
    assert registry.promote("m", versions[0], "champion", gate=gate) == first
    assert calls == [versions[0]]
