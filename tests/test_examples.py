"""Every example runs as a user would run it, in a venv with exactly the extras it names
(see tests/_example_envs.py), and does what it says."""

from __future__ import annotations

import ast
import math
import re
import shutil
import struct
import subprocess
import tomllib
from pathlib import Path

import pytest

import pinyard
from tests._example_envs import EXAMPLES, REPO, clean_env, example_python, extras, needs

PINS_FIXTURE = Path(__file__).resolve().parent / "data" / "pins_python_board"


def run(script: str, *args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(example_python(script)), str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
        env=clean_env(),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_names_extras_that_exist(script: str) -> None:
    defined = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    named = extras(needs(script))
    assert set(named) <= set(defined["optional-dependencies"]), named
    assert "all" not in named  # say which; "all" hides what the example really uses


def test_quickstart(tmp_path: Path) -> None:
    out = run("quickstart.py", str(tmp_path / "board"))
    assert "wrote sales version" in out
    assert "identical write stored a new version: False" in out
    assert f"the board is in {tmp_path / 'board'}" in out
    board = pinyard.board_folder(tmp_path / "board", allow_pickle_read=True)
    assert board.pin_list() == ["revenue-model", "sales"]
    assert len(board.pin_versions("revenue-model", as_df=False)) == 2
    assert board.pin_read("revenue-model")["intercept"] == 3.0


def test_quickstart_again_says_it_kept_what_was_there(tmp_path: Path) -> None:
    first = run("quickstart.py", cwd=tmp_path)  # the default board: ./pinyard-board
    again = run("quickstart.py", cwd=tmp_path)
    version = first.split("wrote sales version ")[1].split()[0]
    assert "wrote sales" not in again
    assert f"unchanged, kept sales version {version}" in again
    assert f"the board is in {tmp_path / 'pinyard-board'}" in again
    board = pinyard.board_folder(tmp_path / "pinyard-board")
    assert len(board.pin_versions("sales", as_df=False)) == 1


def test_the_boards_and_files_examples_leave_in_a_checkout_are_ignored_by_git() -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    leftovers = ["pinyard-board/pinyard.json", "ridge_lambda_sweep.png",
                 "pinyard-docker/Dockerfile", ".venv-examples/core-0/bin/python"]  # fmt: skip
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", *leftovers],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.stdout.split() == leftovers


def test_import_pins_board(tmp_path: Path) -> None:
    source = tmp_path / "legacy"
    shutil.copytree(PINS_FIXTURE, source)
    out = run("import_pins_board.py", str(source), str(tmp_path / "board"))
    assert "imported 9 version(s)" in out
    board = pinyard.board_folder(tmp_path / "board")
    assert board.pin_list() == sorted(p.name for p in source.iterdir() if p.is_dir())


def test_ridge_lambda_sweep(tmp_path: Path) -> None:
    plot = tmp_path / "plots" / "rmse.png"
    out = run("ridge_lambda_sweep.py", str(tmp_path / "board"), str(plot))
    board = pinyard.board_folder(tmp_path / "board")
    runs = pinyard.Tracker(board, "ridge-lambda-sweep").runs()

    # Eight selection fits on 225 rows, then one refit on all 300 training rows.
    assert (runs["status"] == "finished").all()
    select = runs[runs["tags.stage"] == "select"]
    refit = runs[runs["tags.stage"] == "refit"]
    assert len(runs) == 9
    assert len(refit) == 1
    assert sorted(select["params.lambda"]) == [0.0, 0.1, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0]
    assert set(select["params.n_train"]) == {225}
    assert select["metrics.val_rmse"].notna().all()
    assert set(runs["seed"]) == {20240605}
    assert runs["data_sha256"].notna().all()
    assert select["data_sha256"].nunique() == 1
    assert refit["data_sha256"].iloc[0] != select["data_sha256"].iloc[0]
    # The test set is touched once: only the refit run has a test RMSE.
    assert select["metrics.test_rmse"].isna().all()
    refit_row = refit.iloc[0]
    assert refit_row["params.n_train"] == 300
    assert 1.5 < refit_row["metrics.test_rmse"] < 2.5  # noise sd is 2
    assert math.isnan(refit_row["metrics.val_rmse"])

    # The chosen lambda is the one with the lowest validation RMSE in the table.
    winner = select.loc[select["metrics.val_rmse"].idxmin()]
    assert refit_row["params.lambda"] == winner["params.lambda"]
    assert refit_row["tags.selected_from"] == winner["run_id"]
    assert f"best run (selected on val_rmse): {winner['run_id']}" in out
    assert f"lambda={winner['params.lambda']:g}" in out
    table = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert sorted(row[0] for row in table) == sorted(runs["run_id"])
    assert sorted(row[1] for row in table) == ["refit"] + ["select"] * 8

    # The plot is a real PNG of a real size.
    data = plot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 400
    assert height >= 300
    assert len(data) > 20_000

    # The model pin names the refit run, and the run lists the version.
    meta = board.pin_meta("ridge-model")
    assert meta.lineage["run_id"] == refit_row["run_id"]
    record = pinyard.Tracker(board, "ridge-lambda-sweep").get_run(refit_row["run_id"])
    assert record.models == [{"name": "ridge-model", "version": meta.version}]
    assert "val_rmse_vs_lambda.png" in record.artifacts
    model = board.pin_read("ridge-model")
    assert model["lambda"] == winner["params.lambda"]
    assert len(model["coef"]) == 8


def test_ridge_lambda_sweep_again_is_a_new_sweep_with_its_own_model_version(
    tmp_path: Path,
) -> None:
    for name in ("first.png", "second.png"):
        run("ridge_lambda_sweep.py", str(tmp_path / "board"), str(tmp_path / name))
    board = pinyard.board_folder(tmp_path / "board")
    runs = pinyard.Tracker(board, "ridge-lambda-sweep").runs()
    assert len(runs) == 18
    assert runs["tags.sweep"].nunique() == 2
    refits = runs[runs["tags.stage"] == "refit"].sort_values("start_time")
    # Same data and seed give the same model, yet each refit run gets its own
    # version, whose lineage names that run.
    versions = board.pin_versions("ridge-model", as_df=False)
    assert len(versions) == 2
    lineage = [board.pin_meta("ridge-model", v.version).lineage["run_id"] for v in versions]
    assert sorted(lineage) == sorted(refits["run_id"])
    assert board.pin_meta("ridge-model").lineage["run_id"] == refits["run_id"].iloc[-1]


def test_serve_model(tmp_path: Path) -> None:
    out = run("serve_model.py", str(tmp_path / "board"))
    board = pinyard.board_folder(tmp_path / "board")
    (info,) = board.pin_versions("churn-model", as_df=False)
    assert f"wrote churn-model version {info.version}" in out
    assert f"served version: {info.version}" in out
    low_tenure, long_tenure = ast.literal_eval(out.split("churn probability: ")[1].splitlines()[0])
    assert 0 <= long_tenure < low_tenure <= 1  # new customers churn more
    assert "bad request: 422 column 'monthly_fee': expected float64" in out
    (run_row,) = pinyard.Tracker(board, "churn").runs().itertuples()
    assert f"trained by run: {run_row.run_id}" in out
    assert board.pin_meta("churn-model").lineage["run_id"] == run_row.run_id


def test_registry_promote(tmp_path: Path) -> None:
    out = run("registry_promote.py", str(tmp_path / "board"))
    board = pinyard.board_folder(tmp_path / "board")
    registry = pinyard.Registry(board)
    tree, linear = (v.version for v in board.pin_versions("house-price", as_df=False))
    runs = pinyard.Tracker(board, "house-price").runs().set_index("params.model")["run_id"]

    # Through staging to production, replaced by a better model, a worse one refused,
    # then production rolled back to the tree; the registry agrees with what was printed.
    ops = [(e.op, e.slot, e.version) for e in registry.history("house-price")]  # type: ignore[union-attr]
    assert ops == [
        ("transition", "staging", tree), ("promote", "production", tree),
        ("transition", "staging", linear), ("promote", "production", linear),
        ("transition", "staging", tree), ("refused", "production", tree),
        ("rollback", "production", tree),
    ]  # fmt: skip
    assert registry.stages("house-price") == {"production": tree}
    assert f"rolled back: production -> {tree} (was {linear})" in out

    # The printed scores are the gate's evidence, and the refusal names both.
    better = re.search(r"production <- linear \(event 4\): candidate ([\d,]+) vs holder ([\d,]+)",
                       out)  # fmt: skip
    refused = re.search(r"refused: candidate ([\d,]+) vs holder ([\d,]+)", out)
    assert better is not None
    assert refused is not None
    linear_rmse, tree_rmse = (float(s.replace(",", "")) for s in better.groups())
    assert linear_rmse + 1_000 <= tree_rmse  # the gate's min_improvement
    assert [float(s.replace(",", "")) for s in refused.groups()] == [tree_rmse, linear_rmse]
    evidence = registry.history("house-price")[3].gate  # type: ignore[index,union-attr]
    assert round(evidence["candidate_score"]) == linear_rmse
    assert evidence["data"] == "house-eval"
    assert re.search(rf"production as of \d\d:\d\d:\d\d UTC: {tree}\n", out)

    # Lineage of what production holds now: the tree's run and what it logged.
    assert f"  version:     {tree}" in out
    assert f"  run:         {runs['tree-depth-2']} (house-price)" in out
    assert "  params:      {'model': 'tree-depth-2'}" in out
    assert "  held by:     stage production" in out

    # The server that followed production answered from each holder in turn.
    assert f"serving production: {tree}\n" in out
    assert re.search(rf"the server swapped to {linear} \d+\.\d s later", out)
    assert re.search(rf"the server swapped back to {tree} \d+\.\d s later", out)
