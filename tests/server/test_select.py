"""SELECT and EXAMINE (RFC 3501 §6.3.1-2) over real connections.

Each test talks to 127.0.0.1 only; every socket has a timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.server.harness import ServerThread
from tests.server.imap_client import Imap, client_factory, fill, flags_of, message, parse


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    yield from client_factory(server)


# -- SELECT / EXAMINE -----------------------------------------------------------------------


def test_select_empty_mailbox_reports_everything(imap: Any) -> None:
    c = imap()
    r = c.select()
    assert r.tagged.startswith(b"t2 OK [READ-WRITE]")
    # The order of storage's one table of system flags (storage/flags.py).
    assert r.untagged[0] == b"* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft)"
    codes = r.ok_codes()
    assert codes["PERMANENTFLAGS"] == b"(\\Seen \\Answered \\Flagged \\Deleted \\Draft \\*)"
    assert r.numbered("EXISTS") == [0]
    assert r.numbered("RECENT") == [0]
    assert "UNSEEN" not in codes  # no unseen message: no UNSEEN code
    assert int(codes["UIDNEXT"]) == 1
    assert int(codes["UIDVALIDITY"]) > 0


def test_select_counts_unseen_uidnext_and_keywords(imap: Any) -> None:
    c = imap()
    assert c.append("INBOX", message("one"), "\\Seen").ok
    assert c.append("INBOX", message("two"), "\\Seen $Important").ok
    assert c.append("INBOX", message("three"), "Work").ok
    assert c.append("INBOX", message("four")).ok
    r = c.select()
    flags = parse(r.untagged[0][len(b"* FLAGS "):])
    assert set(flags) == {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft",
                          "$Important", "Work"}
    codes = r.ok_codes()
    perm = parse(codes["PERMANENTFLAGS"])
    assert set(perm) == set(flags) | {"\\*"}
    assert r.numbered("EXISTS") == [4]
    assert r.numbered("RECENT") == [4]
    assert codes["UNSEEN"] == b"3"  # RFC 3501 §7.1: number of the first unseen message
    assert codes["UIDNEXT"] == b"5"
    # every untagged response RFC 3501 §6.3.1 requires is there
    kinds = r.kinds()
    assert kinds.count("FLAGS") == 1 and kinds.count("EXISTS") == 1
    assert kinds.count("RECENT") == 1


def test_examine_is_read_only_without_star_and_keeps_recent(imap: Any) -> None:
    c = imap()
    fill(c, 2)
    r = c.cmd("EXAMINE INBOX")
    assert r.tagged.startswith(b"t4 OK [READ-ONLY]")
    perm = parse(r.ok_codes()["PERMANENTFLAGS"])
    assert "\\*" not in perm  # RFC 3501 §7.1: no new keywords in a read-only mailbox
    # issue 9 point 4: EXAMINE reports the real count, as STATUS does ...
    assert r.numbered("RECENT") == [2]
    assert b"RECENT 2" in c.cmd("STATUS INBOX (RECENT)").untagged[0]
    f = c.cmd("FETCH 1:2 FLAGS").fetches()
    assert all("\\Recent" in flags_of(items) for _, items in f)
    # ... but does not claim \Recent, so the next SELECT still finds both messages
    # \Recent (RFC 3501 §6.3.2)
    r = c.select()
    assert r.numbered("RECENT") == [2]
    f = c.cmd("FETCH 1:2 FLAGS").fetches()
    assert all("\\Recent" in flags_of(items) for _, items in f)


def test_examine_and_status_agree_on_recent(imap: Any) -> None:
    """Issue 9 point 4: after two APPENDs, EXAMINE said ``* 0 RECENT`` while STATUS said
    ``RECENT 2``; a message arriving during the EXAMINE is counted too, unclaimed."""
    a, b = imap(), imap()
    assert a.append("INBOX", message("one")).ok
    assert a.append("INBOX", message("two")).ok
    assert b"RECENT 2" in a.cmd("STATUS INBOX (RECENT)").untagged[0]
    r = a.cmd("EXAMINE INBOX")
    assert r.numbered("RECENT") == [2]
    assert b.append("INBOX", message("three")).ok
    assert a.cmd("NOOP").numbered("RECENT") == [3]
    assert b"RECENT 3" in b.cmd("STATUS INBOX (RECENT)").untagged[0]
    # the first SELECT claims all three; EXAMINE and STATUS then agree on 0
    assert b.select().numbered("RECENT") == [3]
    assert b"RECENT 0" in b.cmd("STATUS INBOX (RECENT)").untagged[0]
    assert a.cmd("EXAMINE INBOX").numbered("RECENT") == [0]


def test_recent_goes_to_exactly_one_session(imap: Any) -> None:
    a, b = imap(), imap()
    fill(a, 1)
    ra, rb = a.select(), b.select()
    assert ra.numbered("RECENT") == [1]
    assert rb.numbered("RECENT") == [0]
    # a message arriving while both are selected is \Recent in exactly one of them
    c = imap()
    assert c.append("INBOX", message("late")).ok
    na, nb = a.cmd("NOOP"), b.cmd("NOOP")
    assert na.numbered("EXISTS") == [2] and nb.numbered("EXISTS") == [2]
    fa = dict(a.cmd("FETCH 2 FLAGS").fetches())[2]
    fb = dict(b.cmd("FETCH 2 FLAGS").fetches())[2]
    assert ("\\Recent" in flags_of(fa)) != ("\\Recent" in flags_of(fb))
    recent_counts = na.numbered("RECENT") + nb.numbered("RECENT")
    assert sorted(recent_counts) in ([1, 1], [0, 2])  # one claimed 1 new (+1 old for a)
    # a third session selecting now gets no \Recent at all
    assert c.select().numbered("RECENT") == [0]


def test_failed_select_deselects_previous_mailbox(imap: Any) -> None:
    c = imap()
    fill(c, 1)
    c.select()
    r = c.cmd("SELECT Nowhere")
    assert r.status == "NO"
    # RFC 3501 §6.3.1: the failed SELECT leaves no mailbox selected
    assert c.cmd("FETCH 1 FLAGS").status == "BAD"
    assert c.cmd("NOOP").ok


def test_select_other_mailbox_switches_view(imap: Any) -> None:
    c = imap()
    assert c.cmd("CREATE Other").ok
    fill(c, 3)
    fill(c, 1, "Other")
    assert c.select().numbered("EXISTS") == [3]
    r = c.select("Other")
    assert r.numbered("EXISTS") == [1]
    assert dict(c.cmd("FETCH 1 ENVELOPE").fetches())[1]["ENVELOPE"][1] == b"m1"
    assert c.cmd("FETCH 2 FLAGS").status == "BAD"


def test_select_noselect_and_missing(imap: Any) -> None:
    c = imap()
    assert c.cmd("CREATE Parent/Child").ok
    assert c.cmd("DELETE Parent").ok  # leaves a \Noselect placeholder
    assert c.cmd("SELECT Parent").status == "NO"
    r = c.cmd("EXAMINE Missing")
    assert r.status == "NO"
    assert c.cmd("SELECT inbox").ok  # INBOX is case-insensitive


def test_uidvalidity_stable_and_uidnext_advances(imap: Any) -> None:
    c = imap()
    v1 = c.select().ok_codes()["UIDVALIDITY"]
    fill(c, 2)
    r = c.select()
    assert r.ok_codes()["UIDVALIDITY"] == v1
    assert r.ok_codes()["UIDNEXT"] == b"3"
    assert c.cmd("STORE 1:2 +FLAGS (\\Deleted)").ok
    assert c.cmd("EXPUNGE").ok
    r = c.select()
    assert r.numbered("EXISTS") == [0]
    assert r.ok_codes()["UIDNEXT"] == b"3"  # UIDs are never reused


def test_select_with_unknown_parameters_is_bad(imap: Any) -> None:
    c = imap()
    assert c.cmd("SELECT INBOX (FOOBAR)").status == "BAD"
    assert c.cmd("SELECT INBOX (CONDSTORE)").status == "OK"


def test_selected_commands_need_a_selected_mailbox(imap: Any) -> None:
    c = imap()
    for text in ("FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)", "COPY 1 INBOX", "EXPUNGE",
                 "CLOSE", "UNSELECT", "CHECK", "UID FETCH 1 FLAGS"):
        assert c.cmd(text).status == "BAD", text
