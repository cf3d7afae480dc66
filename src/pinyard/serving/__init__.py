"""Serving: one pinned, verified version of a model bundle as a REST API.

::

    from pinyard.serving import create_app
    app = create_app(board, "price-model", version="20261127T101500Z-3f2a1")
    # uvicorn module:app, or from a shell: pinyard serve ROOT price-model --version V

Needs the ``serve`` extra (fastapi, uvicorn).
"""

from pinyard.serving._app import DEFAULT_MAX_BODY_BYTES, create_app
from pinyard.serving._docker import DockerFiles, write_docker_files
from pinyard.serving._serve import check_exposure, is_loopback, serve

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DockerFiles",
    "check_exposure",
    "create_app",
    "is_loopback",
    "serve",
    "write_docker_files",
]
