"""Worker processes for the reliability suite, forked from one prepared interpreter.

`Workers` is a `tests._forks.ForkHelper` (``python -m tests.reliability._workers``):
every worker is an ``os.fork()`` of one prepared interpreter.

`Workers.batch(specs)` forks one child per spec, SIGKILLs each whose spec has
``kill_at`` (seconds after the child logged ``ready``, its board open; the helper
sends the signal, so no test thread sleeps on it), reaps all of them and returns
their exit codes (-9: killed). A spec's ``job`` says what the child does, in a
loop, for ``seconds`` after the batch's common start (`tests._forks.together`), or
until ``deadline`` (epoch seconds), or for ``count`` operations:

* ``writer``: ``pin_write`` of unique JSON values to one of ``pins``;
* ``logger``: runs with params, stepped metrics and an artifact, ended;
* ``mover``: ``Registry.set_alias`` of ``alias`` of ``name`` to one of ``versions``;
* ``reader``: the latest version's meta, then that version read (it verifies);
* ``pruner``: ``pin_versions_prune(name, n=keep)``;
* ``mixed``: each step one of the above, drawn with ``weights``.

Every child appends its oracle log to ``log``: a ``begin`` line before an
operation and a ``commit`` line (what the call returned) after it, a ``read``
line per read, a ``pruned`` line per prune and an ``error`` line (type and
message) for a `PinyardError` it caught. Lines go out with one ``os.write`` on
an ``O_APPEND`` descriptor, so a SIGKILL never leaves half a line. Any other
exception ends the child with exit code 1 and a traceback in ``err``.
"""

from __future__ import annotations

import os
import random
import signal
import time
from typing import Any

from tests._forks import ForkHelper, JsonLog, fork, prepare, read_log, serve, start_together

__all__ = ["Workers", "read_log"]

JOBS = ("writer", "logger", "mover", "reader", "pruner")


class Workers(ForkHelper):
    """The test side: a helper process that forks workers on request."""

    def __init__(self) -> None:
        super().__init__("tests.reliability._workers")

    def batch(self, specs: list[dict[str, Any]], timeout: float) -> list[int | str]:
        """Fork one worker per spec, kill those with ``kill_at``, reap all. Exit codes in
        order (-9 when killed), or "timeout" for a worker still alive after ``timeout``
        seconds (it is killed then)."""
        codes: list[int | str] = self.ask({"cmd": "batch", "specs": specs, "timeout": timeout})
        return codes


# -- the workers (in a forked child) -------------------------------------------------------


class _Log(JsonLog):
    def __init__(self, path: str, worker: str) -> None:
        super().__init__(path)
        self._worker = worker

    def __call__(self, ev: str, **fields: Any) -> None:
        self.write({"ev": ev, "w": self._worker, "t": time.time(), **fields})


def open_board(spec: dict[str, Any]) -> Any:
    import pinyard

    url = spec["url"]
    if "://" in url:
        return pinyard.board(
            url, cache=pinyard.Cache(spec["cache"]), allow_pickle_read=True, **spec["options"]
        )
    return pinyard.board_folder(url, allow_pickle_read=True)  # workers read their pickles


class _Jobs:
    def __init__(self, spec: dict[str, Any]) -> None:
        import pinyard

        self.spec = spec
        self.worker = spec["worker"]
        self.log = _Log(spec["log"], self.worker)
        self.rng = random.Random(spec.get("seed"))
        self.board = open_board(spec)
        self.k = 0
        self._tracker: Any = None
        self._registry: Any = None
        self._pinyard = pinyard

    def tracker(self) -> Any:
        if self._tracker is None:
            self._tracker = self._pinyard.Tracker(self.board, self.spec["experiment"])
        return self._tracker

    def registry(self) -> Any:
        if self._registry is None:
            self._registry = self._pinyard.Registry(self.board, user=self.worker)
        return self._registry

    def writer(self) -> None:
        name = self.rng.choice(self.spec["pins"])
        pad = "x" * self.rng.randint(0, int(self.spec.get("pad", 0)))
        value = {"w": self.worker, "k": self.k, "pad": pad}
        self.log("begin", kind="pin", name=name, k=self.k, pad=len(pad))
        result = self.board.pin_write(value, name, type="json")
        self.log("commit", kind="pin", name=name, k=self.k, version=result.version,
                 hash=result.pin_hash, written=result.written)  # fmt: skip

    def logger(self) -> None:
        tracker = self.tracker()
        steps = int(self.spec.get("steps", 5))
        self.log("begin", kind="run", k=self.k)
        with tracker.start_run(params={"w": self.worker, "k": self.k}) as run:
            self.log("started", kind="run", k=self.k, run_id=run.run_id)
            for step in range(steps):
                run.log_metric("loss", float(self.k * 1000 + step), step=step)
            run.log_artifact(f"{self.worker}/{self.k}".encode(), name="who")
            run_id = run.run_id
        self.log("commit", kind="run", k=self.k, run_id=run_id, steps=steps)

    def mover(self) -> None:
        registry = self.registry()
        name, alias = self.spec["name"], self.spec["alias"]
        version = self.rng.choice(self.spec["versions"])
        reason = f"{self.worker}/{self.k}"
        self.log("begin", kind="alias", k=self.k, version=version, reason=reason)
        event = registry.set_alias(name, alias, version, reason=reason)
        self.log("commit", kind="alias", k=self.k, version=version, reason=reason,
                 id=event.id, seq=event.seq, mine=event.reason == reason)  # fmt: skip

    def reader(self) -> None:
        name = self.rng.choice(self.spec["pins"])
        meta = self.board.pin_meta(name)
        value = self.board.pin_read(name, version=meta.version)
        self.log("read", name=name, version=meta.version, writer=value.get("w"),
                 wk=value.get("k"), pad=len(value.get("pad", "")))  # fmt: skip

    def pruner(self) -> None:
        name = self.rng.choice(self.spec["pins"])
        deleted = self.board.pin_versions_prune(name, n=int(self.spec.get("keep", 3)))
        self.log("pruned", name=name, versions=deleted)


def work(spec: dict[str, Any]) -> None:
    from pinyard.errors import PinyardError

    jobs = _Jobs(spec)
    jobs.log("ready")
    job = spec["job"]
    weights = spec.get("weights") or {}
    names = [j for j in JOBS if weights.get(j)]
    started = start_together(spec)  # so that the workers race from the first call
    deadline = started + spec["seconds"] if "seconds" in spec else spec["deadline"]
    for k in range(int(spec.get("count", 10**9))):
        if time.time() > deadline:
            break
        jobs.k = k
        step = job if job != "mixed" else jobs.rng.choices(names, [weights[n] for n in names])[0]
        try:
            getattr(jobs, step)()
        except PinyardError as exc:
            if not spec.get("catch", False):
                raise
            jobs.log("error", step=step, k=k, type=type(exc).__name__, msg=str(exc)[:300])


# -- the helper process --------------------------------------------------------------------


def _prepare(protocol: str) -> None:
    prepare(protocol)
    import pandas  # noqa: F401 - tracker reads

    import pinyard.registry  # noqa: F401
    from pinyard.tracking._context import capture_context

    capture_context()  # git and package versions, once, inherited by every fork


def _batch(specs: list[dict[str, Any]], timeout: float) -> list[int | str]:
    started = time.monotonic()
    pids = [fork(spec, work) for spec in specs]
    # kill_at counts from the worker's "ready" line (its board is open), so that a
    # loaded machine does not turn the kills into kills of processes still starting
    armed: dict[int, float] = {}
    waiting = {
        pid: spec for spec, pid in zip(specs, pids, strict=True) if spec.get("kill_at") is not None
    }
    codes: dict[int, int | str] = {}
    deadline = started + timeout
    while len(codes) < len(pids):
        now = time.monotonic()
        for pid, spec in list(waiting.items()):
            try:
                ready = os.stat(spec["log"]).st_size > 0
            except FileNotFoundError:
                ready = False
            if ready:
                armed[pid] = now + float(spec["kill_at"])
                del waiting[pid]
        for pid, when in list(armed.items()):
            if when <= now:
                if pid not in codes:
                    os.kill(pid, signal.SIGKILL)
                del armed[pid]
        if now > deadline:
            for pid in pids:
                if pid not in codes:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    codes[pid] = "timeout"
            break
        for pid in pids:
            if pid not in codes:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    codes[pid] = os.waitstatus_to_exitcode(status)
        time.sleep(0.002)
    return [codes[pid] for pid in pids]


if __name__ == "__main__":
    serve({
        "prepare": lambda command: _prepare(command["protocol"]),
        "batch": lambda command: _batch(command["specs"], command["timeout"]),
    })  # fmt: skip
