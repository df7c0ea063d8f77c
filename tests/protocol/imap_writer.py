"""Commands back to IMAP text, for parse → write → parse round trips (tests only)."""

from __future__ import annotations

from datetime import date

from crispin.protocol import (
    Authenticate,
    Command,
    Compress,
    Copy,
    Create,
    Delete,
    DeleteAcl,
    Enable,
    Examine,
    Expunge,
    Fetch,
    FetchAttr,
    FetchItem,
    GenUrlAuth,
    GetAcl,
    GetQuota,
    GetQuotaRoot,
    Id,
    List,
    ListRights,
    Login,
    Lsub,
    Mailbox,
    Move,
    MyRights,
    Param,
    ParamValue,
    Rename,
    ResetKey,
    Search,
    SearchAnd,
    SearchKey,
    SearchNot,
    SearchOr,
    SearchTerm,
    Select,
    SequenceSet,
    SetAcl,
    SetQuota,
    Status,
    Store,
    Subscribe,
    UndecodableName,
    Unsubscribe,
    UrlFetch,
    serialize_value,
)
from crispin.protocol.dates import MONTHS

_SIMPLE = {
    "Capability": b"CAPABILITY", "Noop": b"NOOP", "Logout": b"LOGOUT", "StartTLS": b"STARTTLS",
    "Check": b"CHECK", "Close": b"CLOSE", "Namespace": b"NAMESPACE", "Idle": b"IDLE",
    "Unselect": b"UNSELECT", "Unauthenticate": b"UNAUTHENTICATE",
}


def s(text: str | bytes) -> bytes:
    return serialize_value(text)


def mbox(name: str) -> bytes:
    if isinstance(name, UndecodableName):  # as the client sent it, not re-encoded
        return serialize_value(name.encode("ascii", "surrogateescape"))
    return serialize_value(Mailbox(name))


def seq(value: SequenceSet) -> bytes:
    return str(value).encode()


def param_value(value: ParamValue) -> bytes:
    if isinstance(value, tuple):
        return b"(" + b" ".join(param_value(v) for v in value) + b")"
    if isinstance(value, SequenceSet):
        return seq(value)
    if isinstance(value, int):
        return b"%d" % value
    assert isinstance(value, str)
    if value.startswith("\\") and value[1:].isalnum():
        return value.encode()
    return s(value)


def params(items: tuple[Param, ...]) -> bytes:
    out = []
    for name, value in items:
        out.append(name.encode() + (b"" if value is None else b" " + param_value(value)))
    return b"(" + b" ".join(out) + b")"


def fetch_item(item: FetchItem) -> bytes:
    if isinstance(item, FetchAttr):
        if item.name == "BINARY.SIZE":
            return b"BINARY.SIZE[" + ".".join(map(str, item.part)).encode() + b"]"
        if item.modifiers:
            return item.name.encode() + b" (" + " ".join(item.modifiers).encode() + b")"
        return item.name.encode()
    name = b"BINARY" if item.binary else b"BODY"
    if item.peek:
        name += b".PEEK"
    out = name + b"[" + item.section_spec() + b"]"
    if item.partial:
        out += b"<%d.%d>" % item.partial
    return out


def imap_date(d: date) -> bytes:
    return f"{d.day}-{MONTHS[d.month - 1]}-{d.year:04d}".encode()


def search_key(key: SearchKey) -> bytes:
    if isinstance(key, SearchAnd):
        return b"(" + b" ".join(search_key(k) for k in key.keys) + b")"
    if isinstance(key, SearchOr):
        return b"OR " + search_key(key.left) + b" " + search_key(key.right)
    if isinstance(key, SearchNot):
        return b"NOT " + search_key(key.key)
    assert isinstance(key, SearchTerm)
    if key.name == "SEQSET":
        return seq(key.args[0])  # type: ignore[arg-type]
    out = [key.name.encode()]
    for i, arg in enumerate(key.args):
        if isinstance(arg, SequenceSet):
            out.append(seq(arg))
        elif isinstance(arg, date):
            out.append(imap_date(arg))
        elif isinstance(arg, int):
            out.append(b"%d" % arg)
        elif isinstance(arg, bytes):
            out.append(s(arg))
        elif key.name in ("KEYWORD", "UNKEYWORD") or (key.name == "MODSEQ" and i == 1):
            out.append(arg.encode())
        else:
            out.append(s(arg))
    return b" ".join(out)


def to_imap(tag: str, cmd: Command) -> bytes:
    name = type(cmd).__name__
    out: bytes
    if name in _SIMPLE:
        out = _SIMPLE[name]
    elif isinstance(cmd, Authenticate):
        out = b"AUTHENTICATE " + cmd.mechanism.encode()
        if cmd.initial_response is not None:
            out += b" " + cmd.initial_response.encode()
    elif isinstance(cmd, Login):
        out = b"LOGIN " + s(cmd.username) + b" " + s(cmd.password)
    elif isinstance(cmd, (Select, Examine, Create)):
        out = name.upper().encode() + b" " + mbox(cmd.mailbox)
        if cmd.params:
            out += b" " + params(cmd.params)
    elif isinstance(cmd, (Delete, Subscribe, Unsubscribe)):
        out = name.upper().encode() + b" " + mbox(cmd.mailbox)
    elif isinstance(cmd, Rename):
        out = b"RENAME " + mbox(cmd.old) + b" " + mbox(cmd.new)
    elif isinstance(cmd, List):
        out = b"LIST "
        if cmd.selection:
            out += b"(" + " ".join(cmd.selection).encode() + b") "
        out += mbox(cmd.reference) + b" (" + b" ".join(mbox(p) for p in cmd.patterns) + b")"
        if cmd.returns:
            out += b" RETURN " + params(cmd.returns)
    elif isinstance(cmd, Lsub):
        out = b"LSUB " + mbox(cmd.reference) + b" " + mbox(cmd.pattern)
    elif isinstance(cmd, Status):
        out = b"STATUS " + mbox(cmd.mailbox) + b" (" + " ".join(cmd.items).encode() + b")"
    elif isinstance(cmd, Enable):
        out = b"ENABLE " + " ".join(cmd.capabilities).encode()
    elif isinstance(cmd, Id):
        if cmd.params is None:
            out = b"ID NIL"
        else:
            out = b"ID (" + b" ".join(
                s(k) + b" " + (b"NIL" if v is None else s(v)) for k, v in cmd.params
            ) + b")"
    elif isinstance(cmd, Compress):
        out = b"COMPRESS " + cmd.algorithm.encode()
    elif isinstance(cmd, Expunge):
        out = b"EXPUNGE" if cmd.uid_set is None else b"UID EXPUNGE " + seq(cmd.uid_set)
    elif isinstance(cmd, (Copy, Move)):
        out = (b"UID " if cmd.uid else b"") + name.upper().encode()
        out += b" " + seq(cmd.sequence_set) + b" " + mbox(cmd.mailbox)
    elif isinstance(cmd, Fetch):
        out = (b"UID " if cmd.uid else b"") + b"FETCH " + seq(cmd.sequence_set) + b" "
        if cmd.macro:
            out += cmd.macro.encode()
        else:
            out += b"(" + b" ".join(fetch_item(i) for i in cmd.items) + b")"
        if cmd.modifiers:
            out += b" " + params(cmd.modifiers)
    elif isinstance(cmd, Store):
        out = (b"UID " if cmd.uid else b"") + b"STORE " + seq(cmd.sequence_set) + b" "
        if cmd.unchangedsince is not None:
            out += b"(UNCHANGEDSINCE %d) " % cmd.unchangedsince
        out += cmd.mode.encode() + b"FLAGS" + (b".SILENT" if cmd.silent else b"")
        out += b" (" + " ".join(cmd.flags).encode() + b")"
    elif isinstance(cmd, Search):
        out = (b"UID " if cmd.uid else b"") + b"SEARCH"
        if cmd.returns is not None:
            out += b" RETURN (" + b" ".join(
                b"UPDATE (" + b" ".join(fetch_item(i) for i in cmd.update_fetch) + b")"
                if o == "UPDATE" and cmd.update_fetch else o.encode()
                for o in cmd.returns) + b")"
        if cmd.charset is not None:
            out += b" CHARSET " + s(cmd.charset)
        out += b" " + b" ".join(search_key(k) for k in cmd.criteria.keys)
    elif isinstance(cmd, SetAcl):
        out = b"SETACL " + mbox(cmd.mailbox) + b" " + s(cmd.identifier) + b" " + s(cmd.rights)
    elif isinstance(cmd, (DeleteAcl, ListRights)):
        out = name.upper().encode() + b" " + mbox(cmd.mailbox) + b" " + s(cmd.identifier)
    elif isinstance(cmd, (GetAcl, MyRights, GetQuotaRoot)):
        out = name.upper().encode() + b" " + mbox(cmd.mailbox)
    elif isinstance(cmd, GetQuota):
        out = b"GETQUOTA " + s(cmd.root)
    elif isinstance(cmd, SetQuota):
        out = b"SETQUOTA " + s(cmd.root) + b" (" + b" ".join(
            b"%s %d" % (n.encode(), v) for n, v in cmd.resources) + b")"
    elif isinstance(cmd, ResetKey):
        out = b"RESETKEY" if cmd.mailbox is None else b" ".join(
            [b"RESETKEY", mbox(cmd.mailbox), *(m.encode() for m in cmd.mechanisms)])
    elif isinstance(cmd, GenUrlAuth):
        out = b"GENURLAUTH " + b" ".join(s(u) + b" " + m.encode() for u, m in cmd.pairs)
    elif isinstance(cmd, UrlFetch):
        out = b"URLFETCH " + b" ".join(s(u) for u in cmd.urls)
    else:
        raise AssertionError(f"no writer for {name}")
    return tag.encode() + b" " + out + b"\r\n"
