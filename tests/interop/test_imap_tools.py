"""imap-tools (PyPI ``imap-tools``), a high-level client over imaplib that nobody here wrote:
its folder manager, query builders (AND/OR/NOT, H, U), message parser, flag/copy/move/delete
helpers and IDLE must all work against Crispin.

The server comes from the interop ``crispin`` fixture (user ``alice``, a fresh data folder per
test, the trace printed on failure); other connections that change the mailbox under a client
are plain imaplib.  Every connection has a timeout.
"""

from __future__ import annotations

import datetime
import email
import hashlib
import imaplib
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from imap_tools import AND, NOT, OR, H, MailBox, MailBoxStartTls, MailBoxUnencrypted, U
from imap_tools.errors import MailboxFolderCreateError, MailboxLoginError

from tests.interop import messages
from tests.interop.conftest import InteropServer

UTC = datetime.UTC
CET = datetime.timezone(datetime.timedelta(hours=1))


@pytest.fixture
def mailbox(crispin: InteropServer) -> Iterator[Callable[..., MailBox]]:
    """Open imap-tools mailboxes: ``mailbox("tls" | "starttls" | "plain")``, logged in."""
    opened: list[MailBox] = []
    ctx = ssl.create_default_context(cafile=str(crispin.cert))

    def open_(transport: str = "tls", initial_folder: str | None = "INBOX") -> MailBox:
        if transport == "tls":
            mb: MailBox = MailBox("localhost", crispin.tls_port, ssl_context=ctx, timeout=10)
        elif transport == "starttls":
            mb = MailBoxStartTls("localhost", crispin.port, ssl_context=ctx, timeout=10)
        else:
            mb = MailBoxUnencrypted("127.0.0.1", crispin.port, timeout=10)
        mb.login(crispin.user, crispin.password, initial_folder=initial_folder)
        opened.append(mb)
        return mb

    yield open_
    for mb in opened:
        try:
            mb.logout()
        except Exception:
            pass


def other_client(crispin: InteropServer, folder: str = "INBOX") -> imaplib.IMAP4:
    c = crispin.imap()
    assert c.select(folder)[0] == "OK"
    return c


def own_flags(flags: tuple[str, ...]) -> set[str]:
    return set(flags) - {"\\Recent"}


def test_transports_capabilities_namespace(crispin: InteropServer, mailbox) -> None:  # type: ignore[no-untyped-def]
    for transport in ("tls", "starttls", "plain"):
        mb = mailbox(transport)
        typ, data = mb.client.capability()
        assert typ == "OK"
        caps = set(data[0].decode().upper().split())
        assert {"IMAP4REV1", "IDLE", "MOVE", "UIDPLUS", "NAMESPACE", "SPECIAL-USE",
                "LIST-EXTENDED", "LIST-STATUS", "CHILDREN", "UNSELECT"} <= caps, caps
        assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps
        typ, data = mb.client.namespace()
        assert (typ, data) == (
            "OK", [b'(("" "/")) (("Other Users/" "/")) (("Shared/" "/"))']), data
        assert mb.folder.get() == "INBOX"
        mb.logout()
    with pytest.raises(MailboxLoginError):
        MailBoxUnencrypted("127.0.0.1", crispin.port, timeout=10).login(crispin.user, "wrong")
    # The password has a space: imap-tools quotes it; so did the logins above.
    assert " " in crispin.password


def test_folders_special_use_non_ascii_create_rename_delete(crispin: InteropServer,
                                                            mailbox) -> None:  # type: ignore[no-untyped-def]
    crispin.load(messages.message_set(large=False))
    mb = mailbox()
    folders = {f.name: f for f in mb.folder.list()}
    assert {"INBOX", "Archive", "Drafts", "Sent", "Trash", "Junk", "Projekte",
            "Projekte/Crispin", messages.UMLAUT} <= set(folders), folders
    assert all(f.delim == "/" for f in folders.values())
    for name, use in (("Drafts", "\\Drafts"), ("Sent", "\\Sent"), ("Trash", "\\Trash"),
                      ("Junk", "\\Junk"), ("Archive", "\\Archive")):
        assert use in folders[name].flags, folders[name]
    assert "\\HasChildren" in folders["Projekte"].flags
    assert "\\HasNoChildren" in folders["Projekte/Crispin"].flags
    # Non-ASCII names: imap-tools encodes modified UTF-7 and decodes LIST answers.
    assert mb.folder.exists(messages.UMLAUT)
    mb.folder.create("Köln/Straße €")
    names = [f.name for f in mb.folder.list("", "Köln*")]
    assert names == ["Köln", "Köln/Straße €"], names
    with pytest.raises(MailboxFolderCreateError):
        mb.folder.create("Köln")  # NO [ALREADYEXISTS]
    raw = other_client(crispin).list('""', '"K*"')[1]
    assert b'"K&APY-ln/Stra&AN8-e &IKw-"' in b" ".join(raw), raw  # on the wire: mUTF-7
    # STATUS (all of imap-tools' items) of a folder holding messages, and of a new one.
    status = mb.folder.status(messages.UMLAUT)
    assert status["MESSAGES"] == 1 and status["UNSEEN"] == 0 and status["UIDNEXT"] == 2
    assert mb.folder.status("Köln/Straße €")["MESSAGES"] == 0
    inbox = mb.folder.status("INBOX")
    assert (inbox["MESSAGES"], inbox["UNSEEN"]) == (4, 2), inbox
    # LIST-STATUS (RFC 5819) through imap-tools' imaplib client: STATUS after each LIST.
    typ, data = mb.client._simple_command("LIST", '""', '"*"', "RETURN",
                                          "(SPECIAL-USE STATUS (MESSAGES UNSEEN))")
    assert typ == "OK", data
    statuses = {}
    for line in mb.client.untagged_responses.pop("STATUS"):
        m = re.fullmatch(rb'"?(.*?)"? \(MESSAGES (\d+) UNSEEN (\d+)\)', line)
        assert m, line
        statuses[messages.mutf7_decode(m[1].decode())] = (int(m[2]), int(m[3]))
    assert statuses["INBOX"] == (4, 2) and statuses["Archive"] == (2, 0), statuses
    assert statuses[messages.UMLAUT] == (1, 0) and statuses["Köln/Straße €"] == (0, 0)
    lists = mb.client.untagged_responses.pop("LIST")
    assert len(lists) == len(statuses) and any(rb"\Junk" in x for x in lists), lists
    # Rename: the child moves with its parent; messages come along.
    mb.folder.rename("Köln", "München")
    names = {f.name for f in mb.folder.list()}
    assert {"München", "München/Straße €"} <= names and "Köln" not in names, names
    mb.folder.rename(messages.UMLAUT, "Entwürfe-neu")
    mb.folder.set("Entwürfe-neu")
    assert [m.subject for m in mb.fetch(AND(all=True), mark_seen=False)] \
        == ["Plain text message 9"]
    # Subscriptions.
    mb.folder.subscribe("München/Straße €", True)
    subscribed = {f.name for f in mb.folder.list(subscribed_only=True)}
    assert {"INBOX", "Sent", "München/Straße €"} <= subscribed, subscribed
    mb.folder.subscribe("München/Straße €", False)
    assert "München/Straße €" not in {f.name for f in mb.folder.list(subscribed_only=True)}
    # Delete.
    mb.folder.set("INBOX")
    mb.folder.delete("München/Straße €")
    assert not mb.folder.exists("München/Straße €")
    assert mb.folder.exists("München")


def test_append_and_fetch_parsed_messages(crispin: InteropServer, mailbox) -> None:  # type: ignore[no-untyped-def]
    mb = mailbox()
    when = datetime.datetime(2025, 1, 6, 10, 0, 0, tzinfo=CET)
    corpus = [
        (messages.plain_text(1), ()),
        (messages.multipart_mixed(), ("\\Seen",)),
        (messages.encoded_subject(), ("\\Flagged", "$Label1")),
        (messages.eight_bit_body(), ("\\Answered",)),
        (messages.nested_rfc822(), ()),
        (messages.large_message(), ()),
    ]
    for raw, flags in corpus:
        typ, data = mb.append(raw, "INBOX", dt=when, flag_set=flags)
        assert typ == "OK" and b"APPENDUID" in data[0], data
    got = list(mb.fetch(mark_seen=False, bulk=True))
    assert [m.uid for m in got] == ["1", "2", "3", "4", "5", "6"]
    for m, (raw, flags) in zip(got, corpus, strict=True):
        assert m.size_rfc822 == len(raw), m.uid
        assert own_flags(m.flags) == set(flags), (m.uid, m.flags)
        assert m.date == datetime.datetime(2025, 1, 6, 10, 0, tzinfo=CET)
        assert m.from_ == "alice@example.org" and m.to == ("bob@example.org",)
    plain, mixed, encoded, eight, nested, large = got
    assert plain.subject == "Plain text message 1"
    assert "this is plain message number 1." in plain.text
    assert encoded.subject == "Grüße aus Köln"
    assert eight.text == messages.eight_bit_body().split(b"\r\n\r\n", 1)[1].decode()
    assert "日本語のテキスト" in eight.text
    [att] = mixed.attachments
    assert (att.filename, att.content_type) == ("data.bin", "application/octet-stream")
    assert att.payload == hashlib.sha256(b"crispin").digest() * 64
    assert nested.subject == "Fwd: Plain text message 40"
    inner = [p for p in nested.obj.walk() if p.get_content_type() == "message/rfc822"]
    assert inner and inner[0].get_payload()[0]["Subject"] == "Plain text message 40"
    [big] = large.attachments
    assert big.filename == "big.bin" and len(big.payload) == 5 * 1024 * 1024 * 3 // 4
    # The whole message comes back byte for byte (imaplib literal).
    typ, data = mb.client.uid("FETCH", "6", "(BODY.PEEK[])")
    assert data[0][1] == corpus[5][0]
    # INTERNALDATE is the dt given to APPEND.
    typ, data = mb.client.uid("FETCH", "1", "(INTERNALDATE)")
    assert b'INTERNALDATE " 6-Jan-2025 10:00:00 +0100"' in data[0], data  # date-day-fixed
    # Partial fetches: BODY.PEEK[]<0.100> and of a part.
    typ, data = mb.client.uid("FETCH", "1", "(BODY.PEEK[]<0.100>)")
    assert typ == "OK" and b"BODY[]<0> {100}" in data[0][0], data
    assert data[0][1] == corpus[0][0][:100]
    typ, data = mb.client.uid("FETCH", "2", "(BODY.PEEK[2]<10.20>)")
    part2 = email.message_from_bytes(corpus[1][0]).get_payload()[1]
    assert data[0][1] == part2.get_payload().encode().replace(b"\n", b"\r\n")[10:30]
    # headers_only, and mark_seen on a real fetch.
    [head] = mb.fetch(AND(uid="1"), headers_only=True, mark_seen=False)
    assert head.subject == "Plain text message 1" and head.text == ""
    [first] = mb.fetch(AND(uid="1"), mark_seen=True)
    assert "\\Seen" in first.flags
    assert own_flags(next(mb.fetch(AND(uid="1"), mark_seen=False)).flags) == {"\\Seen"}


def _search_corpus() -> list[tuple[bytes, datetime.datetime, tuple[str, ...]]]:
    def msg(frm: str, to: str, subject: str, date: str, body: str,
            extra: tuple[str, ...] = ()) -> bytes:
        head = [f"From: {frm}", f"To: {to}", f"Subject: {subject}", f"Date: {date}",
                "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: 8bit", *extra]
        return ("\r\n".join(head) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode()

    return [
        (msg("Alice <alice@example.org>", "bob@example.org", "Quarterly report",
             "Mon, 06 Jan 2025 09:00:00 +0000", "Numbers attached.\n"),
         datetime.datetime(2025, 1, 6, 12, 0, tzinfo=UTC), ("\\Seen",)),
        (msg("Bob <bob@example.net>", "alice@example.org",
             "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=", "Mon, 10 Feb 2025 09:00:00 +0000",
             "Schöne Grüße vom Rhein.\n"),
         datetime.datetime(2025, 2, 10, 12, 0, tzinfo=UTC), ("\\Flagged", "$Important")),
        (msg("Carol <carol@example.com>", "alice@example.org", "Re: Quarterly report",
             "Sat, 15 Mar 2025 09:00:00 +0000", "quoted text\n" * 1500,
             ("Cc: Bob <bob@example.net>",)),
         datetime.datetime(2025, 3, 15, 12, 0, tzinfo=UTC), ()),
        (msg("Dave <dave@example.org>", "Alice <alice@example.org>", "lunch?",
             "Tue, 01 Apr 2025 09:00:00 +0000", "Noodles at noon.\n", ("X-Priority: 1",)),
         datetime.datetime(2025, 4, 1, 12, 0, tzinfo=UTC), ("\\Answered", "\\Seen", "Work")),
    ]


def test_search_criteria(crispin: InteropServer, mailbox) -> None:  # type: ignore[no-untyped-def]
    mb = mailbox()
    for raw, when, flags in _search_corpus():
        mb.append(raw, "INBOX", dt=when, flag_set=flags)
    mb.folder.set("INBOX")

    def uids(criteria: object, charset: str = "US-ASCII") -> list[int]:
        return [int(u) for u in mb.uids(criteria, charset=charset)]  # type: ignore[arg-type]

    d = datetime.date
    assert uids(AND(all=True)) == [1, 2, 3, 4]
    assert uids("ALL") == [1, 2, 3, 4]
    assert uids(AND(subject="quarterly")) == [1, 3]
    assert uids(AND(subject="QUARTERLY REPORT")) == [1, 3]
    assert uids(AND(from_="bob@example.net")) == [2]
    assert uids(AND(from_="Carol")) == [3]            # the display name counts too
    assert uids(AND(to="alice")) == [2, 3, 4]
    assert uids(AND(cc="bob")) == [3]
    assert uids(AND(seen=False)) == [2, 3]
    assert uids(AND(seen=True, answered=True)) == [4]
    assert uids(AND(flagged=True)) == [2]
    assert uids(AND(keyword="$Important")) == [2]
    assert uids(AND(no_keyword="Work")) == [1, 2, 3]
    assert uids(AND(date_gte=d(2025, 2, 10), date_lt=d(2025, 4, 1))) == [2, 3]
    assert uids(AND(date=d(2025, 3, 15))) == [3]
    assert uids(AND(sent_date_gte=d(2025, 3, 1))) == [3, 4]
    assert uids(AND(sent_date=d(2025, 2, 10))) == [2]
    assert uids(AND(sent_date_lt=d(2025, 2, 10))) == [1]
    assert uids(AND(size_gt=10_000)) == [3]
    assert uids(AND(size_lt=10_000)) == [1, 2, 4]
    assert uids(OR(from_=["alice@example.org", "dave@example.org"])) == [1, 4]
    assert uids(NOT(subject="quarterly")) == [2, 4]
    assert uids(AND(OR(flagged=True, answered=True), NOT(from_="dave"))) == [2]
    assert uids(AND(header=H("X-Priority", "1"))) == [4]
    assert uids(AND(body="rhein")) == [2]
    assert uids(AND(text="noodles")) == [4]
    assert uids(AND(text="lunch")) == [4]             # TEXT covers the header too
    assert uids(AND(uid=U("2", "*"))) == [2, 3, 4]
    assert uids(AND(uid=["1", "3"])) == [1, 3]
    assert uids(AND(subject="nothing like this")) == []
    # Non-ASCII: CHARSET UTF-8; the RFC 2047 subject and the 8-bit body are matched decoded.
    assert uids(AND(subject="Köln"), charset="utf-8") == [2]
    assert uids(AND(body="Grüße"), charset="utf-8") == [2]
    # Message numbers, and fetch() driven by a search.
    assert mb.numbers(AND(seen=False)) == ["2", "3"]
    assert [m.subject for m in mb.fetch(AND(seen=False), mark_seen=False)] \
        == ["Grüße aus Köln", "Re: Quarterly report"]
    assert [m.uid for m in mb.fetch(AND(all=True), limit=2, reverse=True,
                                    mark_seen=False)] == ["4", "3"]


def test_flags_keywords_copy_move_delete(crispin: InteropServer, mailbox) -> None:  # type: ignore[no-untyped-def]
    crispin.load([("INBOX", messages.plain_text(n), ()) for n in range(1, 6)])
    mb = mailbox()

    def flags() -> dict[str, set[str]]:
        return {m.uid: own_flags(m.flags)
                for m in mb.fetch(AND(all=True), mark_seen=False, headers_only=True)}

    mb.flag(["1", "2"], ["\\Flagged", "$Todo"], True)
    mb.flag("2", "\\Seen", True)
    mb.flag("1", "$Todo", False)
    assert flags() == {"1": {"\\Flagged"}, "2": {"\\Flagged", "$Todo", "\\Seen"},
                       "3": set(), "4": set(), "5": set()}
    assert mb.uids(AND(keyword="$Todo")) == ["2"]
    # The keyword is now in the mailbox's FLAGS (and allowed by PERMANENTFLAGS \*).
    mb.folder.set("INBOX")
    _, (mailbox_flags,) = mb.client.response("FLAGS")
    assert b"$Todo" in mailbox_flags.split(b" ") or b"$Todo)" in mailbox_flags, mailbox_flags
    # COPY keeps flags and answers COPYUID (UIDPLUS).
    typ, data = mb.copy(["1", "2"], "Archive")[0]
    assert typ == "OK"
    _, (copyuid,) = mb.client.response("COPYUID")
    assert re.fullmatch(rb"\d+ (1:2|1,2) 1:2", copyuid), copyuid
    mb.folder.set("Archive")
    assert flags() == {"1": {"\\Flagged"}, "2": {"\\Flagged", "$Todo", "\\Seen"}}
    mb.folder.set("INBOX")
    # MOVE: imap-tools decides by imaplib's capabilities, which it read before LOGIN.
    # First the fallback (COPY, STORE \Deleted, EXPUNGE), then the real MOVE (RFC 6851)
    # once the post-login capabilities are known.
    mb.move("3", "Trash")
    assert mb.uids() == ["1", "2", "4", "5"]
    mb.client._get_capabilities()
    assert "MOVE" in mb.client.capabilities
    typ, data = mb.move(["4"], "Trash")[0][0]
    assert typ == "OK", data
    assert mb.uids() == ["1", "2", "5"]
    mb.folder.set("Trash")
    assert [m.subject for m in mb.fetch(mark_seen=False)] \
        == ["Plain text message 3", "Plain text message 4"]
    # delete(): STORE +FLAGS \Deleted and EXPUNGE.
    mb.folder.set("INBOX")
    mb.delete(["1", "5"])
    assert mb.uids() == ["2"]
    assert mb.folder.status("INBOX")["MESSAGES"] == 1
    # Plain EXPUNGE of a message another client marked \Deleted.
    other = other_client(crispin)
    try:
        other.uid("STORE", "2", "+FLAGS", "(\\Deleted)")
    finally:
        other.logout()
    typ, data = mb.expunge()
    assert typ == "OK"
    assert mb.uids() == []


def test_idle_sees_append_flag_change_and_expunge(crispin: InteropServer, mailbox) -> None:  # type: ignore[no-untyped-def]
    crispin.load([("INBOX", messages.plain_text(n), ()) for n in range(1, 3)])
    mb = mailbox()

    def idle_until(action: Callable[[imaplib.IMAP4], object], pattern: bytes) -> list[bytes]:
        """IDLE; another connection does ``action``; poll until ``pattern`` shows up."""
        got: list[bytes] = []
        other = other_client(crispin)
        try:
            with mb.idle as idle:
                worker = threading.Thread(target=action, args=(other,))
                worker.start()
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and not any(
                        re.search(pattern, line) for line in got):
                    got += idle.poll(timeout=max(0.1, deadline - time.monotonic()))
                worker.join(10)
        finally:
            other.logout()
        assert any(re.search(pattern, line) for line in got), (pattern, got)
        return got

    got = idle_until(lambda o: o.append("INBOX", None, None, messages.extra_message(3)),
                     rb"^\* 3 EXISTS")
    assert all(line.startswith(b"* ") for line in got), got
    idle_until(lambda o: o.store("1", "+FLAGS", "(\\Flagged)"),
               rb"^\* 1 FETCH \(.*FLAGS \(.*\\Flagged")

    def expunge(o: imaplib.IMAP4) -> None:
        o.store("2", "+FLAGS", "(\\Deleted)")
        o.expunge()

    idle_until(expunge, rb"^\* 2 EXPUNGE")
    # After IDLE the session is in step: two messages, UIDs 1 and 3.
    assert mb.uids() == ["1", "3"]
    # idle.wait() with nothing happening returns empty after its timeout.
    start = time.monotonic()
    assert mb.idle.wait(timeout=0.5) == []
    assert time.monotonic() - start < 5
