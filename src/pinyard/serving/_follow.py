"""`Follower`: keep a server on whatever version holds an alias (or stage) now.

Every ``interval`` seconds, in a thread of its own, it resolves
``name@alias`` through the registry (which checks the chain and the digests
the event recorded). When the holder changed it loads the new one with its
model file pinned to the recorded sha256, checks that it accepts every
request the served one does (`check_compatible`), builds its endpoints, and
only then replaces `Current.served`: one reference, so requests never see a
half-made model. Anything that goes wrong keeps the old model serving; the
error is logged once and shown in ``/metadata`` (and ``/ping`` says
``degraded``) until a check succeeds again.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pinyard.errors import IntegrityError, InvalidArgumentError, PinyardError
from pinyard.models import ModelBundle
from pinyard.registry import Registry, Resolved
from pinyard.serving._compat import check_compatible
from pinyard.serving._served import Current, Served

if TYPE_CHECKING:
    from pinyard.boards import Board

log = logging.getLogger("pinyard.serving")

DEFAULT_INTERVAL = 5.0

#: builds the `Served` for a loaded bundle and how the registry named it
Build = Callable[[ModelBundle, Resolved], Served]


def check_interval(interval: object) -> float:
    """A positive number of seconds, or `InvalidArgumentError`."""
    if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
        raise InvalidArgumentError(
            f"interval must be a positive number of seconds (for example 5), got {interval!r}"
        )
    return float(interval)


def resolve_slot(board: Board, name: str, slot: str) -> Resolved:
    """``name@slot`` through the registry, its chain and recorded digests checked."""
    return Registry(board).resolve(f"{name}@{slot}")


def load_resolved(board: Board, resolved: Resolved, *, strict: bool = False) -> ModelBundle:
    """The bundle a registry reference resolved to, its bytes checked against the event.

    The model file must have the sha256 the event recorded (checked before it
    is unpickled), and the version's ``data.txt`` must still have the recorded
    digest after the load, so the signature read is the one the event names.
    """
    recorded = set(resolved.files.values())
    expected = next(iter(recorded)) if len(recorded) == 1 else None
    bundle = ModelBundle.from_pin(
        board, resolved.name, resolved.version, strict=strict, sha256=expected
    )
    if bundle.sha256 not in recorded:
        raise IntegrityError(
            f"{resolved}: the model file's sha256 {bundle.sha256} is not one the registry "
            "recorded; run `pinyard registry verify` and restore the version"
        )
    actual = board.meta_sha256(resolved.name, resolved.version)
    if actual != resolved.meta_sha256:
        raise IntegrityError(
            f"{resolved}: its data.txt changed while it was loaded (sha256 {actual}, the "
            f"event recorded {resolved.meta_sha256}); run `pinyard registry verify`"
        )
    return bundle


class Follower:
    """Checks ``name@slot`` every ``interval`` seconds and swaps `Current.served` to each
    new holder that loads, verifies and is compatible with ``signature``/``methods``."""

    def __init__(
        self,
        board: Board,
        current: Current,
        build: Build,
        *,
        slot: str,
        interval: float = DEFAULT_INTERVAL,
        strict: bool = False,
        methods: Sequence[str],
    ) -> None:
        served = current.served
        assert served.resolved is not None
        self.board = board
        self.current = current
        self.build = build
        self.name = served.resolved.name
        self.slot = slot
        self.reference = f"{self.name}@{slot}"
        self.interval = check_interval(interval)
        self.strict = strict
        self.methods = tuple(methods)
        self.last_check: datetime | None = None
        self.last_swap: datetime | None = None
        self.swaps = 0
        self.error: str | None = None
        self._previous: Served | None = None
        self._refused: tuple[str, str, str] | None = None  # version, meta sha256, why
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- running ------------------------------------------------------------

    def start(self) -> None:
        """Start checking in a daemon thread (once; later calls do nothing)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, name=f"pinyard-follow-{self.reference}", daemon=True
            )
            self._thread.start()
        log.info("following %s: checking every %gs", self.reference, self.interval)

    @property
    def started(self) -> bool:
        return self._thread is not None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop checking and wait for a check in progress to end."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()

    # -- one check ----------------------------------------------------------

    def check(self) -> bool:
        """Resolve the alias now and swap if its holder changed; True if it swapped.

        Never raises: a failure is logged, kept in `error` and the old model serves on.
        """
        with self._lock:
            try:
                return self._check()
            except Exception as exc:  # the server must outlive anything a check meets
                unexpected = None if isinstance(exc, PinyardError) else exc
                self._failed(f"{type(exc).__name__}: {exc}", unexpected)
                return False
            finally:
                self.last_check = datetime.now(UTC)

    def _check(self) -> bool:
        began = time.perf_counter()
        resolved = resolve_slot(self.board, self.name, self.slot)
        served = self.current.served
        if _same(served, resolved):
            if served.resolved != resolved:  # set again by a later event: name that one
                self.current.swap(dataclasses.replace(served, resolved=resolved))
            self._succeeded()
            return False
        key = (resolved.version, resolved.meta_sha256)
        if self._refused is not None and self._refused[:2] == key:
            self.error = self._refused[2]  # refused before, for a reason that stays
            return False
        previous = self._previous
        if previous is not None and _same(previous, resolved):
            new = dataclasses.replace(previous, resolved=resolved)  # verified when loaded
        else:
            try:
                bundle = load_resolved(self.board, resolved, strict=self.strict)
                what = f"version {resolved.version} of {self.name!r}"
                check_compatible(served.bundle.signature, self.methods, bundle.signature,
                                 bundle.methods, what)  # fmt: skip
            except OSError:
                raise  # storage trouble: try again at the next check
            except Exception as exc:
                why = f"refused {resolved} ({type(exc).__name__}): {exc}"
                self._refused = (*key, why)
                self._failed(why, None)
                return False
            new = self.build(bundle, resolved)
        self.current.swap(new)
        self._previous = served
        self.swaps += 1
        self.last_swap = datetime.now(UTC)
        self.error = None
        took = (time.perf_counter() - began) * 1000
        log.info("following %s: now serving %s; was version %s (checked, loaded and swapped "
                 "in %.0f ms)", self.reference, new.describe(), served.version, took)  # fmt: skip
        return True

    def _succeeded(self) -> None:
        if self.error is not None:
            log.info("following %s: checks succeed again; serving %s", self.reference,
                     self.current.served.describe())  # fmt: skip
        self.error = None

    def _failed(self, message: str, exc: BaseException | None) -> None:
        if message != self.error:  # once per distinct problem, not once per interval
            log.error("following %s: %s; still serving %s", self.reference, message,
                      self.current.served.describe(), exc_info=exc)  # fmt: skip
        self.error = message

    # -- reporting ----------------------------------------------------------

    @property
    def healthy(self) -> bool:
        """False while the last check failed or found a holder it refused."""
        return self.error is None

    def status(self) -> dict[str, Any]:
        """What ``/metadata`` says under ``registry`` for a following server."""
        served = self.current.served
        return {
            "reference": self.reference,
            "following": True,
            "seq": served.resolved.seq if served.resolved else None,
            "interval": self.interval,
            "status": "ok" if self.error is None else "degraded",
            "error": self.error,
            "last_check": _when(self.last_check),
            "last_swap": _when(self.last_swap),
            "swaps": self.swaps,
        }


def _same(served: Served, resolved: Resolved) -> bool:
    """Whether ``served`` is the version ``resolved`` names, with the recorded digests."""
    held = served.resolved
    return (
        served.version == resolved.version
        and held is not None
        and held.meta_sha256 == resolved.meta_sha256
        and served.sha256 in resolved.files.values()
    )


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="milliseconds")
