"""A STORE of many messages records its change once, not by a row trigger per message
(issue 14, ``storage/commits.py`` ``logged_once``): what other sessions learn must not
change. The same history runs on two mailboxes, one with the change recorded once, the
other with the row trigger; an IDLE session's wake-up, another session's sync after NOOP
(CONDSTORE: MODSEQ per message, RFC 7162 §3.1), the STORE answers (UNCHANGEDSINCE,
MODIFIED) and the messages' MODSEQ must be the same bytes.

Real connections to 127.0.0.1; the server runs in this process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.server.harness import ServerThread
from tests.server.imap_client import Imap, client_factory, fill

COUNT = 90


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    yield from client_factory(server)


def start_idle(client: Imap) -> str:
    tag = client.tag()
    client.send(tag.encode() + b" IDLE\r\n")
    assert client.line().startswith(b"+")
    return tag


def finish_idle(client: Imap, tag: str, fetches: int) -> list[bytes]:
    """Read until ``fetches`` FETCH responses came (each one an event: no timer), DONE."""
    got: list[bytes] = []
    while sum(b" FETCH " in r for r in got) < fetches:
        got.append(client.response())
    client.send(b"DONE\r\n")
    reply = client.until_tagged(tag)
    assert reply.ok
    return got + reply.untagged


def history(imap: Callable[..., Imap], box: str) -> list[object]:
    actor, idler, syncer = imap(), imap(), imap()
    assert actor.cmd(f"CREATE {box}").ok
    fill(actor, COUNT, box)
    for c in (actor, idler, syncer):
        assert c.cmd("ENABLE CONDSTORE").ok
        c.select(box)
    out: list[object] = []
    tag = start_idle(idler)
    out.append(actor.cmd("UID STORE 1:* +FLAGS.SILENT (\\Seen)").untagged)
    out.append(finish_idle(idler, tag, COUNT))
    out.append(syncer.cmd("NOOP").untagged)
    high = int(actor.cmd("FETCH 1 (MODSEQ)").untagged[0].split(b"MODSEQ (")[1].split(b")")[0])
    assert syncer.cmd("STORE 5 +FLAGS.SILENT (\\Flagged)").ok  # one message moves on
    # Each wake-up waited for before the next change, so what IDLE says does not depend
    # on timing: message 5's \\Flagged and the 79 others' \\Seen gone, then 80 \\Draft.
    tag = start_idle(idler)
    out.append(actor.cmd(f"STORE 1:80 (UNCHANGEDSINCE {high}) -FLAGS (\\Seen)").tagged)
    out.append(finish_idle(idler, tag, 80))
    tag = start_idle(idler)
    out.append(actor.cmd(f"STORE 1:80 (UNCHANGEDSINCE {high + 5}) +FLAGS.SILENT (\\Draft)")
               .untagged)
    out.append(finish_idle(idler, tag, 80))
    out.append(syncer.cmd("NOOP").untagged)
    out.append(syncer.cmd("FETCH 1:* (UID FLAGS MODSEQ)").untagged)
    out.append(syncer.cmd(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {high})").untagged)
    out.append(actor.cmd(f"STATUS {box} (HIGHESTMODSEQ)").untagged[0].split(b" (")[1])
    return out


def test_bulk_store_tells_other_sessions_what_the_row_trigger_did(
        imap: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from crispin.storage import commits, messages

    once: list[int] = []
    real = commits.record

    def counting(*args: Any) -> None:
        once.append(1)
        real(*args)

    monkeypatch.setattr(commits, "record", counting)
    monkeypatch.setattr(messages, "LOG_ONCE_OVER", 10)
    bulk = history(imap, "Bulk")
    recorded = len(once)
    assert recorded >= 3
    monkeypatch.setattr(messages, "LOG_ONCE_OVER", 10**9)
    rows = history(imap, "Rows")
    assert len(once) == recorded  # the row trigger recorded these
    assert rows == bulk
    first_wake = bulk[1]
    assert isinstance(first_wake, list) and sum(b" MODSEQ (" in r for r in first_wake) == COUNT
