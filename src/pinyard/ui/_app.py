"""The web UI: a read-mostly FastAPI app over one board, server-rendered, fully offline."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from pinyard.boards import Board
from pinyard.errors import InvalidArgumentError, NotFoundError, PinyardError
from pinyard.registry import Registry
from pinyard.tracking import Tracker
from pinyard.ui import _pins_pages as pins_pages
from pinyard.ui import _runs_pages as runs_pages
from pinyard.ui._html import CSS, error_box, page

COOKIE = "pinyard_ui_token"


def create_ui_app(board: Board, *, token: str | None = None) -> Any:  # noqa: PLR0915 - routes
    """The UI for ``board``: pins, the registry and the runs, as HTML pages and a small
    JSON API (``/api/...``). With ``token``, every request needs it: as a bearer token,
    or once as ``?token=`` in the browser, which then keeps it in a cookie."""
    app = FastAPI(title="pinyard UI", docs_url="/api/docs", openapi_url="/api/openapi.json")
    where = board.store.url

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

    def html(title: str, render: Callable[[], str]) -> HTMLResponse:
        try:
            body, status = render(), 200
        except NotFoundError as exc:
            body, status = error_box(str(exc)), 404
        except InvalidArgumentError as exc:
            body, status = error_box(str(exc)), 400
        except PinyardError as exc:
            body, status = error_box(str(exc)), 500
        return HTMLResponse(page(title, where, body), status_code=status)

    @app.get("/static/ui.css", include_in_schema=False)
    def css() -> Response:
        return Response(CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def pins(q: str | None = None) -> HTMLResponse:
        return html("Pins", lambda: pins_pages.pins_list(board, q))

    @app.get("/pins/{name}", response_class=HTMLResponse, include_in_schema=False)
    def versions(name: str, verify: str | None = None) -> HTMLResponse:
        return html(f"Pin {name}", lambda: pins_pages.versions_page(board, name, verify))

    @app.get("/pins/{name}/{version}", response_class=HTMLResponse, include_in_schema=False)
    def version(name: str, version: str) -> HTMLResponse:
        return html(f"{name} {version}", lambda: pins_pages.version_page(board, name, version))

    @app.get("/registry", response_class=HTMLResponse, include_in_schema=False)
    def registry() -> HTMLResponse:
        return html("Registry", lambda: pins_pages.registry_list(board))

    @app.get("/registry/{name}", response_class=HTMLResponse, include_in_schema=False)
    def registry_name(name: str) -> HTMLResponse:
        return html(f"Registry: {name}", lambda: pins_pages.registry_page(board, name))

    @app.get("/runs", response_class=HTMLResponse, include_in_schema=False)
    def experiments() -> HTMLResponse:
        return html("Runs", lambda: runs_pages.experiments_page(board))

    @app.get("/runs/{experiment}", response_class=HTMLResponse, include_in_schema=False)
    def runs(
        experiment: str,
        where: str | None = None,
        sort: str | None = None,
        desc: str | None = None,
        page: int = 1,
        x: str | None = None,
        y: str | None = None,
    ) -> HTMLResponse:
        return html(
            f"Runs: {experiment}",
            lambda: runs_pages.runs_page(
                board,
                experiment,
                where=where,
                sort=sort,
                descending=bool(desc),
                page=page,
                x=x,
                y=y,
            ),
        )

    @app.get("/runs/{experiment}/compare", response_class=HTMLResponse, include_in_schema=False)
    def compare(experiment: str, request: Request, key: str | None = None) -> HTMLResponse:
        ids = [r for item in request.query_params.getlist("run") for r in item.split(",") if r]
        return html(
            f"Compare: {experiment}", lambda: runs_pages.compare_page(board, experiment, ids, key)
        )

    @app.get("/runs/{experiment}/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def run_view(experiment: str, run_id: str, key: str | None = None) -> HTMLResponse:
        return html(f"Run {run_id}", lambda: runs_pages.run_page(board, experiment, run_id, key))

    # -- JSON ------------------------------------------------------------------

    def api(render: Callable[[], Any]) -> JSONResponse:
        try:
            return JSONResponse(render())
        except NotFoundError as exc:
            return JSONResponse({"detail": str(exc)}, 404)
        except InvalidArgumentError as exc:
            return JSONResponse({"detail": str(exc)}, 400)
        except PinyardError as exc:
            return JSONResponse({"detail": str(exc)}, 500)

    @app.get("/api/pins")
    def api_pins() -> JSONResponse:
        """The names of the board's pins."""
        return api(board.pin_list)

    @app.get("/api/pins/{name}")
    def api_versions(name: str) -> JSONResponse:
        """A pin's versions, oldest first."""
        return api(
            lambda: [
                {"version": i.version, "created": i.created.isoformat(), "hash": i.hash}
                for i in board.pin_versions(name, as_df=False)
            ]
        )

    @app.get("/api/registry/{name}")
    def api_registry(name: str) -> JSONResponse:
        """A name's aliases and stages now, and its events."""

        def render() -> dict[str, Any]:
            reg = Registry(board)
            state = reg.state(name)
            return {
                "aliases": state.aliases,
                "stages": state.stage_holders(),
                "events": [e.as_dict() for e in reg.history(name)],
            }

        return api(render)

    @app.get("/api/runs/{experiment}")
    def api_runs(experiment: str, where: str | None = None, page: int = 1) -> JSONResponse:
        """One page (100 runs) of an experiment's runs, optionally filtered."""

        def render() -> dict[str, Any]:
            tracker = Tracker(board, experiment)
            frame = tracker.search(where) if where else tracker.runs()
            start = (max(page, 1) - 1) * runs_pages.PAGE_ROWS
            shown = frame.iloc[start : start + runs_pages.PAGE_ROWS]
            rows = shown.to_json(orient="records", date_format="iso")
            import json

            return {"total": len(frame), "page": max(page, 1), "runs": json.loads(rows)}

        return api(render)

    @app.get("/ping", include_in_schema=False)
    def ping() -> dict[str, str]:
        return {"status": "ok"}

    return app
