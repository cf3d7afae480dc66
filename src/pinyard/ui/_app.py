"""The web UI: a FastAPI app over one board, server-rendered, fully offline.

It reads everything through the public pinyard API; the only changes it makes are
registry events (set an alias, promote with a gate, roll back), each behind a confirm
step, refused when the page was stale, and absent with ``read_only=True``.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from pinyard.boards import Board
from pinyard.errors import (
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PinyardError,
    PromotionRefusedError,
)
from pinyard.registry import Registry
from pinyard.ui import _actions as actions
from pinyard.ui import _lineage_pages as lineage_pages
from pinyard.ui import _pins_pages as pins_pages
from pinyard.ui import _runs_pages as runs_pages
from pinyard.ui._html import CSS, error_box, page

COOKIE = "pinyard_ui_token"
#: The largest action form accepted (they are a few hundred bytes).
MAX_FORM_BYTES = 64 * 1024


class ErrorBody(BaseModel):
    """Why a request failed: names the wrong thing and what is right."""

    detail: str


class PinVersionBody(BaseModel):
    version: str
    created: str
    hash: str


class RegistryBody(BaseModel):
    aliases: dict[str, str]
    stages: dict[str, str]
    events: list[dict[str, Any]]


class RunsBody(BaseModel):
    total: int
    page: int
    runs: list[dict[str, Any]]


class LineageBody(BaseModel):
    name: str
    version: str
    meta_sha256: str
    files: dict[str, str]
    created: str
    holders: list[str]
    run_id: str | None
    experiment: str | None
    params: dict[str, Any]
    metrics: dict[str, Any]
    data: dict[str, Any]
    code_commit: str | None
    run_status: str | None


# What the JSON API's paths take, for its OpenAPI schema. Each pattern is the plain
# subset of what the server reads (so a request the schema allows is never refused as
# malformed); the server answers any other name too, with 400 naming the rule it breaks
# or 404. Documentation only: nothing is refused for not matching these.
_PIN = r"[A-Za-z0-9_-](?:[A-Za-z0-9 ._-]{0,61}[A-Za-z0-9._-])?"
PIN_NAME = Path(
    description="A pin name (the portable form: letters, digits, ' ', '.', '_', '-').",
    json_schema_extra={"pattern": f"^{_PIN}$", "not": {"enum": ["data.txt", "_pins.yaml"]}},
)
REFERENCE = Path(
    description="NAME (its latest version), NAME:VERSION, NAME@ALIAS or NAME@STAGE.",
    json_schema_extra={
        "pattern": rf"^{_PIN}(?:@[a-z][a-z0-9_-]{{0,62}}|:[0-9]{{8}}T[0-9]{{6}}Z-[0-9a-f]{{5}})?$",
        "not": {"enum": ["data.txt", "_pins.yaml"]},
    },
)
EXPERIMENT = Path(
    description="An experiment name.",
    json_schema_extra={"pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"},
)
WHERE = Query(
    None,
    description="A filter in the library's grammar, e.g. `params.alpha >= 1 and "
    "metrics.rmse < 2`; one that does not parse is a 400 with the parser's message. "
    "The pattern shows one comparison; and, or, not, in, like and parentheses work too.",
    json_schema_extra={
        "pattern": r"^(params|metrics)\.[a-z][a-z0-9_]{0,20} (<|<=|>|>=|=|!=) -?[0-9]{1,6}$"
    },
)

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "a malformed name, reference or filter"},
    404: {"model": ErrorBody, "description": "no such pin, version, name or experiment"},
}


def create_ui_app(  # noqa: PLR0915 - the routes
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
            return HTMLResponse(page("Bad address", where, error_box(message), who), 400)
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

    def html(title: str, render: Callable[[], str]) -> HTMLResponse:
        try:
            body, status = render(), 200
        except NotFoundError as exc:
            body, status = error_box(str(exc)), 404
        except InvalidArgumentError as exc:
            body, status = error_box(str(exc)), 400
        except (ConflictError, PromotionRefusedError) as exc:
            body, status = error_box(str(exc)), 409
        except PinyardError as exc:
            body, status = error_box(str(exc)), 500
        return HTMLResponse(page(title, where, body, who), status_code=status)

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
        return HTMLResponse(page("Not found", where, body, who), status_code=404)

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
    def registry_name(name: str, done: str | None = None) -> HTMLResponse:
        form_token = None if read_only else csrf
        return html(
            f"Registry: {name}", lambda: pins_pages.registry_page(board, name, form_token, done)
        )

    # -- changes: a confirm step, then the event -----------------------------------

    async def action_form(request: Request) -> dict[str, str] | Response:
        """The posted form, or the response refusing it (read-only, foreign, forged)."""
        if read_only:
            return refusal(403, "this UI is read-only (started with --read-only): it shows "
                           "the board and changes nothing")  # fmt: skip
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
            return refusal(403, f"refused a form posted from another site ({origin})")
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind != "application/x-www-form-urlencoded":
            return refusal(415, f"an action is a posted HTML form, not {kind or 'no body'}")
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return refusal(413, f"the form is larger than {MAX_FORM_BYTES} bytes")
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if not hmac.compare_digest(form.get("csrf", "").encode(), csrf.encode()):
            return refusal(
                403,
                "the form's CSRF token is missing or out of date (the UI was restarted, or "
                "the form came from elsewhere): reload the page",
            )
        return form

    def refusal(status: int, message: str) -> HTMLResponse:
        return HTMLResponse(page("Refused", where, error_box(message), who), status_code=status)

    @app.post("/registry/{name}/confirm", response_class=HTMLResponse, include_in_schema=False)
    async def confirm(name: str, request: Request) -> Response:
        form = await action_form(request)
        if isinstance(form, Response):
            return form
        registry = Registry(board, user=acting)

        def render() -> str:
            action = actions.Action.from_form(name, form)
            return actions.confirm_page(name, action, actions.resolve(registry, action), csrf)

        return html(f"Confirm: {name}", render)

    @app.post("/registry/{name}/apply", response_class=HTMLResponse, include_in_schema=False)
    async def apply(name: str, request: Request) -> Response:
        form = await action_form(request)
        if isinstance(form, Response):
            return form
        registry = Registry(board, user=acting)
        try:
            event = actions.apply(registry, actions.Action.from_form(name, form))
        except PinyardError as exc:
            status = (
                404 if isinstance(exc, NotFoundError)
                else 400 if isinstance(exc, InvalidArgumentError)
                else 409 if isinstance(exc, ConflictError | PromotionRefusedError)
                else 500
            )  # fmt: skip
            return HTMLResponse(
                page(
                    f"Not changed: {name}",
                    where,
                    actions.refused(name, actions.in_form_words(exc)),
                    who,
                ),
                status_code=status,
            )
        return RedirectResponse(f"/registry/{quote(name)}?done={event.seq}", status_code=303)

    # -- lineage -------------------------------------------------------------------

    @app.get("/lineage/data/{sha256}", response_class=HTMLResponse, include_in_schema=False)
    def data_lineage(sha256: str) -> HTMLResponse:
        return html(
            f"Runs on data {sha256[:12]}",
            lambda: lineage_pages.runs_by(board, "data_sha256", sha256),
        )

    @app.get("/lineage/commit/{commit}", response_class=HTMLResponse, include_in_schema=False)
    def commit_lineage(commit: str) -> HTMLResponse:
        return html(
            f"Runs at commit {commit[:12]}",
            lambda: lineage_pages.runs_by(board, "git_commit", commit),
        )

    @app.get("/lineage/{reference}", response_class=HTMLResponse, include_in_schema=False)
    def lineage(reference: str) -> HTMLResponse:
        return html(
            f"Lineage of {reference}", lambda: lineage_pages.lineage_page(board, reference)
        )

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

    @app.get("/api/pins", response_model=list[str])
    def api_pins() -> JSONResponse:
        """The names of the board's pins."""
        return api(board.pin_list)

    @app.get("/api/pins/{name}", response_model=list[PinVersionBody], responses=ERRORS)
    def api_versions(name: str = PIN_NAME) -> JSONResponse:
        """A pin's versions, oldest first."""
        return api(
            lambda: [
                {"version": i.version, "created": i.created.isoformat(), "hash": i.hash}
                for i in board.pin_versions(name, as_df=False)
            ]
        )

    @app.get("/api/registry/{name}", response_model=RegistryBody, responses=ERRORS)
    def api_registry(name: str = PIN_NAME) -> JSONResponse:
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

    @app.get("/api/lineage/{reference}", response_model=LineageBody, responses=ERRORS)
    def api_lineage(reference: str = REFERENCE) -> JSONResponse:
        """Where ``name:VERSION``, ``name@alias`` or ``name@stage`` came from: its digests,
        what holds it, the run that made it, the run's params, metrics, data and commit."""
        return api(lambda: Registry(board).lineage(reference).as_dict())

    @app.get("/api/runs/{experiment}", response_model=RunsBody, responses=ERRORS)
    def api_runs(
        experiment: str = EXPERIMENT, where: str | None = WHERE, page: int = 1
    ) -> JSONResponse:
        """One page (100 runs) of an experiment's runs, optionally filtered."""

        def render() -> dict[str, Any]:
            tracker = runs_pages.tracker_for(board, experiment)
            frame = tracker.search(where) if where else tracker.runs()
            start = (max(page, 1) - 1) * runs_pages.PAGE_ROWS
            shown = frame.iloc[start : start + runs_pages.PAGE_ROWS]
            rows = shown.to_json(orient="records", date_format="iso")
            return {"total": len(frame), "page": max(page, 1), "runs": json.loads(rows)}

        return api(render)

    @app.get("/ping", include_in_schema=False)
    def ping() -> dict[str, str]:
        return {"status": "ok"}

    return app
