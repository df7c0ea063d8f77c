"""NOTIFY (RFC 5465) as a property: whatever another session does (APPEND, STORE, EXPUNGE,
CREATE, RENAME, DELETE, SUBSCRIBE, UNSUBSCRIBE, SETMETADATA), what NOTIFY sessions were told
adds up to what a fresh LIST, LSUB, STATUS and GETMETADATA show.

The client's model is built from the events alone, as a client would: a LIST with OLDNAME
moves a name (and what is known about it); any other MailboxName LIST says the name was
created or deleted, so what was known of it is forgotten (a client would ask STATUS again);
STATUS sets the counts; METADATA says an entry changed. Subscriptions come to a second
session (SubscriptionChange only), whose LIST responses carry \\Subscribed exactly when the
name is subscribed (§5.5).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.harness import RawClient, ServerThread, raw_login

NAMES = ("A", "B", "C")
MESSAGE = b"From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n"
LIST_LINE = re.compile(rb'\* LIST \(([^)]*)\) "/" "([^"]+)"(?: \("OLDNAME" \("([^"]+)"\)\))?$')
STATUS_LINE = re.compile(rb'\* STATUS "([^"]+)" \(([^)]*)\)$')
METADATA_LINE = re.compile(rb'\* METADATA "([^"]+)" (.+)$')

OPS = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(NAMES)),
    st.tuples(st.just("delete"), st.sampled_from(NAMES)),
    st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("append"), st.sampled_from(NAMES), st.booleans()),
    st.tuples(st.just("store"), st.sampled_from(NAMES), st.booleans()),
    st.tuples(st.just("expunge"), st.sampled_from(NAMES)),
    st.tuples(st.just("subscribe"), st.sampled_from(NAMES)),
    st.tuples(st.just("unsubscribe"), st.sampled_from(NAMES)),
    st.tuples(st.just("setmetadata"), st.sampled_from(NAMES)),
)
_runs = itertools.count()


@dataclass
class Model:
    exists: dict[str, bool] = field(default_factory=dict)
    status: dict[str, dict[str, int]] = field(default_factory=dict)
    metadata: set[str] = field(default_factory=set)
    subscribed: dict[str, bool] = field(default_factory=dict)

    def events(self, lines: list[bytes]) -> None:
        for line in lines:
            if (m := LIST_LINE.match(line)) is not None:
                attrs, name = m[1].split(), m[2].decode()
                if m[3] is not None:
                    old = m[3].decode()
                    self.exists[old] = False
                    for known in (self.status, ):
                        if old in known:
                            known[name] = known.pop(old)
                    if old in self.metadata:
                        self.metadata.discard(old)
                        self.metadata.add(name)
                else:
                    self.status.pop(name, None)
                    self.metadata.discard(name)
                self.exists[name] = b"\\NonExistent" not in attrs
            elif (m := STATUS_LINE.match(line)) is not None:
                items = m[2].split()
                self.status.setdefault(m[1].decode(), {}).update(
                    {k.decode(): int(v) for k, v in zip(items[::2], items[1::2], strict=True)})
            elif (m := METADATA_LINE.match(line)) is not None:
                self.metadata.add(m[1].decode())

    def subscriptions(self, lines: list[bytes]) -> None:
        for line in lines:
            m = LIST_LINE.match(line)
            assert m is not None, line
            self.subscribed[m[2].decode()] = b"\\Subscribed" in m[1].split()


def act(raw: RawClient, op: tuple[object, ...], prefix: str) -> None:
    """One change by the other session; NO answers (a name that does not exist...) are
    part of the game."""
    kind, name = op[0], f"{prefix}{op[1]}"
    q = f'"{name}"'.encode()
    if kind == "create":
        raw.command(b"o", b"CREATE " + q)
    elif kind == "delete":
        raw.command(b"o", b"DELETE " + q)
    elif kind == "rename":
        raw.command(b"o", b'RENAME %s "%s%s"' % (q, prefix.encode(), str(op[2]).encode()))
    elif kind == "append":
        flags = b"(\\Seen) " if op[2] else b""
        raw.send(b"o APPEND %s %s{%d}\r\n" % (q, flags, len(MESSAGE)))
        if raw.line().startswith(b"+"):
            raw.send(MESSAGE + b"\r\n")
            raw.until_tagged(b"o")
    elif kind in ("store", "expunge"):
        if raw.command(b"s", b"SELECT " + q)[-1].startswith(b"s OK"):
            if kind == "store":
                raw.command(b"o", b"STORE 1:* %sFLAGS (\\Seen)" % (b"+" if op[2] else b"-"))
            else:
                raw.command(b"o", b"STORE 1 +FLAGS.SILENT (\\Deleted)")
                raw.command(b"o", b"EXPUNGE")
            raw.command(b"u", b"UNSELECT")
    elif kind == "subscribe":
        raw.command(b"o", b"SUBSCRIBE " + q)
    elif kind == "unsubscribe":
        raw.command(b"o", b"UNSUBSCRIBE " + q)
    elif kind == "setmetadata":
        raw.command(b"o", b'SETMETADATA %s (/shared/comment "c%d")' % (q, next(_runs)))


def fresh(raw: RawClient, prefix: str) -> Model:
    """What LIST, LSUB, STATUS and GETMETADATA show now, for this run's names."""
    truth = Model()
    for line in raw.command(b"f", b'LIST "" "%s*"' % prefix.encode())[:-1]:
        m = LIST_LINE.match(line)
        assert m is not None, line
        name = m[2].decode()
        truth.exists[name] = True
        status = raw.command(b"f", b'STATUS "%s" (MESSAGES UIDNEXT UNSEEN UIDVALIDITY)' % m[2])
        s = STATUS_LINE.match(status[0])
        assert s is not None, status
        items = s[2].split()
        truth.status[name] = {k.decode(): int(v)
                              for k, v in zip(items[::2], items[1::2], strict=True)}
        meta = raw.command(b"f", b'GETMETADATA "%s" /shared/comment' % m[2])
        if meta[0].startswith(b"* METADATA") and not meta[0].endswith(b" NIL)"):
            truth.metadata.add(name)
    for line in raw.command(b"f", b'LSUB "" "%s*"' % prefix.encode())[:-1]:
        truth.subscribed[line.rsplit(b'"/" ', 1)[1].strip(b'"').decode()] = True
    return truth


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(OPS, min_size=1, max_size=14))
def test_events_add_up_to_a_fresh_look(server: ServerThread,
                                       ops: list[tuple[object, ...]]) -> None:
    prefix = f"r{next(_runs)}x"
    watcher, subscriber, other = raw_login(server), raw_login(server), raw_login(server)
    assert watcher.command(b"n", b"NOTIFY SET (personal (MessageNew MessageExpunge FlagChange "
                                 b"MailboxName MailboxMetadataChange))")[-1] \
        .startswith(b"n OK")
    assert subscriber.command(b"n", b"NOTIFY SET (personal (SubscriptionChange))")[-1] \
        .startswith(b"n OK")
    for op in ops:
        act(other, op, prefix)
    # Each change was committed (and reported) before its tagged answer: a NOOP now
    # carries whatever was not yet sent between commands.
    model = Model()
    seen = watcher.command(b"z", b"NOOP")[:-1]
    model.events(seen)
    model.subscriptions(subscriber.command(b"z", b"NOOP")[:-1])
    truth = fresh(other, prefix)
    mine = {n for n in model.exists if n.startswith(prefix)}
    assert {n for n in mine if model.exists[n]} == set(truth.exists), seen
    for name, counts in truth.status.items():
        if name in model.status:
            assert model.status[name] == {k: counts[k] for k in model.status[name]}, name
            if "MESSAGES" in model.status[name] or counts["MESSAGES"]:
                assert counts["MESSAGES"] == model.status[name].get("MESSAGES"), name
            if "UNSEEN" in model.status[name]:
                assert counts["UNSEEN"] == model.status[name]["UNSEEN"], name
        else:
            # Nothing known since it was created: empty, as a new mailbox is.
            assert counts["MESSAGES"] == 0, (name, counts)
    assert {n for n in model.metadata if model.exists.get(n)} == truth.metadata
    assert {n for n, s in model.subscribed.items() if s and n.startswith(prefix)} == \
        set(truth.subscribed)
    for raw in (watcher, subscriber, other):
        raw.close()
