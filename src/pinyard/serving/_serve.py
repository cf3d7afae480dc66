"""`serve`: run the app for one version with uvicorn, refusing to expose it unguarded."""

from __future__ import annotations

import ipaddress
import logging
import os
from typing import TYPE_CHECKING

from pinyard.errors import InvalidArgumentError

if TYPE_CHECKING:
    from pinyard.boards import Board

log = logging.getLogger("pinyard.serving")

TOKEN_ENV = "PINYARD_TOKEN"  # noqa: S105 - the name of a variable, not a secret


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: only this machine can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None, no_auth: bool) -> None:
    """Refuse to listen beyond this machine without a token unless ``no_auth`` says so."""
    if token is not None and not token.strip():
        raise InvalidArgumentError(f"the token is empty; set a real secret in {TOKEN_ENV}")
    if token or no_auth or is_loopback(host):
        return
    raise InvalidArgumentError(
        f"refusing to serve on {host} without a token: anyone who can reach it could call "
        f"the model. Set a bearer token (--token or {TOKEN_ENV}), or pass --no-auth if "
        "something in front of it (a gateway, a private network) already guards it"
    )


def serve(
    board: Board | str,
    name: str,
    version: str | None = None,
    *,
    alias: str | None = None,
    follow: str | None = None,
    interval: float | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str | None = None,
    no_auth: bool = False,
    sha256: str | None = None,
    max_body_bytes: int | None = None,
    strict: bool = False,
    allow_pickle_read: bool | None = None,
) -> None:
    """Serve ``name`` from ``board`` (a Board or a URL) until stopped: exactly ``version``,
    the version ``alias`` holds now, or whatever ``follow`` holds as it moves (checked
    every ``interval`` seconds); see `create_app`.

    ``token`` defaults to the ``PINYARD_TOKEN`` environment variable. Binding
    anything but a loopback address needs a token, or ``no_auth=True``. What
    it pins and every swap are logged to stderr.
    Loading the model unpickles it: a board opened from a URL here gets
    ``allow_pickle_read`` (as pins: None leaves it to ``PINS_ALLOW_PICKLE_READ``);
    a Board passed in must allow it itself.
    """
    import uvicorn

    from pinyard.boards import board as open_board
    from pinyard.serving._app import DEFAULT_MAX_BODY_BYTES, create_app
    from pinyard.serving._follow import DEFAULT_INTERVAL

    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    check_exposure(host, token, no_auth)
    log_to_stderr()
    opened = (
        open_board(board, create=False, allow_pickle_read=allow_pickle_read)
        if isinstance(board, str)
        else board
    )
    app = create_app(
        opened,
        name,
        version,
        alias=alias,
        follow=follow,
        interval=DEFAULT_INTERVAL if interval is None else interval,
        sha256=sha256,
        token=token,
        max_body_bytes=DEFAULT_MAX_BODY_BYTES if max_body_bytes is None else max_body_bytes,
        strict=strict,
    )
    auth = "bearer token required" if token else "no authentication"
    what = f"following {name}@{follow}" if follow else f"{name}@{app.version}"
    log.warning("serving %s on http://%s:%d (%s)", what, host, port, auth)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)


def log_to_stderr() -> None:
    """Send pinyard's serving log (what was pinned, each swap, each failed check) to
    stderr, unless the application has configured logging itself."""
    logger = logging.getLogger("pinyard")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s pinyard %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
