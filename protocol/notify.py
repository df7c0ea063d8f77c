"""NOTIFY (RFC 5465 §8): the command's grammar and the rules §5 and §6.1 make BAD.

``NOTIFY NONE`` / ``NOTIFY SET [STATUS] event-group *(SP event-group)``, each group a
mailbox filter and its events (or NONE). Event names are kept as the RFC spells them
("MessageNew"...); an unknown one (``event-ext``) is kept too, since the server must answer
it with NO [BADEVENT] listing what it supports (§3.1), not BAD. The grammar's BAD rules:
- §5: MessageNew and MessageExpunge go together; FlagChange or AnnotationChange need both;
- §6.1: SELECTED or SELECTED-DELAYED at most once, with message events only;
- §8: a fetch-att list only after MessageNew and only for SELECTED/SELECTED-DELAYED.
"""

from __future__ import annotations

from collections.abc import Callable

from .commands import EventGroup, FetchItem, Notify
from .parser_fetch import fetch_att_list
from .reader import ParseError, Reader

MESSAGE_EVENTS = ("MessageNew", "MessageExpunge", "FlagChange", "AnnotationChange")
MAILBOX_EVENTS = ("MailboxName", "SubscriptionChange", "MailboxMetadataChange")
USER_EVENTS = ("ServerMetadataChange",)
_KNOWN = {name.upper(): name for name in MESSAGE_EVENTS + MAILBOX_EVENTS + USER_EVENTS}
SELECTED_FILTERS = ("SELECTED", "SELECTED-DELAYED")
_NAMED_FILTERS = ("SUBTREE", "MAILBOXES")
_FILTERS = (*SELECTED_FILTERS, "INBOXES", "PERSONAL", "SUBSCRIBED", *_NAMED_FILTERS)


def _mailboxes(r: Reader) -> tuple[str, ...]:
    """``one-or-more-mailbox``; no wildcard expansion (§6.6), so plain mailbox names."""
    if r.peek() != 0x28:
        return (r.mailbox(),)
    r.open_paren()
    found = [r.mailbox()]
    while r.maybe_sp():
        found.append(r.mailbox())
    r.close_paren()
    return tuple(found)


def _event_name(r: Reader) -> str:
    word = r.atom("event")
    return _KNOWN.get(word.upper(), word)


def _group(r: Reader) -> EventGroup:
    r.open_paren()
    kind = r.keyword("mailbox filter")
    if kind not in _FILTERS:
        raise ParseError(f"Unknown NOTIFY mailbox filter {kind[:40]}")
    mailboxes: tuple[str, ...] = ()
    r.sp()
    if kind in _NAMED_FILTERS:
        mailboxes = _mailboxes(r)
        r.sp()
    events: list[str] = []
    fetch: tuple[FetchItem, ...] = ()
    listed = r.peek() == 0x28
    if not listed and r.buf[r.pos : r.pos + 4].upper() == b"NONE" \
            and r.buf[r.pos + 4 : r.pos + 5] == b")":
        r.pos += 4
    else:
        # §3.1's own example writes the events without their parentheses
        # ("(selected MessageNew (uid ...) MessageExpunge)"): accepted too, unambiguous
        # since the group's ")" ends them.
        if listed:
            r.open_paren()
        while True:
            name = _event_name(r)
            if name.upper() == "NONE":
                raise ParseError("NONE stands alone, instead of the events")
            if name in events:
                raise ParseError(f"Event {name} named twice")
            events.append(name)
            if name == "MessageNew" and r.buf[r.pos : r.pos + 2] == b" (":
                if kind not in SELECTED_FILTERS:
                    raise ParseError("A fetch-att list is only for SELECTED/SELECTED-DELAYED")
                fetch = fetch_att_list(r)
            if not r.maybe_sp():
                break
        if listed:
            r.close_paren()
    r.close_paren()
    _check_events(kind, events)
    return EventGroup(kind, mailboxes, tuple(events), fetch)


def _check_events(kind: str, events: list[str]) -> None:
    if ("MessageNew" in events) != ("MessageExpunge" in events):
        raise ParseError("MessageNew and MessageExpunge go together (RFC 5465 §5)")
    if ("FlagChange" in events or "AnnotationChange" in events) and "MessageNew" not in events:
        raise ParseError("FlagChange and AnnotationChange need MessageNew and MessageExpunge")
    if kind in SELECTED_FILTERS:
        other = [e for e in events if e not in MESSAGE_EVENTS and e in _KNOWN.values()]
        if other:
            raise ParseError(f"{kind} takes message events only, not {other[0]} (§6.1)")


def parse_notify(r: Reader) -> Notify:
    word = r.keyword("SET or NONE")
    if word == "NONE":
        r.end()
        return Notify(())
    if word != "SET":
        raise ParseError("Expected NOTIFY SET or NOTIFY NONE")
    r.sp()
    status = False
    if r.peek() != 0x28:
        if r.keyword("STATUS or an event group") != "STATUS":
            raise ParseError("Expected STATUS or an event group")
        status = True
        r.sp()
    groups = [_group(r)]
    while r.maybe_sp():
        groups.append(_group(r))
    r.end()
    if sum(g.kind in SELECTED_FILTERS for g in groups) > 1:
        raise ParseError("Only one of SELECTED and SELECTED-DELAYED (RFC 5465 §6.1)")
    return Notify(tuple(groups), status)


HANDLERS: dict[str, Callable[[Reader], Notify]] = {"NOTIFY": parse_notify}
