"""Registry movers in separate processes, forked from one prepared interpreter.

`Movers` starts one helper process (``python -m tests.backends._movers``) that
imports pinyard, and the storage client of a backend when asked to (`prepare`),
once. Every mover is then an ``os.fork()`` of it: no thread runs in the helper
before a fork, and the child builds its own file system, so 8 movers start in
milliseconds instead of after 8 imports of 2-5 s each on a 2-core machine.

A mover (`move`) opens the board, waits for the common start time, and then
``count`` times (or until ``deadline``) moves ``alias`` of ``name`` to a random
version: with `Registry.set_alias`, or with `Registry.promote` through a custom
gate that passes when the candidate's score beats the holder's. Each call's
``reason`` is unique (``worker/k``), so the chain shows whether a call made
no event, one, or two (a move to the version the alias holds makes none: it
returns the event that set it, logged as ``unchanged``). After each call the
mover reads the state and appends one JSON line to its log: what it committed
(event id, seq, op, version, the holder it displaced; or the refusal and its
evidence) and what it then saw (``view_seq``, ``view_holder``). Lines are
written with one ``os.write`` on an ``O_APPEND`` descriptor, so a SIGKILL
never leaves half a line.

``kill_at`` makes a mover SIGKILL itself at an exact point of its
``kill_after``-th write, to reach the windows a timed kill rarely hits:

* ``event-tmp`` (local): the event's temporary file is written, not yet linked;
* ``after-event``: the event is created, the call has not returned;
* ``before-snapshot``: the event is created, ``state.json`` not yet replaced;
* ``snapshot-tmp`` (local): ``state.json``'s temporary file is written, not renamed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


class Movers:
    """The test side: a helper process that forks movers on request."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.backends._movers"],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._ask({"cmd": "ping"})

    def _ask(self, command: dict[str, Any]) -> Any:
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(command) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the mover helper exited ({self._proc.wait()})")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the mover helper failed: {answer['error']}")
        return answer["result"]

    def prepare(self, protocol: str) -> None:
        """Import the storage client of ``protocol`` in the helper (once)."""
        self._ask({"cmd": "prepare", "protocol": protocol})

    def spawn(self, specs: list[dict[str, Any]]) -> list[int]:
        """Fork one mover per spec; their process ids, in order."""
        pids: list[int] = self._ask({"cmd": "spawn", "specs": specs})
        return pids

    def wait(self, pids: list[int], timeout: float) -> dict[int, int | str]:
        """Each mover's exit code (-9 when killed), or "timeout" (then it was killed)."""
        found = self._ask({"cmd": "wait", "pids": pids, "timeout": timeout})
        return {int(pid): code for pid, code in found.items()}

    @staticmethod
    def kill(pid: int) -> None:
        """SIGKILL one mover (a process this helper forked for the test)."""
        os.kill(pid, signal.SIGKILL)

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
    """The lines a mover wrote (none if it never wrote one)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line]


# -- the mover (in a forked child) -------------------------------------------------------


def move(spec: dict[str, Any]) -> None:
    import pinyard
    from pinyard.errors import PromotionRefusedError
    from pinyard.registry import GateContext, GateResult

    url = spec["url"]
    if "://" in url:
        board = pinyard.board(url, cache=pinyard.Cache(spec["cache"]), **spec["options"])
    else:
        board = pinyard.board_folder(url)
    registry = pinyard.Registry(board, user=spec["worker"])
    scores: dict[str, float] = spec["scores"]
    name, alias = spec["name"], spec["alias"]

    def better(context: GateContext) -> GateResult:
        held = scores[context.holder] if context.holder else None
        passed = held is None or scores[context.candidate] > held
        evidence = {"candidate_score": scores[context.candidate], "holder_score": held,
                    "candidate": context.candidate, "holder": context.holder}  # fmt: skip
        return GateResult(passed, evidence, "beats the holder" if passed else "no better")

    if spec.get("kill_at"):
        _install_kill_point(board.store, spec["kill_at"], int(spec.get("kill_after", 1)))
    rng = random.Random(spec["seed"])
    fd = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    delay = spec["start_at"] - time.time()
    if delay > 0:
        time.sleep(delay)  # a common start, so that the movers race from the first event
    seen = registry.state(name).aliases.get(alias)
    for k in range(spec["count"]):
        if time.time() > spec["deadline"]:
            break
        # Not the holder it saw last: a move to the holder writes nothing (racers may
        # still have moved the alias there meanwhile).
        version = rng.choice([v for v in spec["versions"] if v != seen])
        reason = f"{spec['worker']}/{k}"
        record: dict[str, Any] = {"reason": reason, "t0": time.time()}
        try:
            if rng.random() < spec["promote_share"]:
                event = registry.promote(name, version, alias, gate=better, reason=reason)
            else:
                event = registry.set_alias(name, alias, version, reason=reason)
        except PromotionRefusedError as exc:
            record.update(op="refused", version=version, evidence=exc.evidence)
        else:  # another reason: the alias held the version already, and nothing was written
            op = event.op if event.reason == reason else "unchanged"
            record.update(op=op, id=event.id, seq=event.seq, version=event.version,
                          previous=event.previous, gate=event.gate)  # fmt: skip
        state = registry.state(name)
        seen = state.aliases.get(alias)
        record.update(view_seq=state.seq, view_holder=seen, t1=time.time())
        os.write(fd, (json.dumps(record) + "\n").encode())
    os.close(fd)


def _install_kill_point(store: Any, point: str, after: int) -> None:
    """Make the process SIGKILL itself at ``point`` the ``after``-th time it is reached."""
    seen = [0]

    def reached() -> None:
        seen[0] += 1
        if seen[0] >= after:
            os.kill(os.getpid(), signal.SIGKILL)

    def wrap(owner: Any, attr: str, when: Callable[..., bool], before: bool) -> None:
        real = getattr(owner, attr)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            hit = when(*args)
            if hit and before:
                reached()
            result = real(*args, **kwargs)
            if hit and not before:
                reached()
            return result

        setattr(owner, attr, wrapped)

    if point == "event-tmp":  # LocalStore.write_exclusive links its temporary file
        wrap(os, "link", lambda src, dst, *a: "/events/" in dst, before=True)
    elif point == "snapshot-tmp":  # LocalStore.replace_small renames its temporary file
        wrap(os, "replace", lambda src, dst, *a: dst.endswith("state.json"), before=True)
    elif point == "after-event":
        wrap(store, "write_exclusive", lambda path, *a: "/events/" in path, before=False)
    elif point == "before-snapshot":
        wrap(store, "replace_small", lambda path, *a: path.endswith("state.json"), before=True)
    else:
        raise ValueError(f"unknown kill point {point!r}")


# -- the helper process ------------------------------------------------------------------


def _prepare(protocol: str) -> None:
    import tests.backends._servers as servers  # sets the environment gcsfs and s3fs need

    if protocol == "s3":
        import s3fs  # noqa: F401
    elif protocol == "az":
        import adlfs  # noqa: F401

        servers.patch_adlfs_retry().__enter__()  # for good: every child builds its own fs
    elif protocol == "gs":
        import gcsfs  # noqa: F401


def _fork(spec: dict[str, Any]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        err = os.open(spec["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(err, 1)
        os.dup2(err, 2)
        random.seed()
        move(spec)
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pids: list[int], timeout: float) -> dict[int, int | str]:
    deadline = time.monotonic() + timeout
    found: dict[int, int | str] = {}
    for pid in pids:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                found[pid] = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                found[pid] = "timeout"
                break
            time.sleep(0.01)
    return found


def serve() -> None:
    import pinyard  # noqa: F401 - imported once, before any fork

    for line in sys.stdin:
        command = json.loads(line)
        try:
            what = command["cmd"]
            result: Any = None
            if what == "prepare":
                _prepare(command["protocol"])
            elif what == "spawn":
                result = [_fork(spec) for spec in command["specs"]]
            elif what == "wait":
                result = _wait(command["pids"], command["timeout"])
            answer = {"result": result}
        except Exception as exc:  # the test sees it as a RuntimeError
            answer = {"error": "".join(traceback.format_exception(exc))}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
