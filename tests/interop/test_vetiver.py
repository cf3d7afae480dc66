"""Interop with the real vetiver package: each side loads the other's model pins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pins
import pytest
import vetiver
from sklearn.linear_model import Ridge

import pinyard
from pinyard.models import ModelBundle

pytestmark = [
    pytest.mark.interop,
    # vetiver and pins-python 0.9.2 raise these (pins leaves files open while writing);
    # they are not ours to fix
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning:vetiver"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture
def fitted() -> tuple[Ridge, pd.DataFrame]:
    rng = np.random.default_rng(11)
    x = pd.DataFrame({"size": rng.uniform(30, 200, 60), "rooms": rng.integers(1, 6, 60)})
    return Ridge().fit(x, 3 * x["size"] + 10 * x["rooms"]), x


def test_vetiver_loads_a_pinyard_bundle(fitted: Any, tmp_path: Path) -> None:
    model, x = fitted
    board = pinyard.board_folder(tmp_path / "board", allow_pickle_read=True)
    version = board.pin_write(ModelBundle(model, prototype=x, metadata={"team": "a"}), "price")
    pins_board = pins.board_folder(str(tmp_path / "board" / "pins"), allow_pickle_read=True)
    loaded = vetiver.VetiverModel.from_pin(pins_board, "price")
    assert loaded.metadata.version == version.version
    assert loaded.metadata.user == {"team": "a"}
    assert "scikit-learn" in loaded.metadata.required_pkgs
    np.testing.assert_allclose(loaded.handler_predict(x.head(4), check_prototype=True),
                               model.predict(x.head(4)))  # fmt: skip
    # vetiver sees made-up example values, never a training row
    example = json.loads(version.user["vetiver_meta"]["prototype"])
    assert example == {"size": 0.0, "rooms": 0}
    assert set(loaded.prototype.model_json_schema()["properties"]) == {"size", "rooms"}


def test_pinyard_loads_a_vetiver_pin_as_a_bundle(fitted: Any, tmp_path: Path) -> None:
    model, x = fitted
    board = pinyard.board_folder(tmp_path / "board", allow_pickle_read=True)
    pins_board = pins.board_folder(str(tmp_path / "board" / "pins"), allow_pickle_read=True)
    vetiver.vetiver_pin_write(
        pins_board, vetiver.VetiverModel(model, "vet-price", prototype_data=x)
    )
    bundle = ModelBundle.from_pin(board, "vet-price")
    assert [c.name for c in bundle.signature.columns] == ["size", "rooms"]
    assert bundle.environment["requirements"] == ["scikit-learn"]
    np.testing.assert_allclose(bundle.predict(x.head(4)), model.predict(x.head(4)))
    with pytest.raises(pinyard.errors.SignatureError, match="'rooms' is missing"):
        bundle.predict([{"size": 50.0}])


def test_a_vetiver_pin_without_prototype_has_no_signature(fitted: Any, tmp_path: Path) -> None:
    model, _ = fitted
    board = pinyard.board_folder(tmp_path / "board", allow_pickle_read=True)
    pins_board = pins.board_folder(str(tmp_path / "board" / "pins"), allow_pickle_read=True)
    vetiver.vetiver_pin_write(pins_board, vetiver.VetiverModel(model, "bare"))
    with pytest.raises(pinyard.errors.SignatureError, match="without prototype_data"):
        ModelBundle.from_pin(board, "bare")
