"""Retries for transient storage failures, and one translation of backend errors.

Transient failures (5xx, throttling, timeouts, resets) are retried with
exponential backoff and jitter, on top of the client library's own retries.
Anything else becomes a `StorageError` (or `BoardNotFoundError` for a missing
bucket or container) that names the operation, the URL and what to check.
``FileNotFoundError`` and ``FileExistsError`` pass through untouched: they are
signals the board handles (an absent object, a lost race).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from pinyard.errors import BoardNotFoundError, StorageError

RETRY_ATTEMPTS = 4
RETRY_BASE_DELAY = 0.2

_T = TypeVar("_T")
#: Signals the board itself handles (absent object, lost race); never retried.
_SIGNALS = (FileNotFoundError, FileExistsError)
_NOT_TRANSIENT = (*_SIGNALS, PermissionError, IsADirectoryError, NotADirectoryError)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, _NOT_TRANSIENT):
        return False
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    text = f"{type(exc).__name__} {exc}"
    markers = ("500", "502", "503", "504", "Timeout", "timed out", "Connection", "reset",
               "ServerDisconnected", "ClientPayloadError", "ServiceUnavailable", "InternalError",
               "SlowDown", "Throttl")  # fmt: skip
    return any(m in text for m in markers)


def retrying(what: str, fn: Callable[[], _T], url: str) -> _T:
    """Run ``fn``, retrying transient failures with exponential backoff and jitter."""
    for attempt in range(RETRY_ATTEMPTS):
        try:
            return fn()
        except _SIGNALS:
            raise
        except Exception as exc:
            if not _is_transient(exc) or attempt == RETRY_ATTEMPTS - 1:
                raise translate(exc, what, url) from exc
            time.sleep(RETRY_BASE_DELAY * 2**attempt * (0.5 + random.random()))  # noqa: S311
    raise AssertionError("unreachable")  # pragma: no cover


def translate(exc: BaseException, what: str, url: str) -> StorageError | BoardNotFoundError:
    """One clear error for a backend failure: what was done, where, and what to check."""
    text = str(exc) or type(exc).__name__
    if any(m in text for m in ("NoSuchBucket", "ContainerNotFound", "BucketNotFound")):
        return BoardNotFoundError(
            f"{what} failed at {url}: the bucket or container does not exist (or these "
            "credentials cannot see it). Create it first, or check the name."
        )
    hint = "check the URL, your network and the service's status"
    lowered = text.lower()
    if isinstance(exc, PermissionError) or any(
        m in lowered for m in ("accessdenied", "forbidden", "403", "authorization", "signature")
    ):
        hint = "check your credentials and that they allow this operation on this path"
    elif any(m in lowered for m in ("nosuchbucket", "containernotfound", "bucket", "404")):
        hint = "check that the bucket or container exists and is spelled right"
    return StorageError(f"{what} failed at {url}: {text} ({hint})")
