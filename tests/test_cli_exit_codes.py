"""Exit codes 5 and 6 of the pinyard command (issue 13: neither was ever checked)."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

from pinyard import errors
from pinyard.cli._main import EXIT_HELP, exit_code_for, main

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


def test_exit_code_5_is_what_a_refused_deletion_maps_to_and_says_so() -> None:
    """No command deletes versions today, so 5 cannot be reached from the command line;
    the mapping is kept (and checked) for the commands that will, and the help says so."""
    assert exit_code_for(errors.ProtectedVersionError("held by champion")) == 5
    assert exit_code_for(errors.ConflictError("raced")) == 6
    assert "no command\n     deletes versions yet" in EXIT_HELP
