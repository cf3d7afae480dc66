"""Registry movers in separate processes, forked from one prepared interpreter.

`Movers` is a `tests._forks.ForkHelper` (``python -m tests.backends._movers``):
every mover is an ``os.fork()`` of one prepared interpreter.

A mover (`move`) opens the board, waits for the others of its batch (specs made
with `tests._forks.together`), and then
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

import os
import random
import signal
import time
from collections.abc import Callable
from typing import Any

from tests._forks import ForkHelper, JsonLog, fork, read_log, serve, start_together

__all__ = ["Movers", "read_log"]


class Movers(ForkHelper):
    """The test side: a helper process that forks movers on request."""

    def __init__(self) -> None:
        super().__init__("tests.backends._movers")

    def spawn(self, specs: list[dict[str, Any]]) -> list[int]:
        """Fork one mover per spec; their process ids, in order."""
        pids: list[int] = self.ask({"cmd": "spawn", "specs": specs})
        return pids

    def wait(self, pids: list[int], timeout: float) -> dict[int, int | str]:
        """Each mover's exit code (-9 when killed), or "timeout" (then it was killed)."""
        found = self.ask({"cmd": "wait", "pids": pids, "timeout": timeout})
        return {int(pid): code for pid, code in found.items()}

    @staticmethod
    def kill(pid: int) -> None:
        """SIGKILL one mover (a process this helper forked for the test)."""
        os.kill(pid, signal.SIGKILL)


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
    log = JsonLog(spec["log"])
    start_together(spec)  # so that the movers race from the first event
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
        log.write(record)


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


if __name__ == "__main__":
    serve({
        "spawn": lambda command: [fork(spec, move) for spec in command["specs"]],
        "wait": lambda command: _wait(command["pids"], command["timeout"]),
    })  # fmt: skip
