"""The brief's rules for bench/: adb only through adbutils, one interpreter module."""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_adb_subprocess_and_only_local_imports_the_interpreter():
    modules = {path.name: _imports(path) for path in BENCH.glob("*.py")}
    assert all("subprocess" not in names for names in modules.values())
    interpreter = {name for name, names in modules.items()
                   if any(n.startswith(("ai_edge_litert", "tensorflow")) for n in names)}
    assert interpreter == {"local.py"}
    assert all(len(path.read_text().splitlines()) <= 300 for path in BENCH.glob("*.py"))
