"""Token reader over one framed command (RFC 3501 §9 lexical rules).

The framer hands over the whole command with literal payloads inline, each as
``{n}`` CRLF followed by the n octets, and no final CRLF. In *partial* mode
the buffer stops right after a literal marker whose payload has not been read
yet; reaching it raises :class:`Incomplete`, which tells the framer that the
text so far is a valid prefix and the literal sits where the grammar allows one.
"""

from __future__ import annotations

from .limits import Limits
from .mutf7 import UndecodableName, decode_mutf7
from .sequence import MAX_NUMBER, SequenceSet


class ParseError(Exception):
    """Bad syntax or a grammar-level limit; becomes a tagged BAD (``status`` "NO" for a
    well-formed command refused at a server limit, such as too many search criteria)."""

    def __init__(self, text: str, code: str | None = None, status: str = "BAD") -> None:
        super().__init__(text)
        self.text = text
        self.code = code
        self.status = status
        #: See ``CommandError.empties_saved``.
        self.empties_saved = False


class Incomplete(Exception):
    """Partial mode reached the announced literal at the end of the buffer."""


# RFC 3501 §9: atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards /
# quoted-specials / resp-specials; CHAR is 7-bit.
_SPECIALS = b'(){ %*"\\]'
ATOM_CHARS = frozenset(c for c in range(0x21, 0x7F) if c not in _SPECIALS)
ASTRING_CHARS = ATOM_CHARS | {ord("]")}
TAG_CHARS = ASTRING_CHARS - {ord("+")}
LIST_CHARS = ATOM_CHARS | {ord("%"), ord("*"), ord("]")}
_DIGITS = frozenset(b"0123456789")
MAX_NUMBER64 = 2**63 - 1


def read_tag(buf: bytes) -> str | None:
    """The tag at the start of a command, if one can be read (RFC 3501 §9 ``tag``)."""
    end = 0
    n = len(buf)
    while end < n and buf[end] in TAG_CHARS:
        end += 1
    return buf[:end].decode("ascii") if end else None


class Reader:
    """Cursor over one framed command: each method consumes what it returns,
    or raises ParseError leaving the command to be answered with BAD."""

    __slots__ = ("buf", "depth", "limits", "partial", "pos", "utf8")

    def __init__(self, buf: bytes, limits: Limits, partial: bool = False,
                 utf8: bool = False) -> None:
        self.buf = buf
        self.pos = 0
        self.limits = limits
        self.partial = partial
        self.depth = 0
        #: The client ENABLEd UTF8=ACCEPT (RFC 6855 §3) or IMAP4rev2 (RFC 9051 §6.3.1):
        #: quoted strings must be valid UTF-8 and mailbox names are UTF-8, not modified UTF-7.
        self.utf8 = utf8

    # --- primitives ---------------------------------------------------------

    def peek(self) -> int:
        """The next byte, or -1 at the end."""
        return self.buf[self.pos] if self.pos < len(self.buf) else -1

    def at_end(self) -> bool:
        return self.pos >= len(self.buf)

    def end(self) -> None:
        if self.pos < len(self.buf):
            raise ParseError("Unexpected extra arguments")

    def sp(self) -> None:
        if self.peek() != 0x20:
            if self.at_end():
                raise ParseError("Missing arguments")
            raise ParseError("Expected SP")
        self.pos += 1

    def maybe_sp(self) -> bool:
        if self.peek() == 0x20:
            self.pos += 1
            return True
        return False

    def expect(self, char: bytes, what: str) -> None:
        if self.buf[self.pos : self.pos + len(char)] != char:
            raise ParseError(f"Expected {what}")
        self.pos += len(char)

    def take(self, chars: frozenset[int]) -> bytes:
        start = self.pos
        buf = self.buf
        n = len(buf)
        pos = start
        while pos < n and buf[pos] in chars:
            pos += 1
        self.pos = pos
        return buf[start:pos]

    def open_paren(self) -> None:
        """Enter a parenthesised list, counting depth against max_nesting."""
        self.expect(b"(", "(")
        self.nest()

    def nest(self) -> None:
        self.depth += 1
        if self.depth > self.limits.max_nesting:
            raise ParseError("Too deeply nested", "LIMIT")

    def close_paren(self) -> None:
        self.expect(b")", ")")
        self.depth -= 1

    # --- tokens ---------------------------------------------------------------

    def atom(self, what: str = "atom") -> str:
        value = self.take(ATOM_CHARS)
        if not value:
            raise ParseError(f"Expected {what}")
        return value.decode("ascii")

    def keyword(self, what: str = "atom") -> str:
        """An atom upper-cased, for command names and other case-insensitive words."""
        return self.atom(what).upper()

    def literal_next(self) -> bool:
        """Whether a literal starts here: ``{`` or literal8 ``~{`` (``~`` alone is an atom char)."""
        c = self.peek()
        return c == 0x7B or (c == 0x7E and self.buf[self.pos + 1 : self.pos + 2] == b"{")

    def number(self, limit: int = MAX_NUMBER, nonzero: bool = False) -> int:
        digits = self.take(_DIGITS)
        if not digits:
            raise ParseError("Expected number")
        value = int(digits)
        if value > limit or (nonzero and value == 0):
            raise ParseError("Invalid number")
        return value

    def quoted(self) -> bytes:
        """RFC 3501 §9 ``quoted``; 8-bit octets are tolerated (RFC 6855 clients send UTF-8),
        and once UTF-8 is enabled they must be UTF-8: RFC 6855 §3 "the server MUST reject,
        with a BAD response, any octet sequences with the high bit set that fail to comply
        with the formal syntax requirements of UTF-8"."""
        value = self._quoted()
        if self.utf8 and not value.isascii():
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                raise ParseError("Invalid UTF-8 in quoted string") from None
        return value

    def _quoted(self) -> bytes:
        self.pos += 1
        buf = self.buf
        end = buf.find(b'"', self.pos)
        # Fast path: no escapes in between.
        if end >= 0 and b"\\" not in buf[self.pos : end]:
            value = buf[self.pos : end]
            if b"\r" in value or b"\n" in value or b"\0" in value:
                raise ParseError("Invalid character in quoted string")
            self.pos = end + 1
            return value
        out = bytearray()
        pos = self.pos
        n = len(buf)
        while True:
            if pos >= n:
                raise ParseError("Unterminated quoted string")
            c = buf[pos]
            if c == 0x22:
                break
            if c == 0x5C:
                pos += 1
                if pos >= n or buf[pos] not in (0x22, 0x5C):
                    raise ParseError("Invalid escape in quoted string")
                c = buf[pos]
            elif c in (0x0D, 0x0A, 0x00):
                raise ParseError("Invalid character in quoted string")
            out.append(c)
            pos += 1
        self.pos = pos + 1
        return bytes(out)

    def literal(self) -> bytes:
        """RFC 3501 §4.3 ``{n}`` / RFC 7888 ``{n+}``; the payload follows inline."""
        if self.peek() == 0x7E:
            raise ParseError("literal8 is only allowed for APPEND data")
        self.pos += 1
        size = self.number(limit=MAX_NUMBER64)
        self.maybe_plus()
        self.expect(b"}", "}")
        if self.partial and self.at_end():
            raise Incomplete
        self.expect(b"\r\n", "CRLF after literal")
        start = self.pos
        self.pos += size
        if self.pos > len(self.buf):
            raise ParseError("Truncated literal")
        return self.buf[start : self.pos]

    def streamed_literal(self, limit: int, what: str) -> tuple[int, bool]:
        """``{n}`` / ``{n+}`` (the ``{`` already checked) ending the fragment: a literal the
        connection streams instead of parsing inline (an APPEND message, a CATENATE TEXT
        part). Returns (size, synchronising)."""
        self.pos += 1
        size = self.number(limit=limit)
        sync = not self.maybe_plus()
        self.expect(b"}", "}")
        if not (self.partial and self.at_end()):
            raise ParseError(f"Unexpected data after {what} literal")
        return size, sync

    def maybe_plus(self) -> bool:
        if self.peek() == 0x2B:
            self.pos += 1
            return True
        return False

    def string(self) -> bytes:
        c = self.peek()
        if c == 0x22:
            return self.quoted()
        if self.literal_next():
            return self.literal()
        raise ParseError("Expected string")

    def astring(self) -> bytes:
        c = self.peek()
        if c == 0x22:
            return self.quoted()
        if self.literal_next():
            return self.literal()
        value = self.take(ASTRING_CHARS)
        if not value:
            raise ParseError("Expected string")
        return value

    def astring_str(self) -> str:
        return self.astring().decode("utf-8", "surrogateescape")

    def nil(self) -> bool:
        """Consume ``NIL`` if it is next (RFC 3501 §9 ``nil``)."""
        if self.buf[self.pos : self.pos + 3].upper() == b"NIL":
            after = self.buf[self.pos + 3 : self.pos + 4]
            if not after or after[0] not in ATOM_CHARS:
                self.pos += 3
                return True
        return False

    def nstring(self) -> bytes | None:
        return None if self.nil() else self.string()

    def mailbox(self) -> str:
        """RFC 3501 §9 ``mailbox``: astring in modified UTF-7 (in UTF-8 once enabled);
        INBOX in any case is INBOX."""
        name = self.mailbox_name(self.astring())
        if isinstance(name, UndecodableName):
            return name
        return "INBOX" if name.upper() == "INBOX" else name

    def mailbox_name(self, raw: bytes) -> str:
        """The decoded name, or an :class:`UndecodableName` the server refuses with NO:
        the astring itself is well-formed, so the command is not BAD.

        Names are kept as Unicode text, whichever way they came: modified UTF-7 (RFC 3501
        §5.1.3) from a client that did not enable UTF-8, UTF-8 from one that did (RFC 6855
        §3 "MUST accept UTF8-quoted mailbox names and convert them to the appropriate
        internal format"; RFC 9051 §5.1): so "&AOk-t&AOk-" from the one and "été" from the
        other name the same mailbox."""
        if self.utf8:
            return utf8_name(raw)
        try:
            return decode_mutf7(raw)
        except ValueError as exc:
            return UndecodableName(raw, str(exc))

    def list_mailbox(self) -> str:
        """RFC 3501 §9 ``list-mailbox``: a string, or an atom that may hold % * ]."""
        if self.peek() == 0x22 or self.literal_next():
            return self.mailbox_name(self.string())
        value = self.take(LIST_CHARS)
        if not value:
            raise ParseError("Expected mailbox pattern")
        return self.mailbox_name(value)

    def sequence_set(self) -> SequenceSet:
        """RFC 3501 §9 ``sequence-set``, or ``$`` (RFC 5182 §2)."""
        if self.peek() == 0x24:
            self.pos += 1
            return SequenceSet((), saved=True)
        ranges: list[tuple[int | None, int | None]] = []
        while True:
            first = self._seq_number()
            second = first
            if self.peek() == 0x3A:
                self.pos += 1
                second = self._seq_number()
            ranges.append((first, second))
            if self.peek() != 0x2C:
                return SequenceSet(tuple(ranges))
            self.pos += 1

    def _seq_number(self) -> int | None:
        if self.peek() == 0x2A:
            self.pos += 1
            return None
        digits = self.take(_DIGITS)
        if not digits or digits[0] == 0x30 or int(digits) > MAX_NUMBER:
            raise ParseError("Invalid sequence set")
        return int(digits)

    def flag(self, allow_star: bool = False) -> str:
        """RFC 3501 §9 ``flag``: system flags canonicalised, keywords as sent."""
        if self.peek() == 0x5C:
            self.pos += 1
            if allow_star and self.peek() == 0x2A:
                self.pos += 1
                return "\\*"
            name = self.atom("flag")
            return SYSTEM_FLAGS.get(name.upper(), "\\" + name)
        return self.atom("flag")

    def flag_list(self) -> tuple[str, ...]:
        """RFC 3501 §9 ``flag-list`` = "(" [flag *(SP flag)] ")"."""
        self.open_paren()
        flags: list[str] = []
        if self.peek() != 0x29:
            flags.append(self.flag())
            while self.maybe_sp():
                flags.append(self.flag())
        self.close_paren()
        return tuple(flags)


#: RFC 6855 §3: mailbox names "MUST NOT contain control characters (U+0000-U+001F and
#: U+0080-U+009F), a delete character (U+007F), a line separator (U+2028), or a paragraph
#: separator (U+2029)".
_NAME_FORBIDDEN = frozenset([*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029])


def utf8_name(raw: bytes) -> str:
    """A mailbox name sent by a client that enabled UTF-8: invalid UTF-8 is a syntax error
    (BAD, RFC 6855 §3); a name holding a character §3 forbids is an
    :class:`UndecodableName` (NO [CANNOT]: such a mailbox can never exist)."""
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("Invalid UTF-8 in mailbox name") from None
    if not (name.isascii() and name.isprintable()) and \
            any(ord(ch) in _NAME_FORBIDDEN for ch in name):
        return UndecodableName(raw, "Control or separator character in mailbox name")
    return name


SYSTEM_FLAGS = {
    f.upper(): "\\" + f
    for f in ("Seen", "Answered", "Flagged", "Deleted", "Draft", "Recent")
}
