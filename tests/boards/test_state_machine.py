"""A Hypothesis state machine drives a board and a plain model side by side."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import pinyard
from pinyard import errors
from pinyard.boards import _writing
from pinyard.boards._versions import Clock

NAMES = st.sampled_from(["a", "b", "c"])
VALUES = st.dictionaries(st.sampled_from(["x", "y"]), st.integers(0, 3), max_size=2)


class SkippingClock:
    """The real clock, moved forward instead of sleeping: a write that waits for the next
    second costs no time, so many writes to one pin fit in a run."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def sleep(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


class BoardModel(RuleBasedStateMachine):
    """The model: for each pin, its committed (version, value) pairs in write order."""

    def __init__(self) -> None:
        super().__init__()
        self.real_clock: Clock = _writing.clock
        _writing.clock = SkippingClock()
        self.tmp = tempfile.mkdtemp(prefix="pinyard-sm-")
        self.board = pinyard.board_folder(self.tmp) if self.use_folder else pinyard.board_memory()
        self.model: dict[str, list[tuple[str, dict[str, int]]]] = {}

    use_folder = False

    def teardown(self) -> None:
        _writing.clock = self.real_clock
        shutil.rmtree(self.tmp, ignore_errors=True)

    @rule(name=NAMES, value=VALUES, force=st.booleans())
    def write(self, name: str, value: dict[str, int], force: bool) -> None:
        result = self.board.pin_write(value, name, force_identical_write=force)
        history = self.model.setdefault(name, [])
        if history and history[-1][1] == value and not force:
            assert not result.written
            assert result.version == history[-1][0]
        else:
            assert result.written
            assert not history or result.version > history[-1][0]
            history.append((result.version, value))

    @rule(name=NAMES)
    def read_latest(self, name: str) -> None:
        if self.model.get(name):
            assert self.board.pin_read(name) == self.model[name][-1][1]
        else:
            with pytest.raises(errors.PinNotFoundError):
                self.board.pin_read(name)

    @precondition(lambda self: any(len(h) > 1 for h in self.model.values()))
    @rule(data=st.data())
    def delete_old_version(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(n for n, h in self.model.items() if len(h) > 1)))
        index = data.draw(st.integers(0, len(self.model[name]) - 2))
        version, _ = self.model[name].pop(index)
        self.board.pin_version_delete(name, version)

    @rule(name=NAMES, n=st.integers(1, 3))
    def prune(self, name: str, n: int) -> None:
        if not self.model.get(name):
            return
        deleted = self.board.pin_versions_prune(name, n=n)
        kept = self.model[name][-n:]
        assert deleted == [v for v, _ in self.model[name][:-n]]
        self.model[name] = kept

    @rule(name=NAMES)
    def delete_pin(self, name: str) -> None:
        if self.model.pop(name, None):
            self.board.pin_delete(name)

    @invariant()
    def listings_agree(self) -> None:
        assert self.board.pin_list() == sorted(n for n, h in self.model.items() if h)
        for name, history in self.model.items():
            if history:
                listed = [v.version for v in self.board.pin_versions(name, as_df=False)]
                assert listed == [v for v, _ in history]


class FolderBoardModel(BoardModel):
    use_folder = True


TestMemoryBoardModel = BoardModel.TestCase
TestMemoryBoardModel.settings = settings(max_examples=40, stateful_step_count=20, deadline=None)
TestFolderBoardModel = FolderBoardModel.TestCase
TestFolderBoardModel.settings = settings(max_examples=25, stateful_step_count=15, deadline=None)
