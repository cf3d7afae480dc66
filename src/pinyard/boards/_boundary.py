"""The one boundary where operating-system errors become `pinyard.errors`.

Stores raise what the OS or the client library raises (remote stores
already translate through `_retry.translate`); the public classes that sit
on a board — `Board`, the tracker, the registry — wrap their public methods
with `guarded`, so an ``OSError`` from any depth reaches the user as a
`StorageError` naming the board, what was being done, and what to check,
never as a raw error naming an internal staging path.
"""

from __future__ import annotations

import errno
import functools
import inspect
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from pinyard.errors import PinyardError, StorageError

_C = TypeVar("_C", bound=type)
_F = TypeVar("_F", bound=Callable[..., Any])

_HINTS = {
    errno.EACCES: "this user may not read or write there: check the folder's owner and mode",
    errno.EPERM: "this user may not read or write there: check the folder's owner and mode",
    errno.EROFS: "the file system is mounted read-only: open a board you can write to",
    errno.ENOSPC: "the disk is full: free space (pinyard gc and pin_versions_prune help)",
    errno.EDQUOT: "the disk quota is used up: free space",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the board's path",
    errno.EISDIR: "a folder is where a file was expected: the board was changed by hand",
}


def storage_error(exc: OSError, doing: str, where: str) -> StorageError:
    """A `StorageError` for ``exc``: the board, the operation, the cause and what to do."""
    cause = exc.strerror or str(exc) or type(exc).__name__
    hint = _HINTS.get(exc.errno or -1, "check the board's path and the storage it is on")
    path = _shown(exc.filename, where)
    return StorageError(f"{doing} on {where} failed: {cause}{path}; {hint}")


def _shown(filename: object, where: str) -> str:
    """The object's path for a message: inside the board relative to it, with staging
    and temporary files named as such rather than by their random names."""
    if not isinstance(filename, str):
        return ""
    root = where.removeprefix("file://")
    relative = os.path.relpath(filename, root) if filename.startswith(root) else filename
    if (
        relative.startswith("staging")
        or relative.endswith(".tmp")
        or "pinyard-staging" in relative
    ):
        return " (while staging a write)"
    return f" ({relative})"


def guarded(where: Callable[[Any], str]) -> Callable[[_C], _C]:
    """Class decorator: every public method translates ``OSError`` at this boundary.

    ``where(self)`` names the board for the message. Errors pinyard raised on
    purpose pass unchanged.
    """

    def decorate(cls: _C) -> _C:
        for name, member in list(vars(cls).items()):
            if name.startswith("_") or not inspect.isfunction(member):
                continue
            setattr(cls, name, _wrap(member, where))
        return cls

    return decorate


def _wrap(fn: _F, where: Callable[[Any], str]) -> _F:
    doing = fn.__name__
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from fn(self, *args, **kwargs)
            except PinyardError:
                raise
            except OSError as exc:
                raise storage_error(exc, doing, where(self)) from exc

        return generator  # type: ignore[return-value]

    @functools.wraps(fn)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except PinyardError:
            raise
        except OSError as exc:
            raise storage_error(exc, doing, where(self)) from exc

    return method  # type: ignore[return-value]


def guarded_function(where: Callable[..., str]) -> Callable[[_F], _F]:
    """The same translation for a module-level function (the board constructors)."""

    def decorate(fn: _F) -> _F:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except PinyardError:
                raise
            except OSError as exc:
                raise storage_error(exc, f"opening a board ({fn.__name__})",
                                    where(*args, **kwargs)) from exc  # fmt: skip

        return call  # type: ignore[return-value]

    return decorate
