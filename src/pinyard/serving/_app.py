"""`create_app`: a FastAPI app serving one pinned, verified version of a model bundle."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import Response

from pinyard.errors import InvalidArgumentError
from pinyard.models import ModelBundle
from pinyard.serving._codec import ARROW_STREAM, JSON, PARQUET
from pinyard.serving._guard import ASGIApp, Guard
from pinyard.serving._predict import PredictEndpoint
from pinyard.serving._responses import internal_error, json_bytes

if TYPE_CHECKING:
    from pinyard.boards import Board

log = logging.getLogger("pinyard.serving")

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024


def create_app(
    board: Board,
    name: str,
    version: str,
    *,
    sha256: str | None = None,
    token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    strict: bool = False,
    batching: bool = True,
) -> FastAPI:
    """A FastAPI app serving pin ``name`` at exactly ``version``, resolved and verified now.

    The model file's sha256 is checked before it is unpickled (and must equal
    ``sha256`` when given), so a server never starts on bytes that do not
    verify. Endpoints: ``POST /predict`` (and one per other method the model
    offers, e.g. ``/predict_proba``), ``GET /ping``, ``GET /metadata``,
    ``GET /signature`` and the OpenAPI docs at ``/docs``. With ``token``,
    every endpoint but ``/ping`` needs ``Authorization: Bearer <token>``.
    Requests that arrive while the model is busy are scored together when the
    model scores rows independently (scikit-learn does); ``batching=False``
    scores each request alone.
    """
    if not isinstance(version, str) or not version:
        raise InvalidArgumentError(
            "create_app serves one explicit version: create_app(board, name, version='...'); "
            "`pinyard serve --latest` looks the latest up and logs it"
        )
    if not isinstance(max_body_bytes, int) or max_body_bytes <= 0:
        raise InvalidArgumentError(
            f"max_body_bytes must be a positive int, got {max_body_bytes!r}"
        )
    bundle = ModelBundle.from_pin(board, name, version, strict=strict, sha256=sha256)
    assert bundle.pin is not None
    assert bundle.sha256 is not None
    resolved = bundle.pin.version
    app = FastAPI(
        title=f"{name} (version {resolved})",
        version=resolved,
        description=(
            f"Serves pin `{name}` version `{resolved}` (sha256 `{bundle.sha256}`), a "
            f"{type(bundle.model).__qualname__}. POST rows as JSON (a list of records, one "
            "record, or a mapping of columns), or a table as Arrow IPC or Parquet."
        ),
    )
    app.state.bundle = bundle
    _add_info_routes(app, bundle)
    direct: dict[str, ASGIApp] = {}
    for method in bundle.methods:
        endpoint = PredictEndpoint(bundle, method, max_body_bytes, batching)
        _add_predict_route(app, bundle, method, endpoint)
        direct[f"/{method}"] = endpoint
    app.add_exception_handler(Exception, _internal_error)
    headers = [
        (b"x-pinyard-version", resolved.encode()),
        (b"x-pinyard-sha256", bundle.sha256.encode()),
    ]
    app.add_middleware(Guard, headers=headers, token=token, direct=direct)
    log.info("serving %s version %s (sha256 %s)", name, resolved, bundle.sha256)
    return app


def _add_info_routes(app: FastAPI, bundle: ModelBundle) -> None:
    assert bundle.pin is not None
    pin = bundle.pin
    ping = json_bytes({"status": "ok", "name": pin.name, "version": pin.version})
    metadata = json_bytes(
        {
            "name": pin.name,
            "version": pin.version,
            "sha256": bundle.sha256,
            "pin_hash": pin.pin_hash,
            "created": pin.created_at.isoformat(),
            "description": bundle.description,
            "model": f"{type(bundle.model).__module__}.{type(bundle.model).__qualname__}",
            "methods": list(bundle.methods),
            "metadata": bundle.metadata,
            "signature": bundle.signature.to_dict(),
            "environment": bundle.environment,
            "lineage": bundle.lineage,
        }
    )
    schema = json_bytes(bundle.signature.json_schema())

    async def get_ping() -> Response:
        return Response(ping, media_type=JSON)

    async def get_metadata() -> Response:
        return Response(metadata, media_type=JSON)

    async def get_signature() -> Response:
        return Response(schema, media_type=JSON)

    app.add_api_route("/ping", get_ping, methods=["GET"], summary="Is the server up?")
    app.add_api_route(
        "/metadata",
        get_metadata,
        methods=["GET"],
        summary="Version, sha256, signature, environment and lineage of the served model",
    )
    app.add_api_route(
        "/signature", get_signature, methods=["GET"], summary="JSON Schema of a request body"
    )


def _add_predict_route(
    app: FastAPI, bundle: ModelBundle, method: str, endpoint: PredictEndpoint
) -> None:
    binary = {"schema": {"type": "string", "format": "binary"}}
    app.add_api_route(
        f"/{method}",
        endpoint.endpoint,
        methods=["POST"],
        summary=f"{method} for the rows in the body",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    JSON: {"schema": bundle.signature.json_schema()},
                    ARROW_STREAM: binary,
                    PARQUET: binary,
                },
            },
            "responses": {
                "200": {"description": f"{{{method!r}: [...]}}, or one column per class"},
                "413": {"description": "body over the size limit"},
                "415": {"description": "unsupported Content-Type"},
                "422": {"description": "rows that do not match the signature"},
            },
        },
    )


async def _internal_error(request: Request, exc: Exception) -> Response:
    return internal_error(request.method, request.url.path, exc)
