"""Dependencies point one way: faces -> capabilities -> boards (shared/DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "pinyard"
FACES = {"cli", "ui", "serving"}
CAPABILITIES = {"registry", "tracking", "models"}
#: What each layer may not import, even lazily inside a function.
FORBIDDEN = {
    "boards": FACES | CAPABILITIES,
    "models": FACES | {"registry", "tracking"},
    "tracking": FACES | {"registry"},
    "registry": FACES,
}


def imported_packages(path: Path) -> set[str]:
    """The pinyard subpackages a module imports, anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "pinyard" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    offenders = {
        str(path.relative_to(SRC)): sorted(imported_packages(path) & FORBIDDEN[layer])
        for path in (SRC / layer).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n    from pinyard.tracking import Tracker\n    import pinyard.cli\n"
    )
    assert imported_packages(module) == {"tracking", "cli"}
