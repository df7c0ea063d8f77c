"""storage/ imports neither server nor protocol (DESIGN.md "The three layers"), and its
runtime dependency is the standard library alone (its database threads are its own:
storage/db.py "Threads")."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

STORAGE = Path(__file__).resolve().parents[2] / "storage"


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_storage_imports_only_stdlib() -> None:
    files = sorted(STORAGE.glob("*.py"))
    assert files
    for path in files:
        roots = imported_roots(path) - {"__future__"}
        assert "server" not in roots and "protocol" not in roots, path
        third_party = {r for r in roots if r not in sys.stdlib_module_names}
        assert third_party <= {"storage"}, (path, third_party)
