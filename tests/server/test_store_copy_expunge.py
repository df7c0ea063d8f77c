"""STORE (RFC 3501 §6.4.6), COPY (§6.4.7, RFC 4315 COPYUID), MOVE (RFC 6851), EXPUNGE and
UID EXPUNGE (§6.4.3, RFC 4315 §2.1), CLOSE (§6.4.2), UNSELECT (RFC 3691) and CHECK (§6.4.1)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.server.harness import ServerThread
from tests.server.imap_client import (
    Imap,
    client_factory,
    fill,
    flags_of,
    parse,
)


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    yield from client_factory(server)


def flags(c: Imap, seq: str = "1:*") -> dict[int, set[str]]:
    return {n: flags_of(i) - {"\\Recent"} for n, i in c.cmd(f"FETCH {seq} FLAGS").fetches()}


def subjects(c: Imap) -> list[bytes]:
    r = c.cmd("FETCH 1:* ENVELOPE")
    return [i["ENVELOPE"][1] for _, i in r.fetches()] if r.ok else []


def uids(c: Imap) -> list[int]:
    return [i["UID"] for _, i in c.cmd("UID FETCH 1:* FLAGS").fetches()]


# -- STORE ------------------------------------------------------------------------------------


def test_store_set_add_remove(imap: Any) -> None:
    c = imap()
    fill(c, 3)
    c.select()
    r = c.cmd("STORE 1:2 +FLAGS (\\Seen \\Flagged)")
    assert r.ok
    assert {n: flags_of(i) for n, i in r.fetches()} == {
        1: {"\\Seen", "\\Flagged", "\\Recent"}, 2: {"\\Seen", "\\Flagged", "\\Recent"}}
    r = c.cmd("STORE 2 -FLAGS (\\Flagged)")
    assert [flags_of(i) for _, i in r.fetches()] == [{"\\Seen", "\\Recent"}]
    r = c.cmd("STORE 3 FLAGS (\\Draft \\Answered)")
    assert [flags_of(i) for _, i in r.fetches()] == [{"\\Draft", "\\Answered", "\\Recent"}]
    r = c.cmd("STORE 1 FLAGS ()")
    assert [flags_of(i) for _, i in r.fetches()] == [{"\\Recent"}]  # \Recent can't be unset
    assert flags(c) == {1: set(), 2: {"\\Seen"}, 3: {"\\Draft", "\\Answered"}}
    # a STORE that changes nothing still answers with the current flags (RFC 3501 §6.4.6)
    r = c.cmd("STORE 2 +FLAGS (\\Seen)")
    assert [flags_of(i) for _, i in r.fetches()] == [{"\\Seen", "\\Recent"}]
    assert c.cmd("NOOP").untagged == []  # the session's own stores are not echoed


def test_store_silent(imap: Any) -> None:
    c = imap()
    fill(c, 2)
    c.select()
    for text in ("STORE 1:2 +FLAGS.SILENT (\\Seen)", "STORE 1 -FLAGS.SILENT (\\Seen)",
                 "STORE 2 FLAGS.SILENT (\\Deleted)"):
        r = c.cmd(text)
        assert r.ok and r.untagged == [], text
    assert c.cmd("NOOP").untagged == []
    assert flags(c) == {1: set(), 2: {"\\Deleted"}}


def test_store_recent_and_unknown_system_flags(imap: Any) -> None:
    c = imap()
    fill(c, 1)
    c.select()
    # RFC 3501 §2.3.2: \Recent can't be altered by the client; Crispin ignores it (the
    # session's \Recent stays), where Dovecot answers BAD: both leave it unaltered.
    r = c.cmd("STORE 1 -FLAGS (\\Recent)")
    assert r.ok and [flags_of(i) for _, i in r.fetches()] == [{"\\Recent"}]
    r = c.cmd("STORE 1 FLAGS (\\Recent \\Seen)")
    assert r.ok and [flags_of(i) for _, i in r.fetches()] == [{"\\Recent", "\\Seen"}]
    # any other unknown system flag is invalid (flag-extension is reserved, §9)
    for text in ("STORE 1 +FLAGS (\\Bogus)", "STORE 1 FLAGS (\\Seen \\Frob)"):
        assert c.cmd(text).status == "BAD", text
    assert flags(c) == {1: {"\\Seen"}}


def test_store_keywords_join_flags_and_permanentflags(imap: Any) -> None:
    c = imap()
    fill(c, 2)
    c.select()
    r = c.cmd("STORE 1 +FLAGS (Work $Label1)")
    assert r.ok
    kinds = r.kinds()
    # RFC 3501 §7.2.6: new FLAGS (and PERMANENTFLAGS) before the data that uses the keyword
    assert kinds.index("FLAGS") < kinds.index("FETCH")
    flags_line = next(u for u in r.untagged if u.startswith(b"* FLAGS"))
    assert {"Work", "$Label1"} <= set(parse(flags_line[len(b"* FLAGS "):]))
    perm = r.ok_codes()["PERMANENTFLAGS"]
    assert {"Work", "$Label1", "\\*"} <= set(parse(perm))
    # same keyword again (any case): no new FLAGS response
    r = c.cmd("STORE 2 +FLAGS (work)")
    assert "FLAGS" not in r.kinds()
    assert flags(c)[1] == {"Work", "$Label1"}
    # reselecting lists them in FLAGS
    sel = c.select()
    # RFC 7162 §3.2.11: [CLOSED] first, as a mailbox was selected
    assert sel.untagged[0].startswith(b"* OK [CLOSED]")
    flags_line = next(u for u in sel.untagged if u.startswith(b"* FLAGS"))
    assert {"Work", "$Label1"} <= set(parse(flags_line[len(b"* FLAGS "):]))


def test_store_keyword_seen_by_other_session(imap: Any) -> None:
    a, b = imap(), imap()
    fill(a, 1)
    a.select()
    b.select()
    assert a.cmd("STORE 1 +FLAGS (Urgent)").ok
    r = b.cmd("NOOP")
    (n, items), = r.fetches()
    assert "Urgent" in flags_of(items)
    # RFC 3501 §7.2.6: a client must be told of a new keyword by FLAGS before it appears
    flags_lines = [u for u in r.untagged if u.startswith(b"* FLAGS")]
    assert flags_lines and "Urgent" in parse(flags_lines[0][len(b"* FLAGS "):])
    assert r.kinds().index("FLAGS") < r.kinds().index("FETCH")


def test_store_read_only_is_no(imap: Any) -> None:
    c = imap()
    fill(c, 1)
    assert c.cmd("EXAMINE INBOX").ok
    r = c.cmd("STORE 1 +FLAGS (\\Seen)")
    assert r.status == "NO"
    assert c.cmd("UID STORE 1 +FLAGS (\\Seen)").status == "NO"


def test_uid_store_includes_uid(imap: Any) -> None:
    c = imap()
    fill(c, 3)
    c.select()
    r = c.cmd("UID STORE 2:3 +FLAGS (\\Answered)")
    got = [(n, i["UID"], flags_of(i)) for n, i in r.fetches()]
    assert got == [(2, 2, {"\\Answered", "\\Recent"}), (3, 3, {"\\Answered", "\\Recent"})]
    r = c.cmd("UID STORE 99 +FLAGS (\\Answered)")
    assert r.ok and r.untagged == []
    assert c.cmd("STORE 4 +FLAGS (\\Seen)").status == "BAD"


# -- EXPUNGE, UID EXPUNGE ---------------------------------------------------------------------


def test_store_answers_byte_for_byte(imap: Any) -> None:
    """The untagged FETCH of a STORE, written in bulk (issue 14): FLAGS with \\Recent
    last, UID first for UID STORE (RFC 3501 §6.4.8) and with CONDSTORE, then MODSEQ (RFC
    7162 §3.2.4); a conditional STORE reports what it refused as MODSEQ then FLAGS and
    what it changed as MODSEQ even with .SILENT (§3.1.3)."""
    a = imap()
    fill(a, 3)
    a.select()  # every message \Recent in this session
    fetches = lambda r: [x for x in r.untagged if b" FETCH " in x]  # noqa: E731
    assert fetches(a.cmd("STORE 1:2 +FLAGS (\\Seen)")) == [
        b"* 1 FETCH (FLAGS (\\Seen \\Recent))", b"* 2 FETCH (FLAGS (\\Seen \\Recent))"]
    assert fetches(a.cmd("UID STORE 3 FLAGS (\\Flagged)")) == [
        b"* 3 FETCH (UID 3 FLAGS (\\Flagged \\Recent))"]
    c = imap()
    c.select()
    assert fetches(c.cmd("STORE 2:3 -FLAGS (\\Flagged)")) == [
        b"* 2 FETCH (FLAGS (\\Seen))", b"* 3 FETCH (FLAGS ())"]
    b = imap()
    assert b.cmd("ENABLE CONDSTORE").ok
    b.select()
    lines = fetches(b.cmd("STORE 1 +FLAGS (\\Answered)"))
    m = re.fullmatch(rb"\* 1 FETCH \(UID 1 FLAGS \(\\Seen \\Answered\) MODSEQ \((\d+)\)\)",
                     lines[0])
    assert m is not None and len(lines) == 1
    answered = int(m.group(1))
    reply = b.cmd(f"STORE 1:2 (UNCHANGEDSINCE {answered - 1}) +FLAGS.SILENT (\\Draft)")
    assert reply.code() == "MODIFIED 1"
    assert fetches(reply) == [
        b"* 1 FETCH (UID 1 MODSEQ (%d) FLAGS (\\Seen \\Answered))" % answered,
        b"* 2 FETCH (UID 2 MODSEQ (%d))" % (answered + 1)]


def test_expunge_numbering(imap: Any) -> None:
    c = imap()
    fill(c, 5)
    c.select()
    assert c.cmd("STORE 2,4 +FLAGS.SILENT (\\Deleted)").ok
    r = c.cmd("EXPUNGE")
    # RFC 3501 §7.4.1: each EXPUNGE is numbered as the client sees the mailbox at that point
    assert r.untagged == [b"* 2 EXPUNGE", b"* 3 EXPUNGE"]
    assert subjects(c) == [b"m1", b"m3", b"m5"]
    assert uids(c) == [1, 3, 5]
    r = c.cmd("EXPUNGE")
    assert r.ok and r.untagged == []


def test_expunge_all_and_read_only(imap: Any) -> None:
    c = imap()
    fill(c, 3, flags="\\Deleted")
    assert c.cmd("EXAMINE INBOX").ok
    assert c.cmd("EXPUNGE").status == "NO"
    c.select()
    assert c.cmd("EXPUNGE").untagged == [b"* 1 EXPUNGE"] * 3
    assert c.cmd("UID FETCH 1:* UID").untagged == []


def test_uid_expunge_only_given_uids(imap: Any) -> None:
    c = imap()
    fill(c, 5)
    c.select()
    assert c.cmd("STORE 1:5 +FLAGS.SILENT (\\Deleted)").ok
    r = c.cmd("UID EXPUNGE 2,4:5")
    assert r.untagged == [b"* 2 EXPUNGE", b"* 3 EXPUNGE", b"* 3 EXPUNGE"]
    assert uids(c) == [1, 3]
    assert flags(c) == {1: {"\\Deleted"}, 2: {"\\Deleted"}}
    # a UID that isn't \Deleted is left alone
    assert c.cmd("STORE 1 -FLAGS.SILENT (\\Deleted)").ok
    assert c.cmd("UID EXPUNGE 1").untagged == []
    assert uids(c) == [1, 3]


# -- CLOSE, UNSELECT, CHECK -------------------------------------------------------------------


def test_close_expunges_silently(imap: Any) -> None:
    c = imap()
    fill(c, 3)
    c.select()
    assert c.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)").ok
    r = c.cmd("CLOSE")
    assert r.ok and r.untagged == []  # RFC 3501 §6.4.2: no untagged EXPUNGE
    assert c.cmd("FETCH 1 FLAGS").status == "BAD"  # back to authenticated
    c.select()
    assert uids(c) == [1, 3]


def test_close_after_examine_does_not_expunge(imap: Any) -> None:
    c = imap()
    fill(c, 2, flags="\\Deleted")
    assert c.cmd("EXAMINE INBOX").ok
    assert c.cmd("CLOSE").ok
    c.select()
    assert uids(c) == [1, 2]


def test_unselect_keeps_deleted(imap: Any) -> None:
    c = imap()
    fill(c, 2, flags="\\Deleted")
    c.select()
    r = c.cmd("UNSELECT")
    assert r.ok and r.untagged == []
    assert c.cmd("NOOP").ok
    assert c.cmd("FETCH 1 FLAGS").status == "BAD"
    c.select()
    assert uids(c) == [1, 2]


def test_check_reports_pending_changes(imap: Any) -> None:
    a, b = imap(), imap()
    fill(a, 1)
    a.select()
    b.select()
    fill(b, 1)
    r = a.cmd("CHECK")
    assert r.ok and r.numbered("EXISTS") == [2]


# -- COPY, MOVE -------------------------------------------------------------------------------


def test_copy_with_copyuid_and_flags_kept(imap: Any) -> None:
    c = imap()
    assert c.cmd("CREATE Archive").ok
    fill(c, 1, "Archive")  # Archive UID 1 is taken
    fill(c, 4)
    c.select()
    assert c.cmd("STORE 2 +FLAGS.SILENT (\\Flagged Work)").ok
    r = c.cmd("COPY 2:4 Archive")
    assert r.ok
    m = re.search(rb"\[COPYUID (\d+) (\S+) (\S+)\]", r.tagged)
    assert m, r
    validity = c.cmd("STATUS Archive (UIDVALIDITY)").untagged[0]
    assert m.group(1) in validity
    assert (m.group(2), m.group(3)) == (b"2:4", b"2:4")
    # the source is untouched
    assert uids(c) == [1, 2, 3, 4]
    c.select("Archive")
    assert uids(c) == [1, 2, 3, 4]
    assert flags(c)[2] == {"\\Flagged", "Work"}
    assert subjects(c) == [b"m1", b"m2", b"m3", b"m4"]


def test_copy_uid_pairs_follow_source_order(imap: Any) -> None:
    c = imap()
    assert c.cmd("CREATE T").ok
    fill(c, 6)
    c.select()
    r = c.cmd("UID COPY 6,1,3:4 T")
    m = re.search(rb"\[COPYUID \d+ (\S+) (\S+)\]", r.tagged)
    assert m
    # RFC 4315 §3: the sets pair up by position; source in UID order
    src = expand(m.group(1).decode())
    dst = expand(m.group(2).decode())
    assert src == [1, 3, 4, 6] and dst == [1, 2, 3, 4]


def expand(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        out += range(int(lo), int(hi or lo) + 1) if int(hi or lo) >= int(lo) else \
            range(int(lo), int(hi) - 1, -1)
    return out


def test_copy_trycreate_and_bad_sequence(imap: Any) -> None:
    c = imap()
    fill(c, 1)
    c.select()
    r = c.cmd("COPY 1 Nowhere")
    assert r.status == "NO" and r.code() == "TRYCREATE"
    r = c.cmd("MOVE 1 Nowhere")
    assert r.status == "NO" and r.code() == "TRYCREATE"
    assert c.cmd("COPY 2 INBOX").status == "BAD"
    # UID COPY of UIDs that don't exist: OK, nothing copied, no COPYUID
    r = c.cmd("UID COPY 50 INBOX")
    assert r.ok and b"COPYUID" not in r.tagged
    assert uids(c) == [1]


def test_copy_to_same_mailbox_gives_exists(imap: Any) -> None:
    c = imap()
    fill(c, 2)
    c.select()
    r = c.cmd("COPY 1:2 INBOX")
    assert r.ok and r.numbered("EXISTS") == [4]
    assert subjects(c) == [b"m1", b"m2", b"m1", b"m2"]


def test_copy_from_read_only_mailbox(imap: Any) -> None:
    c = imap()
    assert c.cmd("CREATE T").ok
    fill(c, 1)
    assert c.cmd("EXAMINE INBOX").ok
    assert c.cmd("COPY 1 T").ok  # copying reads only
    assert c.cmd("MOVE 1 T").status == "NO"


def test_move_sends_copyuid_then_expunges(imap: Any) -> None:
    c = imap()
    assert c.cmd("CREATE Trash").ok
    fill(c, 5)
    c.select()
    r = c.cmd("MOVE 2,4 Trash")
    assert r.ok
    # RFC 6851 §4.3: untagged OK [COPYUID] first, then the EXPUNGEs
    assert re.match(rb"\* OK \[COPYUID \d+ 2,4 1:2\]", r.untagged[0]), r
    assert r.untagged[1:] == [b"* 2 EXPUNGE", b"* 3 EXPUNGE"]
    assert b"COPYUID" not in r.tagged
    assert uids(c) == [1, 3, 5]
    c.select("Trash")
    assert subjects(c) == [b"m2", b"m4"]


def test_uid_move_and_others_see_it(imap: Any) -> None:
    a, b = imap(), imap()
    assert a.cmd("CREATE Done").ok
    fill(a, 3)
    a.select()
    b.select()
    r = a.cmd("UID MOVE 1:2 Done")
    assert r.untagged[1:] == [b"* 1 EXPUNGE", b"* 1 EXPUNGE"]
    nb = b.cmd("NOOP")
    assert nb.untagged == [b"* 1 EXPUNGE", b"* 1 EXPUNGE"]
    assert uids(b) == [3]
