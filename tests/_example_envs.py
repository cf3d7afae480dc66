"""A virtual environment per example, with exactly the extras and packages it says it needs.

Each example's docstring has one line ``Needs: pip install 'pinyard[a,b]' other-package``.
`example_python` builds (once, with uv) a venv holding pinyard from this checkout,
installed editable with just those extras, plus the other packages, and returns its
interpreter. Venvs are cached in ``.venv-examples/<extras>-<key>/`` at the repository
root, keyed by the requirements, ``pyproject.toml`` and the Python version, so a change
to the project's dependencies builds a new one (older ones are removed).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
CACHE = REPO / ".venv-examples"
_NEEDS = re.compile(r"^Needs:\s+pip install (.+?)(?:\s{2,}\(.*\))?$", re.MULTILINE)


def needs(script: str) -> list[str]:
    """The requirements on the example's ``Needs: pip install ...`` line, as pip reads them."""
    found = _NEEDS.findall((EXAMPLES / script).read_text(encoding="utf-8"))
    assert len(found) == 1, f"{script} must say once what it needs: 'Needs: pip install ...'"
    return shlex.split(found[0])


def extras(requirements: list[str]) -> list[str]:
    """The pinyard extras among ``requirements`` (``pinyard[a,b]`` -> ["a", "b"])."""
    [own] = [r for r in requirements if re.fullmatch(r"pinyard(\[[\w,-]*\])?", r)]
    return [e for e in own.removeprefix("pinyard").strip("[]").split(",") if e]


def example_python(script: str) -> Path:
    """The interpreter of a venv with exactly what ``script`` needs (built if missing)."""
    requirements = needs(script)
    wanted = extras(requirements)
    others = sorted(r for r in requirements if not r.startswith("pinyard"))
    key = hashlib.sha256(
        "\n".join([*wanted, *others, sys.version, (REPO / "pyproject.toml").read_text()]).encode()
    ).hexdigest()[:12]
    name = "-".join([*wanted, *others]) or "core"
    venv = CACHE / f"{name}-{key}"
    python = venv / "bin" / "python"
    if (venv / ".complete").exists():
        return python
    for stale in CACHE.glob(f"{name}-*"):  # an older key, or a build cut short
        shutil.rmtree(stale)
    uv = Path(sys.executable).with_name("uv")
    assert uv.exists(), f"uv not found beside {sys.executable}: run scripts/test.sh once"
    project = f"{REPO}[{','.join(wanted)}]" if wanted else str(REPO)
    _run([str(uv), "venv", "--quiet", "--python", sys.executable, str(venv)])
    _run([str(uv), "pip", "install", "--quiet", "--python", str(python), "-e", project, *others])
    (venv / ".complete").write_text(" ".join(requirements) + "\n")
    return python


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that points Python at another venv."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}  # fmt: skip
    return {**env, **extra}


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, f"{shlex.join(args)} failed:\n{done.stderr[-4000:]}"
