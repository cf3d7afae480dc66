"""What every route of the UI shares: the board, the banner, the CSRF token, and how a
page (or a failure) becomes an HTML response."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi.responses import HTMLResponse

from pinyard.boards import Board
from pinyard.errors import (
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PinyardError,
    PromotionRefusedError,
)
from pinyard.ui._html import error_box, page


@dataclass(frozen=True)
class Site:
    """One UI's board and settings, as its routes need them."""

    board: Board
    #: The board's URL, shown on every page.
    where: str
    #: Who changes are recorded as, or "read-only", shown on every page.
    who: str
    #: The CSRF token of every form this app renders (see `create_ui_app`).
    csrf: str
    read_only: bool
    #: The user registry events made through the UI are recorded under.
    acting: str

    def respond(self, title: str, body: str, status: int = 200) -> HTMLResponse:
        """``body`` as a whole page."""
        return HTMLResponse(page(title, self.where, body, self.who), status_code=status)

    def html(self, title: str, render: Callable[[], str]) -> HTMLResponse:
        """The page ``render`` makes, or the error it raised in a box (with its status)."""
        try:
            body, status = render(), 200
        except PinyardError as exc:
            body, status = error_box(str(exc)), status_for(exc)
        return self.respond(title, body, status)

    def refusal(self, status: int, message: str) -> HTMLResponse:
        return self.respond("Refused", error_box(message), status)


def status_for(exc: PinyardError) -> int:
    """The HTTP status of a page that failed with ``exc``."""
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, InvalidArgumentError):
        return 400
    if isinstance(exc, ConflictError | PromotionRefusedError):
        return 409
    return 500
