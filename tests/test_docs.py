"""Every code block of README.md and docs/*.md is checked, so a snippet cannot drift.

* Python blocks run, in file order, one namespace per file (a block may use what earlier
  blocks of its file defined), in a fresh working directory, with S3 pointed at moto.
  Placeholders come from a hidden ``<!-- setup ... -->`` comment before a block; a block
  that cannot run here says why in ``<!-- not run: reason -->``. tests/_snippets.py and
  CONTRIBUTING.md describe the markers.
* Shell blocks: every ``pinyard ...`` command parses with the real CLI (placeholders such
  as BOARD and V are fine: only the command and its options are checked), every
  ``pip install`` of this project names extras that exist, and every
  ``examples/<script>.py`` named exists.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pinyard.cli._common import normalize
from pinyard.cli._main import parser as _parser
from tests._example_envs import REPO, clean_env
from tests._snippets import Block, blocks
from tests.backends.conftest import moto_server  # noqa: F401 - a fixture, asked for by name

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELLS = ("bash", "sh", "shell", "console")


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(REPO)) for p in paths]


@pytest.mark.parametrize("doc", DOCS, ids=ids(DOCS))
def test_python_blocks_run_as_written(
    doc: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = clean_env(
        PYTHONPATH=str(REPO),
        MPLBACKEND="Agg",
        PINYARD_CACHE_DIR=str(tmp_path / "cache"),
        PINYARD_PROGRESS="0",
    )
    if "s3://" in doc.read_text(encoding="utf-8"):
        moto = request.getfixturevalue("moto_server")
        env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
        env.update(AWS_ENDPOINT_URL=moto.endpoint_url, AWS_ACCESS_KEY_ID="testing",
                   AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")  # fmt: skip
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        [sys.executable, "-W", "error", "-m", "tests._snippets", str(doc)],
        cwd=work, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-6000:]
    wanted = sum(b.lang == "python" and b.not_run is None for b in blocks(doc))
    assert done.stdout.splitlines()[-1] == f"{wanted} python blocks ran"


def shell_commands(block: Block) -> list[str]:
    """The commands of a shell block: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", block.code)
    commands = []
    for line in joined.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words: list[str] = []
        redirect = False
        for token in lexer:
            if token in ("&&", ";", "|", "||", "&"):
                if words:
                    commands.append(shlex.join(words))
                words = []
            elif token in (">", ">>", "<", "2>"):
                redirect = True  # the next word is a file, not an argument
            elif redirect:
                redirect = False
            else:
                words.append(token)
        if words:
            commands.append(shlex.join(words))
    return commands


def shell_blocks() -> list[tuple[str, Block]]:
    return [(str(doc.relative_to(REPO)), block) for doc in DOCS for block in blocks(doc)
            if block.lang in SHELLS and block.not_run is None]  # fmt: skip


SHELL_BLOCKS = shell_blocks()
EXTRAS = set(
    tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
)


@pytest.mark.parametrize(
    ("doc", "block"), SHELL_BLOCKS, ids=[f"{d}:{b.line}" for d, b in SHELL_BLOCKS]
)
def test_shell_blocks_name_commands_options_extras_and_files_that_exist(
    doc: str, block: Block
) -> None:
    for command in shell_commands(block):
        words = shlex.split(command)
        program = Path(words[0]).name
        if program == "pinyard":
            assert parses(words[1:]), f"{doc}:{block.line}: {command!r} does not parse"
        if program in ("pip", "pip3") or words[:3] in (["python", "-m", "pip"],
                                                       ["python3", "-m", "pip"]):  # fmt: skip
            for word in words:
                if match := re.fullmatch(r"(?:\.|pinyard)\[([\w,-]+)\]", word):
                    unknown = set(match.group(1).split(",")) - EXTRAS
                    assert not unknown, f"{doc}:{block.line}: no extra {unknown} in {command!r}"
        for word in words:
            if word.startswith("examples/"):
                assert (REPO / word).exists(), f"{doc}:{block.line}: {word} does not exist"


def parses(args: list[str]) -> bool:
    """Whether the CLI accepts ``args`` (without running anything)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            root = _parser()
            namespace = root.parse_args(normalize(root, args))
        except SystemExit as exc:
            return exc.code == 0  # --help, --version
    return isinstance(namespace, argparse.Namespace)


def test_the_checks_catch_drift(tmp_path: Path) -> None:
    """The checks above fail on what they are meant to catch."""
    assert not parses(["serve", "BOARD", "NAME", "--verison", "V"])
    assert not parses(["no-such-command"])
    assert parses(["serve", "BOARD", "NAME", "--version", "V"])
    bad = tmp_path / "bad.md"
    bad.write_text("<!-- not run -->\n```python\nx = 1\n```\n")
    with pytest.raises(ValueError, match="a reason is needed"):
        blocks(bad)
    bad.write_text("<!-- not run: why -->\n\nsome text\n```python\nx = 1\n```\n")
    with pytest.raises(ValueError, match="directly before its block"):
        blocks(bad)
    failing = tmp_path / "failing.md"
    failing.write_text("```python\nx = 1\n```\n\ntext\n\n```python\nundefined_name\n```\n")
    done = subprocess.run(
        [sys.executable, "-m", "tests._snippets", str(failing)],
        cwd=tmp_path, env=clean_env(PYTHONPATH=str(REPO)), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert f'File "{failing}", line 8' in done.stderr  # the Markdown file's own line


def stock_python() -> str:
    """The machine's own python3 (on Debian/Ubuntu: externally managed, the case the README
    must work in) when it is 3.11+ with venv, else the interpreter this venv was made from."""
    system = Path("/usr/bin/python3")
    if system.exists():
        check = "import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))"
        done = subprocess.run([str(system), "-c", check], capture_output=True, check=False)
        if done.returncode == 0:
            return str(system)
    return str(Path(sys._base_executable).resolve())  # type: ignore[attr-defined]


def test_the_readme_opens_with_the_two_commands_and_the_first_works_as_written(
    tmp_path: Path,
) -> None:
    shell = [b for b in blocks(REPO / "README.md") if b.lang in SHELLS]
    first, second = shell[0].code.strip(), shell[1].code.strip()
    assert second == "bash scripts/test.sh"
    assert "scripts/test.sh" in (REPO / ".ci" / "run").read_text()
    # A copy of the checkout, without any venv, run by a plain python3 as a newcomer would.
    checkout = tmp_path / "pinyard"
    skip = shutil.ignore_patterns(".git", ".venv*", "node_modules", "__pycache__", ".*_cache",
                                  ".hypothesis", "build", "dist", "pinyard-board*")  # fmt: skip
    shutil.copytree(REPO, checkout, ignore=skip)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(stock_python())
    env = clean_env(PATH=f"{bin_dir}:/usr/bin:/bin")
    done = subprocess.run(["bash", "-c", first], cwd=checkout, env=env, capture_output=True,
                          text=True, timeout=900, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert "wrote sales version" in done.stdout
    assert f"the board is in {checkout / 'pinyard-board'}" in done.stdout
    assert (checkout / "pinyard-board" / "pinyard.json").exists()
