"""SMTP faults on demand (server/faults.py, ``"protocol": "smtp"``): one test per fault, each
showing what Python's smtplib sees, and that the server logged it."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.harness import PASSWORD, ServerThread
from tests.server.http.conftest import Api, http_server_thread
from tests.server.http.helpers import arm, history

MESSAGE = (b"From: app@example.com\r\nTo: alice@example.com\r\nSubject: Order 42\r\n\r\n"
           b"Thank you for your order.\r\n")


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[ServerThread]:
    srv = http_server_thread(tmp_path / "data")
    srv.add_user("alice")
    srv.add_user("bob")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def mail_api(mail_server: ServerThread) -> Api:
    return Api(mail_server)


def smtp(srv: ServerThread, kind: str = "smtp") -> smtplib.SMTP:
    return smtplib.SMTP("127.0.0.1", srv.running.mail_port(kind), timeout=30)


def subjects(srv: ServerThread, user: str = "alice") -> list[bytes]:
    imap = srv.login(user)
    try:
        imap.select("INBOX")
        _, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        return [part[1].strip() for part in data if isinstance(part, tuple)]
    finally:
        imap.logout()


def fault_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "crispin.faults" and "applied" in r.getMessage()]


def test_tempfail_on_mail_from(mail_server: ServerThread, mail_api: Api,
                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "crispin.faults")
    arm(mail_api, protocol="smtp", action="tempfail", commands=["MAIL"], code=451,
        text="Try again later")
    with smtp(mail_server) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("app@example.com", ["alice@example.com"], MESSAGE)
        assert (refused.value.smtp_code, refused.value.smtp_error) == \
            (451, b"4.3.0 Try again later")
        client.sendmail("app@example.com", ["alice@example.com"], MESSAGE)  # the retry
    assert subjects(mail_server) == [b"Subject: Order 42"]
    assert [(h["protocol"], h["action"], h["command"]) for h in history(mail_api)] == \
        [("smtp", "tempfail", "MAIL")]
    assert len(fault_log(caplog)) == 1 and "smtp tempfail on MAIL" in fault_log(caplog)[0]


def test_tempfail_421_closes_the_connection(mail_server: ServerThread, mail_api: Api) -> None:
    arm(mail_api, protocol="smtp", action="tempfail", commands=["EHLO"], code=421)
    client = smtp(mail_server)
    # No enhanced code before EHLO is answered (RFC 2034 §3).
    assert client.ehlo() == (421, b"Fault injected by the test")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.noop()


def test_reject_recipient(mail_server: ServerThread, mail_api: Api,
                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "crispin.faults")
    arm(mail_api, protocol="smtp", action="reject", commands=["RCPT"], user="bob",
        text="No mail for bob today")
    with smtp(mail_server) as client:
        refused = client.sendmail("app@example.com", ["alice@example.com", "bob@example.com"],
                                  MESSAGE)
        assert refused == {"bob@example.com": (550, b"5.3.0 No mail for bob today")}
    assert subjects(mail_server) == [b"Subject: Order 42"]
    assert subjects(mail_server, "bob") == []
    assert "smtp reject on RCPT by bob" in fault_log(caplog)[0]


def test_reject_after_data(mail_server: ServerThread, mail_api: Api) -> None:
    arm(mail_api, protocol="smtp", action="reject", commands=["DATA"],
        text="Content refused")
    with smtp(mail_server) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("app@example.com", ["alice@example.com"], MESSAGE)
        assert (refused.value.smtp_code, refused.value.smtp_error) == \
            (554, b"5.3.0 Content refused")
        assert client.noop()[0] == 250  # the session goes on
    assert subjects(mail_server) == []  # refused: not stored


def test_tempfail_after_data_over_lmtp_is_per_recipient(tmp_path: Path) -> None:
    srv = ServerThread(tmp_path / "data", http={"enabled": True, "port": 0},
                       smtp={"lmtp_port": 0})
    try:
        srv.add_user("alice")
        srv.add_user("bob")
        api = Api(srv)
        arm(api, protocol="smtp", action="tempfail", commands=["DATA"], code=452)
        lmtp = smtplib.LMTP("127.0.0.1", srv.running.mail_port("lmtp"), timeout=30)
        lmtp.ehlo_or_helo_if_needed()
        # RFC 2033 §4.2: one reply per recipient; smtplib reads the first one.
        with pytest.raises(smtplib.SMTPDataError) as refused:
            lmtp.sendmail("app@example.com", ["alice@example.com", "bob@example.com"],
                          MESSAGE)
        assert (refused.value.smtp_code, refused.value.smtp_error) == \
            (452, b"4.3.0 Fault injected by the test")
        lmtp.close()
        assert subjects(srv) == [] and subjects(srv, "bob") == []
    finally:
        srv.stop()


def test_disconnect_after_data_keeps_the_message(mail_server: ServerThread, mail_api: Api,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "crispin.faults")
    arm(mail_api, protocol="smtp", action="disconnect", commands=["DATA"])
    client = smtp(mail_server)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.sendmail("app@example.com", ["alice@example.com"], MESSAGE)
    client.close()
    # Stored, though its 250 never came (RFC 5321 §6.1): the client's retry duplicates it.
    assert subjects(mail_server) == [b"Subject: Order 42"]
    assert "smtp disconnect on DATA" in fault_log(caplog)[0]


def test_disconnect_on_a_command_sends_nothing(mail_server: ServerThread, mail_api: Api
                                               ) -> None:
    arm(mail_api, protocol="smtp", action="disconnect", commands=["RCPT"])
    client = smtp(mail_server)
    client.ehlo()
    client.mail("app@example.com")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.rcpt("alice@example.com")
    client.close()
    assert subjects(mail_server) == []


def test_scope_user_connection_window_and_count(mail_server: ServerThread, mail_api: Api
                                                ) -> None:
    # Submission: the user is the authenticated sender.
    arm(mail_api, protocol="smtp", action="tempfail", commands=["MAIL"], user="bob", count=2)
    for user, expected in (("alice", 250), ("bob", 451), ("bob", 451), ("bob", 250)):
        with smtp(mail_server, "submission") as client:
            client.login(user, PASSWORD)
            assert client.mail(f"{user}@example.com")[0] == expected
    # One connection, by the address the client sees as its own; a time window.
    first, second = smtp(mail_server), smtp(mail_server)
    host, port = first.sock.getsockname()[:2]
    arm(mail_api, protocol="smtp", action="reject", commands=["NOOP"],
        connection=f"{host}:{port}", seconds=600, count=None)
    assert second.noop()[0] == 250
    for _ in range(3):
        assert first.noop()[0] == 550
    first.quit()
    second.quit()
    # IMAP faults leave SMTP alone, and the other way round.
    arm(mail_api, action="no", commands=["NOOP"], code="UNAVAILABLE")
    with smtp(mail_server) as client:
        assert client.noop()[0] == 250
    imap = mail_server.login()
    assert imap.noop()[0] == "NO"
    imap.logout()


def test_bad_smtp_fault_descriptions(mail_api: Api) -> None:
    for bad in ({"protocol": "smtp", "action": "no"},
                {"protocol": "smtp", "action": "tempfail", "code": 550},
                {"protocol": "smtp", "action": "reject", "code": "451"},
                {"protocol": "smtp", "action": "disconnect", "code": 421},
                {"protocol": "pop3", "action": "no"},
                {"action": "tempfail"}):
        reply = mail_api.request("POST", "/api/faults", bad)
        assert reply.status == 400, bad
