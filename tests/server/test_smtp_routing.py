"""Routing for tests ([smtp] settings): local domains, catch-all to one account or to accounts
created on the fly, subaddress folders created or not, bare LF refused when configured."""

from __future__ import annotations

import smtplib

from tests.server.harness import ServerThread
from tests.server.smtp_helpers import (
    MESSAGE,
    fetch_all,
    raw_session,
    read_replies,
    smtp_port,
    split_received,
)


def send(srv: ServerThread, *recipients: str) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", smtp_port(srv), timeout=10) as smtp:
        try:
            return smtp.sendmail("s@example.org", list(recipients), MESSAGE)
        except smtplib.SMTPRecipientsRefused as exc:
            return exc.recipients


def test_only_configured_domains_are_local(make_server: object) -> None:
    srv = make_server(smtp={"domains": "example.com, Test"})  # type: ignore[operator]
    refused = send(srv, "alice@example.com", "alice@TEST", "alice@elsewhere.org")
    assert list(refused) == ["alice@elsewhere.org"]
    assert refused["alice@elsewhere.org"][0] == 550
    assert refused["alice@elsewhere.org"][1].startswith(b"5.7.1")
    assert len(fetch_all(srv)) == 1  # both local addresses are alice's INBOX: stored once


def test_catch_all_into_one_account(make_server: object) -> None:
    srv = make_server(smtp={"catch_all": "alice"})  # type: ignore[operator]
    assert send(srv, "nobody@x.test", "someone+Box@y.test") == {}
    assert len(fetch_all(srv)) == 1


def test_catch_all_creates_accounts(make_server: object) -> None:
    srv = make_server(smtp={"catch_all": "*"}, test={"auth": "any"})  # type: ignore[operator]
    assert send(srv, "Newbie@x.test", "other+Lists@x.test") == {}
    assert split_received(fetch_all(srv, "newbie")[0])[1] == MESSAGE
    assert split_received(fetch_all(srv, "other", "Lists")[0])[1] == MESSAGE


def test_subaddress_without_folder_creation_goes_to_inbox(make_server: object) -> None:
    srv = make_server(smtp={"create_folders": False})  # type: ignore[operator]
    assert send(srv, "alice+Missing@x.test") == {}
    assert len(fetch_all(srv)) == 1
    imap = srv.login("alice")
    typ, _ = imap.select("Missing")
    imap.logout()
    assert typ == "NO"


def test_bare_lf_refused_when_configured(make_server: object) -> None:
    srv = make_server(smtp={"bare_lf": "reject"})  # type: ignore[operator]
    sock = raw_session(smtp_port(srv))
    sock.sendall(b"EHLO c\r\nMAIL FROM:<s@x>\r\nRCPT TO:<alice@x>\r\nDATA\r\n")
    assert [r[:3] for r in read_replies(sock, 4)] == [b"250", b"250", b"250", b"354"]
    sock.sendall(b"Subject: x\r\n\r\nsmuggled\n.\nMAIL FROM:<evil@x>\r\n.\r\nNOOP\n")
    replies = read_replies(sock, 2)
    assert replies[0].startswith(b"550 5.5.2") and replies[1].startswith(b"500 5.5.2")
    sock.close()
    imap = srv.login("alice")
    assert imap.select("INBOX")[1] == [b"0"]
    imap.logout()


def test_too_many_recipients(make_server: object) -> None:
    srv = make_server(smtp={"max_recipients": 2, "catch_all": "alice"})  # type: ignore[operator]
    refused = send(srv, "a@x", "b@x", "c@x")
    assert refused == {"c@x": (452, b"4.5.3 Too many recipients")}


def _quota(srv: ServerThread, user: str, storage_kib: int | None, messages: int | None) -> None:
    store = srv.running.ctx.store
    account = srv.call(store.get_user(user))
    assert account is not None
    srv.call(store.set_quota("user", account.id, storage_kib, messages))


def test_full_mailbox_refused_at_rcpt(make_server: object) -> None:
    srv = make_server()  # type: ignore[operator]
    srv.add_user("bob")
    _quota(srv, "bob", None, 1)
    assert send(srv, "bob@x") == {}
    refused = send(srv, "alice@x", "bob@x")
    assert refused["bob@x"][0] == 552 and refused["bob@x"][1].startswith(b"5.2.2")
    assert len(fetch_all(srv)) == 1 and len(fetch_all(srv, "bob")) == 1


def test_quota_set_after_mail_arrived_is_seen_at_rcpt(make_server: object) -> None:
    """The router remembers that bob's mailbox has no quota (no database read per RCPT,
    server/delivery.py); a SETQUOTA on this server makes it look again, so the next
    message is refused at RCPT (RFC 9208 §5.1), not taken."""
    srv = make_server()  # type: ignore[operator]
    srv.add_user("bob")
    assert send(srv, "bob@x") == {}
    assert send(srv, "bob@x") == {}  # the answer "no quota" from the cache
    _quota(srv, "bob", None, 2)
    refused = send(srv, "bob@x")
    assert refused["bob@x"][0] == 552 and refused["bob@x"][1].startswith(b"5.2.2")
    assert len(fetch_all(srv, "bob")) == 2


def test_lmtp_full_mailbox_found_after_data_refused_for_that_recipient_only(
        make_server: object) -> None:
    srv = make_server(smtp={"lmtp_port": 0})  # type: ignore[operator]
    srv.add_user("bob")
    _quota(srv, "bob", 1, None)  # 1 KiB: the message (no SIZE=) is found too big at the end
    sock = raw_session(srv.running.mail_port("lmtp"))
    sock.sendall(b"LHLO c\r\nMAIL FROM:<s@x>\r\nRCPT TO:<alice@x>\r\nRCPT TO:<bob@x>\r\n"
                 b"DATA\r\n")
    assert [r[:3] for r in read_replies(sock, 5)] == [b"250", b"250", b"250", b"250", b"354"]
    sock.sendall(b"Subject: big\r\n\r\n" + b"x" * 3000 + b"\r\n.\r\n")
    assert read_replies(sock, 2) == [b"250 2.1.5 <alice@x> delivered",
                                     b"552 5.2.2 <bob@x> mailbox full"]
    sock.close()
    assert len(fetch_all(srv)) == 1
    imap = srv.login("bob")
    assert imap.select("INBOX")[1] == [b"0"]
    imap.logout()


def test_cached_routes_follow_changes_to_accounts_and_mailboxes(make_server: object) -> None:
    """Routes are remembered between messages (server/delivery.py), and forgotten when a
    commit changes mailboxes: a deleted account is refused, a renamed folder is found."""
    srv = make_server()  # type: ignore[operator]
    srv.add_user("carol")
    store = srv.running.ctx.store
    assert send(srv, "carol@x.test", "alice+Lists@x.test") == {}
    assert send(srv, "carol@x.test", "alice+Lists@x.test") == {}  # from the cache
    srv.call(store.delete_user("carol"))
    user = srv.call(store.get_user("alice"))
    srv.call(store.rename_mailbox(user.id, "Lists", "Archive"))
    refused = send(srv, "carol@x.test", "alice+Lists@x.test")
    assert list(refused) == ["carol@x.test"] and refused["carol@x.test"][0] == 550
    # "Lists" is made again (create_folders), "Archive" keeps the two earlier messages.
    assert len(fetch_all(srv, "alice", "Lists")) == 1
    assert len(fetch_all(srv, "alice", "Archive")) == 2
