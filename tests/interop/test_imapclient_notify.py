"""imapclient (a client nobody here wrote) against NOTIFY (RFC 5465): it has no NOTIFY
helper, so its own low-level command path sends NOTIFY SET, its own STATUS parser reads the
STATUS responses NOTIFY SET STATUS answers with, and its own socket polling and response
parser (``idle_check``, which reads whatever the server sends unsolicited) receive the events
sent between commands; the changes come from a second imapclient connection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import imapclient
import pytest
from imapclient.response_parser import parse_response

from tests.server.harness import PASSWORD, ServerThread

MESSAGE = b"From: alice@example.org\r\nSubject: hello\r\n\r\nHello\r\n"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    srv = ServerThread(tmp_path / "data")
    srv.add_account("alice")
    yield srv
    srv.stop()


def connect(server: ServerThread) -> imapclient.IMAPClient:
    client = imapclient.IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=10)
    client.login("alice", PASSWORD)
    return client


def pushed(client: imapclient.IMAPClient, count: int) -> list[tuple[object, ...]]:
    """``count`` unsolicited responses, parsed by imapclient (waits for each)."""
    found: list[tuple[object, ...]] = []
    while len(found) < count:
        found += client.idle_check(timeout=10) or []
        assert found, "nothing arrived"
    return found


def test_notify_through_imapclient(server: ServerThread) -> None:
    watcher, other = connect(server), connect(server)
    other.create_folder("Work")
    other.append("Work", MESSAGE)
    data = watcher._raw_command_untagged(
        b"NOTIFY", [b"SET", b"STATUS",
                    b"(mailboxes Work (MessageNew MessageExpunge))",
                    b"(personal (MailboxName SubscriptionChange))"],
        response_name=b"STATUS", uid=False)
    name, values = parse_response(data)
    assert name == b"Work"
    values = dict(zip(values[::2], values[1::2], strict=True))
    assert values[b"MESSAGES"] == 1 and values[b"UIDNEXT"] == 2 and values[b"UIDVALIDITY"]
    # No command is in progress on the watcher: the events come anyway (§3.1).
    other.append("Work", MESSAGE)
    assert pushed(watcher, 1) == [(b"STATUS", b"Work", (b"UIDNEXT", 3, b"MESSAGES", 2))]
    other.create_folder("Projects")
    assert pushed(watcher, 1) == [(b"LIST", (b"\\HasNoChildren",), b"/", b"Projects")]
    other.rename_folder("Projects", "Done")
    (response,) = pushed(watcher, 1)
    assert response[:4] == (b"LIST", (b"\\HasNoChildren",), b"/", b"Done")
    assert response[4:] == ((b"OLDNAME", (b"Projects",)),)
    other.subscribe_folder("Work")
    assert pushed(watcher, 1) == [(b"LIST", (b"\\HasNoChildren", b"\\Subscribed"), b"/",
                                   b"Work")]
    # The watcher still works as a client: a command, its answer, NOTIFY NONE.
    assert watcher.folder_status("Work", ["MESSAGES"]) == {b"MESSAGES": 2}
    watcher._raw_command_untagged(b"NOTIFY", [b"NONE"], uid=False)
    other.append("Work", MESSAGE)
    assert watcher.noop()[1] == []
    watcher.logout()
    other.logout()
