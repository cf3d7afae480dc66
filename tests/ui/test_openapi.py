"""Schemathesis against the OpenAPI of the UI's JSON API and of the serving app: over a
real uvicorn, no request it makes from the schema gets a 500, and every answer matches
the schema (status, content type, body); data the schema allows is accepted and data it
forbids is refused. Bounded in examples, so each app takes well under a minute."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from pinyard.models import ModelBundle
from pinyard.serving import create_app
from pinyard.ui import create_ui_app
from tests.serving.conftest import running
from tests.ui._board import make_board

#: Cases per operation and mode; PINYARD_SCHEMATHESIS_EXAMPLES=N runs N random ones
#: (a deeper search than CI's fixed, derandomized 60).
DEEPER = os.environ.get("PINYARD_SCHEMATHESIS_EXAMPLES")
EXAMPLES = int(DEEPER or 60)
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


def load(base: str, path: str) -> Any:
    schema = schemathesis.openapi.from_url(f"{base}{path}")
    schema.config.generation.update(modes=MODES, max_examples=EXAMPLES)
    return schema


@pytest.fixture(scope="module")
def ui_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    sweep = make_board(tmp_path_factory.mktemp("openapi-ui") / "board")
    with running(create_ui_app(sweep.board, read_only=True)) as client:
        yield load(str(client.base_url), "/api/openapi.json")


@pytest.fixture(scope="module")
def serving_schema(tmp_path_factory: pytest.TempPathFactory, train: pd.DataFrame,
                   model: Any) -> Iterator[Any]:  # fmt: skip
    import pinyard

    board = pinyard.board_folder(
        Path(tmp_path_factory.mktemp("openapi-serving")) / "board", allow_pickle_read=True
    )
    version = board.pin_write(ModelBundle(model, prototype=train), "income").version
    with running(create_app(board, "income", version)) as client:
        schema = load(str(client.base_url), "/openapi.json")

        @schema.hook("filter_body")
        def equal_lengths(context: Any, body: Any) -> bool:
            """The one rule JSON Schema cannot state (the schema says it in words and in
            x-pinyard-equal-lengths): the columns of a mapping have one length. Unequal
            ones are refused with 422, which test_unequal_columns_... checks."""
            if isinstance(body, dict) and body and all(isinstance(v, list) for v in body.values()):
                return len({len(v) for v in body.values()}) == 1
            return True

        yield schema


def check_every_operation(schema: Any) -> list[str]:
    """Each operation, in each generation mode, for EXAMPLES cases; the failures found.

    (Drives Hypothesis directly: schemathesis.pytest's lazy fixture loader does not run
    on this pytest.)"""
    failures, calls = [], []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the schema lists no operation"
    for operation in operations:
        # An operation that takes nothing has no invalid request to make.
        takes = bool(list(operation.iter_parameters())) or bool(operation.body)
        for mode in MODES if takes else MODES[:1]:

            @given(operation.as_strategy(generation_mode=mode))
            @SETTINGS
            def check(case: Any) -> None:
                calls.append(case.call_and_validate().status_code)

            try:
                check()
            except Exception as exc:  # collected, and reported together below
                failures.append(f"{operation.label} ({mode}): {exc}")
    assert len(calls) >= 10 * len(operations), f"only {len(calls)} requests were made"
    return failures


SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=DEEPER is None,
    suppress_health_check=list(HealthCheck),
)


def test_the_ui_api_matches_its_schema(ui_schema: Any) -> None:
    failures = check_every_operation(ui_schema)
    assert failures == [], "\n\n".join(failures)


# Inputs near the float limits overflow inside the model (numpy warns: overflow in matmul,
# divide by zero in log; the answer is null, as tests/serving checks). Warnings are errors
# in this suite and the filter is process-wide, so the server would turn them into 500s.
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_the_serving_api_matches_its_schema(serving_schema: Any) -> None:
    failures = check_every_operation(serving_schema)
    assert failures == [], "\n\n".join(failures)


def test_the_serving_schema_says_columns_have_one_length_and_the_server_holds_it(
    train: pd.DataFrame, model: Any, tmp_path: Path
) -> None:
    import pinyard

    board = pinyard.board_folder(tmp_path / "board", allow_pickle_read=True)
    version = board.pin_write(ModelBundle(model, prototype=train), "income").version
    with running(create_app(board, "income", version)) as client:
        body = client.get("/openapi.json").json()["paths"]["/predict"]["post"]["requestBody"]
        forms = body["content"]["application/json"]["schema"]["anyOf"]
        (columns,) = [f for f in forms if f.get("x-pinyard-equal-lengths")]
        assert "same number of values" in columns["description"]
        assert all(p["minItems"] == 1 for p in columns["properties"].values())
        row = {"income": 50.0, "age": 30, "region": "north"}
        same = {k: [v, v] for k, v in row.items()}
        assert client.post("/predict", json=same).status_code == 200
        ragged = {**same, "age": [30]}
        answer = client.post("/predict", json=ragged)
        assert answer.status_code == 422
        assert "different lengths" in answer.text
        empty = {k: [] for k in row}
        assert client.post("/predict", json=empty).status_code == 422


def test_64_bit_integers_past_what_json_can_tell_apart_are_refused(
    train: pd.DataFrame, model: Any, tmp_path: Path
) -> None:
    """orjson reads -2**63 - 1 as the double -2**63: without the stated bound it would be
    scored as int64's minimum. The schema's bounds and the server's are one."""
    import pinyard

    board = pinyard.board_folder(tmp_path / "board", allow_pickle_read=True)
    version = board.pin_write(ModelBundle(model, prototype=train), "income").version
    with running(create_app(board, "income", version)) as client:
        doc = client.get("/openapi.json").json()["paths"]["/predict"]["post"]["requestBody"]
        age = doc["content"]["application/json"]["schema"]["anyOf"][1]["properties"]["age"]
        assert (age["minimum"], age["maximum"]) == (-(2**63) + 1024, 2**63 - 1024)
        row = {"income": 50.0, "region": "north"}
        for outside in (-(2**63) - 1, 2**63, 2**63 - 1023, 1e19):
            answer = client.post("/predict", json=[{**row, "age": outside}])
            assert answer.status_code == 422, outside
            assert "outside the range int64 takes here" in answer.text
        for inside in (age["minimum"], age["maximum"], 30, 30.0):
            assert client.post("/predict", json=[{**row, "age": inside}]).status_code == 200
