"""What metadata data.txt can hold: refused values name their key, and nothing is written."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

import pinyard
from pinyard import errors


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        ({"k": object()}, "metadata['k'] holds a object"),
        (
            {"nested": {"deep": {1, 2}}},
            "metadata['nested']['deep'] holds a set (use a sorted list)",
        ),
        ({"n": [1, np.float64(1.5)]}, "metadata['n'][1] holds a float64 (use .item()"),
        ({"ts": pd.Timestamp("2020-01-01")}, "(use .to_pydatetime())"),
        ({"s": "\ud800"}, "metadata['s'] holds text that is not valid Unicode"),
        ({1: "x"}, "metadata has the key 1, which is not text"),
    ],
)
def test_metadata_yaml_cannot_hold_is_refused_naming_the_key(
    metadata: dict[Any, Any], words: str
) -> None:
    board = pinyard.board_memory()
    with pytest.raises(errors.SerializationError) as info:
        board.pin_write({"a": 1}, "cfg", metadata=metadata)
    assert words in str(info.value)
    assert "data.txt" in str(info.value)
    assert board.pin_list() == []  # nothing half-written


def test_text_fields_with_lone_surrogates_are_refused() -> None:
    board = pinyard.board_memory()
    for field in ("title", "description"):
        with pytest.raises(errors.SerializationError, match=f"{field} holds text that is not"):
            board.pin_write({"a": 1}, "cfg", **{field: "bad \udc80"})
    with pytest.raises(errors.SerializationError, match=r"tags\[1\]"):
        board.pin_write({"a": 1}, "cfg", tags=["ok", "\udc80"])


def test_everything_yaml_holds_round_trips() -> None:
    board = pinyard.board_memory()
    metadata = {"ok": [1, 2.5, True, None, "x", {"when": [date(2020, 1, 2)]}],
                "at": datetime(2020, 1, 2, 3, 4, 5)}  # fmt: skip
    board.pin_write({"a": 1}, "cfg", metadata=metadata)
    assert board.pin_meta("cfg").user == metadata
