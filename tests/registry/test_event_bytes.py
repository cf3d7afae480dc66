"""An event's stored bytes hold every field of the event, and decode back to it."""

from __future__ import annotations

import dataclasses
import json

from pinyard.registry._events import EVENT_FORMAT, Event, Target, decode_event


def test_stored_bytes_hold_every_field_and_decode_to_the_same_event() -> None:
    event = Event(
        seq=7, prev="a" * 64, id="e1", time="2026-12-03T15:00:00.000001Z", actor="ana",
        reason="why", op="promote", name="m", slot="production", kind="stage",
        target=Target("20261203T150000Z-abcde", "b" * 64, {"m.json": "c" * 64}),
        previous="20261202T150000Z-00000", from_stage="staging", displaced="v0", forced=True,
        gate={"metric": "rmse", "scores": [1.0, 2.0]}, config={"stages": ["a"]},
        extra={"undo": True},
    )  # fmt: skip
    raw = event.to_bytes()
    doc = json.loads(raw)
    doc.pop("digest")
    assert doc == {**dataclasses.asdict(event), "format": EVENT_FORMAT}
    assert decode_event(raw, 7, "event 7") == event
    assert event.as_dict()["gate"] is not event.gate  # as_dict gives a copy to change
