"""ModelBundle: predict through the signature, environment capture, lineage, storage."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import pinyard
from pinyard.errors import (
    EnvironmentMismatchError,
    EnvironmentMismatchWarning,
    InsecureReadError,
    IntegrityError,
    InvalidArgumentError,
    SerializationError,
    SignatureError,
    UnsupportedModelError,
    VersionNotFoundError,
)
from pinyard.models import Handler, ModelBundle, register_handler
from pinyard.models._handlers import _HANDLERS


@pytest.fixture
def xy() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(3)
    x = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
    return x, (x["a"] + x["b"] > 0).astype(int)


@pytest.fixture
def classifier(xy: tuple[pd.DataFrame, pd.Series]) -> Any:
    x, y = xy
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)


def double(data: pd.DataFrame) -> Any:
    """A plain function used as a model."""
    return data["a"] * 2


class Doubler:
    def predict(self, data: pd.DataFrame) -> Any:
        return data["a"] * 2


def test_sklearn_predict_and_predict_proba(classifier: Any, xy: Any) -> None:
    x, _ = xy
    bundle = ModelBundle(classifier, prototype=x)
    assert bundle.methods[:2] == ("predict", "predict_proba")
    rows = x.head(5).to_dict(orient="records")
    np.testing.assert_array_equal(bundle.predict(rows), classifier.predict(x.head(5)))
    np.testing.assert_allclose(
        bundle.predict(rows, method="predict_proba"), classifier.predict_proba(x.head(5))
    )
    with pytest.raises(InvalidArgumentError, match="no method 'transform'"):
        bundle.predict(rows, method="transform")
    with pytest.raises(SignatureError, match="'b' is missing"):
        bundle.predict([{"a": 1.0}])


@pytest.mark.parametrize("model", [Doubler(), double])
def test_objects_with_predict_and_plain_functions(model: Any, xy: Any) -> None:
    x, _ = xy
    bundle = ModelBundle(model, prototype=x)
    assert list(bundle.predict([{"a": 2.0, "b": 0.0}])) == [4.0]


def test_a_model_that_cannot_predict_is_refused(xy: Any) -> None:
    with pytest.raises(UnsupportedModelError, match="no predict"):
        ModelBundle(object(), prototype=xy[0])
    with pytest.raises(SerializationError, match="cannot be pickled"):
        ModelBundle(lambda d: d, prototype=xy[0])


class Scorer:
    def score_rows(self, data: Any) -> Any:
        return np.full(len(data), 7)


def test_handlers_can_be_registered(xy: Any) -> None:
    handler = Handler(
        "scorer",
        matches=lambda m: isinstance(m, Scorer),
        methods=lambda m: ("score",),
        call=lambda m, method, data: m.score_rows(data),
    )
    register_handler(handler)
    try:
        bundle = ModelBundle(Scorer(), prototype=xy[0])
        assert bundle.handler.name == "scorer"
        assert list(bundle.predict([{"a": 0.0, "b": 0.0}])) == [7]
    finally:
        _HANDLERS.remove(handler)
    with pytest.raises(InvalidArgumentError, match="takes a Handler"):
        register_handler("scorer")  # type: ignore[arg-type]


def test_environment_names_the_model_packages_and_requirements(classifier: Any, xy: Any) -> None:
    env = ModelBundle(classifier, prototype=xy[0]).environment
    assert env["python"].count(".") == 2
    assert {"scikit-learn", "numpy", "pinyard"} <= set(env["packages"])
    assert "pandas" not in env["packages"]  # not part of the fitted model
    assert f"scikit-learn=={env['packages']['scikit-learn']}" in env["requirements"]
    assert any(r.startswith("scipy==") for r in env["requirements"])  # sklearn's dependency


def test_written_bundle_reads_back_verified(classifier: Any, xy: Any) -> None:
    x, _ = xy
    board = pinyard.board_memory(allow_pickle_read=True)
    bundle = ModelBundle(classifier, prototype=x, metadata={"owner": "ml-team"})
    result = board.pin_write(bundle, "clf", description="churn model")
    assert result.type == "joblib"
    assert result.user["user"] == {"owner": "ml-team"}
    assert "vetiver_meta" in result.user
    loaded = ModelBundle.from_pin(board, "clf", result.version)
    assert loaded.pin is not None
    assert loaded.pin.version == result.version
    assert loaded.sha256 == result.files[0].sha256
    assert loaded.signature == bundle.signature
    assert loaded.metadata == {"owner": "ml-team"}
    assert loaded.description == "churn model"
    np.testing.assert_array_equal(loaded.predict(x.head(3)), classifier.predict(x.head(3)))
    assert type(board.pin_read("clf")).__name__ == "Pipeline"  # pins users get the model


def test_pin_write_refuses_conflicting_arguments_for_a_bundle(classifier: Any, xy: Any) -> None:
    board = pinyard.board_memory(allow_pickle_read=True)
    bundle = ModelBundle(classifier, prototype=xy[0])
    with pytest.raises(InvalidArgumentError, match=r"metadata=\.\.\."):
        board.pin_write(bundle, "clf", metadata={"a": 1})
    with pytest.raises(pinyard.errors.UnsupportedTypeError, match="leave type out"):
        board.pin_write(bundle, "clf", type="json")
    assert board.pin_list() == []


def test_reading_elsewhere_warns_and_strict_refuses_before_unpickling(
    classifier: Any, xy: Any
) -> None:
    board = pinyard.board_memory(allow_pickle_read=True)
    bundle = ModelBundle(classifier, prototype=xy[0])
    bundle.environment["packages"]["scikit-learn"] = "0.0.1"
    bundle.environment["python"] = "2.7.18"
    version = board.pin_write(bundle, "clf").version
    with pytest.warns(EnvironmentMismatchWarning, match=r"scikit-learn 0\.0\.1 when written"):
        ModelBundle.from_pin(board, "clf", version)
    with pytest.raises(EnvironmentMismatchError, match=r"Python 2\.7\.18 when written"):
        ModelBundle.from_pin(board, "clf", version, strict=True)


def test_lineage_from_a_tracking_run_links_both_ways(classifier: Any, xy: Any) -> None:
    x, _ = xy
    board = pinyard.board_memory(allow_pickle_read=True)
    tracker = pinyard.Tracker(board, "churn")
    with tracker.start_run(params={"C": 1.0}, seed=7, data=x) as run:
        run.log_metric("auc", 0.91)
        bundle = ModelBundle(classifier, prototype=x, run=run)
        assert bundle.lineage["run_id"] == run.run_id
        result = run.log_model(bundle, "clf")
    lineage = ModelBundle.from_pin(board, "clf").lineage
    assert lineage["run_id"] == run.run_id
    assert lineage["params"] == {"C": 1.0}
    assert lineage["metrics"] == {"auc": 0.91}
    assert lineage["seed"] == 7
    assert lineage["data"]["sha256"]
    assert "code_commit" in lineage
    assert tracker.get_run(run.run_id).models == [{"name": "clf", "version": result.version}]
    ended = ModelBundle(classifier, prototype=x, run=tracker.get_run(run.run_id))
    assert ended.lineage["metrics"] == {"auc": 0.91}
    with pytest.raises(InvalidArgumentError, match="run= takes a tracking run"):
        ModelBundle(classifier, prototype=x, run="run-1")


def test_tampered_model_file_is_refused(classifier: Any, xy: Any, tmp_path: Path) -> None:
    board = pinyard.board_folder(tmp_path / "board", allow_pickle_read=True)
    result = board.pin_write(ModelBundle(classifier, prototype=xy[0]), "clf")
    (path,) = board.pin_download("clf")
    os.chmod(path, 0o644)
    with open(path, "r+b") as handle:
        handle.seek(40)
        handle.write(b"\x00\x01\x02")
    with pytest.raises(IntegrityError, match="sha256"):
        ModelBundle.from_pin(board, "clf", result.version)


def test_missing_version_and_non_bundle_pins(xy: Any) -> None:
    board = pinyard.board_memory(allow_pickle_read=True)
    board.pin_write({"a": 1}, "config")
    board.pin_write(Ridge(), "bare", type="joblib")
    with pytest.raises(VersionNotFoundError):
        ModelBundle.from_pin(board, "config", "20200101T000000Z-00000")
    for name in ("config", "bare"):
        with pytest.raises(SignatureError, match="not a model bundle"):
            ModelBundle.from_pin(board, name)


def test_loading_a_bundle_needs_leave_to_unpickle(
    classifier: Any, xy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As pins asks: refused, naming the argument, before the model file is fetched."""
    monkeypatch.delenv("PINS_ALLOW_PICKLE_READ", raising=False)
    folder = pinyard.board_memory()
    result = folder.pin_write(ModelBundle(classifier, prototype=xy[0]), "clf")
    with pytest.raises(
        InsecureReadError, match=r"allow_pickle_read=True.*PINS_ALLOW_PICKLE_READ=1"
    ):
        ModelBundle.from_pin(folder, "clf", result.version)
    monkeypatch.setenv("PINS_ALLOW_PICKLE_READ", "1")
    assert ModelBundle.from_pin(folder, "clf", result.version).sha256 == result.files[0].sha256
