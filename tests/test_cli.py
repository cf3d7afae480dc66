"""The pinyard command: JSON on stdout, one error line on stderr, typed exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pinyard
from pinyard.cli import main
from tests.interop._support import PINS_PYTHON_BOARD


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def board_dir(tmp_path: Path) -> Path:
    board = pinyard.board_folder(tmp_path / "b")
    board.pin_write({"k": 1}, "obj", description="an object")
    board.pin_write({"k": 2}, "obj")
    return tmp_path / "b"


def test_list_versions_meta(capsys: pytest.CaptureFixture[str], board_dir: Path) -> None:
    code, out, _ = run(capsys, "list", str(board_dir))
    assert (code, json.loads(out)) == (0, ["obj"])
    code, out, _ = run(capsys, "versions", str(board_dir), "obj")
    versions = [v["version"] for v in json.loads(out)]
    assert len(versions) == 2
    code, out, _ = run(capsys, "meta", str(board_dir), "obj", "--version", versions[0])
    meta = json.loads(out)
    assert (meta["version"], meta["description"], meta["type"]) == (
        versions[0],
        "an object",
        "json",
    )
    assert len(meta["files"][0]["sha256"]) == 64


def test_verify_reports_every_version(capsys: pytest.CaptureFixture[str], board_dir: Path) -> None:
    code, out, _ = run(capsys, "verify", str(board_dir))
    assert (code, json.loads(out)["verified"]) == (0, 2)
    victim = next((board_dir / "pins" / "obj").glob("*/obj.json"))
    victim.write_bytes(b'{"k": 9}')
    code, _, err = run(capsys, "verify", str(board_dir))
    assert code == 4
    assert "corrupt" in err
    assert "Traceback" not in err


def test_errors_map_to_exit_codes(capsys: pytest.CaptureFixture[str], board_dir: Path) -> None:
    code, _, err = run(capsys, "meta", str(board_dir), "missing")
    assert code == 3
    assert err.startswith("pinyard: error: pin missing does not exist")
    code, _, err = run(capsys, "meta", str(board_dir), "../x")
    assert code == 2
    assert "invalid pin name" in err
    code, _, err = run(capsys, "list", str(board_dir / "nowhere"))
    assert code == 3
    assert "no pinyard board" in err


def test_console_script_is_installed(board_dir: Path) -> None:
    exe = Path(sys.executable).parent / "pinyard"
    done = subprocess.run(
        [str(exe), "list", str(board_dir)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["obj"]


def test_runs_and_compact(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    tracker = pinyard.Tracker(pinyard.board_folder(tmp_path / "b"), "sweep")
    for lam in (0.1, 1.0):
        with tracker.start_run(params={"lambda": lam}) as fit:
            fit.log_metric("rmse", lam * 2)
    code, out, _ = run(capsys, "runs", str(tmp_path / "b"), "sweep", "--where", "metrics.rmse > 1")
    rows = json.loads(out)
    assert (code, [r["params.lambda"] for r in rows]) == (0, [1.0])
    code, _, err = run(capsys, "runs", str(tmp_path / "b"), "sweep", "--where", "metrics.rmse >")
    assert code == 2
    assert "expected" in err
    code, out, _ = run(capsys, "compact", str(tmp_path / "b"), "sweep")
    assert (code, json.loads(out)) == (0, {"segments": []})  # this hour is left alone


def test_a_typo_in_a_board_path_creates_nothing(
    capsys: pytest.CaptureFixture[str], board_dir: Path, tmp_path: Path
) -> None:
    """Read commands never create a board; import-pins makes one only in an existing
    folder unless given --create, and says so."""
    typo = tmp_path / "nonexistent" / "dir" / "board"
    code, _, err = run(capsys, "list", str(typo))
    assert code != 0
    assert str(typo) in err
    source = Path(shutil.copytree(PINS_PYTHON_BOARD, tmp_path / "plain"))
    code, _, err = run(capsys, "import-pins", str(source), str(typo))
    assert code != 0
    assert str(typo) in err
    assert "--create" in err
    assert "Traceback" not in err
    assert not (tmp_path / "nonexistent").exists()
    code, out, _ = run(capsys, "import-pins", str(source), str(typo), "--create")
    assert code == 0
    assert json.loads(out)["imported"]
    assert pinyard.board_folder(typo, create=False).pin_list()
