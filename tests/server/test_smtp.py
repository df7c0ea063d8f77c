"""SMTP receive and submission with Python's smtplib, read back over IMAP (RFC 5321, RFC 6409,
RFC 3207, RFC 4954, RFC 2920)."""

from __future__ import annotations

import email.utils
import smtplib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crispin.server.smtp import session as smtp_session
from tests.server.harness import PASSWORD, ServerThread
from tests.server.smtp_helpers import (
    MESSAGE,
    fetch_all,
    raw_session,
    read_replies,
    smtp_port,
    split_received,
)


@pytest.fixture
def mail(tmp_path: Path) -> Iterator[ServerThread]:
    srv = ServerThread(tmp_path / "data")
    srv.add_account("alice")
    srv.add_user("bob")
    try:
        yield srv
    finally:
        srv.stop()


def test_smtplib_plain_delivery_read_back_byte_for_byte(mail: ServerThread) -> None:
    before = int(time.time())
    with smtplib.SMTP("127.0.0.1", smtp_port(mail), timeout=10) as smtp:
        code, features = smtp.ehlo("client.example")
        assert code == 250
        for ext in (b"PIPELINING", b"SIZE 52428800", b"8BITMIME", b"SMTPUTF8",
                    b"ENHANCEDSTATUSCODES", b"STARTTLS"):
            assert ext in features.split(b"\n"), ext
        refused = smtp.sendmail("sender@example.org", ["alice@example.com"], MESSAGE)
        assert refused == {}
    [raw] = fetch_all(mail)
    trace, rest = split_received(raw)
    assert rest == MESSAGE
    assert b"from client.example ([127.0.0.1])" in trace
    assert b"with ESMTP" in trace and b"for <alice@example.com>;" in trace
    # RFC 5321 §4.4: the date-time of receipt, local time with its offset (RFC 5322 §3.3).
    stamped = email.utils.parsedate_to_datetime(trace.rsplit(b";", 1)[1].strip().decode())
    assert before <= stamped.timestamp() <= time.time()
    assert stamped.utcoffset() == stamped.astimezone().utcoffset()


def test_several_recipients_one_message_each_and_unknown_refused(mail: ServerThread) -> None:
    with smtplib.SMTP("127.0.0.1", smtp_port(mail), timeout=10) as smtp:
        smtp.ehlo("client")
        smtp.mail("sender@example.org")
        assert smtp.rcpt("alice@a.test")[0] == 250
        assert smtp.rcpt("bob@b.test")[0] == 250
        code, text = smtp.rcpt("nobody@b.test")
        assert (code, text[:5]) == (550, b"5.1.1")
        code, text = smtp.data(MESSAGE)
        assert (code, text[:5]) == (250, b"2.0.0")
    assert split_received(fetch_all(mail)[0])[1] == MESSAGE
    assert split_received(fetch_all(mail, "bob")[0])[1] == MESSAGE
    # Several recipients: no "for" clause naming the others (RFC 5321 §4.4).
    assert b"for <" not in split_received(fetch_all(mail, "bob")[0])[0]


def test_plus_address_goes_to_folder_created_when_missing(mail: ServerThread) -> None:
    with smtplib.SMTP("127.0.0.1", smtp_port(mail), timeout=10) as smtp:
        smtp.sendmail("s@example.org", ["alice+Receipts/2026@example.com"], MESSAGE)
    assert split_received(fetch_all(mail, mailbox="Receipts/2026")[0])[1] == MESSAGE
    imap = mail.login("alice")
    typ, data = imap.lsub('""', "Receipts/2026")
    imap.logout()
    assert typ == "OK" and data and data[0] is not None and b"Receipts/2026" in data[0]


def test_starttls_then_mail(mail: ServerThread) -> None:
    ctx = mail.client_context()
    with smtplib.SMTP("127.0.0.1", smtp_port(mail), timeout=10) as smtp:
        smtp.ehlo("client")
        code, _ = smtp.starttls(context=ctx)
        assert code == 220
        code, features = smtp.ehlo("client")
        assert b"STARTTLS" not in features
        smtp.sendmail("s@example.org", ["alice@x.test"], MESSAGE)
    trace, rest = split_received(fetch_all(mail)[0])
    assert rest == MESSAGE and b"with ESMTPS" in trace


def test_submission_requires_auth_and_keeps_sent_copy(mail: ServerThread) -> None:
    with smtplib.SMTP("127.0.0.1", smtp_port(mail, "submission"), timeout=10) as smtp:
        code, features = smtp.ehlo("client")
        assert b"AUTH PLAIN LOGIN" in features
        code, text = smtp.mail("alice@example.com")
        assert (code, text[:5]) == (530, b"5.7.0")
        smtp.rset()
        with pytest.raises(smtplib.SMTPAuthenticationError) as failed:
            smtp.login("alice", "wrong password")
        assert failed.value.smtp_code == 535
        smtp.login("alice", PASSWORD)
        assert smtp.sendmail("alice@example.com", ["bob@example.com"], MESSAGE) == {}
    assert split_received(fetch_all(mail, "bob")[0])[1] == MESSAGE
    [sent] = fetch_all(mail, "alice", "Sent")
    trace, rest = split_received(sent)
    assert rest == MESSAGE and b"with ESMTPA" in trace
    imap = mail.login("alice")
    imap.select("Sent")
    typ, data = imap.fetch("1", "(FLAGS)")
    imap.logout()
    assert b"\\Seen" in data[0]


def test_auth_login_mechanism_and_starttls_submission(mail: ServerThread) -> None:
    with smtplib.SMTP("127.0.0.1", smtp_port(mail, "submission"), timeout=10) as smtp:
        smtp.starttls(context=mail.client_context())
        smtp.ehlo("client")
        smtp.user, smtp.password = "alice", PASSWORD
        code, _ = smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=False)
        assert code == 235
    with smtplib.SMTP("127.0.0.1", smtp_port(mail, "submission"), timeout=10) as smtp:
        smtp.ehlo("client")
        smtp.user, smtp.password = "alice", PASSWORD
        code, _ = smtp.auth("PLAIN", smtp.auth_plain)
        assert code == 235
        smtp.sendmail("alice@example.com", ["alice@example.com"], MESSAGE)
    trace, rest = split_received(fetch_all(mail)[0])
    assert rest == MESSAGE and b"with ESMTPA" in trace


def test_pipelined_transaction_in_one_write(mail: ServerThread) -> None:
    """RFC 2920: the whole envelope in one packet, then the message after 354."""
    sock = raw_session(smtp_port(mail))
    sock.sendall(b"EHLO pipe.example\r\n")
    assert read_replies(sock, 1)[0].startswith(b"250-")
    sock.sendall(b"MAIL FROM:<s@example.org> SIZE=300\r\nRCPT TO:<alice@example.com>\r\n"
                 b"RCPT TO:<ghost@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n")
    replies = read_replies(sock, 5)
    assert [r[:9] for r in replies] == [b"250 2.1.0", b"250 2.1.5", b"550 5.1.1",
                                        b"250 2.1.5", b"354 End d"]
    sock.sendall(MESSAGE.replace(b"\r\n.", b"\r\n..") + b".\r\nQUIT\r\n")
    assert [r[:9] for r in read_replies(sock, 2)] == [b"250 2.0.0", b"221 2.0.0"]
    sock.close()
    assert split_received(fetch_all(mail)[0])[1] == MESSAGE
    assert split_received(fetch_all(mail, "bob")[0])[1] == MESSAGE


def test_refusals_keep_the_connection_usable(mail: ServerThread) -> None:
    sock = raw_session(smtp_port(mail))
    sock.sendall(b"MAIL FROM:<a@b>\r\n")
    assert read_replies(sock, 1)[0].startswith(b"503 ")
    sock.sendall(b"EHLO x\r\nRCPT TO:<alice@x>\r\nDATA\r\nFOO bar\r\n")
    got = read_replies(sock, 4)
    assert [r[:9] for r in got[1:]] == [b"503 5.5.1", b"503 5.5.1", b"500 5.5.2"]
    sock.sendall(b"MAIL FROM:<a@b> SIZE=999999999999\r\n")
    assert read_replies(sock, 1)[0].startswith(b"552 5.3.4")
    sock.sendall(b"MAIL FROM:<a@b> BODY=BINARYMIME\r\n")
    assert read_replies(sock, 1)[0].startswith(b"555 5.5.4")
    sock.sendall(b"MAIL FROM:<a@b>\r\nMAIL FROM:<a@b>\r\nDATA\r\n")
    assert [r[:9] for r in read_replies(sock, 3)] == [b"250 2.1.0", b"503 5.5.1",
                                                      b"554 5.5.1"]
    sock.sendall(b"RCPT TO:<alice@x>\r\nNOOP\r\nVRFY alice\r\nRSET\r\nQUIT\r\n")
    assert [r[:3] for r in read_replies(sock, 5)] == [b"250", b"250", b"252", b"250", b"221"]
    sock.close()


def test_message_over_size_limit_refused_and_not_stored(make_server: object) -> None:
    srv = make_server(limits={"max_append_size": 2000})  # type: ignore[operator]
    with smtplib.SMTP("127.0.0.1", smtp_port(srv), timeout=10) as smtp:
        smtp.ehlo("c")
        smtp.mail("s@x")
        smtp.rcpt("alice@x")
        code, text = smtp.data(MESSAGE + b"x" * 3000 + b"\r\n")
        assert (code, text[:5]) == (552, b"5.3.4")
        # The session goes on: a small message is taken.
        assert smtp.sendmail("s@x", ["alice@x"], MESSAGE) == {}
    assert len(fetch_all(srv)) == 1


def test_idle_session_sees_smtp_delivery(mail: ServerThread) -> None:
    imap = mail.login("alice")
    imap.select("INBOX")
    tag = imap._new_tag().decode()  # type: ignore[attr-defined]
    imap.send(f"{tag} IDLE\r\n".encode())
    assert imap.readline().startswith(b"+")
    with smtplib.SMTP("127.0.0.1", smtp_port(mail), timeout=10) as smtp:
        smtp.sendmail("s@x", ["alice@x"], MESSAGE)
    assert imap.readline() == b"* 1 EXISTS\r\n"
    imap.send(b"DONE\r\n")
    while not (line := imap.readline()).startswith(tag.encode()):
        assert line.startswith(b"* "), line
    assert line.startswith(tag.encode() + b" OK")
    imap.logout()


def test_pytest_plugin_server_takes_smtp_on_a_free_port(tmp_path: Path) -> None:
    from crispin.server.testing import CrispinServer

    srv = CrispinServer(tmp_path / "data").start()
    try:
        assert srv.smtp_port is not None and srv.smtp_port not in (25, 1025)
        srv.call(srv.running.ctx.store.create_user("carol", "pw"))
        with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as smtp:
            assert smtp.sendmail("s@x", ["carol@x"], MESSAGE) == {}
    finally:
        srv.stop()


def test_command_timeout_closes_an_idle_session_with_421(
        mail: ServerThread, monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 5321 §4.5.3.2.7 (the timeout itself, 5 minutes, shortened here) and §3.8: a
    client that stops sending, mid-transaction too, gets 421 4.4.2 and the connection
    ends; the server goes on taking mail."""
    monkeypatch.setattr(smtp_session, "COMMAND_TIMEOUT", 0.5)
    sock = raw_session(smtp_port(mail))
    sock.sendall(b"EHLO idle.example\r\nMAIL FROM:<s@example.org>\r\n")
    assert read_replies(sock, 2)[1].startswith(b"250 2.1.0")
    assert read_replies(sock, 1)[0].startswith(b"421 4.4.2")  # waits for the server
    assert sock.recv(1024) == b""
    sock.close()
    monkeypatch.undo()  # the next session has the usual timeout (a loaded host is slow)
    with smtplib.SMTP("127.0.0.1", smtp_port(mail), timeout=10) as smtp:
        assert smtp.sendmail("s@example.org", ["alice@example.com"], MESSAGE) == {}
    assert split_received(fetch_all(mail)[0])[1] == MESSAGE
