"""Models, boards and waiting for the tests of servers that follow an alias.

The models share one signature but answer differently (``slope * x``), so a
response shows which model computed it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

import pinyard
from pinyard.models import ModelBundle

ROW = {"x": 2.0, "k": 1}
ALIAS = "champion"
LONG = 3600.0  # an interval that never elapses in a test
DEADLINE = 60.0


def frame(k_type: str = "int64") -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(30.0), "k": (np.arange(30) % 4).astype(k_type)})


def write(board: pinyard.Board, slope: float, data: pd.DataFrame | None = None) -> str:
    """A version of pin "m" whose predictions are ``slope * x``."""
    data = frame() if data is None else data
    model = LinearRegression().fit(data, slope * data["x"])
    return board.pin_write(ModelBundle(model, prototype=data), "m").version


def answer(response: httpx.Response) -> float:
    return round(float(response.json()["predict"][0]), 6)


def predict(client: httpx.Client) -> tuple[str, float]:
    response = client.post("/predict", json=[ROW])
    assert response.status_code == 200, response.text
    return response.headers["x-pinyard-version"], answer(response)


def wait_until(condition: Callable[[], Any], what: str, seconds: float = DEADLINE) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")
