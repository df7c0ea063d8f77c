"""Helpers of the CONDSTORE/QRESYNC tests (RFC 7162): a logged-in raw session, a mailbox
filled with numbered messages, a response code's value."""

from __future__ import annotations

import re

from tests.server.harness import PASSWORD, RawClient, ServerThread


def session(server: ServerThread) -> RawClient:
    raw = server.raw()
    assert raw.command(b"l", b'LOGIN alice "' + PASSWORD.encode() + b'"')[-1].startswith(b"l OK")
    return raw


def fill(server: ServerThread, n: int, mailbox: str = "INBOX") -> None:
    c = server.login()
    for i in range(1, n + 1):
        c.append(mailbox, None, None, b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i))
    c.logout()


def code_value(lines: list[bytes], code: bytes) -> int:
    for line in lines:
        m = re.search(rb"\[" + code + rb" (\d+)\]", line)
        if m:
            return int(m[1])
    raise AssertionError(f"no {code!r} in {lines!r}")
