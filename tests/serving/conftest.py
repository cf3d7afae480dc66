"""A real uvicorn server on 127.0.0.1 for each app under test, and a model to serve."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import pinyard
from pinyard.models import ModelBundle


@contextmanager
def running(app: Any, lifespan: str = "off") -> Iterator[httpx.Client]:
    """Serve ``app`` with uvicorn on a free loopback port; yield a client for it."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan=lifespan)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="session")
def train() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame(
        {
            "income": rng.normal(50, 10, 200),
            "age": rng.integers(18, 80, 200),
            "region": pd.Categorical(rng.choice(["north", "south"], 200)),
        }
    )


@pytest.fixture(scope="session")
def model(train: pd.DataFrame) -> Any:
    encode = make_column_transformer((OneHotEncoder(), ["region"]), remainder="passthrough")
    pipeline = make_pipeline(encode, LogisticRegression(max_iter=1000))
    return pipeline.fit(train, (train["income"] > 50).astype(int))


@pytest.fixture
def served(
    train: pd.DataFrame, model: Any, tmp_path: Any
) -> Callable[..., AbstractContextManager[httpx.Client]]:
    """``with served(**create_app_kwargs) as client:`` a server for a fresh board."""
    from pinyard.serving import create_app

    board = pinyard.board_folder(tmp_path / "board", allow_pickle_read=True)
    result = board.pin_write(ModelBundle(model, prototype=train), "income")

    def start(**kwargs: Any) -> AbstractContextManager[httpx.Client]:
        app = create_app(board, "income", kwargs.pop("version", result.version), **kwargs)
        app.state.result = result
        return running(app)

    start.board = board  # type: ignore[attr-defined]
    start.result = result  # type: ignore[attr-defined]
    return start


@pytest.fixture
def board(tmp_path: Any) -> pinyard.Board:
    """An empty folder board at ``tmp_path / "board"``, allowed to unpickle (serving loads
    models; the refusals are in test_app.py and test_cli_and_docker.py)."""
    return pinyard.board_folder(tmp_path / "board", allow_pickle_read=True)


@pytest.fixture
def registry(board: pinyard.Board) -> pinyard.Registry:
    """The registry of ``board``, acting as user "tester"."""
    return pinyard.Registry(board, user="tester")
