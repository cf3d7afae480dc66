"""A server that follows an alias: swaps under load, refusals, broken chains, `--alias`.

Real uvicorn servers on 127.0.0.1 and real boards (a folder, and S3 on moto).
The models share one signature but answer differently (``slope * x``), so each
response shows which model computed it, and its headers must name that one.
Checks are made by hand (``follower.check()``, with an interval that never
elapses) wherever the order of events decides the outcome; where the thread's
own polling is under test, the test polls for the outcome with a deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import pinyard
from pinyard.errors import InvalidArgumentError
from pinyard.serving import create_app
from tests.backends.conftest import Bucket, moto_server, s3_bucket  # noqa: F401 - fixtures

from ._follow import ALIAS, LONG, ROW, answer, frame, predict, wait_until, write
from .conftest import running

# -- under load ---------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    sent: float
    received: float
    status: int
    version: str | None
    sha256: str | None
    value: float | None


class Load:
    """``threads`` clients, each posting one row at a time until stopped."""

    def __init__(self, url: str, threads: int = 6, limit: int = 20_000) -> None:
        self.url, self.limit = url, limit
        self.replies: list[Reply] = []
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client) for _ in range(threads)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _client(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            for _ in range(self.limit):
                if self._stop.is_set():
                    return
                sent = time.monotonic()
                try:
                    response = client.post("/predict", json=[ROW])
                    value = answer(response) if response.status_code == 200 else None
                except Exception as exc:  # a failed request is what the test counts
                    with self._lock:
                        self.failures.append(repr(exc))
                    continue
                reply = Reply(sent, time.monotonic(), response.status_code,
                              response.headers.get("x-pinyard-version"),
                              response.headers.get("x-pinyard-sha256"), value)  # fmt: skip
                with self._lock:
                    self.replies.append(reply)

    def seen(self, test: Callable[[Reply], bool], at_least: int = 1) -> bool:
        with self._lock:
            return sum(1 for r in self.replies if test(r)) >= at_least


def open_s3(request: pytest.FixtureRequest, tmp_path: Path) -> pinyard.Board:
    bucket: Bucket = request.getfixturevalue("s3_bucket")
    return pinyard.board(f"{bucket.url}/team", cache=pinyard.Cache(tmp_path / "cache"),
                         allow_pickle_read=True, **bucket.storage_options)  # fmt: skip


def move(registry: pinyard.Registry, slot: str, version: str) -> None:
    if slot == ALIAS:
        registry.set_alias("m", slot, version, reason="better")
    else:  # the stage: through staging, then a promotion
        registry.transition("m", version, "staging")
        registry.promote("m", version, to=slot, reason="better")


@pytest.mark.parametrize(
    ("backend", "slot", "interval"), [("folder", ALIAS, 0.1), ("s3", "production", 0.2)]
)
def test_a_follower_under_load_swaps_on_promote_and_rollback_without_a_failed_request(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, slot: str, interval: float
) -> None:
    board = (
        open_s3(request, tmp_path)
        if backend == "s3"
        else pinyard.board_folder(tmp_path / "b", allow_pickle_read=True)
    )
    registry = pinyard.Registry(board, user="tester")
    v1, v2 = write(board, 1.0), write(board, 2.0)
    shas = {v: board.pin_meta("m", v).files[0].sha256 for v in (v1, v2)}
    expected = {v1: 2.0, v2: 4.0}
    move(registry, slot, v1)
    app = create_app(board, "m", follow=slot, interval=interval)
    with running(app, lifespan="on") as client, Load(str(client.base_url)) as load:
        wait_until(lambda: load.seen(lambda r: True, 50), "the first responses")
        promoted = time.monotonic()
        move(registry, slot, v2)
        wait_until(lambda: load.seen(lambda r: r.version == v2, 50), "responses from v2")
        rolled_back = time.monotonic()
        registry.rollback("m", slot, reason="v2 misbehaves")
        wait_until(lambda: load.seen(lambda r: r.sent > rolled_back and r.version == v1, 50),
                   "responses from v1 after the rollback")  # fmt: skip
        metadata = client.get("/metadata").json()
    replies = load.replies

    assert load.failures == []
    assert {r.status for r in replies} == {200}
    for r in replies:  # the headers name the model that computed the answer
        assert r.version in expected
        assert (r.value, r.sha256) == (expected[r.version], shas[r.version])
    # Each response came from a version that held the slot while it was served:
    assert all(r.version == v1 for r in replies if r.received < promoted)
    assert all(r.received > promoted for r in replies if r.version == v2)
    first_v2 = min(r.received for r in replies if r.version == v2)
    assert all(r.version == v2 for r in replies if first_v2 < r.sent and r.received < rolled_back)
    back = min(r.received for r in replies if r.sent > rolled_back and r.version == v1)
    assert all(r.version == v1 for r in replies if r.sent > back)

    following = metadata["registry"]
    assert following["reference"] == f"m@{slot}"
    assert (following["status"], following["swaps"], following["error"]) == ("ok", 2, None)
    assert following["seq"] == registry.history("m")[-1].seq  # the rollback's event
    assert metadata["version"] == v1


# -- refusals: the old model keeps serving --------------------------------------------


def test_a_holder_with_an_incompatible_signature_is_refused_and_the_old_one_serves_on(
    board: pinyard.Board, registry: pinyard.Registry, caplog: pytest.LogCaptureFixture
) -> None:
    v1 = write(board, 1.0)
    registry.set_alias("m", ALIAS, v1)
    app = create_app(board, "m", follow=ALIAS, interval=LONG)
    follower = app.state.follower
    with running(app) as client:
        floats = write(board, 2.0, frame("float64"))  # column k is float64 now
        registry.set_alias("m", ALIAS, floats)
        with caplog.at_level(logging.ERROR, "pinyard.serving"):
            assert follower.check() is False
            assert follower.check() is False  # refused once; not loaded and logged again
        assert predict(client) == (v1, 2.0)
        following = client.get("/metadata").json()["registry"]
        assert following["status"] == "degraded"
        assert f"refused m:{floats}" in following["error"]
        assert "column 'k' is float64; the served model takes int64" in following["error"]
        assert client.get("/ping").json()["status"] == "degraded"
        assert [r.levelname for r in caplog.records] == ["ERROR"]
        assert "still serving version " + v1 in caplog.records[0].getMessage()

        v3 = write(board, 3.0)
        registry.set_alias("m", ALIAS, v3)
        assert follower.check() is True
        assert predict(client) == (v3, 6.0)
        assert client.get("/ping").json()["status"] == "ok"
        assert client.get("/metadata").json()["registry"]["error"] is None


@pytest.mark.parametrize("tampered", ["model file", "data.txt"])
def test_a_tampered_new_holder_is_refused(
    board: pinyard.Board, registry: pinyard.Registry, tmp_path: Path, tampered: str
) -> None:
    v1 = write(board, 1.0)
    registry.set_alias("m", ALIAS, v1)
    app = create_app(board, "m", follow=ALIAS, interval=LONG)
    with running(app) as client:
        v2 = write(board, 2.0)
        registry.set_alias("m", ALIAS, v2)
        folder = tmp_path / "board" / "pins" / "m"
        if tampered == "model file":  # another valid model's bytes under v2's name
            (name,) = (p.name for p in (folder / v2).iterdir() if p.name != "data.txt")
            (folder / v2 / name).write_bytes((folder / v1 / name).read_bytes())
        else:
            meta = folder / v2 / "data.txt"
            meta.write_text(meta.read_text() + "# edited\n")
        assert app.state.follower.check() is False
        assert predict(client) == (v1, 2.0)
        error = client.get("/metadata").json()["registry"]["error"]
        assert "IntegrityError" in error
        assert "sha256" in error


def test_a_broken_chain_keeps_the_old_model_serving_until_it_is_repaired(
    board: pinyard.Board, registry: pinyard.Registry, tmp_path: Path
) -> None:
    v1 = write(board, 1.0)
    registry.set_alias("m", ALIAS, v1)
    app = create_app(board, "m", follow=ALIAS, interval=0.05)
    names = tmp_path / "board" / "registry" / "m"
    first = names / "events" / "000000000001.json"
    original = first.read_bytes()
    with running(app, lifespan="on") as client:

        def registry_status() -> dict[str, Any]:
            return dict(client.get("/metadata").json()["registry"])

        wait_until(lambda: registry_status()["last_check"], "a first check")
        first.write_bytes(original.replace(b'"actor":"tester"', b'"actor":"mallory"'))
        (names / "state.json").unlink()
        broken = wait_until(lambda: registry_status()["error"], "the broken chain to be seen")
        assert broken.startswith("ChainError: ")
        assert client.get("/ping").json() == {"status": "degraded", "name": "m", "version": v1}
        assert predict(client) == (v1, 2.0)
        assert app.state.follower._thread.is_alive()

        first.write_bytes(original)
        wait_until(lambda: registry_status()["status"] == "ok", "the repaired chain")
        assert predict(client) == (v1, 2.0)


def test_a_removed_alias_keeps_the_old_model_serving(
    board: pinyard.Board, registry: pinyard.Registry
) -> None:
    v1 = write(board, 1.0)
    registry.set_alias("m", ALIAS, v1)
    app = create_app(board, "m", follow=ALIAS, interval=LONG)
    with running(app) as client:
        registry.remove_alias("m", ALIAS, reason="retired")
        assert app.state.follower.check() is False
        assert predict(client) == (v1, 2.0)
        assert (
            "no version of 'm' holds 'champion'"
            in client.get("/metadata").json()["registry"]["error"]
        )


# -- servers that never move ----------------------------------------------------------


def test_alias_and_version_servers_pin_once_and_ignore_later_moves(
    board: pinyard.Board, registry: pinyard.Registry
) -> None:
    v1, v2 = write(board, 1.0), write(board, 2.0)
    registry.set_alias("m", ALIAS, v1)
    by_alias = create_app(board, "m", alias=ALIAS)
    by_version = create_app(board, "m", v1)
    assert by_alias.state.follower is None
    assert by_version.state.follower is None
    with running(by_alias, lifespan="on") as alias_client:
        with running(by_version, lifespan="on") as version_client:
            registry.set_alias("m", ALIAS, v2)
            for client in (alias_client, version_client):
                assert [predict(client) for _ in range(3)] == [(v1, 2.0)] * 3
            assert version_client.get("/metadata").json()["registry"] is None
        pinned = alias_client.get("/metadata").json()["registry"]
    assert pinned == {"reference": "m@champion", "seq": 1, "following": False}


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({}, "give exactly one of"),
        ({"version": "x", "follow": ALIAS}, "got version, follow"),
        ({"follow": ALIAS, "interval": 0}, "interval must be a positive number"),
        ({"alias": ALIAS, "sha256": "0" * 64}, "sha256= goes with version="),
    ],
)
def test_create_app_refuses_unclear_choices(
    board: pinyard.Board, kwargs: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=fragment):
        create_app(board, "m", **kwargs)
