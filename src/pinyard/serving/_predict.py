"""One prediction endpoint (``POST /predict``, ``/predict_proba``, ...): read, check, score."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from pinyard.errors import SignatureError
from pinyard.models import ModelBundle
from pinyard.serving._batcher import Batcher
from pinyard.serving._codec import (
    ACCEPTED,
    ARROW_STREAM,
    JSON,
    DecodedTooLargeError,
    UnsupportedMediaTypeError,
    decode,
    encode_arrow,
    encode_json,
    media_type,
    output_columns,
    response_kind,
)
from pinyard.serving._guard import Message, Receive, Scope, Send
from pinyard.serving._responses import error, internal_error, unprocessable

#: bodies larger than this are decoded, scored and encoded in a worker thread, so that
#: one bulk request does not hold up small ones (and /ping) on the event loop; smaller
#: ones are read on the loop and scored through the batcher
INLINE_BODY_BYTES = 64 * 1024
#: a compressed Arrow or Parquet body may decode to at most this many times the body limit
DECODED_LIMIT_FACTOR = 4


class ClientDisconnectedError(Exception):
    """The client went away before sending the whole body."""


class PredictEndpoint:
    """``POST /<method>`` for one model method, as a FastAPI endpoint (for the docs and
    any path the guard does not route directly) and as a plain ASGI app."""

    def __init__(self, bundle: ModelBundle, method: str, limit: int, batching: bool) -> None:
        self.bundle = bundle
        self.method = method
        self.limit = limit
        self.classes = getattr(bundle.model, "classes_", None)
        independent = bundle.handler.rows_independent(bundle.model)
        self.batcher = Batcher(self._predict) if batching and independent else None

    # -- the two front doors --------------------------------------------------------

    async def endpoint(self, request: Request) -> Response:
        """FastAPI's way in."""
        headers = request.headers
        try:
            body = await _read_limited(request.receive, self.limit, headers.get("content-length"))
        except ClientDisconnectedError:
            return error(400, "the client disconnected before sending the whole body")
        return await self.respond(body, headers.get("content-type"), headers.get("accept"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The direct way in (see `Guard`)."""
        try:
            body = await _read_limited(receive, self.limit, _header(scope, b"content-length"))
            response = await self.respond(
                body, _header(scope, b"content-type"), _header(scope, b"accept")
            )
        except ClientDisconnectedError:
            return  # nobody to answer
        except Exception as exc:
            response = internal_error(scope["method"], scope["path"], exc)
        await response(scope, receive, send)

    # -- the work -------------------------------------------------------------------

    async def respond(
        self, body: bytes | None, content_type: str | None, accept: str | None
    ) -> Response:
        """The response to a body (None: over the limit)."""
        if body is None:
            return error(
                413, f"the request body is over the {self.limit}-byte limit; send fewer rows "
                "per request, or start the server with a larger limit (--max-body-mb)",
            )  # fmt: skip
        kind = media_type(content_type)
        if len(body) > INLINE_BODY_BYTES or kind != JSON:  # bulk or binary: a worker thread
            return await run_in_threadpool(self._score, body, kind, accept)
        table = self._read(body, kind)
        if isinstance(table, Response):
            return table
        if self.batcher is not None:
            columns = await self.batcher(table)
        else:
            columns = self._predict(table)
        return self._encode(columns, kind, accept)

    def _score(self, body: bytes, kind: str, accept: str | None) -> Response:
        table = self._read(body, kind)
        if isinstance(table, Response):
            return table
        return self._encode(self._predict(table), kind, accept)

    def _read(self, body: bytes, kind: str) -> pa.Table | Response:
        try:
            table: pa.Table = self.bundle.signature.validate(
                decode(body, kind, DECODED_LIMIT_FACTOR * self.limit)
            )
        except SignatureError as exc:
            return unprocessable(exc)
        except DecodedTooLargeError:
            return error(
                413, f"the table in the body decodes to more than "
                f"{DECODED_LIMIT_FACTOR * self.limit} bytes ({DECODED_LIMIT_FACTOR}x the body "
                "limit); send fewer rows per request",
            )  # fmt: skip
        except UnsupportedMediaTypeError:
            return error(
                415, f"Content-Type {kind!r} is not read here; send one of {', '.join(ACCEPTED)}"
            )
        return table

    def _predict(self, table: pa.Table) -> dict[str, Any]:
        result = self.bundle.predict_validated(table, self.method)
        columns = output_columns(result, self.method, self.classes)
        for name, values in columns.items():
            if len(values) != table.num_rows:
                raise ValueError(
                    f"the model's {self.method} returned {len(values)} values in {name!r} "
                    f"for {table.num_rows} rows"
                )
        return columns

    @staticmethod
    def _encode(columns: dict[str, Any], kind: str, accept: str | None) -> Response:
        if response_kind(accept, kind) == ARROW_STREAM:
            return Response(encode_arrow(columns), media_type=ARROW_STREAM)
        return Response(encode_json(columns), media_type=JSON)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def _read_limited(receive: Receive, limit: int, declared: str | None) -> bytes | None:
    """The request body, or None as soon as it is known to be over ``limit`` bytes
    (from its Content-Length, ``declared``, before reading anything)."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnectedError  # a partial body is never scored
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
