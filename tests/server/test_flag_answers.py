"""The flag answers built in bulk from the shared index (issue 14) against the general path:
``SEARCH`` of flags and sets cut from ready-made number text (``server/number_text.py``)
against the SQL search, ``FETCH (UID FLAGS)`` joined in columns from the index
(``fetch_flags._from_index``) against the rows read from SQL. Two sessions with the same
history run the same commands, one with the fast path, the other with it switched off;
their answers must be the same bytes.

Real connections to 127.0.0.1; the server runs in this process, so switching a path off is
patching a function."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.server.harness import ServerThread
from tests.server.imap_client import Imap, client_factory, fill, message

SEARCHES = [
    "SEARCH UNSEEN", "UID SEARCH UNSEEN", "SEARCH SEEN", "UID SEARCH SEEN",
    "SEARCH FLAGGED", "UID SEARCH UNFLAGGED", "SEARCH ALL", "UID SEARCH ALL",
    "UID SEARCH UID 5:50 UNSEEN", "SEARCH 10:* NOT SEEN", "SEARCH 1:9,90:* UNDELETED",
    "UID SEARCH OR SEEN FLAGGED", "SEARCH NOT OR SEEN FLAGGED", "SEARCH DELETED UNSEEN",
    "UID SEARCH UID 100000:* SEEN", "SEARCH UNANSWERED UNDRAFT", "UID SEARCH 3:7",
    "SEARCH NEW", "SEARCH OLD UNSEEN",
]


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    yield from client_factory(server)


class Paths:
    """Switches the bulk flag answers off (``general()``) and counts how often the fast
    ones answered."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from crispin.server import number_text

        self.monkeypatch = monkeypatch
        self.cut = 0
        real = number_text.NumberText.spans

        def counting(text: Any, runs: Any) -> bytes:
            self.cut += 1
            return real(text, runs)

        monkeypatch.setattr(number_text.NumberText, "spans", counting)

        from crispin.server.commands import fetch_flags

        self.joined = 0
        join = fetch_flags._Layout.join

        def joining(layout: Any, columns: Any, count: int) -> bytes:
            self.joined += 1
            return join(layout, columns, count)

        monkeypatch.setattr(fetch_flags._Layout, "join", joining)

    @contextlib.contextmanager
    def general(self) -> Iterator[None]:
        from crispin.server import search
        from crispin.server.commands import fetch
        from crispin.storage import index_reads

        async def never(*args: Any) -> bool:
            return False

        with self.monkeypatch.context() as m:
            m.setattr(search, "answerable", lambda criteria: False)
            m.setattr(index_reads, "answerable", lambda criteria: False)
            m.setattr(fetch, "fetch_flags_from_index", never)
            yield


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> Paths:
    return Paths(monkeypatch)


def same(paths: Paths, fast: Imap, slow: Imap, commands: list[str]) -> list[bytes]:
    """Each command on ``fast``, then on ``slow`` with the general path: the same answer
    (untagged lines, and the tagged status)."""
    answers = []
    for command in commands:
        got = fast.cmd(command)
        with paths.general():
            want = slow.cmd(command)
        assert (command, got.untagged, got.status) == (command, want.untagged, want.status)
        answers.append(got.untagged[0] if got.untagged else b"")
    return answers


def flag_mix(client: Imap, count: int, seed: int) -> None:
    """Seen on the first 70% but a few, Flagged, Deleted and keywords scattered."""
    rng = random.Random(seed)
    seen = [n for n in range(1, int(count * 0.7)) if rng.random() > 0.05]
    for n in seen:
        assert client.cmd(f"STORE {n} +FLAGS.SILENT (\\Seen)").ok
    for n in rng.sample(range(1, count + 1), count // 10):
        assert client.cmd(f"STORE {n} +FLAGS.SILENT (\\Flagged Work)").ok
    for n in rng.sample(range(1, count + 1), count // 20):
        assert client.cmd(f"STORE {n} +FLAGS.SILENT (\\Deleted)").ok


def test_flag_searches_match_the_general_path(imap: Any, paths: Paths) -> None:
    """120 messages (UIDs across 1, 2 and 3 digits), with gaps (expunged), keywords."""
    a = imap()
    fill(a, 130)
    a.select()
    assert a.cmd("STORE 12:14,100 +FLAGS.SILENT (\\Deleted)").ok
    assert a.cmd("EXPUNGE").ok
    flag_mix(a, 126, 1)
    fast, slow = imap(), imap()
    fast.select()
    slow.select()
    answers = same(paths, fast, slow, SEARCHES)
    assert paths.cut >= 8
    assert answers[1].startswith(b"* SEARCH ") and answers[6].endswith(b" 125 126")
    uids = [int(x) for x in answers[7].split()[2:]]
    assert 13 not in uids and 100 not in uids and uids[-1] == 130


def test_many_short_runs_take_the_list(imap: Any, paths: Paths) -> None:
    """Every other message seen: the runs are one message long, so the numbers are listed
    one by one; the answer is the same."""
    a = imap()
    fill(a, 40)
    a.select()
    assert a.cmd("STORE 1:40 +FLAGS.SILENT (\\Seen)").ok
    for n in range(2, 41, 2):
        assert a.cmd(f"STORE {n} -FLAGS.SILENT (\\Seen)").ok
    fast, slow = imap(), imap()
    fast.select()
    slow.select()
    cut = paths.cut
    assert same(paths, fast, slow, ["SEARCH UNSEEN", "UID SEARCH SEEN"]) == [
        b"* SEARCH " + b" ".join(b"%d" % n for n in range(2, 41, 2)),
        b"* SEARCH " + b" ".join(b"%d" % n for n in range(1, 41, 2))]
    assert paths.cut == cut


def test_another_sessions_changes_between_reads(imap: Any, paths: Paths) -> None:
    """Flags changed, messages expunged (ghosts: a SEARCH may not announce them, RFC 3501
    §7.4.1, and they never match, RFC 2180 §4.1.2) and new mail not yet announced: the
    fast answer keeps the session's numbers as the general one does."""
    a = imap()
    fill(a, 30)
    a.select()  # \Recent is one session's (RFC 3501 §2.3.2): a takes it, not the two
    fast, slow, other = imap(), imap(), imap()
    fast.select()
    slow.select()
    other.select()
    assert same(paths, fast, slow, ["SEARCH UNSEEN"]) == [
        b"* SEARCH " + b" ".join(b"%d" % n for n in range(1, 31))]
    assert other.cmd("STORE 1:10 +FLAGS.SILENT (\\Seen)").ok
    assert other.append("INBOX", message("late")).ok
    assert a.cmd("NOOP").numbered("EXISTS") == [31]
    # New mail the views do not know yet: numbers are still positions, 31 is not shown.
    assert same(paths, fast, slow, ["SEARCH UNSEEN", "SEARCH 25:* SEEN"]) == [
        b"* SEARCH " + b" ".join(b"%d" % n for n in range(11, 31)), b"* SEARCH"]
    assert other.cmd("STORE 12,20 +FLAGS.SILENT (\\Deleted)").ok
    assert other.cmd("EXPUNGE").ok
    assert other.cmd("STORE 25 +FLAGS.SILENT (\\Seen)").ok  # UID 27, after the expunge
    # Ghosts at 12 and 20 (no EXPUNGE during a SEARCH): positions are not the index's.
    # (The first SEARCH above announced message 31: EXISTS may follow a SEARCH.)
    answers = same(paths, fast, slow, ["SEARCH UNSEEN", "SEARCH 11:* UNSEEN", "SEARCH SEEN"])
    unseen = b"* SEARCH 11 13 14 15 16 17 18 19 21 22 23 24 25 26 28 29 30 31"
    assert answers[0] == unseen
    # A UID SEARCH may announce them after its answer; the UIDs are the same.
    assert same(paths, fast, slow, ["UID SEARCH UNSEEN"]) == [unseen]
    assert fast.cmd("NOOP").untagged == slow.cmd("NOOP").untagged == []
    assert same(paths, fast, slow, SEARCHES)[0] == \
        b"* SEARCH 11 12 13 14 15 16 17 18 19 20 21 22 23 24 26 27 28 29"


@pytest.fixture
def projects(server: ServerThread) -> int:
    """alice's Projects, 25 messages, private \\Seen (the default), bob may read and write."""
    alice = Imap(server, "alice")
    assert alice.cmd("CREATE Projects").ok
    fill(alice, 25, "Projects")
    alice.close()
    store = server.running.ctx.store

    async def grant() -> int:
        owner = await store.get_user("alice")
        assert owner is not None
        info = await store.get_mailbox(owner.id, "Projects")
        assert info is not None
        await store.set_acl(info.id, "bob", "lrswite")
        return info.id

    return server.call(grant())


def test_private_flags_of_a_shared_mailbox(
        server: ServerThread, imap: Any, paths: Paths, projects: int) -> None:
    """bob's private \\Seen and a shared \\Flagged: each user's searches see their own."""
    box = '"Other Users/alice/Projects"'
    bob = imap("bob")
    assert bob.select(box).ok
    assert bob.cmd("STORE 1:10 +FLAGS.SILENT (\\Seen)").ok
    assert bob.cmd("STORE 5:6 +FLAGS.SILENT (\\Flagged)").ok
    fast, slow = imap("bob"), imap("bob")
    fast.select(box)
    slow.select(box)
    assert same(paths, fast, slow, SEARCHES)[0] == \
        b"* SEARCH " + b" ".join(b"%d" % n for n in range(11, 26))
    mine, theirs = imap("alice"), imap("alice")
    mine.select("Projects")
    theirs.select("Projects")
    assert same(paths, mine, theirs, ["SEARCH UNSEEN", "UID SEARCH FLAGGED"]) == [
        b"* SEARCH " + b" ".join(b"%d" % n for n in range(1, 26)), b"* SEARCH 5 6"]


FETCHES = [
    "FETCH 1:* (UID FLAGS)", "UID FETCH 1:* (FLAGS)", "FETCH 1:* (FLAGS UID)", "FETCH 1:* FLAGS",
    "UID FETCH 5:50,90:* (UID FLAGS)", "FETCH 3,7,9:12 (FLAGS)", "FETCH 2:4,3:6 (UID)",
    "UID FETCH 100000:* FLAGS", "UID FETCH 13 (FLAGS)", "FETCH * (UID FLAGS)",
]


def test_flag_fetches_match_the_general_path(
        imap: Any, paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    """UIDs across widths with gaps, keywords, the batch cut every 7 lines (keywords and
    \\Recent at the edges of batches): the same bytes as the rows path."""
    from crispin.server.commands import fetch_flags

    monkeypatch.setattr(fetch_flags, "FLAGS_BATCH", 7)
    a = imap()
    fill(a, 110)
    a.select()
    assert a.cmd("STORE 12:14,100 +FLAGS.SILENT (\\Deleted)").ok
    assert a.cmd("EXPUNGE").ok
    flag_mix(a, 106, 2)
    assert a.cmd("STORE 7,8,14 +FLAGS.SILENT ($Junk)").ok
    fast, slow = imap(), imap()
    fast.select()
    slow.select()
    answers = same(paths, fast, slow, FETCHES)
    assert paths.joined >= 30
    assert answers[0] == b"* 1 FETCH (UID 1 FLAGS (\\Seen))"
    assert same(paths, fast, slow, ["UID SEARCH RETURN (SAVE) FLAGGED", "FETCH $ (UID FLAGS)",
                                    "UID FETCH $ FLAGS"])[1].startswith(b"* ")
    whole = fast.cmd("FETCH 1:* (UID FLAGS)")
    lines = [r for r in whole.untagged if b" FETCH " in r]
    assert len(lines) == 106 and lines[-1].startswith(b"* 106 FETCH (UID 110 FLAGS (")
    assert any(b"$Junk" in line for line in lines)


def test_recent_in_flag_fetches(imap: Any, paths: Paths) -> None:
    """EXAMINE shows \\Recent without claiming it (RFC 3501 §6.3.2), so two read-only
    sessions both see it: in the fast answer as in the general one."""
    a = imap()
    for n in range(1, 13):
        assert a.append("INBOX", message(f"m{n}"), "\\Seen Work" if n in (2, 5) else None).ok
    fast, slow = imap(), imap()
    assert fast.cmd("EXAMINE INBOX").ok and slow.cmd("EXAMINE INBOX").ok
    answers = same(paths, fast, slow, FETCHES[:6])
    assert answers[0] == b"* 1 FETCH (UID 1 FLAGS (\\Recent))"


def test_flag_fetch_after_another_sessions_changes(imap: Any, paths: Paths) -> None:
    """Flags changed by another session are in the answer; once the view's numbers are
    not the index's (an expunge it was told of... or not yet), the rows path answers,
    ghosts included (RFC 2180 §4.1), the same for both."""
    a = imap()
    fill(a, 20)
    a.select()
    fast, slow, other = imap(), imap(), imap()
    fast.select()
    slow.select()
    other.select()
    assert other.cmd("STORE 1:5 +FLAGS.SILENT (\\Flagged Later)").ok
    joined = paths.joined
    assert same(paths, fast, slow, ["FETCH 1:6 (UID FLAGS)"])[0] == \
        b"* 1 FETCH (UID 1 FLAGS (\\Flagged Later))"
    assert paths.joined > joined
    assert other.cmd("STORE 3 +FLAGS.SILENT (\\Deleted)").ok
    assert other.cmd("EXPUNGE").ok
    joined = paths.joined
    reply = same(paths, fast, slow, ["FETCH 1:* (UID FLAGS)", "UID FETCH 1:* (UID FLAGS)",
                                     "FETCH 1:* (UID FLAGS)"])
    assert paths.joined == joined  # ghost, then own numbers: from the rows
    assert reply[0] == b"* 1 FETCH (UID 1 FLAGS (\\Flagged Later))"
