"""`pinyard serve` and `pinyard docker`, run as a user runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pinyard.cli import main

REPO = Path(__file__).resolve().parents[2]
PINYARD = [str(Path(sys.executable).with_name("pinyard"))]  # the console script


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_ping(url: str, process: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.communicate()}")
        try:
            if httpx.get(f"{url}/ping", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server did not answer /ping")


@pytest.fixture
def board_dir(served: Any, tmp_path: Path) -> str:
    return str(tmp_path / "board")


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ([], "say which version"),
        (["--latest", "--version", "x"], "either --version V or --latest"),
        (["--latest", "--host", "0.0.0.0"], "refusing to serve on 0.0.0.0 without a token"),
        (["--version", "20200101T000000Z-00000"], "no version"),
    ],
)
def test_serve_refuses_unclear_or_unguarded_requests(
    capsys: pytest.CaptureFixture[str], board_dir: str, extra: list[str], fragment: str
) -> None:
    code = main(["serve", board_dir, "income", *extra])
    err = capsys.readouterr().err
    assert code in (2, 3)
    assert fragment in err


def test_serve_latest_logs_the_version_it_pinned(served: Any, board_dir: str) -> None:
    port = free_port()
    process = subprocess.Popen(
        [*PINYARD, "serve", board_dir, "income", "--latest", "--port", str(port)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PINYARD_TOKEN": "t0ken"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_ping(url, process)
        denied = httpx.post(f"{url}/predict", json=[])
        assert denied.status_code == 401  # PINYARD_TOKEN from the environment applies
        row = {"income": 70.0, "age": 30, "region": "south"}
        response = httpx.post(f"{url}/predict", json=[row],
                              headers={"authorization": "Bearer t0ken"})  # fmt: skip
        assert response.status_code == 200
        assert response.headers["x-pinyard-version"] == served.result.version
    finally:
        process.terminate()
        _, err = process.communicate(timeout=20)
    assert f"--latest is version {served.result.version}" in err


def test_docker_files_build_into_a_venv_that_serves_the_version(
    capsys: pytest.CaptureFixture[str], served: Any, board_dir: str, tmp_path: Path
) -> None:
    out = tmp_path / "image"
    version = served.result.version
    assert main(["docker", board_dir, "income", "--version", version, "--out", str(out)]) == 0
    capsys.readouterr()
    dockerfile = (out / "Dockerfile").read_text()
    requirements = (out / "requirements.txt").read_text().splitlines()
    app = (out / "app.py").read_text()
    assert "FROM python:3." in dockerfile
    assert 'CMD ["python", "app.py"]' in dockerfile
    packages = served.result.user["pinyard_bundle"]["environment"]["packages"]
    assert f"scikit-learn=={packages['scikit-learn']}" in requirements
    assert any(line.startswith("fastapi==") for line in requirements)
    assert any(line.startswith("pinyard[serve]==") for line in requirements)
    assert version in app
    assert served.result.files[0].sha256 in app

    # No Docker engine here: do what the Dockerfile does, in a fresh venv.
    uv = Path(sys.executable).with_name("uv")
    wheels, venv = tmp_path / "wheels", tmp_path / "venv"
    run([str(uv), "build", "--wheel", "--out-dir", str(wheels), str(REPO)])
    run([str(uv), "venv", "--python", sys.executable, str(venv)])
    python = venv / "bin" / "python"
    run([str(uv), "pip", "install", "--python", str(python), "-r", str(out / "requirements.txt"),
         "--find-links", str(wheels)])  # fmt: skip
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    refused = subprocess.run([str(python), "app.py"], cwd=out, env=env, capture_output=True,
                             text=True, timeout=120, check=False)  # fmt: skip
    assert refused.returncode != 0
    assert "without a token" in refused.stderr
    process = subprocess.Popen(
        [str(python), "app.py"],
        cwd=out,
        env={**env, "PINYARD_HOST": "127.0.0.1", "PINYARD_PORT": str(port)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_ping(url, process, seconds=120)
        response = httpx.post(f"{url}/predict",
                              json=[{"income": 70.0, "age": 30, "region": "south"}])  # fmt: skip
        assert response.status_code == 200
        assert response.headers["x-pinyard-version"] == version
    finally:
        process.terminate()
        process.communicate(timeout=20)


def run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--token", "", "--host", "0.0.0.0"], "token is empty"),
        (["--max-body-mb", "0"], "max_body_bytes must be a positive int"),
    ],
)
def test_serve_refuses_empty_tokens_and_limits(
    capsys: pytest.CaptureFixture[str], board_dir: str, extra: list[str], fragment: str
) -> None:
    code = main(["serve", board_dir, "income", "--latest", *extra])
    assert code == 2
    assert fragment in capsys.readouterr().err
