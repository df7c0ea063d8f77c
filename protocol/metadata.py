"""METADATA (RFC 5464): GETMETADATA and SETMETADATA, and the rules for entry names.

RFC 5464 §5's grammar puts GETMETADATA's options before the mailbox name, while every
example of §4.2.1 and §4.2.2 puts them after it (the known inconsistency of the RFC; clients
follow the examples, Dovecot accepts both). Both are accepted: a mailbox name cannot start
with "(", and after the mailbox a list whose first item is not an entry name (entry names
start with "/", §3.2) is the options.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from .reader import ATOM_CHARS, MAX_NUMBER64, ParseError, Reader


class Depth(Enum):
    """RFC 5464 §4.2.2 DEPTH: "0", "1" or "infinity"."""

    ZERO = "0"
    ONE = "1"
    INFINITY = "infinity"


@dataclass(frozen=True)
class GetMetadata:
    """RFC 5464 §4.2: entry names lower-cased (they are case-insensitive, §3.2)."""

    mailbox: str
    entries: tuple[str, ...]
    maxsize: int | None = None
    depth: Depth = Depth.ZERO


@dataclass(frozen=True)
class SetMetadata:
    """RFC 5464 §4.3: each entry with its value, None (NIL) to remove it."""

    mailbox: str
    entries: tuple[tuple[str, bytes | None], ...]


def entry_name(raw: bytes) -> str:
    """RFC 5464 §3.2: a valid entry name, lower-cased, or ParseError (BAD: "Invalid entry
    names result in a BAD response in any IMAP command in which they are used")."""
    if any(c < 0x20 or c > 0x7E or c in b"*%" for c in raw):
        raise ParseError("Entry names are ASCII without controls, '*' or '%'")
    name = raw.decode("ascii").lower()
    if not name.startswith("/") or name.endswith("/") or "//" in name:
        raise ParseError("Entry names start with '/', have no empty component and do not "
                         "end with '/'")
    parts = name.split("/")[1:]
    if parts[0] not in ("private", "shared") or len(parts) < 2:
        raise ParseError("Entry names start with /private/ or /shared/")
    if parts[1] == "vendor" and len(parts) < 4:
        # §3.2: vendor entries have at least 4 components (/shared/vendor/<token>/...).
        raise ParseError("Vendor entry names have at least 4 components")
    return name


def _entry(r: Reader) -> str:
    return entry_name(r.astring())


def _entries(r: Reader) -> tuple[str, ...]:
    """``entries = entry / "(" entry *(SP entry) ")"``."""
    if r.peek() != 0x28:
        return (_entry(r),)
    r.open_paren()
    found = [_entry(r)]
    while r.maybe_sp():
        found.append(_entry(r))
    r.close_paren()
    return tuple(found)


def _options(r: Reader) -> tuple[int | None, Depth]:
    """``getmetadata-options``: MAXSIZE number, DEPTH 0/1/infinity, each at most once;
    any other option is unknown here, so BAD (RFC 4466 §2.1 tagged-ext-label)."""
    r.open_paren()
    maxsize: int | None = None
    depth: Depth | None = None
    while True:
        option = r.keyword("option")
        r.sp()
        if option == "MAXSIZE" and maxsize is None:
            maxsize = r.number(MAX_NUMBER64)
        elif option == "DEPTH" and depth is None:
            word = r.take(ATOM_CHARS).decode("ascii").lower()
            try:
                depth = Depth(word)
            except ValueError:
                raise ParseError("DEPTH is 0, 1 or infinity") from None
        else:
            raise ParseError(f"Unknown or repeated GETMETADATA option {option[:40]}")
        if not r.maybe_sp():
            break
    r.close_paren()
    return maxsize, depth or Depth.ZERO


def _options_follow(r: Reader) -> bool:
    """After the mailbox: whether "(" opens the options (not a list of entry names)."""
    if r.peek() != 0x28:
        return False
    nxt = r.buf[r.pos + 1 : r.pos + 2]
    return bool(nxt) and nxt[0] in ATOM_CHARS and nxt != b"/"


def parse_getmetadata(r: Reader) -> GetMetadata:
    options: tuple[int | None, Depth] | None = None
    if r.peek() == 0x28:
        options = _options(r)
        r.sp()
    mailbox = r.mailbox()
    r.sp()
    if options is None and _options_follow(r):
        options = _options(r)
        r.sp()
    entries = _entries(r)
    r.end()
    maxsize, depth = options or (None, Depth.ZERO)
    return GetMetadata(mailbox, entries, maxsize, depth)


def _value(r: Reader) -> bytes | None:
    """``value = nstring / literal8`` (RFC 5464 §5; literal8 from RFC 4466 §4.3)."""
    if r.peek() == 0x7E and r.buf[r.pos + 1 : r.pos + 2] == b"{":
        r.pos += 1  # "~": what follows is an ordinary literal's framing
        return r.literal()
    return r.nstring()


def parse_setmetadata(r: Reader) -> SetMetadata:
    mailbox = r.mailbox()
    r.sp()
    r.open_paren()
    entries: list[tuple[str, bytes | None]] = []
    while True:
        name = _entry(r)
        r.sp()
        entries.append((name, _value(r)))
        if not r.maybe_sp():
            break
    r.close_paren()
    r.end()
    if len({n for n, _ in entries}) != len(entries):
        raise ParseError("Entry named twice")
    return SetMetadata(mailbox, tuple(entries))


HANDLERS: dict[str, Callable[[Reader], GetMetadata | SetMetadata]] = {
    "GETMETADATA": parse_getmetadata,
    "SETMETADATA": parse_setmetadata,
}
