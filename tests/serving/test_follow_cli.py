"""`pinyard serve --alias` and `--follow`, run as a user runs them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

import pinyard
from pinyard.cli import main

from ._follow import ALIAS, predict, wait_until, write
from .test_cli_and_docker import PINYARD, free_port, wait_for_ping


def test_serve_alias_pins_and_logs_once_while_serve_follow_swaps(
    board: pinyard.Board, registry: pinyard.Registry, tmp_path: Path
) -> None:
    v1, v2 = write(board, 1.0), write(board, 2.0)
    sha1, sha2 = (board.pin_meta("m", v).files[0].sha256 for v in (v1, v2))
    registry.set_alias("m", ALIAS, v1)
    root, ports = str(tmp_path / "board"), (free_port(), free_port())
    commands = (
        [*PINYARD, "serve", root, "m", "--alias", ALIAS, "--allow-pickle-read",
         "--port", str(ports[0])],
        [*PINYARD, "serve", root, "m", "--follow", ALIAS, "--allow-pickle-read",
         "--interval", "0.2", "--port", str(ports[1])],
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PINYARD_TOKEN"}
    processes = [subprocess.Popen(c, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  text=True, env=env) for c in commands]  # fmt: skip
    errs = []
    pinned, following = (httpx.Client(base_url=f"http://127.0.0.1:{p}") for p in ports)
    try:
        for process, client in zip(processes, (pinned, following), strict=True):
            wait_for_ping(str(client.base_url), process, seconds=180)  # a loaded machine
            assert predict(client) == (v1, 2.0)
        registry.set_alias("m", ALIAS, v2)
        wait_until(lambda: predict(following)[0] == v2, "the follower to swap")
        assert predict(following) == (v2, 4.0)
        assert predict(pinned) == (v1, 2.0)  # the follower has seen the move; it has not
    finally:
        pinned.close()
        following.close()
        for process in processes:
            process.terminate()
            errs.append(process.communicate(timeout=20)[1])
    assert f"version {v1} (sha256 {sha1}, registry event 1) (@{ALIAS})" in errs[0]
    assert "now serving" not in errs[0]
    assert f"now serving version {v2} (sha256 {sha2}, registry event 2)" in errs[1]


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["m", "--alias", ALIAS, "--version", "x"], "not --version and --alias"),
        (["m", "--alias", ALIAS, "--interval", "1"], "--interval goes with --follow"),
        (["m@champion", "--follow", ALIAS], "not --follow and the reference 'm@champion'"),
        (["m", "--follow", "nobody"], "no version of 'm' holds 'nobody'"),
        (["m@nobody"], "no version of 'm' holds 'nobody'"),
    ],
)
def test_serve_refuses_unclear_choices_of_what_to_serve(
    board: pinyard.Board,
    registry: pinyard.Registry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    fragment: str,
) -> None:
    registry.set_alias("m", ALIAS, write(board, 1.0))
    assert main(["serve", str(tmp_path / "board"), *extra]) in (2, 3)
    assert fragment in capsys.readouterr().err
