"""Promotion gates: is a candidate version better than what holds the target now?

`MetricGate` scores both on a frozen evaluation set (a pin at an explicit
version, checked by sha256) and passes only if the candidate wins by the
required margin. Any callable ``gate(context) -> bool | GateResult`` may
stand in for it. What a gate measured goes into the promotion's event.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pinyard.errors import GateError, InvalidArgumentError, SignatureError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from pinyard.boards import Board

    FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class GateContext:
    """What a gate is asked about: ``candidate`` and the current ``holder`` (None when
    nothing holds ``target``) of model ``name`` on ``board``."""

    board: Board
    name: str
    target: str
    candidate: str
    holder: str | None


@dataclass(frozen=True)
class GateResult:
    """A gate's verdict and the evidence recorded with it (JSON-serializable values)."""

    passed: bool
    evidence: dict[str, Any] = field(default_factory=dict)
    message: str = ""


class Gate(Protocol):
    """Anything called with a `GateContext` that returns a verdict."""

    def __call__(self, context: GateContext) -> GateResult | bool: ...


#: metric name -> (function of y_true and scores, higher is better, needs probabilities)
_METRICS: dict[str, tuple[Callable[[Any, Any], float], bool, bool]] = {}


def _metric(name: str, higher: bool, proba: bool) -> Callable[[Any], Any]:
    def register(fn: Callable[[Any, Any], float]) -> Callable[[Any, Any], float]:
        _METRICS[name] = (fn, higher, proba)
        return fn

    return register


@_metric("rmse", higher=False, proba=False)
def _rmse(y: FloatArray, p: FloatArray) -> float:
    return float(math.sqrt(((y - p) ** 2).mean()))


@_metric("mae", higher=False, proba=False)
def _mae(y: FloatArray, p: FloatArray) -> float:
    return float(abs(y - p).mean())


@_metric("accuracy", higher=True, proba=False)
def _accuracy(y: Any, p: Any) -> float:
    return float((y == p).mean())


@_metric("log_loss", higher=False, proba=True)
def _log_loss(y: Any, p: Any) -> float:
    import numpy as np

    classes, codes = np.unique(y, return_inverse=True)
    probs = np.asarray(p, dtype=float)
    if probs.ndim == 1:
        probs = np.column_stack([1 - probs, probs])
    if probs.shape[1] < len(classes):
        raise GateError(
            f"log_loss: the model gives {probs.shape[1]} class probabilities but the "
            f"evaluation set has {len(classes)} classes"
        )
    picked = np.clip(probs[np.arange(len(codes)), codes], 1e-15, 1.0)
    return float(-np.log(picked).mean())


@_metric("roc_auc", higher=True, proba=True)
def _roc_auc(y: Any, p: Any) -> float:
    import numpy as np

    classes = np.unique(y)
    if len(classes) != 2:
        raise GateError(f"roc_auc needs two classes in the evaluation set, found {len(classes)}")
    scores = np.asarray(p, dtype=float)
    if scores.ndim == 2:
        scores = scores[:, -1]
    positive = np.asarray(y) == classes[-1]
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks of ties (Mann-Whitney U)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], len(scores)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


METRICS = tuple(sorted(_METRICS))


class MetricGate:
    """Score candidate and holder on pin ``data`` at ``version`` and promote only if the
    candidate is better by at least ``min_improvement`` (in the metric's units).

    ``target`` is the label column; every other column is a model input.
    ``metric`` is one of rmse, mae, accuracy, log_loss, roc_auc, or a
    callable ``metric(y_true, y_pred) -> float`` (then say
    ``higher_is_better``). With no current holder the candidate must reach
    ``threshold`` when one is given, and passes otherwise.
    """

    def __init__(
        self,
        data: str,
        *,
        version: str,
        target: str,
        metric: str | Callable[[Any, Any], float] = "rmse",
        min_improvement: float = 0.0,
        threshold: float | None = None,
        higher_is_better: bool | None = None,
    ) -> None:
        from pinyard.boards._names import validate_pin_name, validate_version_id

        self.data = validate_pin_name(data)
        self.version = validate_version_id(version)
        self.target = target
        if isinstance(metric, str):
            if metric not in _METRICS:
                raise GateError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
            fn, higher, self._proba = _METRICS[metric]
            self.metric_name = metric
        elif callable(metric):
            if higher_is_better is None:
                raise InvalidArgumentError(
                    "a callable metric needs higher_is_better=True or False"
                )
            fn, higher, self._proba = metric, higher_is_better, False
            self.metric_name = getattr(metric, "__name__", "custom")
        else:
            raise GateError(f"metric must be a name or a callable, got {metric!r}")
        self._fn = fn
        self.higher_is_better = higher if higher_is_better is None else higher_is_better
        if not isinstance(min_improvement, int | float) or min_improvement < 0:
            raise InvalidArgumentError(
                f"min_improvement must be a number >= 0, got {min_improvement!r}"
            )
        self.min_improvement = float(min_improvement)
        self.threshold = threshold
        self._scores: dict[str, float] = {}

    def __call__(self, context: GateContext) -> GateResult:
        started = time.perf_counter()
        frame, data_evidence = self._evaluation_set(context.board)
        candidate = self._score(context, context.candidate, frame)
        holder = (
            self._score(context, context.holder, frame)
            if context.holder and context.holder != context.candidate
            else None
        )
        sign = 1.0 if self.higher_is_better else -1.0
        if holder is not None:
            improvement = sign * (candidate - holder)
            passed = improvement >= self.min_improvement and improvement > 0
            rule = (
                f"{self.metric_name} must improve on {context.holder} by more than 0 and at "
                f"least {self.min_improvement}"
            )
        elif self.threshold is not None:
            improvement = None
            passed = sign * (candidate - self.threshold) >= 0
            rule = f"{self.metric_name} must reach {self.threshold} (nothing holds the target)"
        else:
            improvement, passed = None, True
            rule = "nothing holds the target and no threshold is set"
        evidence = {
            "gate": "metric",
            "metric": self.metric_name,
            "higher_is_better": self.higher_is_better,
            "candidate": context.candidate,
            "candidate_score": candidate,
            "candidate_sha256": self._model_sha(context, context.candidate),
            "holder": context.holder,
            "holder_score": holder,
            "holder_sha256": self._model_sha(context, context.holder) if context.holder else None,
            "improvement": improvement,
            "min_improvement": self.min_improvement,
            "threshold": self.threshold,
            "rule": rule,
            **data_evidence,
            "seconds": round(time.perf_counter() - started, 6),
        }
        verdict = "passes" if passed else "fails"
        holder_text = f" vs {holder:.6g} for {context.holder}" if holder is not None else ""
        message = (
            f"{self.metric_name} {candidate:.6g} for {context.candidate}{holder_text}: "
            f"{verdict} ({rule})"
        )
        return GateResult(passed, evidence, message)

    def _evaluation_set(self, board: Board) -> tuple[Any, dict[str, Any]]:
        meta = board.pin_meta(self.data, self.version)
        frame = board.pin_read(self.data, self.version)
        columns = getattr(frame, "columns", None)
        if columns is None or self.target not in list(columns):
            raise GateError(
                f"evaluation set {self.data!r} version {self.version} has no column "
                f"{self.target!r} to score against (columns: "
                f"{', '.join(map(str, columns)) if columns is not None else 'none: not a table'})"
            )
        evidence = {
            "data": self.data,
            "data_version": self.version,
            "data_meta_sha256": board.meta_sha256(self.data, self.version),
            "data_sha256": [f.sha256 for f in meta.files] or None,
            "data_pin_hash": meta.pin_hash,
            "rows": len(frame),
        }
        return frame, evidence

    def _score(self, context: GateContext, version: str, frame: Any) -> float:
        if version in self._scores:
            return self._scores[version]
        from pinyard.models import ModelBundle

        bundle = ModelBundle.from_pin(context.board, context.name, version)
        features = frame.drop(columns=[self.target])
        method = "predict_proba" if self._proba else None
        try:
            predicted = bundle.predict(features, method=method)
        except SignatureError as exc:
            raise GateError(
                f"evaluation set {self.data!r} version {self.version} cannot be scored by "
                f"{context.name} version {version}: {exc}"
            ) from exc
        except InvalidArgumentError as exc:
            raise GateError(
                f"metric {self.metric_name!r} needs {method or 'predict'}: {exc}"
            ) from exc
        import numpy as np

        y = frame[self.target].to_numpy()
        scores = np.asarray(predicted)
        if not self._proba and y.dtype.kind in "fiu" and scores.dtype.kind in "fiu":
            y, scores = y.astype(float), scores.astype(float).reshape(len(y))
        if self._proba:
            where = f"{context.name} version {version} on {self.data!r} version {self.version}"
            scores = _present_classes(y, scores, getattr(bundle.model, "classes_", None), where)
        score = float(self._fn(y, scores))
        if math.isnan(score):
            raise GateError(f"{self.metric_name} of {context.name} version {version} is NaN")
        self._scores[version] = score
        return score

    @staticmethod
    def _model_sha(context: GateContext, version: str | None) -> str | None:
        if version is None:
            return None
        meta = context.board.pin_meta(context.name, version)
        return meta.files[0].sha256 if meta.files else None


def _present_classes(y: Any, probs: Any, classes: Any, where: str) -> Any:
    """The probability columns of the classes ``y`` holds, in sorted order (what the
    probability metrics take), when the model says which class each column is: an
    evaluation set without one of the model's classes must not shift the columns."""
    if classes is None or probs.ndim != 2 or probs.shape[1] != len(classes):
        return probs
    import numpy as np

    column = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
    present = np.unique(y).tolist()
    unknown = [c for c in present if c not in column]
    if unknown:
        raise GateError(
            f"{where}: the evaluation set has label(s) {', '.join(map(str, unknown))} that "
            f"the model does not know; the model knows {', '.join(map(str, column))}"
        )
    return probs[:, [column[c] for c in present]]


def run_gate(gate: Gate, context: GateContext) -> GateResult:
    """Call a gate and normalise its answer (a bare bool becomes a `GateResult`)."""
    started = time.perf_counter()
    answer = gate(context)
    if isinstance(answer, GateResult):
        return answer
    if isinstance(answer, bool):
        name = getattr(gate, "__name__", type(gate).__name__)
        evidence = {
            "gate": name,
            "candidate": context.candidate,
            "holder": context.holder,
            "seconds": round(time.perf_counter() - started, 6),
        }
        return GateResult(answer, evidence, f"gate {name} {'passes' if answer else 'fails'}")
    raise GateError(f"a gate must return a bool or a GateResult, got {answer!r}")
