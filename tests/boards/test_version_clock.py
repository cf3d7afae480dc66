"""Version ids follow the writer's clock: ordered as written, never stamped ahead of it.

A fake clock stands in for the machine's (`pinyard.boards._writing.clock`): it
moves only when the test or a write's wait moves it, so nothing here depends
on how fast the machine is.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

import pinyard
from pinyard.boards import _writing
from pinyard.boards._versions import MAX_WAIT_S, clock_version_id, version_created

START = datetime(2031, 5, 6, 7, 8, 9, 100_000, tzinfo=UTC)


class FakeClock:
    """A clock that only moves when told to, or when a write waits on it."""

    def __init__(self, start: datetime = START) -> None:
        self.moment = start
        self.waits: list[float] = []

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.moment += timedelta(seconds=seconds)

    def tick(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(_writing, "clock", fake)
    return fake


def stamp_of(version: str) -> datetime:
    stamp = version_created(version)
    assert stamp is not None
    return stamp


def test_a_burst_is_ordered_and_never_ahead_of_the_clock(clock: FakeClock) -> None:
    board = pinyard.board_memory()
    written = []
    for i in range(20):  # 20 writes 10 ms apart: once all in 0.2 s, now one every second or so
        clock.tick(0.01)
        meta = board.pin_write({"i": i}, "burst")
        assert stamp_of(meta.version) <= clock.now()  # the id is not ahead of the clock
        assert stamp_of(meta.version) > clock.now() - timedelta(seconds=1)
        written.append(meta.version)
    assert written == sorted(written)
    assert len(set(written)) == 20
    assert [v.version for v in board.pin_versions("burst", as_df=False)] == written
    assert board.pin_read("burst") == {"i": 19}
    assert clock.waits
    assert all(0 < w < 1 for w in clock.waits)


def test_the_written_at_time_is_after_any_wait(clock: FakeClock) -> None:
    board = pinyard.board_memory()
    for i in range(6):
        meta = board.pin_write({"i": i}, "obj")
        assert meta.written_at is not None
        assert datetime.fromisoformat(meta.written_at) == clock.now()


def test_a_write_that_sorts_last_in_its_second_does_not_wait() -> None:
    now = datetime(2031, 1, 1, 0, 0, 0, 400_000, tzinfo=UTC)
    version, delay = clock_version_id(now, "bbbbb00000000000", "20310101T000000Z-aaaaa")
    assert (version, delay) == ("20310101T000000Z-bbbbb", 0.0)


def test_a_write_that_would_sort_first_waits_for_the_next_second() -> None:
    now = datetime(2031, 1, 1, 0, 0, 0, 400_000, tzinfo=UTC)
    version, delay = clock_version_id(now, "aaaaa00000000000", "20310101T000000Z-bbbbb")
    assert version == "20310101T000001Z-aaaaa"
    assert delay == pytest.approx(0.6)


def test_a_version_stamped_a_second_ahead_is_waited_for() -> None:
    """Another writer's clock 0.9 s ahead stamped the next second already."""
    now = datetime(2031, 1, 1, 0, 0, 0, 400_000, tzinfo=UTC)
    version, delay = clock_version_id(now, "aaaaa00000000000", "20310101T000001Z-bbbbb")
    assert version == "20310101T000002Z-aaaaa"
    assert delay == pytest.approx(1.6)
    assert delay <= MAX_WAIT_S


def test_a_version_stamped_hours_ahead_is_followed_with_a_warning(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """pins-python stamps local time as UTC: east of Greenwich its ids look hours ahead.
    Waiting for them is unbounded, so the write follows them and says so."""
    board = pinyard.board_memory()
    board.pin_write({"v": 0}, "cfg", created=clock.now() + timedelta(hours=2))
    with caplog.at_level(logging.WARNING, logger="pinyard"):
        meta = board.pin_write({"v": 1}, "cfg")
    assert clock.waits == []
    assert stamp_of(meta.version) > clock.now() + timedelta(hours=1)
    assert board.pin_read("cfg") == {"v": 1}
    assert "ahead of this clock" in caplog.text


def test_a_created_stamp_is_used_without_waiting(clock: FakeClock) -> None:
    board = pinyard.board_memory()
    moment = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    written = [board.pin_write({"i": i}, "obj", created=moment).version for i in range(4)]
    assert written == sorted(written)
    assert clock.waits == []
    assert written[0].startswith("20240506T070809Z-")
