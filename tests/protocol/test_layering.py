"""protocol/ is sans-I/O: no networking, no database, no upper layers (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

from crispin import protocol

FORBIDDEN = {"asyncio", "socket", "ssl", "selectors", "sqlite3", "aiosqlite", "server", "storage"}
ROOT = Path(protocol.__file__).parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.removeprefix("crispin.").split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.removeprefix("crispin.").split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            names.add("__import__")
    return names


def test_protocol_imports_nothing_forbidden() -> None:
    modules = sorted(ROOT.rglob("*.py"))
    assert modules
    bad = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & (FORBIDDEN | {"__import__"}))
        for p in modules
    }
    assert {k: v for k, v in bad.items() if v} == {}


def test_public_api_exports() -> None:
    for name in (
        "Limits", "ServerConnection", "CommandReceived", "LiteralAnnounced", "AppendBegin",
        "AppendData", "AppendEnd", "ContinuationLine", "CommandError", "ConnectionClosed",
        "Event", "Command", "Atom", "Raw", "Literal", "Literal8", "Mailbox", "Value",
        "StatusResponse", "DataResponse", "ContinuationResponse", "Response", "serialize",
        "serialize_value", "SequenceSet", "encode_mutf7", "decode_mutf7", "format_datetime",
        "FetchAttr", "BodySection", "SearchAnd", "SearchOr", "SearchNot", "SearchTerm",
    ):
        assert hasattr(protocol, name), name
