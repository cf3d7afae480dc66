"""A refused promotion records the attempt and nothing it did not do."""

from __future__ import annotations

from pathlib import Path

import pytest

import pinyard
from pinyard.errors import PromotionRefusedError
from pinyard.registry import GateContext


def test_a_refused_stage_promotion_names_no_displaced_version(tmp_path: Path) -> None:
    board = pinyard.board_folder(tmp_path / "b")
    old, new = (board.pin_write({"k": k}, "m").version for k in (1, 2))
    registry = pinyard.Registry(board, user="tester")
    registry.transition("m", old, "staging")
    registry.promote("m", old, "production")
    registry.transition("m", new, "staging")

    def never(context: GateContext) -> bool:
        return False

    with pytest.raises(PromotionRefusedError):
        registry.promote("m", new, "production", gate=never)
    refused = registry.history("m")[-1]
    assert isinstance(refused, pinyard.registry.Event)
    assert (refused.op, refused.version, refused.previous) == ("refused", new, old)
    assert refused.displaced is None
    assert registry.stages("m") == {"production": old, "staging": new}
    assert registry.state("m").archived == []
