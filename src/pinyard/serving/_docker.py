"""`write_docker_files`: a Dockerfile, pinned requirements, pinyard's own wheel and an app
entry for one version: a build context that installs on a fresh machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pinyard.errors import InvalidArgumentError, PinyardError
from pinyard.models._environment import pinned_requirements

if TYPE_CHECKING:
    from pinyard.boards import Board

#: what the server itself needs, pinned from the environment that writes the files
_SERVER_DISTS = ("fastapi", "uvicorn", "pyarrow", "pandas", "joblib")
_BACKEND_DISTS = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}

_APP = '''"""Serve pin {name!r} version {version!r}: written by `pinyard docker`.

The board is read from PINYARD_BOARD ({board_note}); the model's sha256
must equal the one below or the server refuses to start. Set PINYARD_TOKEN
(clients send "Authorization: Bearer <token>") or PINYARD_NO_AUTH=1 if a
gateway in front of the container guards it.
"""

import os
import sys

from pinyard.serving import serve

board = os.environ.get("PINYARD_BOARD") or {board!r}
if not board:
    sys.exit(
        "app.py: set PINYARD_BOARD to the board's path or URL; in Docker, mount the board "
        "folder and point at it: docker run -v /path/to/board:/board:ro -e PINYARD_BOARD=/board"
    )
serve(
    board,
    {name!r},
    version={version!r},
    sha256={sha256!r},
    host=os.environ.get("PINYARD_HOST", "0.0.0.0"),
    port=int(os.environ.get("PINYARD_PORT", "{port}")),
    no_auth=os.environ.get("PINYARD_NO_AUTH") == "1",
    # Unpickling was allowed when these files were written; the sha256 above pins the
    # exact file that is unpickled.
    allow_pickle_read=True,
)
'''

_DOCKERFILE = """# Written by `pinyard docker`: serves pin {name!r} version {version!r}
# (sha256 {sha256}).
#   docker build -t {tag} .
#   docker run -p {port}:{port} -e PINYARD_TOKEN=... {run_board}{tag}
FROM python:{python}-slim
WORKDIR /app
COPY requirements.txt {wheel} ./
RUN pip install --no-cache-dir -r requirements.txt
COPY app.py .
EXPOSE {port}
# Needs PINYARD_TOKEN (or PINYARD_NO_AUTH=1), and {board_needs}.
CMD ["python", "app.py"]
"""


@dataclass(frozen=True)
class DockerFiles:
    """Paths of the files written, and where the container finds the board (None: it
    must be given as PINYARD_BOARD)."""

    dockerfile: str
    requirements: str
    app: str
    wheel: str
    board: str | None


def write_docker_files(
    board: Board,
    name: str,
    version: str,
    out_dir: str | os.PathLike[str],
    *,
    board_url: str | None = None,
    port: int = 8080,
) -> DockerFiles:
    """Write ``Dockerfile``, ``requirements.txt``, ``app.py`` and pinyard's wheel into
    ``out_dir``: a build context that needs nothing else but a package index.

    The model's packages are pinned at the versions recorded in the bundle;
    the server's (fastapi, uvicorn, ...) at the versions installed here;
    pinyard is this pinyard, built into a wheel beside them. The app entry
    serves exactly ``version`` and checks its sha256 at start. A remote board's
    URL is written into it; a folder board is never (its path means nothing
    on another machine): the container reads it from PINYARD_BOARD.
    The container unpickles the model, so ``board`` must allow that here
    (``allow_pickle_read=True`` or ``PINS_ALLOW_PICKLE_READ=1``); the app then
    allows it for exactly that sha256.
    """
    from pinyard.models._bundle import StoredBundle

    if not isinstance(version, str) or not version:
        raise InvalidArgumentError("pinyard docker needs an explicit version (--version V)")
    stored = StoredBundle.read(board, name, version)  # the metadata: nothing is unpickled
    board.check_pickle_read(name, stored.meta.type)
    environment = stored.environment
    url = board_url or board.store.url
    remote = "://" in url and not url.startswith("file://")
    os.makedirs(out_dir, exist_ok=True)
    wheel = build_wheel(out_dir)
    requirements = _requirements(environment.get("requirements") or [], url, wheel)
    python = ".".join(str(environment.get("python") or "3.11").split(".")[:2])
    fields = {
        "name": name,
        "version": stored.meta.version,
        "sha256": stored.sha256(board),
        "board": url if remote else None,
        "board_note": f"default: {url}" if remote else "required: the files name no folder",
        "board_needs": "credentials for the board" if remote else "the board folder mounted",
        "run_board": "" if remote else '-v "$PWD/BOARD:/board:ro" -e PINYARD_BOARD=/board ',
        "tag": name,
        "wheel": wheel,
        "port": port,
        "python": python,
    }
    paths = DockerFiles(
        os.path.join(out_dir, "Dockerfile"),
        os.path.join(out_dir, "requirements.txt"),
        os.path.join(out_dir, "app.py"),
        os.path.join(out_dir, wheel),
        url if remote else None,
    )
    _write(paths.dockerfile, _DOCKERFILE.format(**fields))
    _write(paths.requirements, _REQUIREMENTS_HEADER + "\n".join(requirements) + "\n")
    _write(paths.app, _APP.format(**fields))
    return paths


_REQUIREMENTS_HEADER = "# Install from this folder: pip install -r requirements.txt\n"


def build_wheel(out_dir: str | os.PathLike[str]) -> str:
    """Build this pinyard's wheel into ``out_dir`` (with uv, else pip); its file name.

    pinyard must come from a source checkout (an editable install, say): a
    pinyard installed from a wheel has no project to build from.
    """
    project = Path(__file__).resolve().parents[3]
    if not (project / "pyproject.toml").is_file() or not (project / "src" / "pinyard").is_dir():
        raise PinyardError(
            f"pinyard docker builds pinyard's wheel into the image, from the project it was "
            f"installed from, but {project} is not a pinyard source checkout; install pinyard "
            "from a checkout (pip install -e PATH) to write Docker files"
        )
    before = set(Path(out_dir).glob("pinyard-*.whl"))
    for old in before:
        old.unlink()  # a wheel of an earlier run
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    commands = [[uv, "build", "--wheel", "--out-dir", str(out_dir), str(project)],
                [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out_dir),
                 str(project)]]  # fmt: skip
    errors = []
    for command in commands:
        if not os.path.exists(command[0]):
            continue
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = sorted(Path(out_dir).glob("pinyard-*.whl"))
        if done.returncode == 0 and wheels:
            return wheels[-1].name
        errors.append(f"{' '.join(command[:3])}: {done.stderr.strip()[-500:]}")
    raise PinyardError(
        "could not build pinyard's wheel for the image; install uv or pip here"
        + (f" ({'; '.join(errors)})" if errors else "")
    )


def _requirements(recorded: list[str], url: str, wheel: str) -> list[str]:
    """The bundle's pins win; the server's packages fill in what it lacks; pinyard is the
    wheel beside the file."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    wanted = list(_SERVER_DISTS) + ([_BACKEND_DISTS[scheme]] if scheme in _BACKEND_DISTS else [])
    lines = {_dist(line): line for line in pinned_requirements(dict.fromkeys(wanted, ""))}
    lines.update({_dist(line): line for line in recorded if "==" in line})
    lines["pinyard"] = f"./{wheel}[serve]"  # this pinyard, built beside the file
    return [lines[key] for key in sorted(lines)]


def _dist(line: str) -> str:
    return line.split("==", 1)[0].split("[", 1)[0].strip().lower().replace("_", "-")


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
