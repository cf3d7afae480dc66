"""A name that is neither a pin nor registered is an error, not an empty answer."""

from __future__ import annotations

from pathlib import Path

import pytest

import pinyard
from pinyard.errors import AliasNotFoundError, PinNotFoundError


@pytest.fixture
def registry(tmp_path: Path) -> pinyard.Registry:
    board = pinyard.board_folder(tmp_path / "b")
    board.pin_write({"k": 1}, "model")
    return pinyard.Registry(board, user="tester")


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.history("modle"),
        lambda r: r.verify("modle"),
        lambda r: r.resolve("modle@production"),
        lambda r: r.resolve("modle@production", as_of="2026-01-01T00:00:00Z"),
    ],
    ids=["history", "verify", "resolve", "resolve-as-of"],
)
def test_a_typo_names_the_pins_there(registry: pinyard.Registry, call: object) -> None:
    with pytest.raises(PinNotFoundError, match=r"modle does not exist .*pins there: model"):
        call(registry)  # type: ignore[operator]


def test_a_pin_without_events_has_an_empty_history(registry: pinyard.Registry) -> None:
    assert registry.history("model") == []
    assert registry.verify("model")[0].ok
    with pytest.raises(AliasNotFoundError, match="no version of 'model' holds 'production'"):
        registry.resolve("model@production")
