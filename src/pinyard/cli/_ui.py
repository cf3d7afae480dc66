"""``pinyard ui``: the web UI over one board, on this machine unless a token guards it."""

from __future__ import annotations

import argparse
import logging
import os
import secrets

import pinyard
from pinyard.cli._models import Add
from pinyard.errors import InvalidArgumentError

TOKEN_ENV = "PINYARD_UI_TOKEN"  # noqa: S105 - the name of a variable, not a secret
log = logging.getLogger("pinyard.ui")


def _cmd_ui(args: argparse.Namespace) -> None:
    import uvicorn

    from pinyard.serving import is_loopback
    from pinyard.ui import create_ui_app

    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV) or None
    if token is not None and not token.strip():
        raise InvalidArgumentError(f"the token is empty; set a real secret in {TOKEN_ENV}")
    if not is_loopback(args.host) and token is None:
        raise InvalidArgumentError(
            f"refusing to show {args.board} on {args.host} without a token: anyone who can "
            f"reach it could read the board. Pass --token (or set {TOKEN_ENV}); "
            f"for example --token {secrets.token_urlsafe(16)}"
        )
    board = pinyard.board(args.board, create=False)
    app = create_ui_app(board, token=token, read_only=args.read_only, user=args.user)
    suffix = "?token=..." if token else ""
    mode = "read-only" if args.read_only else "changes recorded as " + app.state.acting
    log.warning(
        "pinyard: UI for %s on http://%s:%d/%s (%s)",
        args.board, args.host, args.port, suffix, mode,
    )  # fmt: skip
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


def add_ui_command(add: Add) -> None:
    """Register ``ui``."""
    cmd = add(
        "ui",
        _cmd_ui,
        "Browse a board's pins, registry, runs and lineage in a web browser; set aliases, "
        "promote and roll back (unless --read-only).",
    )
    cmd.add_argument("--board", required=True, help="board path or URL")
    cmd.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    cmd.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    cmd.add_argument(
        "--token", default=None, help=f"required to bind beyond this machine (or {TOKEN_ENV})"
    )
    cmd.add_argument(
        "--read-only",
        action="store_true",
        help="show the board only: no forms, and every change is refused",
    )
    cmd.add_argument(
        "--user",
        default=None,
        help="the name registry changes made in the UI are recorded under (default: "
        "PINYARD_USER, else your login name)",
    )
