"""Names and paths: Hypothesis draws identifiers (climbs out of the folder, separators,
NUL and control characters, lone surrogates, reserved and look-alike names, long
names) and hands them to the API, the CLI (``main(argv)`` in process) and HTTP (the
web UI's app served on loopback). Nothing outside ROOT is ever written or read: a
sentinel folder beside ROOT keeps its bytes and its access times, and ROOT's parent
gets no new entries. Every refusal is a typed `PinyardError` (an exit code of the CLI,
a 4xx of HTTP), never a raw error or a 500.

tests/test_paths_stay_inside.py sweeps the board and tracker API; this adds the
registry, serving and HTTP entry points and the sentinel beside the root.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pinyard
from pinyard import errors
from pinyard.cli._main import main
from pinyard.serving import create_app
from pinyard.ui import create_ui_app
from tests.reliability.conftest import record, scale
from tests.serving.conftest import running

PIECES = ["..", ".", "", "/", "\\", "\x00", "\ud800", " ", "CON", "nul", "x", "pins",
          "registry", "runs", "sentinel", "state.json", "events", ":", "*", "%2e%2e", "~",
          "\n", "\u200b", "é", "e\u0301", "\uff38", "20260101T000000Z-abcdef12",
          "a" * 120]  # fmt: skip
climbs = st.lists(st.sampled_from(["..", ".", "", "x", "sentinel", "pins"]), min_size=1,
                  max_size=6)  # fmt: skip
identifiers = st.one_of(
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=5).map("".join),
    climbs.map("/".join),
    climbs.map("\\".join),
    climbs.map(lambda parts: "../" + "/".join(parts)),
    st.text(st.characters(codec="utf-8"), max_size=16),
    st.text(st.characters(categories=["Cs", "Cc", "Zs", "Lu", "Po"]), max_size=10),
)
COUNTER: dict[str, int] = {"inputs": 0, "refused": 0, "accepted": 0}


class World:
    def __init__(self, base: Path) -> None:
        self.parent = base / "d0" / "d1" / "d2" / "d3" / "d4" / "d5" / "parent"
        self.root = self.parent / "board"
        self.sentinel = self.parent / "sentinel"
        self.sentinel.mkdir(parents=True)
        (self.sentinel / "secret.txt").write_bytes(b"outside the board")
        (self.sentinel / "pins").mkdir()
        (self.sentinel / "registry").mkdir()
        self.board = pinyard.board_folder(self.root, create=True)
        self.version = self.board.pin_write({"k": 0}, "obj", type="json").version
        self.board.pin_write({"k": 1}, "obj", type="json")
        pinyard.Registry(self.board).set_alias("obj", "champion", self.version)
        with pinyard.Tracker(self.board, "exp").start_run() as run:
            run.log_metric("m", 1.0, step=0)
        self.run_id = run.run_id
        self.sentinel_state = self._sentinel_state()
        self.parent_entries = sorted(os.listdir(self.parent))
        self.ui: Any = None  # an httpx client of the UI app, served on loopback

    def _sentinel_state(self) -> list[tuple[str, int, int, bytes | None]]:
        """Each sentinel entry's mtime, atime and bytes, read without touching its atime
        (O_NOATIME), so that a read by pinyard is the only thing that can move it."""
        state = []
        for path in sorted(self.sentinel.rglob("*")):
            data = None
            if path.is_file():
                fd = os.open(path, os.O_RDONLY | os.O_NOATIME)
                with os.fdopen(fd, "rb") as f:
                    data = f.read()
            st_ = path.stat()
            state.append((str(path), st_.st_mtime_ns, st_.st_atime_ns, data))
        return state

    def check_untouched(self) -> None:
        assert sorted(os.listdir(self.parent)) == self.parent_entries, "ROOT's parent changed"
        assert self._sentinel_state() == self.sentinel_state, "the sentinel was touched"
        outside = [
            str(p)
            for p in self.parent.parent.rglob("*")
            if not p.is_relative_to(self.root) and not p.is_relative_to(self.sentinel)
            and p != self.parent
        ]  # fmt: skip
        assert not outside, f"written outside ROOT: {outside}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("names")
    # a sentinel read leaves an access time behind only where atime is kept; mark the
    # sentinel files' atimes old, so any later read (relatime updates then) shows
    sentinel_world = World(base)
    for path in sentinel_world.sentinel.rglob("*"):
        os.utime(path, (1_000_000_000, path.stat().st_mtime))
    sentinel_world.sentinel_state = sentinel_world._sentinel_state()
    with running(create_ui_app(pinyard.board_folder(sentinel_world.root))) as client:
        sentinel_world.ui = client
        yield sentinel_world
    record("names", **COUNTER)


def _cli(argv: list[str]) -> int:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    assert "Traceback" not in err.getvalue()
    return code


def _api(world: World) -> dict[str, Callable[[str], Any]]:
    board = pinyard.board_folder(world.root)
    registry = pinyard.Registry(board)
    tracker = pinyard.Tracker(board, "exp")
    v = world.version
    return {
        "pin_meta": board.pin_meta,
        "pin_write": lambda s: board.pin_write({"k": s}, s, type="json"),
        "pin_read/version": lambda s: board.pin_read("obj", version=s),
        "set_alias/name": lambda s: registry.set_alias(s, "champion", v),
        "set_alias/alias": lambda s: registry.set_alias("obj", s, v),
        "set_alias/version": lambda s: registry.set_alias("obj", "champion", s),
        "transition/stage": lambda s: registry.transition("obj", v, s),
        "resolve": registry.resolve,
        "history": registry.history,
        "state": registry.state,
        "tracker/experiment": lambda s: pinyard.Tracker(board, s).runs(),
        "note": lambda s: tracker.note(s, "n"),
        "history/key": lambda s: tracker.history(world.run_id, s),
        "artifact/name": lambda s: tracker.artifact(world.run_id, s),
        "serve/name": lambda s: create_app(board, s),
        "serve/alias": lambda s: create_app(board, "obj", alias=s),
    }


def _cli_calls(world: World) -> dict[str, Callable[[str], int]]:
    root = str(world.root)
    return {
        "cli meta": lambda s: _cli(["meta", root, s]),
        "cli versions": lambda s: _cli(["versions", root, s]),
        "cli runs": lambda s: _cli(["runs", root, s]),
        "cli set-alias": lambda s: _cli(["registry", "set-alias", root, "obj", s, world.version]),
        "cli resolve": lambda s: _cli(["registry", "resolve", root, s]),
        "cli history": lambda s: _cli(["registry", "history", root, s]),
    }


def _http_calls(world: World) -> dict[str, Callable[[str], int]]:
    def get(template: str) -> Callable[[str], int]:
        # a lone surrogate goes as the bytes a client would send (%ED%A0%80)
        return lambda s: (
            world.ui.get(template.format(quote(s, safe="", errors="surrogatepass"))).status_code
        )

    return {
        "GET /pins/{name}": get("/pins/{}"),
        "GET /pins/obj/{version}": get("/pins/obj/{}"),
        "GET /registry/{name}": get("/registry/{}"),
        "GET /runs/{experiment}": get("/runs/{}"),
        "GET /runs/exp/{run_id}": get("/runs/exp/{}"),
        "GET /api/pins/{name}": get("/api/pins/{}"),
        "GET /api/registry/{name}": get("/api/registry/{}"),
        "GET /api/runs/{experiment}": get("/api/runs/{}"),
    }


SLOW_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=120 * scale(), deadline=None, suppress_health_check=SLOW_OK)
@given(data=st.data())
def test_no_identifier_reaches_outside_the_root(world: World, data: st.DataObject) -> None:
    api, cli, http = _api(world), _cli_calls(world), _http_calls(world)
    entry = data.draw(st.sampled_from(sorted([*api, *cli, *http])), label="entry point")
    value = data.draw(identifiers, label="identifier")
    COUNTER["inputs"] += 1
    if entry in api:
        try:
            api[entry](value)
        except errors.PinyardError:
            COUNTER["refused"] += 1
        else:
            COUNTER["accepted"] += 1
    elif entry in cli:
        code = cli[entry](value)
        assert code in (0, 2, 3, 4), f"{entry} {value!r} exited {code}"
        COUNTER["refused" if code else "accepted"] += 1
    else:
        status = http[entry](value)
        # 307: an empty segment is redirected to the listing, which is not a name
        assert status in (200, 307, 400, 404, 422), f"{entry} {value!r}: HTTP {status}"
        COUNTER["refused" if status >= 400 else "accepted"] += 1
    world.check_untouched()
