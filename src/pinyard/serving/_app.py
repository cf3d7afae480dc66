"""`create_app`: a FastAPI app serving one pinned, verified version of a model bundle,
or following what an alias holds."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from pinyard.errors import InvalidArgumentError
from pinyard.models import ModelBundle
from pinyard.serving._codec import ARROW_STREAM, JSON, PARQUET
from pinyard.serving._follow import (
    DEFAULT_INTERVAL,
    Follower,
    check_interval,
    load_resolved,
    resolve_slot,
)
from pinyard.serving._guard import SERVED_KEY, Guard
from pinyard.serving._responses import internal_error
from pinyard.serving._served import Current, Served

if TYPE_CHECKING:
    from pinyard.boards import Board
    from pinyard.registry import Resolved

log = logging.getLogger("pinyard.serving")

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024


def create_app(
    board: Board,
    name: str,
    version: str | None = None,
    *,
    alias: str | None = None,
    follow: str | None = None,
    interval: float = DEFAULT_INTERVAL,
    sha256: str | None = None,
    token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    strict: bool = False,
    batching: bool = True,
) -> FastAPI:
    """A FastAPI app serving pin ``name``: exactly ``version``, or the version that the
    alias (or stage) ``alias`` holds now, or whatever ``follow`` holds as it moves.

    Give exactly one of the three. ``alias`` resolves once through the registry
    and serves that version for good; ``follow`` checks the alias every
    ``interval`` seconds and swaps each new, verified, compatible holder in
    without failing a request (see docs/serving.md, "Following the registry").
    The model file's sha256 is checked before it is unpickled (against the one
    the registry event recorded, and ``sha256`` when given with ``version``),
    so a server never starts on bytes that do not verify. Endpoints: ``POST
    /predict`` (and one per other method the model offers, e.g.
    ``/predict_proba``), ``GET /ping``, ``GET /metadata``, ``GET /signature``
    and the OpenAPI docs at ``/docs``. With ``token``, every endpoint but
    ``/ping`` needs ``Authorization: Bearer <token>``. Requests that arrive
    while the model is busy are scored together when the model scores rows
    independently (scikit-learn does); ``batching=False`` scores each alone.
    """
    given = [k for k, v in (("version", version), ("alias", alias), ("follow", follow)) if v]
    if len(given) != 1 or not all(isinstance(v, str) for v in (version, alias, follow) if v):
        raise InvalidArgumentError(
            "create_app serves one explicit version, or one alias: give exactly one of "
            "version='...', alias='production' (resolved once) or follow='production' "
            f"(kept up to date); got {', '.join(given) or 'none'}. `pinyard serve --latest` "
            "looks the latest up and logs it"
        )
    if not isinstance(max_body_bytes, int) or max_body_bytes <= 0:
        raise InvalidArgumentError(
            f"max_body_bytes must be a positive int, got {max_body_bytes!r}"
        )
    if sha256 is not None and version is None:
        raise InvalidArgumentError(
            "sha256= goes with version=: through an alias the registry's event names the "
            "sha256 the model must have"
        )
    resolved: Resolved | None = None
    if version is not None:
        bundle = ModelBundle.from_pin(board, name, version, strict=strict, sha256=sha256)
    else:
        if follow is not None:
            check_interval(interval)
        resolved = resolve_slot(board, name, str(alias or follow))
        bundle = load_resolved(board, resolved, strict=strict)
    methods = bundle.methods

    def build(loaded: ModelBundle, named: Resolved | None) -> Served:
        return Served.build(loaded, methods, max_body_bytes=max_body_bytes, batching=batching,
                            resolved=named)  # fmt: skip

    current = Current(build(bundle, resolved))
    app = _new_app(current, follow)
    if follow is not None:
        current.follower = Follower(board, current, build, slot=follow, interval=interval,
                                    strict=strict, methods=methods)  # fmt: skip
    app.state.current = current
    app.state.follower = current.follower
    _add_info_routes(app, current)
    schemas = [_add_predict_route(app, current, method) for method in methods]
    _exact_body_schemas(app, dict(zip(methods, schemas, strict=True)))
    current.on_swap = lambda served: _refresh_docs(app, served, schemas)
    app.add_exception_handler(Exception, _internal_error)
    app.add_middleware(Guard, current=current, token=token)
    how = f" (@{alias or follow}{', following it' if follow else ''})" if resolved else ""
    log.info("serving %s %s%s", name, current.served.describe(), how)
    return app


def _new_app(current: Current, follow: str | None) -> FastAPI:
    served = current.served
    name, version = served.metadata["name"], served.version

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if current.follower is not None:
            current.follower.start()
        yield
        if current.follower is not None:
            await run_in_threadpool(current.follower.stop)

    serves = (
        f"whatever `{name}@{follow}` holds (`/metadata` names the version now)"
        if follow
        else f"pin `{name}` version `{version}` (sha256 `{served.sha256}`)"
    )
    return FastAPI(
        title=f"{name} (following @{follow})" if follow else f"{name} (version {version})",
        version=version,
        lifespan=lifespan,
        description=(
            f"Serves {serves}, a {type(served.bundle.model).__qualname__}. POST rows as JSON "
            "(a list of records, one record, or a mapping of columns), or a table as Arrow "
            "IPC or Parquet. Every response names the version that answered it in "
            "X-Pinyard-Version and X-Pinyard-Sha256."
        ),
    )


def _served(request: Request, current: Current) -> Served:
    served = request.scope.get(SERVED_KEY)
    return served if isinstance(served, Served) else current.served


def _add_info_routes(app: FastAPI, current: Current) -> None:
    async def get_ping(request: Request) -> Response:
        return Response(current.ping(_served(request, current)), media_type=JSON)

    async def get_metadata(request: Request) -> Response:
        return Response(current.metadata(_served(request, current)), media_type=JSON)

    async def get_signature(request: Request) -> Response:
        return Response(_served(request, current).schema, media_type=JSON)

    app.add_api_route("/ping", get_ping, methods=["GET"], summary="Is the server up?")
    app.add_api_route(
        "/metadata",
        get_metadata,
        methods=["GET"],
        summary="Version, sha256, signature, environment and lineage of the served model, "
        "and for a server that follows an alias, its last check",
    )
    app.add_api_route(
        "/signature", get_signature, methods=["GET"], summary="JSON Schema of a request body"
    )


def _exact_body_schemas(app: FastAPI, schemas: dict[str, dict[str, Any]]) -> None:
    """FastAPI's OpenAPI model holds bounds as floats, which would turn int64's maximum
    into 2**63 (one past it): the document gets the signature's own JSON Schema back."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = generate()
            for method, entry in schemas.items():
                doc["paths"][f"/{method}"]["post"]["requestBody"]["content"][JSON] = dict(entry)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _refresh_docs(app: FastAPI, served: Served, schemas: list[dict[str, Any]]) -> None:
    """After a swap, the OpenAPI document describes the model now served."""
    for schema in schemas:
        schema["schema"] = served.bundle.signature.json_schema()
    app.version = served.version
    app.openapi_schema = None


def _add_predict_route(app: FastAPI, current: Current, method: str) -> dict[str, Any]:
    """``POST /<method>`` for the docs and any request the guard does not route itself;
    returns the JSON request-schema entry, which `_refresh_docs` updates on a swap."""

    async def predict(request: Request) -> Response:
        return await _served(request, current).endpoints[method].endpoint(request)

    binary = {"schema": {"type": "string", "format": "binary"}}
    json_schema = {"schema": current.served.bundle.signature.json_schema()}
    app.add_api_route(
        f"/{method}",
        predict,
        methods=["POST"],
        summary=f"{method} for the rows in the body",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {JSON: json_schema, ARROW_STREAM: binary, PARQUET: binary},
            },
            "responses": {
                "200": {"description": f"{{{method!r}: [...]}}, or one column per class"},
                "413": {"description": "body over the size limit"},
                "415": {"description": "unsupported Content-Type"},
                "422": {"description": "rows that do not match the signature"},
            },
        },
    )
    return json_schema


async def _internal_error(request: Request, exc: Exception) -> Response:
    return internal_error(request.method, request.url.path, exc)
