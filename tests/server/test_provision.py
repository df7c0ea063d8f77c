"""Accounts and mail from configuration (issue 12): CRISPIN_USERS, the users file, test mode's
any-password login, the preload folder, ``crispin serve --ephemeral``."""

from __future__ import annotations

import imaplib
import re
import smtplib
from pathlib import Path

import pytest

from crispin.storage.passwords import hash_password
from tests.server.harness import ServerThread
from tests.server.process import ServerProcess


def can_login(port: int, user: str, password: str) -> bool:
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    try:
        imap.login(user, password)
    except imaplib.IMAP4.error:
        return False
    finally:
        imap.shutdown()
    return True


def test_users_from_environment_created_then_updated_idempotently(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = ServerProcess(data, env={"CRISPIN_USERS": "alice:secret,bob:s3cr:et2"})
    try:
        assert can_login(srv.port, "alice", "secret")
        assert can_login(srv.port, "bob", "s3cr:et2")  # everything after the first ":"
        assert not can_login(srv.port, "alice", "wrong")
        assert srv.starter is None  # configured users: no starter account
    finally:
        srv.terminate()
    again = ServerProcess(data, env={"CRISPIN_USERS": "alice:changed,bob:s3cr:et2"})
    try:
        assert can_login(again.port, "alice", "changed")
        assert not can_login(again.port, "alice", "secret")
        assert can_login(again.port, "bob", "s3cr:et2")
        text = "".join(again.output)
        assert "account alice updated" in text and "account bob" not in text
    finally:
        again.terminate()


def test_users_file_with_passwords_and_hashes(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text("# test accounts\ncarol:pass, with comma\n\n"
                     f"dave:{hash_password('hashed-pw', n=2**10)}\n")
    srv = ServerThread(tmp_path / "data", accounts={"users_file": str(users)})
    try:
        assert can_login(srv.port, "carol", "pass, with comma")
        assert can_login(srv.port, "dave", "hashed-pw")
        # Every account gets the special-use mailboxes, as `crispin user add` makes them.
        imap = srv.login("dave", "hashed-pw")
        typ, data = imap.list()
        imap.logout()
        assert any(b"\\Sent" in line for line in data if isinstance(line, bytes))
    finally:
        srv.stop()


def test_bad_users_entry_stops_the_server(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not name:password"):
        ServerProcess(tmp_path / "data", env={"CRISPIN_USERS": "alice"})


def test_accounts_made_side_by_side_and_one_bad_name_stops_the_server(tmp_path: Path) -> None:
    """Configured accounts are hashed in parallel at start (server/provision.py); a name
    given twice still takes its last password, and one invalid name among good ones is the
    configuration error it was, not an error group."""
    srv = ServerThread(tmp_path / "data", accounts={
        "users": "erin:first,frank:f-pw,erin:second,grace:g-pw"})
    try:
        assert can_login(srv.port, "erin", "second")
        assert not can_login(srv.port, "erin", "first")
        assert can_login(srv.port, "frank", "f-pw") and can_login(srv.port, "grace", "g-pw")
    finally:
        srv.stop()
    with pytest.raises(RuntimeError, match="invalid user name 'a/b'"):
        ServerProcess(tmp_path / "other", env={"CRISPIN_USERS": "alice:x,a/b:y,bob:z"})


def test_any_password_test_mode(tmp_path: Path) -> None:
    srv = ServerThread(tmp_path / "data", test={"auth": "any"})
    try:
        assert can_login(srv.port, "newcomer", "whatever")
        assert can_login(srv.port, "newcomer", "something else")
        assert not can_login(srv.port, "newcomer", "")
        with smtplib.SMTP("127.0.0.1", srv.running.mail_port("submission"), timeout=10) as s:
            s.login("second", "x")
            s.sendmail("second@x", ["newcomer@x"], b"Subject: hi\r\n\r\nhello\r\n")
        imap = srv.login("newcomer", "any")
        assert imap.select("INBOX")[1] == [b"1"]
        imap.logout()
    finally:
        srv.stop()


def test_test_mode_is_announced_loudly(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "data", env={"CRISPIN_TEST_AUTH": "any"})
    try:
        assert "TEST MODE" in "".join(srv.output)
    finally:
        srv.terminate()


def eml(subject: str) -> bytes:
    return f"From: f@example.org\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n".encode()


def subjects(port: int, user: str, password: str, mailbox: str) -> list[str]:
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    imap.login(user, password)
    typ, _ = imap.select(f'"{mailbox}"')
    assert typ == "OK", mailbox
    typ, data = imap.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    imap.logout()
    return sorted(p[1].decode().split(":", 1)[1].strip() for p in data if isinstance(p, tuple))


def test_preload_folder_imported_once(tmp_path: Path) -> None:
    root = tmp_path / "preload"
    (root / "alice" / "Work" / "Projects").mkdir(parents=True)
    (root / "alice" / "a1.eml").write_bytes(eml("inbox one"))
    (root / "alice" / "Work" / "Projects" / "p1.eml").write_bytes(eml("project one"))
    (root / "alice" / "Work" / "Projects" / "p2.eml").write_bytes(eml("project two"))
    (root / "alice" / "Old.mbox").write_bytes(
        b"From x Mon Jan  6 10:00:00 2025\n" + eml("mbox one").replace(b"\r\n", b"\n") + b"\n")
    maildir = root / "bob" / "INBOX"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "cur" / "1700000000.1.host:2,S").write_bytes(eml("maildir seen"))
    env = {"CRISPIN_USERS": "alice:pw,bob:pw", "CRISPIN_PRELOAD": str(root)}
    data = tmp_path / "data"
    for _ in range(2):  # the second start must not import again
        srv = ServerProcess(data, env=env)
        try:
            assert subjects(srv.port, "alice", "pw", "INBOX") == ["inbox one"]
            assert subjects(srv.port, "alice", "pw", "Work/Projects") == ["project one",
                                                                        "project two"]
            assert subjects(srv.port, "alice", "pw", "Old") == ["mbox one"]
            assert subjects(srv.port, "bob", "pw", "INBOX") == ["maildir seen"]
        finally:
            srv.terminate()


def test_ephemeral_data_folder_removed_at_exit() -> None:
    srv = ServerProcess(None, "--ephemeral")
    try:
        m = re.search(r"Data folder: (\S+) \(ephemeral", "".join(srv.output))
        assert m, srv.output
        folder = Path(m[1])
        assert (folder / "crispin.db").exists()
        with smtplib.SMTP("127.0.0.1", srv.mail_ports["smtp"], timeout=10) as smtp:
            smtp.ehlo("c")
    finally:
        assert srv.terminate() == 0
    assert not folder.exists()
