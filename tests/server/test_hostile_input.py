"""Hostile input answered cleanly (issue 11 point 9): invalid UTF-8 where text is expected,
an oversized SEARCH string. Each gets a plain NO or BAD with a response code, failed logins
get the usual failure delay, and nothing reaches the log as a traceback."""

from __future__ import annotations

import base64
import logging
import time

import pytest

from tests.server.harness import PASSWORD, ServerThread, raw_login


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], \
        [r.getMessage() for r in caplog.records if r.exc_info]


def test_login_with_invalid_utf8_user_is_a_delayed_failure(
        server: ServerThread, no_tracebacks: pytest.LogCaptureFixture) -> None:
    raw = server.raw()
    start = time.monotonic()
    lines = raw.command(b"a", b'LOGIN "\xff\xfe" "' + PASSWORD.encode() + b'"')
    assert lines[-1].startswith(b"a NO [AUTHENTICATIONFAILED]")
    assert time.monotonic() - start >= 0.2  # the configured failure_delay, as any failure
    lines = raw.command(b"b", b'LOGIN {2+}\r\n\xc3( "' + PASSWORD.encode() + b'"')
    assert lines[-1].startswith(b"b NO [AUTHENTICATIONFAILED]")
    assert raw.command(b"c", b"NOOP")[-1].startswith(b"c OK")
    assert_no_traceback(no_tracebacks)


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_authenticate_with_invalid_utf8_user_is_a_delayed_failure(
        server: ServerThread, no_tracebacks: pytest.LogCaptureFixture, mechanism: str) -> None:
    raw = server.raw()
    start = time.monotonic()
    if mechanism == "PLAIN":
        ir = base64.b64encode(b"\0al\xffice\0" + PASSWORD.encode())
        lines = raw.command(b"a", b"AUTHENTICATE PLAIN " + ir)
    else:
        raw.send(b"a AUTHENTICATE LOGIN " + base64.b64encode(b"\xffalice") + b"\r\n")
        assert raw.line().startswith(b"+ ")
        raw.send(base64.b64encode(PASSWORD.encode()) + b"\r\n")
        lines = raw.until_tagged(b"a")
    assert lines[-1].startswith(b"a NO [AUTHENTICATIONFAILED]")
    assert time.monotonic() - start >= 0.2
    assert raw.command(b"b", b"NOOP")[-1].startswith(b"b OK")
    assert_no_traceback(no_tracebacks)


def test_acl_and_quota_commands_with_invalid_utf8(
        server: ServerThread, no_tracebacks: pytest.LogCaptureFixture) -> None:
    raw = raw_login(server)
    for tag, command in [
        (b"a", b'SETACL INBOX "\xff" lr'),
        (b"b", b'SETACL INBOX bob "\xff"'),
        (b"c", b'DELETEACL INBOX "\xff"'),
        (b"d", b'LISTRIGHTS INBOX "\xff"'),
        (b"e", b'GETQUOTA "Other Users/\xff"'),
        (b"f", b'GETQUOTA "\xff"'),
        (b"g", b'GETQUOTAROOT "Other Users/\xff/INBOX"'),
        (b"h", b'SELECT "Other Users/\xff"'),
    ]:
        last = raw.command(tag, command)[-1]
        assert last.startswith(tag + b" NO [") or last.startswith(tag + b" BAD"), last
        assert b"SERVERBUG" not in last, last
    assert raw.command(b"z", b"NOOP")[-1].startswith(b"z OK")
    assert_no_traceback(no_tracebacks)


def test_search_with_a_60kb_string(server: ServerThread,
                                   no_tracebacks: pytest.LogCaptureFixture) -> None:
    """SQLite refuses LIKE patterns over 50,000 bytes: a long needle must still be
    answered, and correctly."""
    raw = raw_login(server)
    text = b"x" * 60000
    message = b"Subject: long\r\n\r\n" + text + b"\r\n"
    raw.send(b"m APPEND INBOX {%d+}\r\n%s\r\n" % (len(message), message))
    assert raw.until_tagged(b"m")[-1].startswith(b"m OK")
    raw.command(b"s", b"SELECT INBOX")
    raw.send(b"a SEARCH BODY {%d+}\r\n%s\r\n" % (len(text), text))
    assert raw.until_tagged(b"a")[-2:] == [b"* SEARCH 1", b"a OK SEARCH completed"]
    raw.send(b"d SEARCH BODY {%d+}\r\n%sy\r\n" % (len(text) + 1, text))
    assert raw.until_tagged(b"d")[-2:] == [b"* SEARCH", b"d OK SEARCH completed"]
    raw.send(b"b SEARCH BODY {%d+}\r\n\xff\xfe%s\r\n" % (len(text) + 2, text))
    last = raw.until_tagged(b"b")[-1]
    assert b"SERVERBUG" not in last, last
    assert raw.command(b"c", b"NOOP")[-1].startswith(b"c OK")
    assert_no_traceback(no_tracebacks)
