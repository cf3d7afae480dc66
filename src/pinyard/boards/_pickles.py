"""Whether a board may unpickle: pins-python's rule, argument and environment variable.

pins refuses to read a ``joblib`` pin unless the board was made with
``allow_pickle_read=True`` or, when that argument is left out (None), the
environment variable ``PINS_ALLOW_PICKLE_READ`` is an integer other than 0
(read at each read; anything not an integer is an error). pinyard follows
the same rule, so switching from pins never turns unpickling on.
"""

from __future__ import annotations

import os

from pinyard.errors import InsecureReadError, InvalidArgumentError

PICKLE_ENV = "PINS_ALLOW_PICKLE_READ"
BOARD_ARGUMENT = (
    "allow_pickle_read=True when opening the board (pinyard.board_folder(path, "
    "allow_pickle_read=True), pinyard.board(url, allow_pickle_read=True), ...)"
)


def check_flag(allow_pickle_read: object) -> bool | None:
    """The ``allow_pickle_read`` a board constructor was given, if it is True, False or
    None (None: the environment variable decides)."""
    if allow_pickle_read is None or isinstance(allow_pickle_read, bool):
        return allow_pickle_read
    raise InvalidArgumentError(
        f"allow_pickle_read must be True, False or None (then {PICKLE_ENV} decides), "
        f"got {allow_pickle_read!r}"
    )


def pickle_read_allowed(allow_pickle_read: bool | None) -> bool:
    """The board's argument when given, else ``PINS_ALLOW_PICKLE_READ`` (default 0)."""
    if allow_pickle_read is not None:
        return allow_pickle_read
    value = os.environ.get(PICKLE_ENV, "0")
    try:
        return bool(int(value))
    except ValueError:
        raise InvalidArgumentError(
            f"{PICKLE_ENV} must be '0' or '1', but was set to {value!r}"
        ) from None


def refusal(name: str, pin_type: str, where: str, how: str = "") -> InsecureReadError:
    """The error for a refused pickle read, naming what to pass to allow it (``how``:
    the argument as the caller types it; default, the board constructors')."""
    how = how or BOARD_ARGUMENT
    return InsecureReadError(
        f"pin {name!r} on {where} is of type {pin_type!r}: reading it unpickles it, which "
        "runs code chosen by whoever wrote it, so pinyard (like pins) does not by default. "
        f"If you trust this board's writers, pass {how}, or set {PICKLE_ENV}=1.",
        pin=name,
        pin_type=pin_type,
    )
