"""CONDSTORE and QRESYNC (RFC 7162): transcripts after the RFC's examples, and a client
that was away while messages were added, flagged and expunged."""

from __future__ import annotations

import re

from tests.server.condstore_helpers import code_value, fill, session
from tests.server.harness import ServerThread


def test_highestmodseq_on_every_select_and_status(server: ServerThread) -> None:
    fill(server, 2)
    raw = session(server)
    lines = raw.command(b"a", b"SELECT INBOX")
    h1 = code_value(lines, b"HIGHESTMODSEQ")
    lines = raw.command(b"b", b"EXAMINE INBOX")
    # RFC 7162 §3.2.11: CLOSED separates the old mailbox's responses from the new one's.
    assert lines[0] == b"* OK [CLOSED] Previous mailbox closed"
    assert code_value(lines, b"HIGHESTMODSEQ") == h1
    lines = raw.command(b"c", b"STATUS INBOX (HIGHESTMODSEQ MESSAGES)")
    assert b'* STATUS "INBOX" (HIGHESTMODSEQ %d MESSAGES 2)' % h1 in lines


def test_fetch_modseq_and_changedsince(server: ServerThread) -> None:
    fill(server, 3)
    raw = session(server)
    h = code_value(raw.command(b"a", b"SELECT INBOX (CONDSTORE)"), b"HIGHESTMODSEQ")
    lines = raw.command(b"b", b"FETCH 1:3 (FLAGS MODSEQ)")
    modseqs = [int(m[1]) for m in (re.search(rb"MODSEQ \((\d+)\)", x) for x in lines) if m]
    assert len(modseqs) == 3 and max(modseqs) <= h
    raw.command(b"c", b"STORE 2 +FLAGS.SILENT (\\Flagged)")
    lines = raw.command(b"d", b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % h)
    fetches = [x for x in lines if x.startswith(b"* ") and b" FETCH " in x]
    assert len(fetches) == 1 and b"UID 2" in fetches[0] and b"\\Flagged" in fetches[0]
    assert b"MODSEQ (" in fetches[0]


def test_unchangedsince_conflict_reports_modified(server: ServerThread) -> None:
    fill(server, 3)
    a, b = session(server), session(server)
    h = code_value(a.command(b"s", b"SELECT INBOX (CONDSTORE)"), b"HIGHESTMODSEQ")
    b.command(b"s", b"SELECT INBOX")
    b.command(b"x", b"STORE 2 +FLAGS ($Processed)")
    lines = a.command(b"t", b"STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\\Deleted)" % h)
    assert lines[-1].startswith(b"t OK [MODIFIED 2]")
    fetched = {int(x.split()[1]): x for x in lines if b" FETCH " in x}
    # The ones stored report their new MODSEQ even though .SILENT (RFC 7162 §3.1.3) ...
    assert b"MODSEQ" in fetched[1] and b"MODSEQ" in fetched[3]
    # ... and the one that failed the test shows why.
    assert b"$Processed" in fetched[2]
    lines = a.command(b"u", b"FETCH 2 (FLAGS)")
    assert b"\\Deleted" not in lines[0]
    # UNCHANGEDSINCE 0 always fails (RFC 7162 §3.1.3 example 8).
    assert a.command(b"v", b"UID STORE 1 (UNCHANGEDSINCE 0) +FLAGS.SILENT ($X)")[-1].startswith(
        b"v OK [MODIFIED 1]")


def test_unsolicited_fetch_carries_modseq_once_enabled(server: ServerThread) -> None:
    fill(server, 2)
    a, b = session(server), session(server)
    a.command(b"e", b"ENABLE CONDSTORE")
    a.command(b"s", b"SELECT INBOX")
    b.command(b"s", b"SELECT INBOX")
    b.command(b"x", b"STORE 1 +FLAGS (\\Seen)")
    lines = a.command(b"n", b"NOOP")
    assert re.match(rb"\* 1 FETCH \(UID 1 FLAGS \(\\Seen[^)]*\) MODSEQ \(\d+\)\)", lines[0]), lines


def test_search_modseq(server: ServerThread) -> None:
    fill(server, 3)
    raw = session(server)
    h = code_value(raw.command(b"s", b"SELECT INBOX"), b"HIGHESTMODSEQ")
    raw.command(b"x", b"STORE 3 +FLAGS (\\Answered)")
    lines = raw.command(b"y", b"SEARCH MODSEQ %d" % (h + 1))
    # The first CONDSTORE enabling command reports HIGHESTMODSEQ first (RFC 7162 §3.1).
    assert lines[0].startswith(b"* OK [HIGHESTMODSEQ ")
    m = re.match(rb"\* SEARCH 3 \(MODSEQ (\d+)\)", lines[1])
    assert m and int(m[1]) > h


def test_enable_qresync_and_vanished_instead_of_expunge(server: ServerThread) -> None:
    fill(server, 4)
    a, b = session(server), session(server)
    assert a.command(b"e", b"ENABLE QRESYNC")[0] == b"* ENABLED QRESYNC"
    a.command(b"s", b"SELECT INBOX")
    b.command(b"s", b"SELECT INBOX")
    b.command(b"x", b"STORE 2,3 +FLAGS.SILENT (\\Deleted)")
    b.command(b"y", b"EXPUNGE")
    lines = a.command(b"n", b"NOOP")
    assert b"* VANISHED 2:3" in lines and not any(b"EXPUNGE" in x for x in lines)
    a.command(b"z", b"UID STORE 4 +FLAGS.SILENT (\\Deleted)")
    lines = a.command(b"w", b"EXPUNGE")
    assert lines[0] == b"* VANISHED 4"


def test_qresync_select_after_a_month_away(server: ServerThread) -> None:
    """The client knew UIDs 1:6 at modseq H; meanwhile 2 and 5 were expunged, 3 flagged,
    and 7, 8 arrived. QRESYNC gives exactly VANISHED (EARLIER) 2,5, a FETCH for 3 and the
    new messages as EXISTS."""
    fill(server, 6)
    away = session(server)
    lines = away.command(b"s", b"SELECT INBOX")
    uidvalidity = code_value(lines, b"UIDVALIDITY")
    h = code_value(lines, b"HIGHESTMODSEQ")
    away.command(b"q", b"LOGOUT")
    other = server.login()
    other.select("INBOX")
    other.store("2,5", "+FLAGS.SILENT", "(\\Deleted)")
    other.expunge()
    other.uid("STORE", "3", "+FLAGS", "(\\Flagged)")
    other.append("INBOX", None, None, b"Subject: m7\r\n\r\nx\r\n")
    other.append("INBOX", None, None, b"Subject: m8\r\n\r\nx\r\n")
    other.logout()

    back = session(server)
    back.command(b"e", b"ENABLE QRESYNC")
    lines = back.command(b"s", b"SELECT INBOX (QRESYNC (%d %d 1:6))" % (uidvalidity, h))
    assert b"* 6 EXISTS" in lines
    assert b"* VANISHED (EARLIER) 2,5" in lines
    fetches = [x for x in lines if b" FETCH " in x]
    # UID 3 is message 2 now; the new ones (7, 8) are not among the known UIDs.
    assert len(fetches) == 1 and fetches[0].startswith(b"* 2 FETCH (UID 3 FLAGS (\\Flagged")
    assert b"MODSEQ (" in fetches[0]
    # Without known UIDs: everything up to UIDNEXT-1; the new messages are reported too.
    back.command(b"u", b"UNSELECT")
    lines = back.command(b"t", b"EXAMINE INBOX (QRESYNC (%d %d))" % (uidvalidity, h))
    fetch_uids = sorted(int(re.search(rb"UID (\d+)", x)[1]) for x in lines if b" FETCH " in x)  # type: ignore[index]
    assert fetch_uids == [3, 7, 8]
    # A wrong UIDVALIDITY: the parameters are ignored (RFC 7162 §3.2.5).
    lines = back.command(b"v", b"SELECT INBOX (QRESYNC (%d %d))" % (uidvalidity + 1, h))
    assert not any(b"VANISHED" in x or b" FETCH " in x for x in lines)
    # UID FETCH ... (CHANGEDSINCE h VANISHED).
    lines = back.command(b"w", b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % h)
    assert lines[0] == b"* VANISHED (EARLIER) 2,5"
    assert len([x for x in lines if x.startswith(b"* ") and b" FETCH " in x]) == 3


def test_qresync_requires_enable(server: ServerThread) -> None:
    raw = session(server)
    assert raw.command(b"s", b"SELECT INBOX (QRESYNC (1 1))")[-1].startswith(b"s BAD")
    raw.command(b"t", b"SELECT INBOX")
    assert raw.command(b"u", b"UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)")[-1].startswith(
        b"u BAD")
