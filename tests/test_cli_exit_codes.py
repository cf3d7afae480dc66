"""Exit codes 5 and 6 of the pinyard command, reached from the command line (issue 13:
neither was ever checked)."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pinyard
from pinyard import errors
from pinyard.cli._main import exit_code_for, main

GOLDEN = Path(__file__).resolve().parent / "data" / "pins_python_board"


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_an_import_meeting_another_version_under_its_id_exits_6(tmp_path: Path) -> None:
    src = Path(shutil.copytree(GOLDEN, tmp_path / "src"))
    dest = tmp_path / "yard"
    assert _cli("import-pins", str(src), str(dest))[0] == 0
    # the source now holds something else under an id the destination has
    meta = next((src / "obj_json").glob("*/data.txt"))
    text = meta.read_text()
    pin_hash = next(line for line in text.splitlines() if line.startswith("pin_hash:"))
    meta.write_text(text.replace(pin_hash, "pin_hash: 0123456789abcdef"))
    code, out, err = _cli("import-pins", str(src), str(dest))
    assert code == 6, err
    assert out == ""
    assert err.count("\n") == 1
    assert "'obj_json'" in err
    assert "different content" in err
    assert "Traceback" not in err


def test_deleting_a_version_an_alias_holds_exits_5(tmp_path: Path) -> None:
    board = pinyard.board_folder(tmp_path / "b", create=True)
    held = board.pin_write({"k": 0}, "obj", type="json").version
    board.pin_write({"k": 1}, "obj", type="json")
    pinyard.Registry(board).set_alias("obj", "champion", held)
    code, _, err = _cli("pins", "delete-version", str(tmp_path / "b"), "obj", held, "--yes")
    assert code == 5, err
    assert err.count("\n") == 1
    assert "champion" in err
    assert "Traceback" not in err
    assert len(board.pin_versions("obj", as_df=False)) == 2  # nothing was deleted
    assert exit_code_for(errors.ConflictError("raced")) == 6
