"""Every example runs as a user would run it, and does what it says."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pinyard

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PINS_FIXTURE = Path(__file__).resolve().parent / "data" / "pins_python_board"


def run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_quickstart(tmp_path: Path) -> None:
    out = run("quickstart.py", str(tmp_path / "board"))
    assert "identical write stored a new version: False" in out
    board = pinyard.board_folder(tmp_path / "board")
    assert board.pin_list() == ["revenue-model", "sales"]
    assert len(board.pin_versions("revenue-model", as_df=False)) == 2
    assert board.pin_read("revenue-model")["intercept"] == 3.0


def test_import_pins_board(tmp_path: Path) -> None:
    source = tmp_path / "legacy"
    shutil.copytree(PINS_FIXTURE, source)
    out = run("import_pins_board.py", str(source), str(tmp_path / "board"))
    assert "imported 9 version(s)" in out
    board = pinyard.board_folder(tmp_path / "board")
    assert board.pin_list() == sorted(p.name for p in source.iterdir() if p.is_dir())
