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
            roots.update(alias.name.removeprefix("crispin.").split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.removeprefix("crispin.").split(".")[0])
    return roots


def test_storage_imports_only_stdlib() -> None:
    files = sorted(STORAGE.glob("*.py"))
    assert files
    for path in files:
        roots = imported_roots(path) - {"__future__"}
        assert "server" not in roots and "protocol" not in roots, path
        third_party = {r for r in roots if r not in sys.stdlib_module_names}
        assert third_party <= {"storage"}, (path, third_party)


def test_server_uses_only_the_public_surface() -> None:
    """The server imports from ``storage`` only what its ``__all__`` lists (issue 10, "one
    place for each rule"): never ``storage.<module>`` directly."""
    from crispin import storage

    public = set(storage.__all__)
    files = sorted((STORAGE.parent / "server").rglob("*.py"))
    assert files
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names
                         if a.name.removeprefix("crispin.").split(".")[0] == "storage"]
                assert all(n == "crispin.storage" for n in names), (path, node.lineno, names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                    and node.module.removeprefix("crispin.").split(".")[0] == "storage":
                assert node.module == "crispin.storage", (path, node.lineno, node.module)
                private = {a.name for a in node.names} - public
                assert not private, (path, node.lineno, private)
