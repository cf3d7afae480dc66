"""`write_docker_files`: a Dockerfile, pinned requirements and an app entry for one version."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pinyard.errors import InvalidArgumentError
from pinyard.models._environment import pinned_requirements, pinyard_version

if TYPE_CHECKING:
    from pinyard.boards import Board

#: what the server itself needs, pinned from the environment that writes the files
_SERVER_DISTS = ("fastapi", "uvicorn", "pyarrow", "pandas", "joblib")
_BACKEND_DISTS = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}

_APP = '''"""Serve pin {name!r} version {version!r}: written by `pinyard docker`.

The board is read from PINYARD_BOARD (default: the board the files were made
from); the model's sha256 must equal the one below or the server refuses to
start. Set PINYARD_TOKEN (clients send "Authorization: Bearer <token>") or
PINYARD_NO_AUTH=1 if a gateway in front of the container guards it.
"""

import os

from pinyard.serving import serve

serve(
    os.environ.get("PINYARD_BOARD", {board!r}),
    {name!r},
    version={version!r},
    sha256={sha256!r},
    host=os.environ.get("PINYARD_HOST", "0.0.0.0"),
    port=int(os.environ.get("PINYARD_PORT", "{port}")),
    no_auth=os.environ.get("PINYARD_NO_AUTH") == "1",
)
'''

_DOCKERFILE = """# Written by `pinyard docker`: serves pin {name!r} version {version!r}
# (sha256 {sha256}).
FROM python:{python}-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app.py .
EXPOSE {port}
# Needs PINYARD_TOKEN (or PINYARD_NO_AUTH=1), and credentials for the board if it is remote.
CMD ["python", "app.py"]
"""


@dataclass(frozen=True)
class DockerFiles:
    """Paths of the files written."""

    dockerfile: str
    requirements: str
    app: str


def write_docker_files(
    board: Board,
    name: str,
    version: str,
    out_dir: str | os.PathLike[str],
    *,
    board_url: str | None = None,
    port: int = 8080,
) -> DockerFiles:
    """Write ``Dockerfile``, ``requirements.txt`` and ``app.py`` into ``out_dir``.

    The model's packages are pinned at the versions recorded in the bundle;
    the server's (fastapi, uvicorn, ...) at the versions installed here. The
    app entry serves exactly ``version`` and checks its sha256 at start.
    """
    from pinyard.models._bundle import StoredBundle

    if not isinstance(version, str) or not version:
        raise InvalidArgumentError("pinyard docker needs an explicit version (--version V)")
    stored = StoredBundle.read(board, name, version)  # the metadata: nothing is unpickled
    environment = stored.environment
    url = board_url or board.store.url
    requirements = _requirements(environment.get("requirements") or [], url)
    python = ".".join(str(environment.get("python") or "3.11").split(".")[:2])
    fields = {
        "name": name,
        "version": stored.meta.version,
        "sha256": stored.sha256(board),
        "board": url,
        "port": port,
        "python": python,
    }
    os.makedirs(out_dir, exist_ok=True)
    paths = DockerFiles(
        os.path.join(out_dir, "Dockerfile"),
        os.path.join(out_dir, "requirements.txt"),
        os.path.join(out_dir, "app.py"),
    )
    _write(paths.dockerfile, _DOCKERFILE.format(**fields))
    _write(paths.requirements, "\n".join(requirements) + "\n")
    _write(paths.app, _APP.format(**fields))
    return paths


def _requirements(recorded: list[str], url: str) -> list[str]:
    """The bundle's pins win; the server's packages fill in what it lacks."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    wanted = list(_SERVER_DISTS) + ([_BACKEND_DISTS[scheme]] if scheme in _BACKEND_DISTS else [])
    lines = {_dist(line): line for line in pinned_requirements(dict.fromkeys(wanted, ""))}
    lines.update({_dist(line): line for line in recorded if "==" in line})
    lines["pinyard"] = f"pinyard[serve]=={pinyard_version()}"
    return [lines[key] for key in sorted(lines)]


def _dist(line: str) -> str:
    return line.split("==", 1)[0].split("[", 1)[0].strip().lower().replace("_", "-")


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
