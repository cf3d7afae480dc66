"""`create_app`: a FastAPI app serving one pinned, verified version of a model bundle."""

from __future__ import annotations

import hmac
import json
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from pinyard.errors import IntegrityError, InvalidArgumentError, SignatureError
from pinyard.models import ModelBundle
from pinyard.serving._batcher import Batcher
from pinyard.serving._codec import (
    ACCEPTED,
    ARROW_STREAM,
    JSON,
    PARQUET,
    UnsupportedMediaTypeError,
    decode,
    encode_arrow,
    encode_json,
    media_type,
    output_columns,
    response_kind,
)

if TYPE_CHECKING:
    from pinyard.boards import Board

log = logging.getLogger("pinyard.serving")

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
#: bodies larger than this are decoded and scored in a worker thread, so that one bulk
#: request does not hold up small ones (and /ping) on the event loop
_INLINE_BODY_BYTES = 64 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


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
    bundle = ModelBundle.from_pin(board, name, version, strict=strict)
    assert bundle.pin is not None
    assert bundle.sha256 is not None
    if sha256 is not None and bundle.sha256 != sha256.lower():
        raise IntegrityError(
            f"model {name!r} version {bundle.pin.version} has sha256 {bundle.sha256}, not the "
            f"expected {sha256}; refusing to serve it"
        )
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
    for method in bundle.methods:
        _add_predict_route(app, bundle, method, max_body_bytes, batching)
    app.add_exception_handler(Exception, _internal_error)
    headers = [
        (b"x-pinyard-version", resolved.encode()),
        (b"x-pinyard-sha256", bundle.sha256.encode()),
    ]
    app.add_middleware(_Guard, headers=headers, token=token)
    log.info("serving %s version %s (sha256 %s)", name, resolved, bundle.sha256)
    return app


def _add_info_routes(app: FastAPI, bundle: ModelBundle) -> None:
    assert bundle.pin is not None
    pin = bundle.pin
    ping = _json_bytes({"status": "ok", "name": pin.name, "version": pin.version})
    metadata = _json_bytes(
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
    schema = _json_bytes(bundle.signature.json_schema())

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
    app: FastAPI, bundle: ModelBundle, method: str, limit: int, batching: bool
) -> None:
    classes = getattr(bundle.model, "classes_", None)

    def predict(table: pa.Table) -> dict[str, Any]:
        columns = output_columns(bundle.predict_validated(table, method), method, classes)
        for name, values in columns.items():
            if len(values) != table.num_rows:
                raise ValueError(
                    f"the model's {method} returned {len(values)} values in {name!r} for "
                    f"{table.num_rows} rows"
                )
        return columns

    independent = bundle.handler.rows_independent(bundle.model)
    batcher = Batcher(predict) if batching and independent else None

    def read(body: bytes, kind: str) -> pa.Table | Response:
        try:
            table: pa.Table = bundle.signature.validate(decode(body, kind))
        except SignatureError as exc:
            return _unprocessable(exc)
        except UnsupportedMediaTypeError:
            return _error(
                415, f"Content-Type {kind!r} is not read here; send one of {', '.join(ACCEPTED)}"
            )
        return table

    def encode(columns: dict[str, Any], kind: str, accept: str | None) -> Response:
        if response_kind(accept, kind) == ARROW_STREAM:
            return Response(encode_arrow(columns), media_type=ARROW_STREAM)
        return Response(encode_json(columns), media_type=JSON)

    async def endpoint(request: Request) -> Response:
        body = await _read_body(request, limit)
        if body is None:
            return _error(
                413, f"the request body is over the {limit}-byte limit; send fewer rows per "
                "request, or start the server with a larger limit (--max-body-mb)",
            )  # fmt: skip
        kind = media_type(request.headers.get("content-type"))
        accept = request.headers.get("accept")
        large = len(body) > _INLINE_BODY_BYTES
        table = await run_in_threadpool(read, body, kind) if large else read(body, kind)
        if isinstance(table, Response):
            return table
        if batcher is not None:
            columns = await batcher(table)
        elif large:
            columns = await run_in_threadpool(predict, table)
        else:
            columns = predict(table)
        if large:
            return await run_in_threadpool(encode, columns, kind, accept)
        return encode(columns, kind, accept)

    binary = {"schema": {"type": "string", "format": "binary"}}
    app.add_api_route(
        f"/{method}",
        endpoint,
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


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to be over ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _unprocessable(exc: SignatureError) -> Response:
    detail = {
        "loc": ["body", exc.column] if exc.column else ["body"],
        "msg": str(exc),
        "type": "signature_error",
        "column": exc.column,
        "expected": exc.expected,
        "received": exc.received,
    }
    return Response(_json_bytes({"detail": [detail]}), status_code=422, media_type=JSON)


def _error(status: int, message: str) -> Response:
    return Response(_json_bytes({"detail": message}), status_code=status, media_type=JSON)


async def _internal_error(request: Request, exc: Exception) -> Response:
    error_id = uuid.uuid4().hex[:12]
    log.error("error %s in %s %s", error_id, request.method, request.url.path, exc_info=exc)
    return _error(500, f"internal error {error_id}; the server log has the details")


def _json_bytes(doc: Any) -> bytes:
    return json.dumps(_finite(doc), separators=(",", ":"), default=str).encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class _Guard:
    """ASGI middleware: bearer-token check (all but ``/ping``) and the version headers
    on every response. Plain ASGI, so it costs microseconds per request."""

    def __init__(self, app: ASGIApp, *, headers: list[tuple[bytes, bytes]], token: str | None):
        self.app = app
        self.headers = headers
        self.expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.expected is not None and scope["path"] != "/ping":
            given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
            if not hmac.compare_digest(given, self.expected):
                await _send_unauthorized(send)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _send_unauthorized(send: Send) -> None:
    body = _json_bytes({"detail": "missing or wrong bearer token (Authorization: Bearer ...)"})
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b"Bearer"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
