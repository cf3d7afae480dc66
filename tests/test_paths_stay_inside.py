"""Hypothesis: no identifier, through any entry point, makes pinyard touch a path outside
the board's root; every refusal is a typed pinyard error.

The board sits deep inside a sandbox, deeper than any ``..`` climb generated
here, so that an escape would land where the test looks (not at ``/``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pinyard
from pinyard import errors
from pinyard.cli._main import main
from pinyard.tracking import Tracker

DEPTH = 12
PIECES = ["..", ".", "", "/", "\\", "\x00", "\ud800", "\udcff", " ", "CON", "nul", "x", "pins",
          "runs", "notes", "data.txt", ":", "*", "%2e%2e", "~", "\n", "\u200b", "é", "e\u0301",
          "20260101T000000Z-abcdef12", "20260101T000000Z-4f2a9"]  # fmt: skip

climbs = st.lists(st.sampled_from(["..", ".", "", "x", "pins", "runs"]), min_size=1, max_size=8)
identifiers = st.one_of(
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=6).map("".join),
    climbs.map("/".join),
    climbs.map("\\".join),
    st.text(st.characters(codec="utf-8"), max_size=20),
    st.text(st.characters(categories=["Cs", "Cc", "Zs", "Lu", "Po"]), max_size=12),
    st.integers().map(str).map(lambda s: f"20260101T000000Z-{s}"),
)


def _operations(board: pinyard.Board, source: Path) -> dict[str, Callable[[str], Any]]:
    tracker = Tracker(board, "sweep")

    def in_run(log: Callable[[Any], Any]) -> Callable[[str], Any]:
        def call(value: str) -> Any:
            with tracker.start_run() as run:
                return log(run)(value)

        return call

    root = board.store.local_path("") or ""
    return {
        "pin_write": lambda v: board.pin_write({"k": 1}, v),
        "pin_upload": lambda v: board.pin_upload([source], v),
        "pin_read": board.pin_read,
        "pin_meta/version": lambda v: board.pin_meta("obj", v),
        "pin_read/version": lambda v: board.pin_read("obj", version=v),
        "pin_versions": lambda v: board.pin_versions(v, as_df=False),
        "pin_exists": board.pin_exists,
        "pin_download": board.pin_download,
        "pin_version_delete": lambda v: board.pin_version_delete("obj", v),
        "pin_versions_prune": lambda v: board.pin_versions_prune(v, n=1),
        "pin_delete": board.pin_delete,
        "tracker": lambda v: Tracker(board, v).runs(),
        "start_run": lambda v: Tracker(board, v).start_run().end(),
        "get_run": tracker.get_run,
        "note": lambda v: tracker.note(v, "a note"),
        "notes": tracker.notes,
        "history": tracker.history,
        "artifact": lambda v: tracker.artifact(v, "a"),
        "log_param": in_run(lambda r: lambda v: r.log_param(v, 1)),
        "log_metric": in_run(lambda r: lambda v: r.log_metric(v, 1.0, step=0)),
        "set_tag": in_run(lambda r: lambda v: r.set_tag(v, "t")),
        "log_artifact": in_run(lambda r: lambda v: r.log_artifact(b"bytes", name=v)),
        "log_model": in_run(lambda r: lambda v: r.log_model({"m": 1}, v)),
        "cli meta": lambda v: _cli(["meta", root, v]),
        "cli meta/version": lambda v: _cli(["meta", root, "obj", "--version", v]),
        "cli versions": lambda v: _cli(["versions", root, v]),
        "cli runs": lambda v: _cli(["runs", root, v]),
    }


def _cli(argv: list[str]) -> None:
    code = main(argv)
    assert code in (0, 2, 3), f"pinyard {argv!r} exited {code}"


def _outside(sandbox: Path, root: Path) -> set[str]:
    """Every path in the sandbox that is not the root, inside it, or one of its parents."""
    keep = {str(p) for p in root.parents}
    found = set()
    for dirpath, dirnames, filenames in os.walk(sandbox):
        for name in [*dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            if path not in keep and not Path(path).is_relative_to(root):
                found.add(path)
    return found


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path, pinyard.Board, Path]:
    sandbox = tmp_path / "sandbox"
    root = sandbox.joinpath(*[f"d{i}" for i in range(DEPTH)]) / "board"
    board = pinyard.board_folder(root, create=True)
    board.pin_write({"k": 0}, "obj")
    board.pin_write({"k": 1}, "obj")
    source = sandbox / "source.txt"
    source.write_bytes(b"the one file outside the board")
    return sandbox, root, board, source


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_identifier_leads_outside_the_root(
    world: tuple[Path, Path, pinyard.Board, Path], data: st.DataObject
) -> None:
    sandbox, root, board, source = world
    operations = _operations(board, source)
    name = data.draw(st.sampled_from(sorted(operations)), label="entry point")
    value = data.draw(identifiers, label="identifier")
    expected = {str(source)}
    try:
        operations[name](value)
    except errors.PinyardError:
        pass  # typed: refused, or not found
    assert _outside(sandbox, root) == expected
    assert source.read_bytes() == b"the one file outside the board"
