"""What runs after an event commits: a callable, a command, or an HTTP POST.

Hooks run in a background thread, one after another, each with a time
limit. A hook that fails is logged; it never undoes, delays or fails the
event, which is already committed when hooks start.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shlex
import subprocess
import threading
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from pinyard.errors import InvalidArgumentError
from pinyard.registry._events import Event

log = logging.getLogger("pinyard.registry")

#: Called with the committed event (and nothing it returns is used).
EventHook = Callable[[Event], object]


def event_json(event: Event, board_url: str) -> bytes:
    """What command and HTTP hooks receive: the event as JSON, with the board's URL."""
    return json.dumps({"board": board_url, **event.as_dict()}, sort_keys=True).encode()


@dataclass(frozen=True)
class CommandHook:
    """Run ``command`` (a list, or a string split like a shell does) with the event as
    JSON on standard input and ``PINYARD_EVENT_*`` variables (NAME, OP, SLOT, VERSION,
    SEQ) in its environment."""

    command: str | Sequence[str]
    timeout: float = 60.0
    board_url: str = ""

    def __call__(self, event: Event) -> None:
        argv = shlex.split(self.command) if isinstance(self.command, str) else list(self.command)
        env = {**os.environ, **_event_env(event)}
        subprocess.run(argv, input=event_json(event, self.board_url), env=env,
                       timeout=self.timeout, check=True, capture_output=True)  # fmt: skip


@dataclass(frozen=True)
class HttpHook:
    """POST the event as JSON to ``url`` (with ``headers``, e.g. a token)."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    board_url: str = ""

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise InvalidArgumentError(f"an HTTP hook needs an http(s):// URL, got {self.url!r}")

    def __call__(self, event: Event) -> None:
        request = urllib.request.Request(  # noqa: S310 - http(s) only (checked when built)
            self.url,
            data=event_json(event, self.board_url),
            headers={"Content-Type": "application/json", **self.headers},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
            answer.read()


def run_hooks(hooks: Sequence[EventHook], event: Event, board_url: str) -> threading.Thread:
    """Start a thread that calls each hook in turn; returns it (tests may join it)."""

    def call_all() -> None:
        for hook in hooks:
            try:
                _with_board(hook, board_url)(event)
            except Exception as exc:  # a hook must never fail the event
                log.warning("registry hook %r failed for event %s of %r: %s",
                            hook, event.seq, event.name, exc)  # fmt: skip

    thread = threading.Thread(target=call_all, name=f"pinyard-hooks-{event.name}-{event.seq}")
    thread.start()
    return thread


def _with_board(hook: EventHook, board_url: str) -> EventHook:
    """A command or HTTP hook built without ``board_url`` names the board it runs for."""
    if isinstance(hook, CommandHook | HttpHook) and not hook.board_url:
        return dataclasses.replace(hook, board_url=board_url)
    return hook


def _event_env(event: Event) -> dict[str, str]:
    values = {
        "NAME": event.name,
        "OP": event.op,
        "SLOT": event.slot or "",
        "VERSION": event.version or "",
        "SEQ": str(event.seq),
        "ACTOR": event.actor,
    }
    return {f"PINYARD_EVENT_{k}": v for k, v in values.items()}
