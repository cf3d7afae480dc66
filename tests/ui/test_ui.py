"""The web UI, served by a real uvicorn on 127.0.0.1 over a real folder board."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

import pinyard
from pinyard.cli import main
from pinyard.models import ModelBundle
from pinyard.registry import MetricGate
from pinyard.ui import create_ui_app
from tests.serving.conftest import running

LAMBDAS = [0.01, 0.1, 1.0, 10.0, 100.0]


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> pinyard.Board:
    board = pinyard.board_folder(tmp_path_factory.mktemp("ui") / "board", allow_pickle_read=True)
    rng = np.random.default_rng(0)
    features = pd.DataFrame({"x1": rng.normal(size=80), "x2": rng.normal(size=80)})
    y = 2 * features["x1"] + rng.normal(scale=0.1, size=80)
    evil = "<script>alert(1)</script>"
    holdout = board.pin_write(features.assign(y=y), "holdout", title=evil).version
    tracker = pinyard.Tracker(board, "ridge")
    versions = []
    for lam in LAMBDAS:
        with tracker.start_run(params={"lambda": lam}, seed=1, data=features) as run:
            for step in range(4):
                run.log_metric("loss", 1 / (step + 1) + lam / 100, step=step)
            run.log_metric("val_rmse", abs(np.log10(lam)) + 1)
            bundle = ModelBundle(Ridge(alpha=lam).fit(features, y), prototype=features)
            versions.append(run.log_model(bundle, "ridge").version)
    registry = pinyard.Registry(board, user="ana")
    registry.set_alias("ridge", "champion", versions[2], reason="best on validation")
    registry.transition("ridge", versions[0], "staging")
    gate = MetricGate("holdout", version=holdout, target="y", metric="rmse")
    registry.promote("ridge", versions[0], to="production", gate=gate, reason="first release")
    return board


@pytest.fixture(scope="module")
def client(board: pinyard.Board) -> Iterator[httpx.Client]:
    with running(create_ui_app(board)) as client:
        yield client


def text(client: httpx.Client, url: str, status: int = 200, **params: Any) -> str:
    response = client.get(url, params=params)
    assert response.status_code == status, response.text[:500]
    return response.text


def test_pins_are_listed_searchable_and_escaped(client: httpx.Client) -> None:
    page = text(client, "/")
    assert 'href="/pins/ridge"' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>" not in page
    assert 'href="/pins/holdout"' not in text(client, "/", q="^rid")
    assert "not a valid regular expression" in text(client, "/", q="(")


def test_versions_show_holders_and_verify_on_demand(client: httpx.Client, board: Any) -> None:
    page = text(client, "/pins/ridge")
    assert page.count("unverified") == len(LAMBDAS)
    assert "alias @champion" in page
    assert "stage production" in page
    verified = text(client, "/pins/ridge", verify="all")
    assert verified.count(">verified<") == len(LAMBDAS)
    version = board.pin_versions("ridge", as_df=False)[1].version
    detail = text(client, f"/pins/ridge/{version}")
    assert board.meta_sha256("ridge", version) in detail
    assert "run_id" in detail  # lineage from the run that made it


def test_a_damaged_version_is_shown_as_damaged(tmp_path: Path) -> None:
    board = pinyard.board_folder(tmp_path / "b")
    version = board.pin_write({"a": 1}, "cfg").version
    (path,) = board.pin_download("cfg")
    Path(path).chmod(0o644)
    Path(path).write_text('{"a": 2}')
    with running(create_ui_app(board)) as client:
        page = text(client, "/pins/cfg", verify=version)
    assert ">damaged<" in page
    assert 'role="alert"' in page


def test_registry_timeline_has_who_when_why_and_evidence(client: httpx.Client) -> None:
    assert "@champion" in text(client, "/registry")
    page = text(client, "/registry/ridge")
    assert "chain verified: 3 events" in page
    for words in ("ana", "best on validation", "first release", "promote", "rmse"):
        assert words in page


def test_a_broken_chain_is_shown(tmp_path: Path) -> None:
    board = pinyard.board_folder(tmp_path / "b")
    version = board.pin_write({"a": 1}, "cfg").version
    registry = pinyard.Registry(board)
    registry.set_alias("cfg", "champion", version)
    registry.remove_alias("cfg", "champion")
    (tmp_path / "b" / "registry" / "cfg" / "events" / "000000000001.json").unlink()
    with running(create_ui_app(board)) as client:
        page = text(client, "/registry/cfg")
    assert "chain damaged" in page
    assert "removed" in page


def test_runs_filter_sort_page_chart_and_compare(client: httpx.Client, board: Any) -> None:
    page = text(client, "/runs/ridge")
    assert f"{len(LAMBDAS)} runs" in page
    assert "<svg" in page
    assert ">best<" in page
    filtered = text(client, "/runs/ridge", where="params.lambda >= 1")
    assert "3 runs" in filtered
    bad = text(client, "/runs/ridge", where="params.lambda >=")
    assert 'role="alert"' in bad
    assert "expected a value" in bad
    ordered = text(client, "/runs/ridge", sort="metrics.val_rmse")
    cells = re.findall(r'<td class="num">([0-9.]+)</td>', ordered)
    assert cells  # numbers shown
    runs = pinyard.Tracker(board, "ridge").runs()
    first, second = runs["run_id"][0], runs["run_id"][1]
    compared = text(client, "/runs/ridge/compare", run=[first, second], key="loss")
    assert first in compared
    assert second in compared
    assert "<polyline" in compared
    one = text(client, f"/runs/ridge/{first}", key="loss")
    assert "<polyline" in one
    assert "val_rmse" in one


def test_runs_are_paged(tmp_path: Path) -> None:
    board = pinyard.board_folder(tmp_path / "b")
    tracker = pinyard.Tracker(board, "many")
    for i in range(230):
        with tracker.start_run(params={"i": i}) as run:
            run.log_metric("m", float(i))
    with running(create_ui_app(board)) as client:
        first = text(client, "/runs/many")
        last = text(client, "/runs/many", page=3)
        api = client.get("/api/runs/many", params={"page": 3}).json()
    assert "230 runs · page 1 of 3" in first
    assert first.count("<tr>") == 101  # the header and 100 runs
    assert last.count("<tr>") == 31
    assert api["total"] == 230
    assert len(api["runs"]) == 30


def test_pages_load_nothing_from_elsewhere(client: httpx.Client) -> None:
    for url in ("/", "/pins/ridge", "/registry/ridge", "/runs/ridge"):
        page = text(client, url)
        assert not re.search(r'(src|href)="(https?:)?//', page), url
    assert "text/css" in client.get("/static/ui.css").headers["content-type"]


def test_unknown_things_are_404_with_the_reason(client: httpx.Client) -> None:
    assert "does not exist" in text(client, "/pins/nope", status=404)
    assert client.get("/api/pins/nope").status_code == 404
    assert "invalid experiment name" in text(client, "/runs/..bad", status=400)


def test_a_token_guards_every_page(board: pinyard.Board) -> None:
    with running(create_ui_app(board, token="s3cret")) as client:
        assert client.get("/").status_code == 401
        assert client.get("/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        first = client.get("/", params={"token": "s3cret"})
        assert first.status_code == 200
        assert client.get("/pins/ridge").status_code == 200  # the cookie carries it now


def test_the_cli_refuses_to_expose_the_ui_without_a_token(
    board: pinyard.Board, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["ui", "--board", board.store.url, "--host", "0.0.0.0"])
    assert code == 2
    assert "without a token" in capsys.readouterr().err


def test_a_large_sweep_draws_a_sample_and_always_the_best() -> None:
    from pinyard.ui._runs_pages import MAX_POINTS, _chart

    n = MAX_POINTS + 500
    frame = pd.DataFrame(
        {"run_id": [f"r{i}" for i in range(n)], "params.a": range(n),
         "metrics.m": [float((i * 7919) % n) for i in range(n)]}
    )  # fmt: skip
    best = frame.loc[frame["metrics.m"].idxmin(), "run_id"]
    svg = _chart(frame, None, None, None)
    assert svg.count("<circle") == MAX_POINTS or svg.count("<circle") == MAX_POINTS + 1
    assert f"best: {best}" in svg
    assert f"{MAX_POINTS:,} of {n:,} runs drawn" in svg
