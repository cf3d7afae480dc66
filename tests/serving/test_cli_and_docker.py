"""`pinyard serve` and `pinyard docker`, run as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
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
    capsys: pytest.CaptureFixture[str],
    served: Any,
    board_dir: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    version = served.result.version
    monkeypatch.chdir(tmp_path)  # the board given as a relative path, as a user types it
    code = main(["docker", "board", "income", "--latest", "--out", "image", "--json"])
    assert code == 0
    printed = capsys.readouterr()
    assert f"--latest is version {version}" in printed.err
    assert "serving" not in printed.err  # it writes files; nothing is served yet
    assert "PINYARD_BOARD" in json.loads(printed.out)["board"]
    out = tmp_path / "image"
    dockerfile = (out / "Dockerfile").read_text()
    requirements = (out / "requirements.txt").read_text().splitlines()
    app = (out / "app.py").read_text()
    [wheel] = [p.name for p in out.glob("pinyard-*.whl")]
    assert "FROM python:3." in dockerfile
    assert f"COPY requirements.txt {wheel} ./" in dockerfile
    assert 'CMD ["python", "app.py"]' in dockerfile
    packages = served.result.user["pinyard_bundle"]["environment"]["packages"]
    assert f"scikit-learn=={packages['scikit-learn']}" in requirements
    assert any(line.startswith("fastapi==") for line in requirements)
    assert f"./{wheel}[serve]" in requirements
    assert not any(line.startswith("pinyard") for line in requirements)  # not from an index
    assert version in app
    assert served.result.files[0].sha256 in app
    assert str(tmp_path) not in app  # no path of the machine that wrote it
    assert "'board'" not in app

    # No Docker engine here: do what the Dockerfile does, in a fresh venv, from a copy of
    # the build context alone (its wheel and requirements; packages from the index).
    context = shutil.copytree(out, tmp_path / "elsewhere" / "app")
    shutil.rmtree(out)
    uv = Path(sys.executable).with_name("uv")
    venv = tmp_path / "venv"
    run([str(uv), "venv", "--python", sys.executable, str(venv)])
    python = venv / "bin" / "python"
    run([str(uv), "pip", "install", "--python", str(python), "-r", "requirements.txt"],
        cwd=context)  # fmt: skip
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PINYARD_"))}  # fmt: skip
    for extra, fragment in (({}, "set PINYARD_BOARD"),
                            ({"PINYARD_BOARD": board_dir}, "without a token")):  # fmt: skip
        refused = subprocess.run(
            [str(python), "app.py"], cwd=context, env={**env, **extra},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert refused.returncode != 0
        assert fragment in refused.stderr
    process = subprocess.Popen(
        [str(python), "app.py"],
        cwd=context,
        env={
            **env,
            "PINYARD_BOARD": board_dir,
            "PINYARD_HOST": "127.0.0.1",
            "PINYARD_PORT": str(port),
            "PINYARD_NO_AUTH": "1",
        },
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
        where = [str(python), "-c", "import pinyard; print(pinyard.__file__)"]
        import_path = subprocess.run(where, capture_output=True, text=True, check=True)
        assert str(venv) in import_path.stdout  # the wheel's pinyard, not this checkout's
    finally:
        process.terminate()
        process.communicate(timeout=20)


def test_docker_files_of_a_remote_board_name_its_url(served: Any, tmp_path: Path) -> None:
    from pinyard.serving import write_docker_files

    version = served.result.version
    files = write_docker_files(served.board, "income", version, tmp_path / "image",
                               board_url="s3://bucket/root")  # fmt: skip
    assert files.board == "s3://bucket/root"
    assert "or 's3://bucket/root'" in Path(files.app).read_text()
    assert "-v " not in Path(files.dockerfile).read_text()  # nothing to mount
    assert any(line.startswith("s3fs==") for line in Path(files.requirements).read_text().split())


def run(args: list[str], cwd: Path | str | None = None) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False, cwd=cwd)
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
