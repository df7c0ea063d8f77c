"""The protocol trace (log.trace) shows the conversation but never a password."""

from __future__ import annotations

import base64
import logging
import threading

import pytest

from crispin.server.trace import Tracer
from tests.server.harness import PASSWORD


def test_trace_masks_passwords(make_server, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG, logger="crispin")
    srv = make_server(log={"trace": True})
    raw = srv.raw()
    raw.command(b"a1", b'LOGIN alice "' + PASSWORD.encode() + b'"')
    raw.command(b"a2", b"LOGOUT")
    raw2 = srv.raw()
    raw2.send(b"b1 LOGIN alice {%d}\r\n" % len(PASSWORD))
    raw2.line()
    raw2.send(PASSWORD.encode() + b"\r\n")
    raw2.until_tagged(b"b1")
    raw3 = srv.raw()
    raw3.send(b"c1 AUTHENTICATE PLAIN\r\n")
    raw3.line()
    secret = base64.b64encode(b"\0alice\0" + PASSWORD.encode())
    raw3.send(secret + b"\r\n")
    raw3.until_tagged(b"c1")
    text = caplog.text
    assert "a2 LOGOUT" in text and "C: a1 LOGIN <masked>" in text
    assert PASSWORD not in text
    assert secret.decode() not in text


# -- masking per IMAP line and per literal, not per network read (issue 9 point 16) ----------

SECRET = "pw#XJQZ7VK"
SASL = base64.b64encode(b"\0alice\0" + SECRET.encode())

# Conversations as the client sends them; ("S", ...) is what the server says in between.
CONVERSATIONS: dict[str, list[tuple[str, bytes]]] = {
    "login quoted": [("C", b'a1 LOGIN alice "%s"\r\na2 NOOP\r\n' % SECRET.encode())],
    "login atoms": [("C", b"a1 login alice %s\r\na2 NOOP\r\n" % SECRET.encode())],
    "login literals": [
        ("C", b"a1 LOGIN {5}\r\n"), ("S", b"+ Ready\r\n"),
        ("C", b"alice {%d}\r\n" % len(SECRET)), ("S", b"+ Ready\r\n"),
        ("C", SECRET.encode() + b"\r\na2 NOOP\r\n")],
    "login literal+": [("C", b"a1 LOGIN alice {%d+}\r\n%s\r\na2 NOOP\r\n"
                        % (len(SECRET), SECRET.encode()))],
    "authenticate": [
        ("C", b"a1 AUTHENTICATE PLAIN\r\n"), ("S", b"+ \r\n"),
        ("C", SASL + b"\r\n"), ("S", b"a1 OK done\r\n"), ("C", b"a2 NOOP\r\n")],
    # (a command pipelined behind AUTHENTICATE is masked too, until its tagged answer)
    "authenticate sasl-ir": [("C", b"a1 AUTHENTICATE PLAIN " + SASL + b"\r\n"),
                             ("S", b"a1 OK done\r\n"), ("C", b"a2 NOOP\r\n")],
    "refused literal, then login": [
        ("C", b"a0 APPEND INBOX {99999999}\r\n"), ("S", b"a0 NO [TOOBIG] Too big\r\n"),
        ("C", b'a1 LOGIN alice "%s"\r\na2 NOOP\r\n' % SECRET.encode())],
}


def _feed(tracer: Tracer, script: list[tuple[str, bytes]], cuts: set[int]) -> None:
    """Play ``script``; the client's bytes arrive in reads cut at the offsets in ``cuts``
    (counted over everything the client sends)."""
    offset = 0
    for side, data in script:
        if side == "S":
            tracer.outgoing(data)
            continue
        start = 0
        for cut in sorted(c - offset for c in cuts if offset < c < offset + len(data)):
            tracer.incoming(data[start:cut])
            start = cut
        tracer.incoming(data[start:])
        offset += len(data)


def _leaks(text: str) -> list[str]:
    """Any 4 characters in a row of the password or of the SASL response."""
    return [s[i:i + 4] for s in (SECRET, SASL.decode()) for i in range(len(s) - 3)
            if s[i:i + 4] in text]


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_trace_masks_secrets_whatever_the_reads(name: str,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """Split at every byte, and one byte per read: the trace is the same, password-free."""
    script = CONVERSATIONS[name]
    total = sum(len(d) for side, d in script if side == "C")
    log = logging.getLogger("crispin.test-trace")
    caplog.set_level(logging.DEBUG, logger="crispin.test-trace")
    traces = []
    for cuts in [set(), set(range(total))] + [{i} for i in range(1, total)]:
        caplog.clear()
        _feed(Tracer(log, "peer"), script, cuts)
        text = caplog.text
        assert not _leaks(text), (name, sorted(cuts)[:3], text)
        assert "C: a2 NOOP" in text, text  # the next command is shown again
        traces.append([r.getMessage() for r in caplog.records])
    assert all(t == traces[0] for t in traces), (name, traces[0])


def test_login_split_across_reads_over_a_socket(make_server,  # type: ignore[no-untyped-def]
                                                caplog: pytest.LogCaptureFixture,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The exchange of the issue: a LOGIN whose bytes reach the server in two reads, cut
    at every byte, on a real connection. The test waits until the server has read the
    first part before sending the second, so the two are never one read."""
    caplog.set_level(logging.DEBUG, logger="crispin")
    read = threading.Event()
    original = Tracer.incoming

    def incoming(self: Tracer, data: bytes) -> None:
        original(self, data)
        read.set()

    monkeypatch.setattr(Tracer, "incoming", incoming)
    srv = make_server(log={"trace": True})
    srv.add_user("carol", SECRET)
    line = b'a1 LOGIN carol "%s"\r\n' % SECRET.encode()
    for cut in range(1, len(line)):
        raw = srv.raw()
        read.clear()
        raw.send(line[:cut])
        assert read.wait(10)
        raw.send(line[cut:])
        assert raw.until_tagged(b"a1")[-1].startswith(b"a1 OK")
        raw.command(b"a2", b"LOGOUT")
        raw.close()
    assert "C: a1 LOGIN <masked>" in caplog.text
    assert not _leaks(caplog.text)
