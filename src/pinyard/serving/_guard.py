"""The ASGI layer in front of the app: bearer token, version headers, direct routes."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from pinyard.serving._codec import JSON
from pinyard.serving._responses import json_bytes

if TYPE_CHECKING:
    from pinyard.serving._served import Current

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: the scope key under which the guard hands a request's `Served` to the routes
SERVED_KEY = "pinyard.served"


class Guard:
    """Plain ASGI middleware (microseconds per request): checks the bearer token on
    everything but ``/ping``, picks the `Served` that answers the request (read once
    from ``current``, so a swap never splits a request between two models), adds its
    version headers to the response, and hands ``POST`` requests for the prediction
    paths straight to its handlers, skipping FastAPI's routing and dependency machinery
    (which stays for the OpenAPI docs)."""

    def __init__(self, app: ASGIApp, *, current: Current, token: str | None) -> None:
        self.app = app
        self.current = current
        self.expected = f"Bearer {token}".encode() if token else None

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
        follower = self.current.follower
        if follower is not None and not follower.started:  # no lifespan (lifespan="off")
            follower.start()
        served = self.current.served
        scope[SERVED_KEY] = served
        headers = served.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        handler = served.endpoints.get(path[1:]) if scope["method"] == "POST" else None
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
