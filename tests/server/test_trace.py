"""The protocol trace (log.trace) shows the conversation but never a password."""

from __future__ import annotations

import base64
import logging

import pytest

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
