"""Worker processes forked from one prepared interpreter, for tests that race many.

A test starts one helper (`ForkHelper`, ``python -m <module>``) that imports pinyard
and, when asked (`ForkHelper.prepare`), the storage client of a backend, once. Every
worker is then an ``os.fork()`` of it (no thread runs in the helper before a fork;
each child builds its own file system), so 16 workers start in milliseconds instead
of after 16 imports of 2-5 s each on a 2-core machine.

The helper module calls `serve` with its own commands; `fork` runs one worker's body
in a child. Workers that must race from the same moment call `start_together`: a
barrier that opens once every worker of the batch has its board open, so that a
loaded machine, where opening 16 S3 boards takes seconds, shortens no one's race.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
#: how long the first worker at the barrier waits for the last
TOGETHER_TIMEOUT_S = 120.0


class ForkHelper:
    """The test side: the helper process, asked one JSON command per line."""

    def __init__(self, module: str) -> None:
        self._module = module
        self._proc = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ask({"cmd": "ping"})

    def ask(self, command: dict[str, Any]) -> Any:
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(command) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self._module} helper exited ({self._proc.wait()})")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the {self._module} helper failed: {answer['error']}")
        return answer["result"]

    def prepare(self, protocol: str) -> None:
        """Import the storage client of ``protocol`` in the helper (once)."""
        self.ask({"cmd": "prepare", "protocol": protocol})

    def stop(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The JSON lines a worker wrote (none if it never wrote one)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line]


class JsonLog:
    """A worker's log: one JSON line per call, written with one ``os.write`` on an
    ``O_APPEND`` descriptor, so a SIGKILL never leaves half a line."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, record: dict[str, Any]) -> None:
        os.write(self._fd, (json.dumps(record) + "\n").encode())


def together(specs: list[dict[str, Any]], folder: Path) -> list[dict[str, Any]]:
    """Mark ``specs`` as one batch that `start_together` starts at the same moment."""
    folder.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        spec["together"] = {"dir": str(folder), "n": len(specs)}
    return specs


def start_together(spec: dict[str, Any]) -> float:
    """Wait until every worker of the batch has called this (or return at once for a
    spec not made by `together`); the time the race starts."""
    batch = spec.get("together")
    if not batch:
        return time.time()
    folder = Path(batch["dir"])
    (folder / f"{spec['worker']}.ready").touch()
    give_up = time.monotonic() + TOGETHER_TIMEOUT_S
    while sum(1 for _ in folder.glob("*.ready")) < batch["n"]:
        if time.monotonic() > give_up:
            raise TimeoutError(f"the other workers were not ready after {TOGETHER_TIMEOUT_S} s")
        time.sleep(0.005)
    return time.time()


def prepare(protocol: str) -> None:
    """Import what a worker on ``protocol`` needs, in the helper, before any fork."""
    import tests.backends._servers as servers  # sets the environment s3fs and gcsfs need

    if protocol == "s3":
        import s3fs  # noqa: F401
    elif protocol == "az":
        import adlfs  # noqa: F401

        servers.patch_adlfs_retry().__enter__()  # for good: every child builds its own fs
    elif protocol == "gs":
        import gcsfs  # noqa: F401


def fork(spec: dict[str, Any], body: Callable[[dict[str, Any]], None]) -> int:
    """Run ``body(spec)`` in a forked child, its output going to ``spec["err"]``; the
    child's process id. The child exits 0, or 1 with a traceback in ``err``."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        err = os.open(spec["err"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(err, 1)
        os.dup2(err, 2)
        random.seed()
        body(spec)
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve(commands: dict[str, Callable[[dict[str, Any]], Any]]) -> None:
    """The helper's loop: one JSON command per line on stdin, one answer per line on
    stdout. ``ping`` and ``prepare`` are built in; ``commands`` adds the rest."""
    import pinyard  # noqa: F401 - imported once, before any fork

    known: dict[str, Callable[[dict[str, Any]], Any]] = {
        "ping": lambda _command: None,
        "prepare": lambda command: prepare(command["protocol"]),
        **commands,
    }
    for line in sys.stdin:
        command = json.loads(line)
        try:
            answer = {"result": known[command["cmd"]](command)}
        except Exception as exc:  # the test sees it as a RuntimeError
            answer = {"error": "".join(traceback.format_exception(exc))}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
