"""Command grammar (RFC 3501 §9) over one framed command: the tag, the command
name, and every command's arguments except FETCH/STORE/SEARCH (own modules)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from . import commands as c
from .dates import parse_datetime
from .limits import MAX_ID_PAIRS, Limits
from .metadata import HANDLERS as METADATA_HANDLERS
from .notify import HANDLERS as NOTIFY_HANDLERS
from .parser_acl import HANDLERS as ACL_HANDLERS
from .parser_catenate import CatenateItems, Item, catenate, parse_catenate_more
from .parser_ext import param_list
from .parser_fetch import parse_fetch, parse_store
from .parser_search import parse_search
from .parser_sort import parse_cancelupdate, parse_sort, parse_thread
from .parser_urlauth import HANDLERS as URLAUTH_HANDLERS
from .parser_urlauth import NO_SP as URLAUTH_NO_SP
from .reader import MAX_NUMBER64, TAG_CHARS, ParseError, Reader


@dataclass
class AppendAnnounce(Exception):
    """The parser reached an APPEND message literal (RFC 3501 §6.3.11): the
    framer streams it instead of collecting it."""

    mailbox: str
    flags: tuple[str, ...]
    internal_date: datetime | None
    size: int
    binary: bool
    synchronizing: bool
    replace: tuple[int, bool] | None = None
    #: Sent as RFC 6855 §4 ``utf8-literal`` (``UTF8 (~{n})``): the ``)`` follows the data.
    utf8: bool = False


_STATUS_ITEMS = frozenset({
    "MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN",  # RFC 3501 §6.3.10
    "HIGHESTMODSEQ",  # RFC 7162 §3.1.6
    "SIZE", "DELETED", "DELETED-STORAGE",  # RFC 8438, RFC 9051
    "APPENDLIMIT",  # RFC 7889
    "MAILBOXID",  # RFC 8474
})
_BASE64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")

_NO_ARGS: dict[str, Callable[[], c.Command]] = {
    "CAPABILITY": c.Capability, "NOOP": c.Noop, "LOGOUT": c.Logout,
    "STARTTLS": c.StartTLS, "CHECK": c.Check, "CLOSE": c.Close,
    "NAMESPACE": c.Namespace, "IDLE": c.Idle, "UNSELECT": c.Unselect,
    "EXPUNGE": c.Expunge, "UNAUTHENTICATE": c.Unauthenticate,
}


def parse_command(buf: bytes, limits: Limits, partial: bool = False,
                  utf8: bool = False) -> tuple[str, c.Command]:
    """Parse ``tag SP command``; raise ParseError, or in partial mode Incomplete /
    AppendAnnounce when the buffer ends at an announced literal. ``utf8``: the client
    enabled UTF-8 (see ``Reader.utf8``)."""
    r = Reader(buf, limits, partial, utf8)
    tag = r.take(TAG_CHARS).decode("ascii")
    if not tag:
        raise ParseError("Invalid tag")
    if r.peek() != 0x20:
        raise ParseError("Expected SP after tag")
    r.pos += 1
    name = r.keyword("command name")
    allowed = r.limits.commands
    if allowed is not None and name not in allowed:
        # Not parsed at all: its arguments could be 64 KB of work for nothing.
        raise ParseError("Command not allowed in this state")
    simple = _NO_ARGS.get(name)
    if simple is not None:
        r.end()
        return tag, simple()
    if name == "UID":
        return tag, _uid(r)
    if name in URLAUTH_NO_SP:
        return tag, URLAUTH_NO_SP[name](r)
    handler = _HANDLERS.get(name)
    if handler is None:
        raise ParseError(f"Unknown command {name[:40]}")
    r.sp()
    return tag, handler(r)


def parse_append_more(buf: bytes, mailbox: str, limits: Limits,
                      partial: bool = True, utf8: bool = False) -> AppendAnnounce:
    """A MULTIAPPEND continuation (RFC 3502 §6.3.11): ``SP [flag-list SP]
    [date-time SP] literal`` after the previous message (or CATENATE, RFC 4469 §5: a line
    without a literal at its end, ``partial`` False, when its parts are all URLs). Always
    raises."""
    r = Reader(buf, limits, partial, utf8)
    r.sp()
    # Leniency for a real client: imapclient's multiappend() (3.0, 4.x) writes a space
    # after each message literal and then " {n}" for the next, so two spaces separate
    # consecutive messages. Extra spaces here are unambiguous; elsewhere the grammar's
    # single SP is kept.
    while r.peek() == 0x20:
        r.pos += 1
    _append_message(r, mailbox)
    raise AssertionError("unreachable")


def parse_catenate_rest(buf: bytes, mailbox: str, replace: tuple[int, bool] | None,
                        limits: Limits, partial: bool = True,
                        utf8: bool = False) -> CatenateItems:
    """The rest of a CATENATE list after a TEXT literal (RFC 4469 §5). Always raises."""
    parse_catenate_more(buf, mailbox, replace, limits, partial, _append_message, utf8)


# --- individual commands --------------------------------------------------------


def _uid(r: Reader) -> c.Command:
    """RFC 3501 §6.4.8 ``uid``, plus UID MOVE (RFC 6851) and UID EXPUNGE (RFC 4315)."""
    r.sp()
    name = r.keyword("command name")
    if name not in ("EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "MOVE", "SORT", "THREAD",
                    "REPLACE"):
        raise ParseError(f"Unknown UID command {name[:40]}")
    r.sp()
    if name == "REPLACE":
        return _replace(r, uid=True)
    if name == "EXPUNGE":
        seq = r.sequence_set()
        r.end()
        return c.Expunge(seq)
    if name == "SEARCH":
        return parse_search(r, True)
    if name == "SORT":
        return parse_sort(r, True)
    if name == "THREAD":
        return parse_thread(r, True)
    seq = r.sequence_set()
    r.sp()
    if name == "FETCH":
        return parse_fetch(r, seq, True)
    if name == "STORE":
        return parse_store(r, seq, True)
    if name in ("COPY", "MOVE"):
        mailbox = r.mailbox()
        r.end()
        return c.Copy(seq, mailbox, True) if name == "COPY" else c.Move(seq, mailbox, True)
    raise AssertionError(name)


def _copy_or_move(cls: type[c.Copy] | type[c.Move]) -> Callable[[Reader], c.Command]:
    def parse(r: Reader) -> c.Command:
        seq = r.sequence_set()
        r.sp()
        mailbox = r.mailbox()
        r.end()
        return cls(seq, mailbox, False)

    return parse


def _authenticate(r: Reader) -> c.Command:
    """RFC 3501 §6.2.2 with SASL-IR (RFC 4959 §3)."""
    mechanism = r.keyword("SASL mechanism")
    initial: str | None = None
    if r.maybe_sp():
        raw = r.take(_BASE64)
        if not raw or r.peek() != -1 or (raw != b"=" and b"=" in raw.rstrip(b"=")):
            raise ParseError("Invalid initial response")
        initial = raw.decode("ascii")
    r.end()
    return c.Authenticate(mechanism, initial)


def _login(r: Reader) -> c.Command:
    user = r.astring_str()
    r.sp()
    password = r.astring_str()
    r.end()
    return c.Login(user, password)


def _mailbox_params(
    cls: type[c.Select] | type[c.Examine] | type[c.Create],
) -> Callable[[Reader], c.Command]:
    """SELECT/EXAMINE/CREATE: mailbox [SP "(" params ")"] (RFC 4466 §2.1, §2.2)."""

    def parse(r: Reader) -> c.Command:
        mailbox = r.mailbox()
        params = param_list(r) if r.maybe_sp() else ()
        r.end()
        return cls(mailbox, params)

    return parse


def _one_mailbox(
    cls: type[c.Delete] | type[c.Subscribe] | type[c.Unsubscribe],
) -> Callable[[Reader], c.Command]:
    def parse(r: Reader) -> c.Command:
        mailbox = r.mailbox()
        r.end()
        return cls(mailbox)

    return parse


def _rename(r: Reader) -> c.Command:
    old = r.mailbox()
    r.sp()
    new = r.mailbox()
    r.end()
    return c.Rename(old, new)


def _list(r: Reader) -> c.Command:
    """RFC 3501 §6.3.8 with LIST-EXTENDED (RFC 5258 §6) and LIST-STATUS (RFC 5819)."""
    selection: list[str] = []
    if r.peek() == 0x28:
        r.open_paren()
        while r.peek() != 0x29:
            if selection:
                r.sp()
            selection.append(r.keyword("selection option"))
        r.close_paren()
        r.sp()
    reference = r.mailbox_name(r.astring())
    r.sp()
    if r.peek() == 0x28:
        r.open_paren()
        patterns = [r.list_mailbox()]
        while r.maybe_sp():
            patterns.append(r.list_mailbox())
        r.close_paren()
    else:
        patterns = [r.list_mailbox()]
    returns: tuple[c.Param, ...] = ()
    if r.maybe_sp():
        if r.keyword() != "RETURN":
            raise ParseError("Expected RETURN")
        r.sp()
        if r.buf[r.pos : r.pos + 2] == b"()":
            r.pos += 2
        else:
            returns = tuple(
                (name, tuple(str(v).upper() for v in value))
                if name == "STATUS" and isinstance(value, tuple)
                else (name, value)
                for name, value in param_list(r)
            )
    r.end()
    return c.List(reference, tuple(patterns), tuple(selection), returns)


def _lsub(r: Reader) -> c.Command:
    reference = r.mailbox_name(r.astring())
    r.sp()
    pattern = r.list_mailbox()
    r.end()
    return c.Lsub(reference, pattern)


def _status(r: Reader) -> c.Command:
    """RFC 3501 §6.3.10."""
    mailbox = r.mailbox()
    r.sp()
    r.open_paren()
    items = [r.keyword("STATUS item")]
    while r.maybe_sp():
        items.append(r.keyword("STATUS item"))
    r.close_paren()
    r.end()
    for item in items:
        if item not in _STATUS_ITEMS:
            raise ParseError(f"Unknown STATUS item {item[:40]}")
    return c.Status(mailbox, tuple(items))


def _append(r: Reader) -> c.Command:
    """RFC 3501 §6.3.11: never a complete command; see AppendAnnounce."""
    mailbox = r.mailbox()
    r.sp()
    _append_message(r, mailbox)
    raise AssertionError("unreachable")


def _replace(r: Reader, uid: bool = False) -> c.Command:
    """RFC 8508 §3.2 ``replace`` = "REPLACE" SP seq-number SP mailbox append-message
    (``uid-replace`` with a UID, §3.3); streamed like APPEND's message."""
    number = r.number(nonzero=True)
    r.sp()
    mailbox = r.mailbox()
    r.sp()
    _append_message(r, mailbox, (number, uid))
    raise AssertionError("unreachable")


def _append_message(r: Reader, mailbox: str, replace: tuple[int, bool] | None = None,
                    items: list[Item] | None = None) -> None:
    """``[flag-list SP] [date-time SP] literal`` (RFC 3501 §9 ``append``, literal8 RFC 3516),
    or ``CATENATE (...)`` (RFC 4469 §5). ``items``: what CATENATE messages before this one
    (in the same fragment of a MULTIAPPEND) reported."""
    flags: tuple[str, ...] = ()
    internal_date: datetime | None = None
    if r.peek() == 0x28:
        flags = r.flag_list()
        r.sp()
    if r.peek() == 0x22:
        raw = r.quoted()
        try:
            internal_date = parse_datetime(raw.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise ParseError("Invalid date-time") from None
        r.sp()
    if r.peek() in (0x43, 0x63):  # "C": RFC 4469 §5 append-data =/ "CATENATE" ...
        catenate(r, mailbox, flags, internal_date, replace, items or [], _append_message)
    # RFC 6855 §4: append-data =/ utf8-literal = "UTF8" SP "(" literal8 ")".
    utf8 = r.buf[r.pos : r.pos + 6].upper() == b"UTF8 ("
    if utf8:
        r.pos += 6
        if r.peek() != 0x7E:
            raise ParseError("Expected literal8 in UTF8 (...)")
    binary = r.peek() == 0x7E
    if binary:
        r.pos += 1
    if r.peek() != 0x7B:
        raise ParseError("Expected message literal")
    # RFC 9051 §9 ``literal = "{" number64 ["+"] "}"`` (Appendix E item 1): a size over
    # 4 GB is refused for its size (NO [TOOBIG]), not as bad syntax.
    size, sync = r.streamed_literal(MAX_NUMBER64, "APPEND")
    announce = AppendAnnounce(mailbox, flags, internal_date, size, binary, sync, replace, utf8)
    if items:
        raise CatenateItems(mailbox, tuple(items), announce)
    raise announce


def _enable(r: Reader) -> c.Command:
    """RFC 5161 §3.1."""
    caps = [r.keyword("capability")]
    while r.maybe_sp():
        caps.append(r.keyword("capability"))
    r.end()
    return c.Enable(tuple(caps))


def _id(r: Reader) -> c.Command:
    """RFC 2971 §3.1: ``"(" string SP nstring *(SP string SP nstring) ")" / nil``."""
    if r.nil():
        r.end()
        return c.Id(None)
    r.open_paren()
    params: list[tuple[str, str | None]] = []
    # Lenient about spaces inside the list, as Dovecot is: aioimaplib sends `( "name" ... )`.
    while r.maybe_sp():
        pass
    while r.peek() != 0x29:
        if len(params) == MAX_ID_PAIRS:
            # RFC 2971 §3.3 forbids more; parsing thousands (before login too) is work.
            raise ParseError(f"Too many ID fields (at most {MAX_ID_PAIRS})", "LIMIT")
        key = r.string().decode("utf-8", "surrogateescape")
        r.sp()
        value = r.nstring()
        params.append((key, None if value is None else value.decode("utf-8", "surrogateescape")))
        while r.maybe_sp():
            pass
    r.close_paren()
    r.end()
    return c.Id(tuple(params))


def _compress(r: Reader) -> c.Command:
    """RFC 4978 §3."""
    algorithm = r.keyword("compression algorithm")
    r.end()
    return c.Compress(algorithm)


def _fetch(r: Reader) -> c.Command:
    seq = r.sequence_set()
    r.sp()
    return parse_fetch(r, seq, False)


def _store(r: Reader) -> c.Command:
    seq = r.sequence_set()
    r.sp()
    return parse_store(r, seq, False)


_HANDLERS: dict[str, Callable[[Reader], c.Command]] = {
    "AUTHENTICATE": _authenticate,
    "LOGIN": _login,
    "SELECT": _mailbox_params(c.Select),
    "EXAMINE": _mailbox_params(c.Examine),
    "CREATE": _mailbox_params(c.Create),
    "DELETE": _one_mailbox(c.Delete),
    "SUBSCRIBE": _one_mailbox(c.Subscribe),
    "UNSUBSCRIBE": _one_mailbox(c.Unsubscribe),
    "RENAME": _rename,
    "LIST": _list,
    "LSUB": _lsub,
    "STATUS": _status,
    "APPEND": _append,
    "REPLACE": _replace,  # RFC 8508
    "COPY": _copy_or_move(c.Copy),
    "MOVE": _copy_or_move(c.Move),
    "FETCH": _fetch,
    "STORE": _store,
    "SEARCH": lambda r: parse_search(r, False),
    "SORT": lambda r: parse_sort(r, False),
    "THREAD": lambda r: parse_thread(r, False),
    "CANCELUPDATE": parse_cancelupdate,  # RFC 5267 §4.3.5
    "ENABLE": _enable,
    "ID": _id,
    "COMPRESS": _compress,
    **ACL_HANDLERS,
    **METADATA_HANDLERS,
    **NOTIFY_HANDLERS,
    **URLAUTH_HANDLERS,
}

