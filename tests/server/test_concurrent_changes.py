"""What a session answers when another session changed its mailbox meanwhile (issue 9
points 1-3; RFC 3501 §7.4.1, RFC 2180): nothing after LOGOUT's BYE, data for every number
of a FETCH whose messages were expunged by someone else, and a clean end when the selected
mailbox is deleted.

Every test uses two real connections to 127.0.0.1, exchanges as the issue shows them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.server.harness import ServerThread
from tests.server.test_select import Imap, client_factory, fill, message


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    yield from client_factory(server)


def expunge_from_b(b: Imap, *numbers: int) -> None:
    b.select()
    for n in numbers:
        assert b.cmd(f"STORE {n} +FLAGS.SILENT (\\Deleted)").ok
    assert b.cmd("EXPUNGE").ok


# -- 1. LOGOUT ---------------------------------------------------------------------------------


def test_nothing_but_the_tagged_ok_after_bye(imap: Any) -> None:
    """Issue 9 point 1: with an EXPUNGE, an EXISTS and a FETCH pending, ``a LOGOUT`` was
    answered BYE, then the updates, then OK; RFC 3501 §6.1.3 puts nothing between."""
    a, b = imap(), imap()
    fill(a, 4)
    a.select()
    expunge_from_b(b, 2)
    assert b.cmd("STORE 3 +FLAGS (\\Flagged)").ok
    assert b.append("INBOX", message("late")).ok
    a.send(b"z LOGOUT\r\n")
    lines = [a.line(), a.line()]
    assert lines[0].startswith(b"* BYE ")
    assert lines[1].startswith(b"z OK ")
    assert a.buf == b"" and a.sock.recv(100) == b""  # and the server closed
