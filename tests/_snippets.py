"""Fenced code blocks of a Markdown file, and running its Python blocks in order.

The conventions (CONTRIBUTING.md has them for doc authors):

* Every ```` ```python ```` block runs, top to bottom, in one namespace per file, so a
  block may use what earlier blocks of the same file defined. A file runs in a fresh,
  empty working directory.
* Names a block uses without defining them (placeholders such as ``train_df`` or
  ``model``) are defined by a hidden setup block, an HTML comment directly before it
  (GitHub does not show it)::

      <!-- setup
      train_df = pd.DataFrame({"x": [1.0, 2.0]})
      -->

  Its code runs just before the block, in the same namespace.
* A block that cannot run here (it needs a real cloud account, or is a synopsis) is
  preceded by ``<!-- not run: the reason -->``; the reason is required.

``python -m tests._snippets FILE.md`` runs the Python blocks of FILE.md in the current
directory; a failing block's traceback names FILE.md and the line in it.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
_NOT_RUN = re.compile(r"^<!--\s*not run:\s*(\S.*?)\s*-->$")


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, first code line (1-based) and text, and markers."""

    lang: str
    line: int
    code: str
    setup: str | None = None
    setup_line: int = 0
    not_run: str | None = None


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, with the marker comment before each, if any.

    Raises ValueError for a marker that is not directly before a block, a ``not run``
    without a reason, a setup before a block that is not Python, or an unclosed fence.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    marker: dict[str, object] = {}
    i = 0
    while i < len(lines):
        text = lines[i].strip()
        where = f"{path.name}:{i + 1}"
        if text.startswith("<!-- setup"):
            end = next((j for j in range(i, len(lines)) if lines[j].strip() == "-->"), None)
            if end is None:
                raise ValueError(f"{where}: a setup comment ends with a line '-->'")
            marker = {"setup": "\n".join(lines[i + 1 : end]) + "\n", "setup_line": i + 2}
            i = end + 1
            continue
        if text.startswith("<!--") and "not run" in text:
            match = _NOT_RUN.match(text)
            if match is None:
                raise ValueError(f"{where}: write '<!-- not run: why -->' (a reason is needed)")
            marker = {"not_run": match.group(1)}
        elif (fence := _FENCE.match(text)) is not None:
            lang = fence.group(1)
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
            if end is None:
                raise ValueError(f"{where}: the code block is not closed")
            if "setup" in marker and lang != "python":
                raise ValueError(f"{where}: a setup comment must come before a python block")
            code = "\n".join(lines[i + 1 : end]) + "\n"
            found.append(Block(lang, i + 2, code, **marker))  # type: ignore[arg-type]
            marker = {}
            i = end + 1
            continue
        elif text and marker:
            raise ValueError(f"{where}: put the marker comment directly before its block")
        i += 1
    return found


def run_python(path: Path) -> int:
    """Run the Python blocks of ``path`` in order, in one namespace; how many ran."""
    namespace: dict[str, object] = {"__name__": "__snippets__"}
    source = str(path.resolve())
    ran = 0
    for block in blocks(path):
        if block.lang != "python" or block.not_run is not None:
            continue
        if block.setup is not None:
            _exec(block.setup, block.setup_line, source, namespace)
        _exec(block.code, block.line, source, namespace)
        ran += 1
    return ran


def _exec(code: str, line: int, source: str, namespace: dict[str, object]) -> None:
    # Padded so that line numbers in a traceback are the Markdown file's own.
    exec(compile("\n" * (line - 1) + code, source, "exec"), namespace)


if __name__ == "__main__":
    print(f"{run_python(Path(sys.argv[1]))} python blocks ran")
