"""The test suite's own rule (issue 10, "The test suite itself"): shared test helpers live in
helper modules, never in a ``test_*`` module that other tests import — importing a test
module runs its fixtures' registration twice and ties unrelated tests to its edits."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            out.append(base)
            if not node.module:  # ``from . import test_x``
                out += [base + alias.name for alias in node.names]
    return out


def test_no_test_module_imports_another_test_module() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        for name in _imported_modules(path):
            last = name.rsplit(".", 1)[-1]
            if name.startswith(("tests.", ".")) and last.startswith("test_"):
                offenders.append(f"{path.relative_to(TESTS)} imports {name}")
    assert offenders == []


def test_the_check_sees_both_import_forms(tmp_path: Path) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text("from tests.server.test_select import x\nfrom .test_search import BASE\n"
                      "from . import test_other\nfrom .helpers import query\n")
    assert _imported_modules(sample) == ["tests.server.test_select", ".test_search", ".",
                                         ".test_other", ".helpers"]
