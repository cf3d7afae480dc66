"""API error messages in a command-line user's words.

The library's messages name Python calls (``pass create=True``,
``pin_download('x')``); a CLI user needs the command or flag instead. Every
error the CLI prints goes through `cli_words` (in `pinyard.cli._main`), so a new
Python spelling needs one line here. ``{board}`` is the board as the user gave it.
"""

from __future__ import annotations

import re
import shlex

_CLI_WORDS = (
    # registry
    (r"use transition\('([^']*)', version, to='([^']*)'\)",
     r"use `pinyard registry transition {board} \1 VERSION \2`"),
    (r"use transition\(\)", "use `pinyard registry transition`"),
    (r"registry\.configure", "`pinyard registry configure`"),
    (r"see registry\.state\('([^']*)'\)\.archived", r"see `pinyard registry history {board} \1`"),
    (r"registry\.set_alias or registry\.transition",
     "`pinyard registry set-alias` or `pinyard registry transition`"),
    (r"[Pp]ass force=True", "Pass --force"),
    (r"\bforce=True", "--force"),
    (r"pass reason='\.\.\.'", "pass --reason '...'"),
    # boards
    (r"see pin_versions\('([^']*)'\)", r"see `pinyard pins versions {board} \1`"),
    (r"pass create=True to \w+\(\) to make", "pass --create to make"),
    (r"\(pass create=True to make one\)",
     "(check the path or URL; `pinyard pins write --create` makes a new board)"),
    (r"use pin_download\('([^']*)'\) to get\s+its files",
     r"use `pinyard pins download {board} \1` to get its files"),
    (r"Use pin_download\('([^']*)'\) to get them",
     r"Use `pinyard pins download {board} \1` to get them"),
    (r"delete the pin with\s+pin_delete\('([^']*)'\) or write a newer version first",
     "write a newer version first (the latest version is never deleted)"),
    (r"first pin_versions_prune\('([^']*)', n=1\) \(or pin_delete it\)",
     r"first `pinyard pins prune {board} \1 --keep 1`"),
    (r"pass force_identical_write=True", "pass --force-identical"),
    (r"use type='([a-z]+)'", r"use --type \1"),
    (r"use type=([a-z]+)", r"use --type \1"),
    (r"Import it\s+with pinyard import-pins", "Import it with `pinyard import-pins`"),
    # tracking
    (r"as\s+run\.run_id and tracker\.runs\(\) give it", "as `pinyard runs list` shows it"),
)  # fmt: skip


def cli_words(message: str, board: str | None) -> str:
    """An API error message as a CLI user should read it."""
    where = shlex.quote(board) if board else "BOARD"
    for python, cli in _CLI_WORDS:
        message = re.sub(python, cli.replace("{board}", where), message)
    return message
