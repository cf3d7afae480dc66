"""The ASGI layer in front of the app: bearer token, version headers, direct routes."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from pinyard.serving._codec import JSON
from pinyard.serving._responses import json_bytes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Guard:
    """Plain ASGI middleware (microseconds per request): checks the bearer token on
    everything but ``/ping``, adds the version headers to every response, and hands
    ``POST`` requests for the prediction paths straight to their handlers, skipping
    FastAPI's routing and dependency machinery (which stays for the OpenAPI docs)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        headers: list[tuple[bytes, bytes]],
        token: str | None,
        direct: Mapping[str, ASGIApp],
    ) -> None:
        self.app = app
        self.headers = headers
        self.expected = f"Bearer {token}".encode() if token else None
        self.direct = direct

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and self.expected is not None:
            await send({"type": "websocket.close", "code": 1008})  # no websocket routes
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if self.expected is not None and path != "/ping":
            given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
            if not hmac.compare_digest(given, self.expected):
                await _send_unauthorized(send)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *self.headers]
            await send(message)

        handler = self.direct.get(path) if scope["method"] == "POST" else None
        await (handler or self.app)(scope, receive, send_with_headers)


async def _send_unauthorized(send: Send) -> None:
    body = json_bytes({"detail": "missing or wrong bearer token (Authorization: Bearer ...)"})
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
