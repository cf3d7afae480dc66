"""Folder boards: the on-disk layout, crash safety, stray entries and many processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import pinyard
from pinyard import errors
from pinyard.boards import _local


def test_layout_matches_the_design(tmp_path: Path) -> None:
    board = pinyard.board_folder(tmp_path / "b")
    meta = board.pin_write({"k": 1}, "obj")
    root = tmp_path / "b"
    assert json.loads((root / "pinyard.json").read_text())["format"] == 1
    version_dir = root / "pins" / "obj" / meta.version
    assert sorted(p.name for p in version_dir.iterdir()) == ["data.txt", "obj.json"]
    assert list((root / "staging").iterdir()) == []  # nothing left behind


def test_reopening_sees_the_same_board(tmp_path: Path) -> None:
    pinyard.board_folder(tmp_path / "b").pin_write([1, 2], "obj")
    assert pinyard.board(str(tmp_path / "b")).pin_read("obj") == [1, 2]
    assert pinyard.board(f"file://{tmp_path / 'b'}").pin_list() == ["obj"]


def test_board_temp_is_usable() -> None:
    board = pinyard.board_temp()
    board.pin_write({"k": 1}, "obj")
    assert board.pin_read("obj") == {"k": 1}


def test_plain_pins_folder_opens_as_that_pins_board(tmp_path: Path) -> None:
    version = tmp_path / "pinsboard" / "obj" / "20240101T000000Z-abcde"
    version.mkdir(parents=True)
    (version / "data.txt").write_text("file: obj.json\ntype: json\napi_version: 1\n")
    board = pinyard.board_folder(tmp_path / "pinsboard")
    assert board.kind == "pins"
    assert board.pin_list() == ["obj"]
    assert sorted(p.name for p in (tmp_path / "pinsboard").iterdir()) == ["obj"]
    with pytest.raises(errors.InvalidArgumentError, match="plain pins board"):
        pinyard.Tracker(board, "exp")


def test_new_board_has_its_pins_folder(tmp_path: Path) -> None:
    pinyard.board_folder(tmp_path / "b")
    assert (tmp_path / "b" / "pins").is_dir()
    assert pinyard.board_temp().board.endswith("/pins")


def test_pins_folder_of_a_board_opens_the_board(tmp_path: Path) -> None:
    board = pinyard.board_folder(tmp_path / "b")
    board.pin_write({"k": 1}, "obj")
    again = pinyard.board_folder(board.board)
    assert again.kind == "pinyard"
    assert again.store.url == str(tmp_path / "b")
    assert again.pin_read("obj") == {"k": 1}
    assert pinyard.board("file", str(tmp_path / "b" / "pins")).pin_list() == ["obj"]
    assert not (tmp_path / "b" / "pins" / "pinyard.json").exists()


def test_other_non_empty_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(errors.NotAPinyardBoardError, match=r"notes\.txt"):
        pinyard.board_folder(tmp_path)
    assert not (tmp_path / "pinyard.json").exists()


def test_missing_board_without_create(tmp_path: Path) -> None:
    with pytest.raises(errors.BoardNotFoundError, match="create=True"):
        pinyard.board_folder(tmp_path / "absent", create=False)
    assert list(tmp_path.iterdir()) == []  # opening for reading never creates


@pytest.mark.parametrize(
    "opener",
    [
        pinyard.board_folder,
        pinyard.board,
        lambda path: pinyard.board(f"file://{path}"),
        lambda path: pinyard.board("file", str(path)),
    ],
    ids=["board_folder", "board", "file-url", "protocol-path"],
)
def test_a_typo_in_the_path_makes_no_folders(tmp_path: Path, opener: Any) -> None:
    """A board whose parent folder is missing is refused, naming the path and the flag,
    and nothing is created; create=True makes the parents and the board."""
    typo = tmp_path / "nonexistent" / "dir" / "board"
    with pytest.raises(errors.BoardNotFoundError) as info:
        opener(typo)
    message = str(info.value)
    assert str(typo) in message
    assert f"{tmp_path / 'nonexistent'} is missing" in message
    assert "create=True" in message
    assert list(tmp_path.iterdir()) == []


def test_a_new_board_is_made_where_its_parent_exists_or_create_is_true(tmp_path: Path) -> None:
    pinyard.board_folder(tmp_path / "new").pin_write({"k": 1}, "obj")
    assert (tmp_path / "new" / "pinyard.json").exists()
    deep = tmp_path / "a" / "b" / "c"
    pinyard.board_folder(deep, create=True).pin_write({"k": 1}, "obj")
    assert pinyard.board_folder(deep, create=False).pin_read("obj") == {"k": 1}
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(errors.BoardNotFoundError, match="create=True"):
        pinyard.board_folder(empty, create=False)
    assert list(empty.iterdir()) == []


@pytest.mark.parametrize(
    ("marker", "match"), [('{"format": 99}', "format 99"), ("not json", "unreadable")]
)
def test_board_format_is_checked(tmp_path: Path, marker: str, match: str) -> None:
    (tmp_path / "pinyard.json").write_text(marker)
    with pytest.raises(errors.BoardFormatError, match=match):
        pinyard.board_folder(tmp_path)


def test_stray_entries_are_ignored(tmp_path: Path) -> None:
    board = pinyard.board_folder(tmp_path)
    meta = board.pin_write({"k": 1}, "obj")
    pins = tmp_path / "pins"
    (pins / "stray.txt").write_text("x")
    (pins / ".DS_Store").mkdir()
    (pins / "empty-folder").mkdir()
    (pins / "obj" / "notes").mkdir()
    (pins / "obj" / "README").write_text("x")
    # A version folder whose write died before data.txt: not a version.
    half = pins / "obj" / "29990101T000000Z-fffff"
    half.mkdir()
    (half / "obj.json").write_text('{"k": 2}')
    assert board.pin_list() == ["obj"]
    assert [v.version for v in board.pin_versions("obj", as_df=False)] == [meta.version]
    assert board.pin_read("obj") == {"k": 1}
    with pytest.raises(errors.VersionNotFoundError):
        board.pin_read("obj", version="29990101T000000Z-fffff")


def test_publish_without_renameat2_is_still_exclusive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_local, "_renameat2", None)
    board = pinyard.board_folder(tmp_path)
    first = board.pin_write({"k": 1}, "obj")
    again = board.pin_write({"k": 1}, "obj", force_identical_write=True)
    assert again.version != first.version
    assert board.pin_read("obj", version=first.version) == {"k": 1}
    staging = board.store.new_staging("pins/obj")
    with staging.open_sink("obj.json") as sink:
        sink(b'{"k": "intruder"}')
    with pytest.raises(FileExistsError):
        staging.publish(f"pins/obj/{first.version}", "data.txt", b"file: obj.json\n")
    staging.discard()
    assert board.pin_read("obj", version=first.version) == {"k": 1}


def test_rename_no_replace_refuses_existing_target(tmp_path: Path) -> None:
    if sys.platform == "linux":  # where CI runs: the test must never skip there
        assert _local._renameat2 is not None, "renameat2 not found in libc"
    elif _local._renameat2 is None:
        pytest.skip("renameat2 exists only on Linux; elsewhere the link-based publish is tested")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "f").write_text("keep")
    with pytest.raises(FileExistsError):
        _local.rename_no_replace(str(tmp_path / "a"), str(tmp_path / "b"))
    assert (tmp_path / "b" / "f").read_text() == "keep"


SLOW_WRITER = textwrap.dedent(
    """
    import sys, time
    import pinyard
    from pinyard.boards import Serializer, register_type

    class Slow(Serializer):
        type = "slow"
        extension = "bin"
        def accepts(self, obj): return True
        def write(self, obj, stream):
            for _ in range(400):
                stream.write(b"x" * 65536)
                time.sleep(0.01)
        def read(self, stream, kind): return stream.read()

    register_type(Slow())
    board = pinyard.board_folder(sys.argv[1])
    print("writing", flush=True)
    board.pin_write(b"", "obj", type="slow")
    """
)


def test_writer_killed_mid_write_leaves_no_version(tmp_path: Path) -> None:
    board = pinyard.board_folder(tmp_path)
    committed = board.pin_write({"k": 1}, "obj")
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        staged = [p for p in (tmp_path / "staging").rglob("*") if p.is_file()]
        if staged and staged[0].stat().st_size > 0:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert any((tmp_path / "staging").rglob("obj.bin"))  # killed mid-write, really
    assert [v.version for v in board.pin_versions("obj", as_df=False)] == [committed.version]
    assert board.pin_read("obj") == {"k": 1}
    assert board.pin_write({"k": 2}, "obj").written


MANY_WRITES = textwrap.dedent(
    """
    import sys
    import pinyard
    board = pinyard.board_folder(sys.argv[1])
    for i in range(int(sys.argv[3])):
        board.pin_write({"writer": int(sys.argv[2]), "i": i}, "shared")
    """
)


def test_processes_writing_one_pin_lose_nothing(tmp_path: Path) -> None:
    pinyard.board_folder(tmp_path)
    writers, writes = 4, 15
    procs = [
        subprocess.Popen([sys.executable, "-c", MANY_WRITES, str(tmp_path), str(w), str(writes)])
        for w in range(writers)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * writers
    board = pinyard.board_folder(tmp_path)
    versions = board.pin_versions("shared", as_df=False)
    assert len(versions) == writers * writes
    seen = {_pair(board.pin_read("shared", v.version)) for v in versions}
    assert seen == {(w, i) for w in range(writers) for i in range(writes)}
    assert os.listdir(tmp_path / "staging") == []


def test_gc_removes_only_stale_leftovers(tmp_path: Path) -> None:
    board = pinyard.board_folder(tmp_path)
    meta = board.pin_write({"k": 1}, "obj")
    old = time.time() - 3 * 86400
    stale_staging = tmp_path / "staging" / "dead-writer"
    stale_staging.mkdir()
    (stale_staging / "obj.json").write_text("{}")
    fresh_staging = tmp_path / "staging" / "live-writer"
    fresh_staging.mkdir()
    orphan = tmp_path / "pins" / "obj" / "20200101T000000Z-abcde"
    orphan.mkdir()
    (orphan / "obj.json").write_text("{}")
    for path in (stale_staging, stale_staging / "obj.json", orphan, orphan / "obj.json"):
        os.utime(path, (old, old))
    dry = board.gc(dry_run=True)
    assert (dry.staging, dry.orphan_versions) == (
        ["staging/dead-writer"],
        ["pins/obj/20200101T000000Z-abcde"],
    )
    assert stale_staging.exists()
    board.gc()
    assert not stale_staging.exists()
    assert not orphan.exists()
    assert fresh_staging.exists()
    assert [v.version for v in board.pin_versions("obj", as_df=False)] == [meta.version]
    assert board.pin_read("obj") == {"k": 1}


def test_gc_removes_stale_temporary_files_of_killed_small_writes(tmp_path: Path) -> None:
    """A process killed inside a small local write (an exclusive create, a snapshot
    replace) leaves ``<target>.<32 hex>.tmp`` beside the target; gc takes it once stale."""
    board = pinyard.board_folder(tmp_path)
    events = tmp_path / "registry" / "churn" / "events"
    events.mkdir(parents=True)
    stale = [
        events / f"000000000003.json.{'a' * 32}.tmp",
        events.parent / f"state.json.{'b' * 32}.tmp",
        tmp_path / "runs" / f"record.json.{'c' * 32}.tmp",
    ]
    fresh = events / f"000000000004.json.{'d' * 32}.tmp"
    others = [events / "000000000001.json", events / "notes.tmp"]
    stale[2].parent.mkdir()
    old = time.time() - 3 * 86400
    for path in [*stale, fresh, *others]:
        path.write_text("{")
    for path in [*stale, *others]:
        os.utime(path, (old, old))
    dry = board.gc(dry_run=True)
    assert dry.temporary == sorted(str(p.relative_to(tmp_path)) for p in stale)
    assert all(p.exists() for p in stale)
    assert "3 temporary file(s)" in str(board.gc())
    assert not any(p.exists() for p in stale)
    assert fresh.exists()
    assert all(p.exists() for p in others)


def _pair(value: dict[str, int]) -> tuple[int, int]:
    return value["writer"], value["i"]


def test_committed_files_are_read_only_and_prune_still_deletes_them() -> None:
    # A folder other users can reach, so a child without root's powers can try to write.
    root = Path(tempfile.mkdtemp(prefix="pinyard-ro-"))
    root.chmod(0o755)
    try:
        board = pinyard.board_folder(root / "board")
        first = board.pin_write({"a": 1}, "cfg").version
        board.pin_write({"a": 2}, "cfg")
        (path,) = board.pin_download("cfg", first)
        meta_txt = Path(path).with_name("data.txt")
        for committed in (Path(path), meta_txt):
            assert stat.S_IMODE(committed.stat().st_mode) & 0o222 == 0, committed
        if os.geteuid() == 0:  # root ignores permission bits: try as an ordinary user
            for folder in (root, *Path(path).parents):
                if str(folder).startswith(str(root)):
                    folder.chmod(0o755)
            script = f"open({path!r}, 'w').write('edited')"
            python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
            edit = subprocess.run(
                [python, "-c", script],
                user=65534,
                capture_output=True,
                text=True,
                check=False,
            )
            assert edit.returncode != 0
            assert "Permission denied" in edit.stderr
        assert board.pin_read("cfg", first) == {"a": 1}
        assert board.pin_versions_prune("cfg", n=1) == [first]
        assert not Path(path).exists()
    finally:
        shutil.rmtree(root, ignore_errors=True)
