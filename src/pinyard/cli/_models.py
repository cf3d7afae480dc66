"""The model-serving commands: ``pinyard serve`` and ``pinyard docker``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

import pinyard
from pinyard.cli._common import add_board, board_url, open_board
from pinyard.cli._output import add_json_flag, emit
from pinyard.errors import InvalidArgumentError

TOKEN_ENV = "PINYARD_TOKEN"  # noqa: S105 - the name of a variable, not a secret
Add = Callable[[str, Callable[[argparse.Namespace], Any], str], Any]


def _resolve(board: pinyard.Board, args: argparse.Namespace, doing: str) -> str:
    """The explicit version; with --latest, the latest one, said out loud (``doing``: what
    the command does with exactly that one)."""
    if args.version and args.latest:
        raise InvalidArgumentError("give either --version V or --latest, not both")
    if args.version:
        return str(args.version)
    if not args.latest:
        raise InvalidArgumentError(
            f"say which version of {args.name!r} to serve: --version V (see `pinyard pins "
            f"versions {board_url(args)} {args.name}`), or --latest to take the newest one now"
        )
    version = board.pin_meta(args.name).version
    print(
        f"pinyard: --latest is version {version} of {args.name!r}; {doing} exactly that one",
        file=sys.stderr,
    )
    return version


def _choice(board: pinyard.Board, args: argparse.Namespace) -> dict[str, Any]:
    """The name, and version= / alias= / follow= for `serve`, from the flags (or from a
    reference in NAME: ``NAME@ALIAS`` is ``--alias ALIAS``, ``NAME:VERSION`` ``--version``)."""
    name, version, alias = args.name, args.version, args.alias
    given = [f"--{k}" for k in ("version", "latest", "alias", "follow") if getattr(args, k)]
    if "@" in name or ":" in name:
        from pinyard.registry import parse_reference

        ref = parse_reference(name)
        given.append(f"the reference {name!r}")
        name, alias = ref.name, ref.slot or alias
        version = ref.version or version
        if ref.hash is not None:
            version = pinyard.Registry(board).version_id(ref.name, ref.hash)
    if len(given) > 1:
        raise InvalidArgumentError(
            "give one way to choose what to serve: either --version V or --latest, or --alias "
            f"A (resolved once), or --follow A (kept up to date); not {' and '.join(given)}"
        )
    if args.interval is not None and not args.follow:
        raise InvalidArgumentError("--interval goes with --follow ALIAS")
    if args.follow:
        return {"name": name, "follow": args.follow, "interval": args.interval}
    if alias:
        return {"name": name, "alias": alias}
    if version or args.latest:
        args.name, args.version = name, version
        return {"name": name, "version": _resolve(board, args, "serving")}
    raise InvalidArgumentError(
        f"say which version of {name!r} to serve: --version V (see `pinyard pins versions "
        f"{board_url(args)} {name}`), --alias A for the version an alias or stage holds now, "
        "--follow A to follow it as it moves, or --latest to take the newest one now"
    )


def _cmd_serve(args: argparse.Namespace) -> None:
    from pinyard.serving import check_exposure, serve

    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV) or None
    check_exposure(args.host, token, args.no_auth)  # before loading anything
    board = open_board(args)
    serve(
        board,
        **_choice(board, args),
        host=args.host,
        port=args.port,
        token=token,
        no_auth=args.no_auth,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        strict=args.strict,
    )


def _cmd_docker(args: argparse.Namespace) -> None:
    from pinyard.serving import write_docker_files

    board = open_board(args)
    version = _resolve(board, args, "writing Docker files that serve")
    files = write_docker_files(board, args.name, version, args.out, port=args.port)
    doc = {
        "dockerfile": files.dockerfile,
        "requirements": files.requirements,
        "app": files.app,
        "wheel": files.wheel,
        "board": files.board or "set PINYARD_BOARD (a folder board: mount it, e.g. at /board)",
    }
    lines = [f"wrote the Docker context for {args.name}:{version} to {args.out}:"]
    lines += [f"  {key}: {value}" for key, value in doc.items()]
    emit(args, doc, "\n".join(lines))


def _version_args(cmd: Any, name_help: str = "pin name of the model bundle") -> None:
    add_board(cmd)
    cmd.add_argument("name", help=name_help)
    cmd.add_argument("--version", dest="version", default=None, help="the version id to serve")
    cmd.add_argument(
        "--latest", action="store_true", help="take the newest version now (it is logged)"
    )
    cmd.add_argument("--port", type=int, default=8080, help="port (default 8080)")


def add_model_commands(add: Add) -> None:
    """Register ``serve`` and ``docker``."""
    cmd = add("serve", _cmd_serve, "Serve a model bundle as a REST API: one version, or an alias.")
    _version_args(cmd, "pin name of the model bundle (or NAME@ALIAS, NAME:VERSION)")
    cmd.add_argument(
        "--alias",
        default=None,
        help="serve the version this alias or stage holds now (resolved once, logged)",
    )
    cmd.add_argument(
        "--follow",
        default=None,
        metavar="ALIAS",
        help="serve what this alias or stage holds, and swap to each new holder",
    )
    cmd.add_argument(
        "--interval",
        type=float,
        default=None,
        help="with --follow: seconds between checks of the alias (default 5)",
    )
    cmd.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    cmd.add_argument(
        "--token", default=None, help="bearer token clients must send (default: PINYARD_TOKEN)"
    )
    cmd.add_argument(
        "--no-auth",
        action="store_true",
        help="allow binding a non-loopback address without a token (a gateway guards it)",
    )
    cmd.add_argument(
        "--max-body-mb", type=float, default=32.0, help="largest request body (default 32)"
    )
    cmd.add_argument(
        "--strict", action="store_true", help="refuse to start if package versions differ"
    )
    cmd = add(
        "docker",
        _cmd_docker,
        "Write a Dockerfile, pinned requirements.txt and app.py serving one version.",
    )
    _version_args(cmd)
    add_json_flag(cmd)
    cmd.add_argument("--out", default="pinyard-docker", help="output folder")
