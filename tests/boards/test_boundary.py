"""Errors from the operating system reach users as `pinyard.errors`, naming the board."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import pinyard
from pinyard import errors
from pinyard.boards._boundary import storage_error

# Each line runs against a board the child may read but not write.
OPERATIONS = {
    "pin_write": "board.pin_write({'a': 2}, 'cfg')",
    "pin_upload": "board.pin_upload(sys.executable, 'doc')",
    "pin_versions_prune": "board.pin_versions_prune('cfg', n=1)",
    "pin_delete": "board.pin_delete('cfg')",
    "start_run": "pinyard.Tracker(board, 'exp').start_run()",
    "set_alias": "pinyard.Registry(board).set_alias('cfg', 'champion', first)",
}
CHILD = """
import json, sys, pinyard
from pinyard import errors
board = pinyard.board_folder(sys.argv[1])
first = board.pin_versions('cfg', as_df=False)[0].version
try:
    {operation}
except errors.PinyardError as exc:
    print(json.dumps({{"type": type(exc).__name__, "message": str(exc)}}))
except BaseException as exc:
    print(json.dumps({{"type": "LEAK " + type(exc).__name__, "message": str(exc)}}))
else:
    print(json.dumps({{"type": "none", "message": ""}}))
"""


#: Root ignores permission bits; without these two capabilities it obeys them.
WITHOUT_ROOT_POWERS = (
    ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--inh-caps", "-all"]
    if os.geteuid() == 0
    else []
)


@pytest.fixture(scope="module")
def read_only_board() -> Iterator[tuple[Path, str]]:
    root = Path(tempfile.mkdtemp(prefix="pinyard-readonly-"))
    board = pinyard.board_folder(root / "board")
    board.pin_write({"a": 1}, "cfg")
    board.pin_write({"a": 3}, "cfg")
    for folder, _dirs, files in os.walk(root):
        os.chmod(folder, 0o555)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o444)
    yield root, str(root / "board")
    for folder, _, _ in os.walk(root):
        os.chmod(folder, 0o755)
    shutil.rmtree(root)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_no_raw_os_error_leaks_from_a_read_only_board(
    read_only_board: tuple[Path, str], operation: str, tmp_path: Path
) -> None:
    _, board_path = read_only_board
    script = textwrap.dedent(CHILD).format(operation=OPERATIONS[operation])
    run = subprocess.run(
        [*WITHOUT_ROOT_POWERS, sys.executable, "-c", script, board_path],
        capture_output=True,
        text=True,
        check=False,
        cwd=tempfile.gettempdir(),
    )
    assert run.returncode == 0, run.stderr
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    assert outcome["type"] in ("StorageError",), outcome
    assert board_path in outcome["message"]
    assert "Permission denied" in outcome["message"]
    assert "staging/" not in outcome["message"]
    assert ".tmp" not in outcome["message"]


def test_a_board_path_that_is_a_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "board"
    path.write_text("not a board")
    with pytest.raises(errors.BoardNotFoundError, match="is a file, not a folder"):
        pinyard.board_folder(path)
    with pytest.raises(errors.BoardNotFoundError, match="is a file, not a folder"):
        pinyard.board(str(path))


@pytest.mark.parametrize(
    ("code", "words"),
    [(errno.ENOSPC, "disk is full"), (errno.EROFS, "read-only"), (errno.EACCES, "owner")],
)
def test_each_cause_gets_its_own_advice(code: int, words: str) -> None:
    exc = OSError(code, os.strerror(code), "/b/pins/x/20261203T000000Z-abcde/x.json")
    error = storage_error(exc, "pin_write", "/b")
    assert isinstance(error, errors.StorageError)
    assert isinstance(error, OSError)
    assert words in str(error)
    assert "pin_write on /b failed" in str(error)
    assert "pins/x/20261203T000000Z-abcde/x.json" in str(error)
    staged = storage_error(OSError(code, "x", "/b/staging/0f3a/x.json"), "pin_write", "/b")
    assert "staging/" not in str(staged)
    assert "while staging a write" in str(staged)
