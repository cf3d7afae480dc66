"""A mixed team never loses "latest": pinyard, real pins-python and an R-style writer
take turns on one board, on the real clock, and all three readers agree.

R is simulated (no R here): its writer puts ``data.txt`` first, then the data,
under ``<UTC second>-<first 5 hex of xxh64>``, as R pins does; its reader, like
pins-python's, takes the lexically last version folder as latest.
"""

from __future__ import annotations

import json
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pins
import pytest
import xxhash

import pinyard
from pinyard.boards._versions import version_created

pytestmark = pytest.mark.interop

BURST = 8


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "yard"


@pytest.fixture
def yard(root: Path) -> pinyard.Board:
    return pinyard.board_folder(root)


def pins_write(root: Path, obj: Any, name: str) -> str:
    board = pins.board_folder(str(root / "pins"))
    with warnings.catch_warnings():  # pins-python 0.9.2 leaves data.txt open
        warnings.simplefilter("ignore", ResourceWarning)
        meta = board.pin_write(obj, name, type="json")
    return str(meta.version.version)


def r_write(root: Path, obj: Any, name: str) -> str:
    """What R pins' ``pin_write(board, obj, name, type = "json")`` leaves on a folder board."""
    data = json.dumps(obj).encode()
    pin_hash = xxhash.xxh64(data).hexdigest()
    created = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    version = f"{created}-{pin_hash[:5]}"
    folder = root / "pins" / name / version
    folder.mkdir(parents=True)
    (folder / "data.txt").write_text(
        f"file: {name}.json\nfile_size: {len(data)}\npin_hash: {pin_hash}\ntype: json\n"
        f"title: '{name}: a pinned list'\ndescription: ~\ntags: ~\nurls: ~\n"
        f"created: {created}\napi_version: 1\n"
    )
    (folder / f"{name}.json").write_bytes(data)
    return version


def r_latest(root: Path, name: str) -> str:
    """R pins' latest: the last version folder, in lexical order, holding data.txt."""
    folders = sorted(p.name for p in (root / "pins" / name).iterdir())
    return [f for f in folders if (root / "pins" / name / f / "data.txt").exists()][-1]


def latest_everywhere(root: Path, name: str) -> tuple[str, str, str]:
    """The latest version as pinyard, pins-python and R pins see it."""
    theirs = pins.board_folder(str(root / "pins"))
    return (
        pinyard.board_folder(root).pin_meta(name).version,
        str(theirs.pin_meta(name).version.version),
        r_latest(root, name),
    )


def pinyard_burst(yard: pinyard.Board, name: str, n: int) -> tuple[str, float]:
    """``n`` writes back to back: the last version, and how far ahead of the clock the
    most-ahead id of the burst was stamped when its write returned (seconds)."""
    ahead = -1e9
    version = ""
    for i in range(n):
        version = yard.pin_write({"i": i, "pad": "x" * i}, name).version
        stamp = version_created(version)
        assert stamp is not None
        ahead = max(ahead, (stamp - datetime.now(UTC)).total_seconds())
    return version, ahead


def wait_one_second_after(moment: float) -> None:
    time.sleep(max(0.0, moment + 1.0 - time.time()))


def test_a_burst_never_runs_ahead_of_the_clock(yard: pinyard.Board, root: Path) -> None:
    last, ahead = pinyard_burst(yard, "burst", BURST)
    assert ahead <= 0, f"a version id was stamped {ahead:.3f} s ahead of the clock"
    assert latest_everywhere(root, "burst") == (last, last, last)


def test_pins_write_a_second_after_a_pinyard_burst_is_latest(
    yard: pinyard.Board, root: Path
) -> None:
    pinyard_burst(yard, "cfg", BURST)
    wait_one_second_after(time.time())
    theirs = pins_write(root, {"from": "pins"}, "cfg")
    assert latest_everywhere(root, "cfg") == (theirs, theirs, theirs)
    assert pinyard.board_folder(root).pin_read("cfg") == {"from": "pins"}


def test_r_write_a_second_after_a_pinyard_burst_is_latest(yard: pinyard.Board, root: Path) -> None:
    pinyard_burst(yard, "cfg", BURST)
    wait_one_second_after(time.time())
    theirs = r_write(root, {"from": "R"}, "cfg")
    assert latest_everywhere(root, "cfg") == (theirs, theirs, theirs)
    assert pins.board_folder(str(root / "pins")).pin_read("cfg") == {"from": "R"}


@pytest.mark.parametrize("other", ["pins", "R"])
def test_pinyard_write_right_after_another_writer_is_latest(
    yard: pinyard.Board, root: Path, other: str
) -> None:
    """Within the same second too: pinyard waits for the next one if its hash sorts lower."""
    for i in range(4):
        (pins_write if other == "pins" else r_write)(root, {"from": other, "i": i}, "cfg")
        ours = yard.pin_write({"from": "pinyard", "i": i}, "cfg").version
        assert latest_everywhere(root, "cfg") == (ours, ours, ours)
        stamp = version_created(ours)
        assert stamp is not None
        assert stamp <= datetime.now(UTC)


def test_turns_a_second_apart_are_each_latest(yard: pinyard.Board, root: Path) -> None:
    writers = [
        lambda i: yard.pin_write({"w": "pinyard", "i": i}, "cfg").version,
        lambda i: pins_write(root, {"w": "pins", "i": i}, "cfg"),
        lambda i: r_write(root, {"w": "R", "i": i}, "cfg"),
    ]
    previous = time.time() - 1
    for turn in range(6):
        wait_one_second_after(previous)
        previous = time.time()
        version = writers[turn % 3](turn)
        assert latest_everywhere(root, "cfg") == (version, version, version)
    stamps = [version_created(v.version) for v in yard.pin_versions("cfg", as_df=False)]
    assert all(s is not None and s <= datetime.now(UTC) for s in stamps)
