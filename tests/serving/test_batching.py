"""Concurrent requests to a row-independent model are scored together, each getting its rows."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import pinyard
from pinyard.models import ModelBundle
from pinyard.serving import create_app

from .conftest import running

CALLS: list[int] = []
LOCK = threading.Lock()
#: the first model call waits for this: set once every request has reached the server
ALL_ARRIVED = threading.Event()


def hold_first_call_until_all_arrive(app: Any, requests: int) -> Any:
    """Make the model's first call wait (at most 10 s) until ``requests`` requests have
    reached ``app``, so that the others pile up behind it: an event decides it, not a
    sleep that a slow machine could outlast."""
    ALL_ARRIVED.clear()
    arrived = [0]

    @app.middleware("http")
    async def count(request: Any, call_next: Any) -> Any:
        arrived[0] += 1
        if arrived[0] >= requests:
            ALL_ARRIVED.set()
        return await call_next(request)

    return app


def slow_once_predict(original: Any) -> Any:
    """Wrap LinearRegression.predict: held once (so requests pile up behind it), recording
    the rows of every call, failing on a poisoned row. The model stays a plain
    scikit-learn estimator, which is what batching is for."""

    def predict(self: Any, X: Any) -> Any:  # noqa: N803 - scikit-learn's name
        with LOCK:
            first = not CALLS
            CALLS.append(len(X))
        if first:
            assert ALL_ARRIVED.wait(timeout=10), "the requests never all arrived"
        if (X["x"] == 999).any():
            raise RuntimeError("poisoned row")
        return original(self, X)

    return predict


@pytest.fixture
def slow_linear(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(LinearRegression, "predict", slow_once_predict(LinearRegression.predict))
    CALLS.clear()
    ALL_ARRIVED.set()  # not held unless a test asks for it
    return LinearRegression


class Subclassed(LinearRegression):
    """User code inside a scikit-learn class: may look across rows, so never batched."""


def seen_rows(data: pd.DataFrame) -> Any:
    """A plain function: may depend on the whole batch, so never batched."""
    with LOCK:
        CALLS.append(len(data))
    return np.full(len(data), len(data))


def post_all(base_url: str, bodies: list[Any]) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            return list(await asyncio.gather(*(client.post("/predict", json=b) for b in bodies)))

    return asyncio.run(go())


def board_with(model: Any, tmp_path: Path) -> tuple[Any, str]:
    board = pinyard.board_folder(tmp_path / "b", allow_pickle_read=True)
    frame = pd.DataFrame({"x": np.arange(10.0)})
    return board, board.pin_write(ModelBundle(model, prototype=frame), "m").version


def test_requests_queued_behind_a_busy_model_are_scored_together(
    tmp_path: Path, slow_linear: Any
) -> None:
    model = slow_linear().fit(pd.DataFrame({"x": [0.0, 1.0, 2.0]}), [1.0, 3.0, 5.0])
    CALLS.clear()
    board, version = board_with(model, tmp_path)
    bodies = [[{"x": float(i)}, {"x": float(i) + 0.5}] for i in range(40)]
    app = hold_first_call_until_all_arrive(create_app(board, "m", version), 40)
    with running(app) as client:
        responses = post_all(str(client.base_url), bodies)
    assert [r.status_code for r in responses] == [200] * 40
    for i, response in enumerate(responses):
        assert response.json()["predict"] == pytest.approx([2 * i + 1.0, 2 * i + 2.0])
    assert sum(CALLS) == 80
    assert len(CALLS) < 10  # 40 requests, a handful of model calls
    assert max(CALLS) > 2


def test_a_failing_request_does_not_fail_the_batch_it_was_in(
    tmp_path: Path, slow_linear: Any
) -> None:
    model = slow_linear().fit(pd.DataFrame({"x": [0.0, 1.0]}), [0.0, 1.0])
    CALLS.clear()
    board, version = board_with(model, tmp_path)
    bodies = [[{"x": 999.0 if i == 7 else float(i)}] for i in range(20)]
    app = hold_first_call_until_all_arrive(create_app(board, "m", version), 20)
    with running(app) as client:
        responses = post_all(str(client.base_url), bodies)
    assert [r.status_code for r in responses] == [500 if i == 7 else 200 for i in range(20)]
    assert "poisoned" not in responses[7].text


def test_batching_is_off_for_models_that_may_look_across_rows(tmp_path: Path) -> None:
    CALLS.clear()
    board, version = board_with(seen_rows, tmp_path)
    with running(create_app(board, "m", version)) as client:
        responses = post_all(str(client.base_url), [[{"x": 1.0}]] * 10)
    assert {tuple(r.json()["predict"]) for r in responses} == {(1,)}
    assert CALLS == [1] * 10


def test_batching_can_be_turned_off(tmp_path: Path, slow_linear: Any) -> None:
    model = slow_linear().fit(pd.DataFrame({"x": [0.0, 1.0]}), [0.0, 1.0])
    CALLS.clear()
    board, version = board_with(model, tmp_path)
    with running(create_app(board, "m", version, batching=False)) as client:
        post_all(str(client.base_url), [[{"x": 1.0}]] * 10)
    assert CALLS == [1] * 10


@pytest.mark.parametrize(
    "model",
    [
        Subclassed(),
        make_pipeline(FunctionTransformer(lambda x: x - x.mean()), LinearRegression()),
    ],
)
def test_scikit_learn_models_with_user_code_are_not_batched(model: Any) -> None:
    from pinyard.models._handlers import handler_for

    fitted = model.fit(pd.DataFrame({"x": [0.0, 1.0, 2.0]}), [0.0, 1.0, 2.0])
    handler = handler_for(fitted)
    assert handler.name == "sklearn"
    assert not handler.rows_independent(fitted)
    plain = make_pipeline(StandardScaler(), LinearRegression()).fit(
        pd.DataFrame({"x": [0.0, 1.0, 2.0]}), [0.0, 1.0, 2.0]
    )
    assert handler_for(plain).rows_independent(plain)
