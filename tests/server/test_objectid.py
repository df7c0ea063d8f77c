"""OBJECTID (RFC 8474): MAILBOXID, EMAILID and THREADID, as transcripts of the RFC's
examples on real sockets, and a property test: the ids stay what they were across RENAME,
MOVE, COPY and a server restart, and distinct objects never share one."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.harness import PASSWORD, RawClient, ServerThread

LOGIN = b'LOGIN alice "' + PASSWORD.encode() + b'"'
OBJECTID = re.compile(rb"[A-Za-z0-9_-]{1,255}")
DATE = b'"20-Mar-2018 03:07:37 +1100"'


def login(server: ServerThread) -> RawClient:
    c = server.raw()
    assert c.command(b"l", LOGIN)[-1].startswith(b"l OK")
    return c


def append(c: RawClient, mailbox: bytes, msg: bytes, date: bytes = DATE,
           tag: bytes = b"ap") -> list[bytes]:
    c.send(tag + b" APPEND " + mailbox + b" " + date + b" {%d+}\r\n" % len(msg) + msg + b"\r\n")
    return c.until_tagged(tag)


def code_id(line: bytes, code: bytes = b"MAILBOXID") -> bytes:
    m = re.search(rb"\[" + code + rb" \(([^)]*)\)\]", line)
    assert m is not None, line
    assert OBJECTID.fullmatch(m[1]), m[1]
    return m[1]


def status_id(c: RawClient, name: bytes) -> bytes:
    lines = c.command(b"st", b"STATUS " + name + b" (MAILBOXID)")
    assert lines[-1] == b"st OK STATUS completed", lines
    m = re.fullmatch(rb'\* STATUS "?[^"]*"? \(MAILBOXID \(([A-Za-z0-9_-]+)\)\)', lines[0])
    assert m is not None, lines
    return m[1]


def fetch_ids(c: RawClient, seq: bytes = b"1:*") -> list[tuple[bytes, bytes]]:
    """(EMAILID, THREADID) of each message, in order."""
    lines = c.command(b"f", b"FETCH " + seq + b" (EMAILID THREADID)")
    assert lines[-1].startswith(b"f OK"), lines
    out = []
    for line in lines[:-1]:
        m = re.fullmatch(rb"\* \d+ FETCH \(EMAILID \(([A-Za-z0-9_-]+)\) THREADID (NIL)\)", line)
        assert m is not None, line
        out.append((m[1], m[2]))
    return out


def message(subject: str, msgid: str, refs: str | None = None) -> bytes:
    head = f"From: a@example.com\r\nSubject: {subject}\r\nMessage-ID: <{msgid}>\r\n"
    if refs:
        head += f"References: <{refs}>\r\n"
    return (head + "\r\nbody of " + subject + "\r\n").encode()


A = message("Message A", "fake.1521475657.54797@example.com")
B = message("Re: Message A", "fake.1521475657.21213@example.org",
            "fake.1521475657.54797@example.com")
C = message("Message C", "fake.1521475657.60280@example.com")


def test_capability_create_select_status_rename(server: ServerThread) -> None:
    c = login(server)
    assert b"OBJECTID" in c.command(b"a", b"CAPABILITY")[0].split()
    # RFC 8474 §4.1's example
    foo = c.command(b"3", b"create foo")
    assert foo[-1].startswith(b"3 OK [MAILBOXID (") and foo[-1].endswith(b"CREATE completed")
    foo_id = code_id(foo[-1])
    bar_id = code_id(c.command(b"4", b"create bar")[-1])
    assert foo_id != bar_id
    again = c.command(b"5", b"create foo")[-1]
    assert again.startswith(b"5 NO") and b"MAILBOXID" not in again
    # §4.2: SELECT and EXAMINE say it in an untagged OK
    for verb in (b"select", b"examine"):
        lines = c.command(b"27", verb + b' "foo"')
        assert lines[-1].startswith(b"27 OK")
        assert [code_id(x) for x in lines if b"[MAILBOXID " in x] == [foo_id]
        assert all(x.startswith(b"* ") for x in lines if b"[MAILBOXID " in x)
    c.command(b"u", b"UNSELECT")
    # §4.3's example: STATUS, then RENAME keeps the id, and bar keeps its own
    assert status_id(c, b"foo") == foo_id
    assert status_id(c, b"bar") == bar_id
    assert c.command(b"8", b"rename foo renamed")[-1].startswith(b"8 OK")
    assert status_id(c, b"renamed") == foo_id
    assert status_id(c, b"bar") == bar_id
    assert c.command(b"x", b"STATUS foo (MAILBOXID)")[-1].startswith(b"x NO")
    # ... and with LIST-STATUS (RFC 5819)
    inbox_id = status_id(c, b"INBOX")
    lines = c.command(b"11", b'list "" "*" return (status (mailboxid))')
    assert lines[-1].startswith(b"11 OK")
    statuses = dict(re.findall(rb'\* STATUS "?([^" ]+)"? \(MAILBOXID \(([^)]+)\)\)',
                               b"\n".join(lines)))
    assert statuses == {b"INBOX": inbox_id, b"bar": bar_id, b"renamed": foo_id}
    # STATUS mixes it with the other items, in the order asked
    line = c.command(b"y", b"STATUS bar (MESSAGES MAILBOXID UIDNEXT)")[0]
    assert line == b'* STATUS "bar" (MESSAGES 0 MAILBOXID (%s) UIDNEXT 1)' % bar_id
    c.close()


def test_renaming_an_inferior_keeps_ids_and_inbox_rename_makes_a_new_mailbox(
        server: ServerThread) -> None:
    c = login(server)
    top = code_id(c.command(b"a", b"CREATE top")[-1])
    child = code_id(c.command(b"b", b"CREATE top/child")[-1])
    c.command(b"c", b"RENAME top moved")
    assert status_id(c, b"moved") == top and status_id(c, b"moved/child") == child
    # RFC 8474 §4 and RFC 3501 §6.3.5: RENAME INBOX makes a new mailbox (new id) and
    # moves the messages into it; INBOX stays what it was; the messages keep their ids.
    inbox = status_id(c, b"INBOX")
    append(c, b"INBOX", A)
    c.command(b"s", b"SELECT INBOX")
    before = fetch_ids(c)
    c.command(b"u", b"UNSELECT")
    c.command(b"r", b"RENAME INBOX old-inbox")
    assert status_id(c, b"INBOX") == inbox
    assert status_id(c, b"old-inbox") not in (inbox, top, child)
    c.command(b"s", b"SELECT old-inbox")
    assert fetch_ids(c) == before
    c.close()


def test_a_mailbox_created_again_over_its_placeholder_is_a_new_mailbox(
        server: ServerThread) -> None:
    """A \\Noselect placeholder made selectable again keeps its row but gets a new
    UIDVALIDITY (RFC 3501 §2.3.1.1): RFC 8474 §4 forbids the old MAILBOXID."""
    c = login(server)
    first = code_id(c.command(b"a", b"CREATE p")[-1])
    c.command(b"b", b"CREATE p/q")
    assert c.command(b"c", b"DELETE p")[-1].startswith(b"c OK")  # p becomes \Noselect
    second = code_id(c.command(b"d", b"CREATE p")[-1])
    assert second != first
    c.close()


def test_emailid_threadid_fetch_move_and_search(server: ServerThread) -> None:
    """RFC 8474 §5.3's example, then §6's (run before the MOVE, as the RFC says)."""
    c = login(server)
    c.command(b"0", b"CREATE foo")
    for tag, msg in ((b"5", A), (b"11", B), (b"17", C)):
        assert append(c, b"inbox", msg, tag=tag)[-1].startswith(tag + b" OK [APPENDUID ")
    c.command(b"s", b"SELECT INBOX")
    ids = fetch_ids(c)
    emails = [e for e, _ in ids]
    assert len(set(emails)) == 3
    # §5.2: THREADID is NIL for every message when the server computes no threads
    assert [t for _, t in ids] == [b"NIL"] * 3
    # §6
    assert c.command(b"27", b"search emailid " + emails[0]) == [
        b"* SEARCH 1", b"27 OK SEARCH completed"]
    assert c.command(b"28", b'UID SEARCH EMAILID "' + emails[2] + b'"')[0] == b"* SEARCH 3"
    assert c.command(b"29", b"search threadid T64b478a75b7ea9")[0] == b"* SEARCH"
    assert c.command(b"30", b"search or emailid " + emails[0] + b" emailid "
                     + emails[1])[0] == b"* SEARCH 1 2"
    # an id of the right shape that this server never gave matches nothing
    for other in (b"M6d99ac3275bb4e", emails[0].upper(), emails[0][:1] + b"0"
                  + emails[0][1:], b"NIL"):
        assert c.command(b"31", b"SEARCH EMAILID " + other)[0] == b"* SEARCH", other
    # back to §5.3: MOVE, and the moved message keeps its EMAILID in foo
    moved = c.command(b"23", b"move 2 foo")
    assert moved[-1].startswith(b"23 OK") and b"* 2 EXPUNGE" in moved
    assert fetch_ids(c) == [ids[0], ids[2]]
    c.command(b"25", b'select "foo"')
    assert fetch_ids(c) == [ids[1]]
    assert c.command(b"32", b"SEARCH EMAILID " + emails[1])[0] == b"* SEARCH 1"
    # UID FETCH and a mix with other items
    line = c.command(b"33", b"UID FETCH 1 (RFC822.SIZE EMAILID)")[0]
    assert line == b"* 1 FETCH (UID 1 RFC822.SIZE %d EMAILID (%s))" % (len(B), emails[1])
    c.close()


def test_copy_keeps_emailid_and_a_separate_append_does_not_share_it(
        server: ServerThread) -> None:
    """§5.1: COPY keeps the EMAILID; the same bytes appended again with another
    INTERNALDATE (immutable, RFC 3501 §2.3.3) are another message."""
    c = login(server)
    c.command(b"0", b"CREATE other")
    append(c, b"INBOX", A)
    append(c, b"INBOX", A, date=b'"21-Mar-2018 03:07:37 +1100"')
    append(c, b"INBOX", A, date=b'"20-Mar-2018 03:07:37 +0000"')
    c.command(b"s", b"SELECT INBOX")
    emails = [e for e, _ in fetch_ids(c)]
    assert len(set(emails)) == 3
    assert c.command(b"c", b"COPY 1:3 other")[-1].startswith(b"c OK [COPYUID ")
    c.command(b"s2", b"SELECT other")
    assert [e for e, _ in fetch_ids(c)] == emails
    c.close()


def test_bad_object_ids_are_bad_and_the_connection_goes_on(server: ServerThread) -> None:
    c = login(server)
    append(c, b"INBOX", A)
    c.command(b"s", b"SELECT INBOX")
    for bad in (b"SEARCH EMAILID", b"SEARCH EMAILID a.b", b'SEARCH EMAILID ""',
                b"SEARCH THREADID " + b"x" * 256, b"STATUS INBOX (MAILBOXID FOO)"):
        assert c.command(b"b", bad)[-1].startswith(b"b BAD"), bad
    assert fetch_ids(c)[0][1] == b"NIL"
    c.close()


def test_fetch_of_a_message_another_session_expunged(server: ServerThread) -> None:
    """RFC 2180 §4.1: the message keeps its number here until this session is told; its
    EMAILID is gone with it (left out, [EXPUNGEISSUED]), THREADID is NIL as ever."""
    a, b = login(server), login(server)
    append(a, b"INBOX", A)
    append(a, b"INBOX", C)
    a.command(b"s", b"SELECT INBOX")
    b.command(b"s", b"SELECT INBOX")
    b.command(b"d", b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.command(b"e", b"EXPUNGE")
    lines = a.command(b"f", b"FETCH 1:2 (EMAILID THREADID)")
    assert lines[0] == b"* 1 FETCH (THREADID NIL)"
    assert re.fullmatch(rb"\* 2 FETCH \(EMAILID \(M[0-9a-f_-]+\) THREADID NIL\)", lines[1])
    assert lines[2] == b"f OK [EXPUNGEISSUED] Some messages were already expunged"
    a.close()
    b.close()


# -- the property test -----------------------------------------------------------------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(0, 2), st.integers(0, 2),
                  st.integers(0, 2)),  # (op, mailbox, content, date)
        st.tuples(st.just("copy"), st.integers(0, 2), st.integers(0, 2)),
        st.tuples(st.just("move"), st.integers(0, 2), st.integers(0, 2)),
        st.tuples(st.just("rename"), st.integers(0, 2)),
        st.just(("restart",)),
    ),
    min_size=1, max_size=12,
)
CONTENTS = [A, B, C]
DATES = [DATE, b'"21-Mar-2018 03:07:37 +1100"', b'"20-Mar-2018 03:07:37 -0700"']


class Model:
    """What the ids must be: per mailbox (by its current name) the MAILBOXID it had when
    created, and per message the (content, date) it was appended with."""

    def __init__(self) -> None:
        self.names = ["INBOX", "b0", "b1"]
        self.box_ids: dict[str, bytes] = {}
        self.messages: dict[str, list[tuple[int, int]]] = {n: [] for n in self.names}
        self.renames = 0


def _ids(c: RawClient, name: str) -> list[bytes]:
    lines = c.command(b"s", b'SELECT "' + name.encode() + b'"')
    assert lines[-1].startswith(b"s OK"), lines
    count = int(next(x.split()[1] for x in lines if x.endswith(b" EXISTS")))
    return [e for e, _ in fetch_ids(c)] if count else []


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=OPS)
def test_ids_are_stable_and_unique(ops: list[tuple[object, ...]]) -> None:
    data = Path(tempfile.mkdtemp(prefix="objectid-"))
    server = ServerThread(data / "data")
    try:
        server.add_user("alice")
        c = login(server)
        model = Model()
        for name in model.names[1:]:
            model.box_ids[name] = code_id(c.command(b"c", b"CREATE " + name.encode())[-1])
        model.box_ids["INBOX"] = status_id(c, b"INBOX")
        seen: dict[tuple[int, int], bytes] = {}  # (content, date) -> EMAILID
        for op in ops:
            if op[0] == "append":
                _, box, content, date = op
                assert isinstance(box, int) and isinstance(content, int)
                assert isinstance(date, int)
                name = model.names[box]
                append(c, name.encode(), CONTENTS[content], DATES[date])
                model.messages[name].append((content, date))
            elif op[0] in ("copy", "move"):
                _, src, dst = op
                assert isinstance(src, int) and isinstance(dst, int)
                source, target = model.names[src], model.names[dst]
                if not model.messages[source]:
                    continue
                c.command(b"s", b'SELECT "' + source.encode() + b'"')
                verb = b"COPY" if op[0] == "copy" else b"MOVE"
                lines = c.command(b"m", verb + b' 1:* "' + target.encode() + b'"')
                assert lines[-1].startswith(b"m OK"), lines
                moved = list(model.messages[source])
                if op[0] == "move":  # into the same mailbox too: new UIDs, same order
                    model.messages[source] = []
                model.messages[target] = model.messages[target] + moved
                c.command(b"u", b"UNSELECT")
            elif op[0] == "rename":
                _, box = op
                assert isinstance(box, int)
                if box == 0:
                    continue  # RENAME INBOX is a new mailbox: tested above
                old = model.names[box]
                model.renames += 1
                new = f"r{model.renames}"
                assert c.command(b"r", f"RENAME {old} {new}".encode())[-1].startswith(b"r OK")
                model.names[box] = new
                model.box_ids[new] = model.box_ids.pop(old)
                model.messages[new] = model.messages.pop(old)
            else:
                c.close()
                server.stop()
                server = ServerThread(data / "data")
                c = login(server)
            # after every step: MAILBOXIDs as created, EMAILIDs one per (content, date)
            for name in model.names:
                assert status_id(c, name.encode()) == model.box_ids[name]
                emails = _ids(c, name)
                assert len(emails) == len(model.messages[name])
                for key, email in zip(model.messages[name], emails, strict=True):
                    assert OBJECTID.fullmatch(email) and email[:1] == b"M"
                    assert seen.setdefault(key, email) == email
                c.command(b"u", b"UNSELECT")
            assert len(set(seen.values())) == len(seen)  # distinct messages, distinct ids
            assert len(set(model.box_ids.values())) == 3
        c.close()
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
