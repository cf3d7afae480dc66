"""The web UI: a FastAPI app over one board, server-rendered, fully offline.

It reads everything through the public pinyard API; the only changes it makes are
registry events (set an alias, promote with a gate, roll back), each behind a confirm
step, refused when the page was stale, and absent with ``read_only=True``.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from pinyard.boards import Board
from pinyard.registry import Registry
from pinyard.ui._action_routes import add_action_routes
from pinyard.ui._api import add_api_routes
from pinyard.ui._html import CSS, error_box
from pinyard.ui._page_routes import add_page_routes
from pinyard.ui._site import Site

COOKIE = "pinyard_ui_token"


def create_ui_app(
    board: Board,
    *,
    token: str | None = None,
    read_only: bool = False,
    user: str | None = None,
) -> Any:
    """The UI for ``board``: pins, the registry, runs and lineage, as HTML pages and a
    small JSON API (``/api/...``, OpenAPI at ``/api/openapi.json``).

    With ``token``, every request needs it: as a bearer token, or once as ``?token=`` in
    the browser, which then keeps it in a cookie. Registry changes made through the UI
    are recorded under ``user`` (else ``PINYARD_USER``, else the login name of whoever
    runs the UI); ``read_only=True`` hides the forms and refuses every change.
    """
    app = FastAPI(title="pinyard UI", docs_url="/api/docs", openapi_url="/api/openapi.json")
    where = board.store.url
    acting = Registry(board, user=user).user
    app.state.acting = acting
    who = "read-only" if read_only else f"changes recorded as {acting}"
    #: The CSRF token of every form this app renders: a page of another site cannot
    #: read it, so it cannot post a change in the user's name. New each time the UI starts.
    csrf = secrets.token_urlsafe(32)
    site = Site(board, where, who, csrf, read_only, acting)

    @app.middleware("http")
    async def no_slash_in_names(
        request: Request, call_next: Callable[[Request], Awaitable[Any]]
    ) -> Any:
        """``/pins/a%2Fb`` would reach the version page of pin ``a`` once decoded: say
        instead that no name has a '/'."""
        raw = request.scope.get("raw_path") or b""
        if b"%2f" in raw.lower():
            segment = next(s for s in raw.split(b"/") if b"%2f" in s.lower())
            name = unquote(segment.decode("utf-8", "replace"))
            message = (
                f"{name!r} cannot be a name: pin, version, registry, experiment and run "
                "names never contain '/'"
            )
            if request.url.path.startswith("/api/"):
                return JSONResponse({"detail": message}, 400)
            return site.respond("Bad address", error_box(message), 400)
        return await call_next(request)

    if token is not None:

        @app.middleware("http")
        async def guard(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            given = (
                given or request.cookies.get(COOKIE, "") or request.query_params.get("token", "")
            )
            if not hmac.compare_digest(given.encode(), token.encode()):
                return Response("a token is required: open the link with ?token=...", 401)
            response = await call_next(request)
            if request.query_params.get("token"):
                response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
            return response

    @app.exception_handler(StarletteHTTPException)
    async def no_page(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/") or exc.status_code != 404:
            return JSONResponse({"detail": str(exc.detail)}, exc.status_code)
        path = request.url.path
        hint = (
            " A pin name cannot contain '/': a pin's page is /pins/NAME and a version's "
            "/pins/NAME/VERSION."
            if path.startswith("/pins/")
            else ""
        )
        body = error_box(f"there is no page at {path}.{hint}")
        return site.respond("Not found", body, 404)

    @app.get("/static/ui.css", include_in_schema=False)
    def css() -> Response:
        return Response(CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    add_page_routes(app, site)
    add_action_routes(app, site)
    add_api_routes(app, board)

    @app.get("/ping", include_in_schema=False)
    def ping() -> dict[str, str]:
        return {"status": "ok"}

    return app
