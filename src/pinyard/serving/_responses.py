"""JSON responses: errors with their status, and documents with NaN as null."""

from __future__ import annotations

import json
import logging
import math
import uuid
from typing import Any

from fastapi.responses import Response

from pinyard.errors import SignatureError
from pinyard.serving._codec import JSON

log = logging.getLogger("pinyard.serving")


def json_bytes(doc: Any) -> bytes:
    """Compact JSON; non-finite floats become null."""
    return json.dumps(_finite(doc), separators=(",", ":"), default=str).encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def unprocessable(exc: SignatureError) -> Response:
    """422 in FastAPI's shape, plus the column, expected and received type."""
    detail = {
        "loc": ["body", exc.column] if exc.column else ["body"],
        "msg": str(exc),
        "type": "signature_error",
        "column": exc.column,
        "expected": exc.expected,
        "received": exc.received,
    }
    return Response(json_bytes({"detail": [detail]}), status_code=422, media_type=JSON)


def error(status: int, message: str) -> Response:
    """``{"detail": message}`` with ``status``."""
    return Response(json_bytes({"detail": message}), status_code=status, media_type=JSON)


def internal_error(method: str, path: str, exc: BaseException) -> Response:
    """500 with an error id; the traceback goes to the log under that id, not to the client."""
    error_id = uuid.uuid4().hex[:12]
    log.error("error %s in %s %s", error_id, method, path, exc_info=exc)
    return error(500, f"internal error {error_id}; the server log has the details")
