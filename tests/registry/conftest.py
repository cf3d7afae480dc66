"""A folder board with four versions of pin ``m``, its registry, and small models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import pinyard
from pinyard.models import ModelBundle
from pinyard.registry import Registry


def write_versions(board: pinyard.Board, name: str = "m", count: int = 4) -> list[str]:
    """``count`` new versions of ``name`` (JSON), oldest first, dated a second apart in
    the past (so no write waits for the clock's next second)."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    known = board.pin_versions(name, as_df=False) if name in board.pin_list() else []
    start += timedelta(seconds=len(known))
    return [
        board.pin_write({"v": i}, name, type="json", force_identical_write=True,
                        created=start + timedelta(seconds=i)).version
        for i in range(count)
    ]  # fmt: skip


@pytest.fixture
def board(tmp_path: Path) -> pinyard.Board:
    """A folder board that may unpickle: gates load the models they score (the refusal
    without leave is tested in test_gates.py)."""
    return pinyard.board_folder(tmp_path / "board", allow_pickle_read=True)


@pytest.fixture
def versions(board: pinyard.Board) -> list[str]:
    return write_versions(board)


@pytest.fixture
def registry(board: pinyard.Board) -> Registry:
    return Registry(board, user="ana")


def regression_data(rows: int = 60, seed: int = 0) -> pd.DataFrame:
    """Columns a, b and the label y = 3a - 2b + noise."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows)})
    frame["y"] = 3 * frame["a"] - 2 * frame["b"] + rng.normal(scale=0.1, size=rows)
    return frame


def pin_regressor(board: pinyard.Board, model: Any, frame: pd.DataFrame, name: str = "m") -> str:
    """Fit ``model`` on ``frame`` and pin it as a ModelBundle; its version."""
    features = frame[["a", "b"]]
    bundle = ModelBundle(model.fit(features, frame["y"]), prototype=features)
    return board.pin_write(bundle, name).version
