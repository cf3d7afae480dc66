"""The retry classification of `pinyard.boards._retry`: which failures are transient
(retried with backoff), which are final (translated at once), and what each becomes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pinyard import errors
from pinyard.boards import _retry
from pinyard.boards._retry import _is_transient, retrying, translate


class ServerDisconnectedError(Exception):
    """Named as aiohttp's is: classified by its name."""


TRANSIENT = [
    TimeoutError("read timed out"),
    ConnectionResetError("connection reset by peer"),
    ConnectionRefusedError("refused"),
    OSError("An error occurred (500) when calling the PutObject operation"),
    OSError("503 Service Unavailable"),
    OSError("502 Bad Gateway"),
    OSError("504 Gateway Timeout"),
    RuntimeError("SlowDown: please reduce your request rate"),
    RuntimeError("Throttling: rate exceeded"),
    RuntimeError("InternalError: we encountered an internal error"),
    ServerDisconnectedError("Server disconnected"),
    ValueError("ClientPayloadError: response payload is not completed"),
]
FINAL = [
    PermissionError("Access Denied"),
    IsADirectoryError("is a directory"),
    NotADirectoryError("not a directory"),
    ValueError("Invalid bucket name"),
    RuntimeError("AccessDenied"),
    OSError("An error occurred (403) when calling the GetObject operation: Forbidden"),
    KeyError("x"),
]


@pytest.mark.parametrize("exc", TRANSIENT, ids=repr)
def test_transient_failures_are_retried(exc: BaseException) -> None:
    assert _is_transient(exc)


@pytest.mark.parametrize("exc", FINAL, ids=repr)
def test_final_failures_are_not_retried(exc: BaseException) -> None:
    assert not _is_transient(exc)


def test_signals_are_never_transient_even_when_their_text_looks_it() -> None:
    assert not _is_transient(FileNotFoundError("503 Connection reset"))
    assert not _is_transient(FileExistsError("500"))


def _calls(
    failures: list[BaseException], result: str = "ok"
) -> tuple[Callable[[], str], list[int]]:
    count = [0]

    def fn() -> str:
        count[0] += 1
        if failures:
            raise failures.pop(0)
        return result

    return fn, count


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry.time, "sleep", lambda s: None)


def test_transient_failures_are_retried_until_success() -> None:
    fn, count = _calls([TimeoutError("timed out"), OSError("503 Slow Down")])
    assert retrying("reading", fn, "s3://b/x") == "ok"
    assert count == [3]


def test_transient_failures_give_up_after_the_attempts_as_a_storage_error() -> None:
    fn, count = _calls([OSError("503 Service Unavailable")] * 10)
    with pytest.raises(errors.StorageError, match=r"reading failed at s3://b/x: 503") as info:
        retrying("reading", fn, "s3://b/x")
    assert count == [_retry.RETRY_ATTEMPTS]
    assert "network" in str(info.value)


def test_a_final_failure_is_translated_at_once() -> None:
    fn, count = _calls([PermissionError("Access Denied")])
    with pytest.raises(errors.StorageError, match="credentials"):
        retrying("writing", fn, "az://c/x")
    assert count == [1]


@pytest.mark.parametrize("signal", [FileNotFoundError("gone"), FileExistsError("taken")])
def test_signals_pass_through_untranslated(signal: BaseException) -> None:
    fn, count = _calls([signal])
    with pytest.raises(type(signal)):
        retrying("reading", fn, "gs://b/x")
    assert count == [1]


@pytest.mark.parametrize(
    ("text", "kind", "hint"),
    [
        ("NoSuchBucket: the bucket does not exist", errors.BoardNotFoundError, "does not exist"),
        ("ContainerNotFound", errors.BoardNotFoundError, "Create it first"),
        ("SignatureDoesNotMatch", errors.StorageError, "credentials"),
        ("403 Forbidden", errors.StorageError, "credentials"),
        ("404 bucket gone", errors.StorageError, "bucket or container exists"),
        ("something else", errors.StorageError, "network"),
    ],
)
def test_translation_names_the_operation_the_url_and_what_to_check(
    text: str, kind: type[Exception], hint: str
) -> None:
    found = translate(RuntimeError(text), "listing", "s3://bucket/board")
    assert type(found) is kind
    assert "listing failed at s3://bucket/board" in str(found)
    assert hint in str(found)
