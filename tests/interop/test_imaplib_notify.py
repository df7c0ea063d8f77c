"""The standard library's imaplib (a client nobody here wrote) against NOTIFY (RFC 5465):
it has no NOTIFY command, so it is taught the name as its documentation allows
(``imaplib.Commands``), reads NOTIFY in CAPABILITY, sends NOTIFY SET STATUS and collects,
with its own response parser, the STATUS responses it answers with and the events that
arrive meanwhile (imaplib keeps unsolicited responses for ``response()``); and the §7
``UPDATE (fetch-att)`` return option through its ``uid('SEARCH', ...)``."""

from __future__ import annotations

import imaplib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.harness import PASSWORD, ServerThread

MESSAGE = b"From: boss@example.org\r\nSubject: hello\r\n\r\nHello\r\n"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    srv = ServerThread(tmp_path / "data")
    srv.add_account("alice")
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def notify_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(imaplib.Commands, "NOTIFY", ("AUTH", "SELECTED"))


def connect(server: ServerThread) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", server.port, timeout=10)
    client.login("alice", PASSWORD)
    return client


def test_notify_through_imaplib(server: ServerThread) -> None:
    watcher, other = connect(server), connect(server)
    typ, caps = watcher.capability()  # after login: imaplib kept the greeting's
    assert typ == "OK" and b"NOTIFY" in (caps[0] or b"").split(), caps
    assert other.create("Work")[0] == "OK"
    assert other.append("Work", None, None, MESSAGE)[0] == "OK"
    typ, data = watcher._simple_command(
        "NOTIFY", "SET", "STATUS", "(selected (MessageNew (UID FLAGS) MessageExpunge))",
        "(mailboxes Work (MessageNew MessageExpunge))")
    assert typ == "OK", data
    typ, statuses = watcher.response("STATUS")
    assert re.fullmatch(rb'"?Work"? \(UIDVALIDITY \d+ UIDNEXT 2 MESSAGES 1\)',
                        statuses[0] or b""), statuses
    # Another session adds to Work: the STATUS event is there at the watcher's next answer.
    assert other.append("Work", None, None, MESSAGE)[0] == "OK"
    assert watcher.noop()[0] == "OK"
    typ, statuses = watcher.response("STATUS")
    assert statuses == [b'"Work" (UIDNEXT 3 MESSAGES 2)'], statuses
    # The selected mailbox with a context (§7): EXISTS, the FETCH, the ESEARCH ADDTO.
    assert watcher.select("INBOX")[0] == "OK"
    typ, data = watcher.uid("SEARCH", "RETURN", "(UPDATE (UID ENVELOPE))", "FROM", "boss")
    assert typ == "OK", data
    # imaplib keeps untagged responses until asked: the SELECT's and the SEARCH's go.
    for name in ("EXISTS", "ESEARCH", "FETCH"):
        watcher.response(name)
    assert other.append("INBOX", None, None, MESSAGE)[0] == "OK"
    assert watcher.noop()[0] == "OK"
    assert watcher.response("EXISTS")[1] == [b"1"]
    typ, fetched = watcher.response("FETCH")
    assert len(fetched) == 1 and fetched[0] is not None
    assert re.match(rb"1 \(UID 1 FLAGS \(\\Recent\) ENVELOPE \(", fetched[0]), fetched
    typ, updates = watcher.response("ESEARCH")
    assert updates[0] is not None and updates[0].endswith(b"UID ADDTO (0 1)"), updates
    typ, data = watcher._simple_command("NOTIFY", "NONE")
    assert typ == "OK", data
    watcher.logout()
    other.logout()
