"""`Registry.verify` over a whole board misses nothing: a name whose events were all
removed, and the board's own settings chain, are walked too."""

from __future__ import annotations

import shutil
from pathlib import Path

import pinyard


def _board(tmp_path: Path) -> tuple[pinyard.Board, pinyard.Registry, str]:
    board = pinyard.board_folder(tmp_path / "b")
    version = board.pin_write({"k": 1}, "m").version
    registry = pinyard.Registry(board, user="tester")
    registry.set_alias("m", "champion", version, reason="first")
    return board, registry, version


def test_a_name_whose_events_were_all_removed_is_reported(tmp_path: Path) -> None:
    _, registry, _ = _board(tmp_path)
    assert [(r.name, r.ok) for r in registry.verify()] == [(".board", True), ("m", True)]
    shutil.rmtree(tmp_path / "b" / "registry" / "m" / "events")
    reports = {r.name: r for r in registry.verify()}
    assert not reports["m"].ok
    assert reports["m"].chain_broken
    assert "newest events were removed" in reports["m"].problems[0]


def test_an_edited_settings_event_is_reported(tmp_path: Path) -> None:
    _, registry, _ = _board(tmp_path)
    registry.configure(require_reason=True, reason="audit")
    event = tmp_path / "b" / "registry" / ".board" / "events" / "000000000001.json"
    event.write_bytes(event.read_bytes().replace(b'"require_reason":true', b'"require_reason":0'))
    (report,) = [r for r in registry.verify() if r.name == ".board"]
    assert report.chain_broken
    assert "was edited" in report.problems[0]


def test_a_changed_version_is_not_a_broken_chain(tmp_path: Path) -> None:
    _, registry, version = _board(tmp_path)
    (data,) = (tmp_path / "b" / "pins" / "m" / version).glob("m.json")
    data.write_bytes(b'{"k": 2}')
    (report,) = registry.verify("m")
    assert not report.ok
    assert not report.chain_broken
