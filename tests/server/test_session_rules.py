"""The RFC 3501 §7.4.1 rules stated once (``crispin.server.command_spec``, the command table) and
applied by the session to every command; a failure of the session's sync never hidden
(issue 10, "One place for each rule"; point 15)."""

from __future__ import annotations

import ast
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import crispin.protocol as p
from crispin.server.command_spec import Expunges
from crispin.server.commands import TABLE
from crispin.server.view import View
from tests.server.harness import ServerThread
from tests.server.imap_client import Imap, client_factory, fill, message

COMMANDS_DIR = Path(__file__).resolve().parents[2] / "server" / "commands"


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    yield from client_factory(server)


def test_the_table_states_the_update_rules() -> None:
    # RFC 3501 §7.4.1: FETCH, STORE, SEARCH by number never see an EXPUNGE
    for command in (p.Fetch, p.Store, p.Search):
        assert TABLE[command].expunges is Expunges.UID_FORM
    # RFC 2180 §4.4: COPY (and MOVE) report pending expunges; so do NOOP, CHECK, EXPUNGE
    for command in (p.Copy, p.Move, p.Noop, p.Check, p.Expunge, p.Idle):
        assert TABLE[command].expunges is Expunges.ALLOWED
    # RFC 3501 §6.1.3: nothing after LOGOUT's BYE
    assert not TABLE[p.Logout].updates
    # STORE and FETCH (\Seen) answer their own flag changes: not echoed
    assert {c for c, spec in TABLE.items() if not spec.echo} == {p.Fetch, p.Store}


def test_handlers_change_flags_only_through_the_session() -> None:
    """``Session.store_flags`` records what the command changed, so the table's ``echo``
    applies; a handler calling the store directly would bypass it."""
    offenders = []
    for path in sorted(COMMANDS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "store_flags" \
                    and not (isinstance(node.func.value, ast.Name)
                             and node.func.value.id == "session"):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_the_session_does_not_import_the_handlers() -> None:
    """The import circle session -> commands -> session is gone: the session is handed
    the table (``ServerContext.commands``)."""
    for module in ("session", "context", "connection", "outcome", "command_spec"):
        tree = ast.parse((COMMANDS_DIR.parent / f"{module}.py").read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(m and m.startswith("crispin.server.commands") for m in imported), module


def test_own_store_not_echoed_but_anothers_change_in_between_is(imap: Any) -> None:
    a, b = imap(), imap()
    fill(a, 2)
    a.select()
    b.select()
    assert b.cmd("STORE 2 +FLAGS (\\Flagged)").ok
    r = a.cmd("STORE 1 +FLAGS.SILENT (\\Seen)")
    # .SILENT: no FETCH for A's own change; B's (pending) change may be reported
    assert [n for n, _ in r.fetches()] in ([], [2])
    assert all(n == 2 for n, _ in a.cmd("NOOP").fetches())


def test_a_bug_in_the_sync_is_logged_and_ends_the_session(
        imap: Any, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The sync after a command used to log and carry on (the view possibly half
    updated); now the tagged answer goes out, then BYE, and the traceback is logged."""
    a, b = imap(), imap()
    fill(a, 1)
    a.select()
    assert b.append("INBOX", message("new")).ok

    def broken(*args: Any, **kwargs: Any) -> list[Any]:
        raise RuntimeError("bug in apply")

    monkeypatch.setattr(View, "apply", broken)
    a.send(b"n NOOP\r\n")
    assert a.line().startswith(b"n OK")
    assert a.line() == b"* BYE Internal server error, logged"
    with pytest.raises(ConnectionError):
        a.line()
    assert any(r.levelno == logging.ERROR and r.exc_info and "bug in apply" in str(r.exc_info[1])
               for r in caplog.records)


def test_a_bug_during_idle_ends_with_bye_not_a_tagged_no(
        imap: Any, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    a, b = imap(), imap()
    fill(a, 1)
    a.select()
    a.send(b"i IDLE\r\n")
    assert a.line().startswith(b"+ ")

    def broken(*args: Any, **kwargs: Any) -> list[Any]:
        raise RuntimeError("bug in apply")

    monkeypatch.setattr(View, "apply", broken)
    assert b.append("INBOX", message("new")).ok
    assert a.line() == b"* BYE Internal server error, logged"
    with pytest.raises(ConnectionError):
        a.line()
    assert any(r.levelno == logging.ERROR for r in caplog.records)
