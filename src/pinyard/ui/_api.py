"""The UI's JSON API (``/api/...``, documented at ``/api/openapi.json``): pins, a name's
registry state, lineage, and runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from pinyard.boards import Board
from pinyard.errors import InvalidArgumentError, NotFoundError, PinyardError
from pinyard.registry import Registry
from pinyard.ui import _runs_pages as runs_pages


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


def add_api_routes(app: FastAPI, board: Board) -> None:
    """Register the JSON API over ``board``."""

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
