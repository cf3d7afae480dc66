"""Prediction handlers: how a kind of model is called. Others can register their own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pinyard.errors import InvalidArgumentError, UnsupportedModelError


@dataclass(frozen=True)
class Handler:
    """How to call one kind of model.

    ``matches(model)`` says whether this handler applies; ``methods(model)``
    lists the prediction methods it offers (the first is the default);
    ``call(model, method, data)`` runs one. ``rows_independent(model)`` is
    True when each output row depends only on its input row, so the server
    may score concurrent requests together. Register with `register_handler`;
    later registrations are tried first.
    """

    name: str
    matches: Callable[[Any], bool]
    methods: Callable[[Any], tuple[str, ...]]
    call: Callable[[Any, str, Any], Any]
    rows_independent: Callable[[Any], bool] = lambda model: False


def _is_sklearn(model: Any) -> bool:
    return any(c.__module__.split(".")[0] == "sklearn" for c in type(model).__mro__)


def _sklearn_methods(model: Any) -> tuple[str, ...]:
    names = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform")
    found = []
    for name in names:
        try:  # sklearn hides methods a fitted model lacks behind AttributeError
            if callable(getattr(model, name, None)):
                found.append(name)
        except AttributeError:
            continue
    return tuple(found)


def _sklearn_rows_independent(model: Any) -> bool:
    """True when every estimator in the model is scikit-learn's own (a fitted estimator's
    predict scores each row alone) and none runs user code (FunctionTransformer)."""
    parts = [model]
    get_params = getattr(model, "get_params", None)
    if callable(get_params):
        try:
            parts += [v for v in get_params(deep=True).values() if hasattr(v, "get_params")]
        except Exception:  # an estimator whose get_params fails: do not guess
            return False
    for part in parts:
        cls = type(part)
        if not cls.__module__.startswith("sklearn.") or cls.__name__ == "FunctionTransformer":
            return False
    return True


def _call_method(model: Any, method: str, data: Any) -> Any:
    return getattr(model, method)(data)


def _call_function(model: Any, method: str, data: Any) -> Any:
    return model(data)


_HANDLERS: list[Handler] = [
    Handler("callable", callable, lambda m: ("predict",), _call_function),
    Handler(
        "predict",
        lambda m: callable(getattr(m, "predict", None)),
        lambda m: ("predict",),
        _call_method,
    ),
    Handler("sklearn", _is_sklearn, _sklearn_methods, _call_method, _sklearn_rows_independent),
]


def register_handler(handler: Handler) -> None:
    """Add a handler, tried before the built-in ones (scikit-learn, ``.predict``, callable)."""
    if not isinstance(handler, Handler):
        raise InvalidArgumentError(f"register_handler takes a Handler, got {type(handler)!r}")
    _HANDLERS.append(handler)


def handler_for(model: Any) -> Handler:
    """The handler that can call ``model``, or `UnsupportedModelError`."""
    for handler in reversed(_HANDLERS):
        if handler.matches(model) and handler.methods(model):
            return handler
    raise UnsupportedModelError(
        f"pinyard does not know how to predict with a {type(model).__qualname__}: it has "
        "no predict() method and is not callable. Wrap it in a function or an object with "
        "predict(data), or register a Handler with pinyard.models.register_handler"
    )


def handler_named(name: str) -> Handler | None:
    """The registered handler of that name, if any."""
    return next((h for h in reversed(_HANDLERS) if h.name == name), None)
