"""Sans-I/O server side of an IMAP connection: framing, then parsing (like h11).

Framing (RFC 3501 §2.2, §4.3, §7.5; RFC 7888; RFC 3516) splits the byte
stream into commands: a line ending in a literal marker ``{n}`` / ``{n+}`` /
``~{n}`` continues after n octets of payload. Before a literal is read, the
command so far is parsed in *partial* mode, so a syntax error is reported
before the client is told to send data, and an APPEND message literal is
recognised and streamed (AppendBegin/AppendData/AppendEnd) instead of buffered.

Memory stays bounded: a command's text is limited by ``max_line_length``,
collected literals by ``max_literal_size`` times ``max_literals_per_command``, and
bytes the client sends for an abandoned command are counted, never kept.
"""

from __future__ import annotations

import re
from collections import deque
from enum import Enum, auto

from .commands import Command
from .events import (
    AppendBegin,
    AppendData,
    AppendEnd,
    CatenateBegin,
    CatenateEnd,
    CatenateText,
    CatenateUrl,
    CommandError,
    CommandReceived,
    ConnectionClosed,
    ContinuationLine,
    Event,
    LiteralAnnounced,
)
from .limits import DEFAULT_LIMITS, LITERAL_MINUS_MAX, Limits
from .parser import AppendAnnounce, parse_append_more, parse_catenate_rest, parse_command
from .parser_catenate import CatenateItems, MessageStart, UrlPart
from .reader import Incomplete, ParseError, read_tag
from .responses import Response, StatusResponse
from .serializer import serialize

READY = b"+ Ready for literal data\r\n"
APPEND_CHUNK = 65536
_MARKER = re.compile(rb"(~?)\{(\d+)(\+?)\}\Z")
#: ``tag SP APPEND SP``: the one command whose literals the framer must recognise as they
#: are announced (the message literal is streamed, not collected).
_APPEND = re.compile(rb"[^ ]* (?:APPEND|REPLACE|UID +REPLACE) ", re.IGNORECASE)
#: Bytes kept of a line that is being dropped: enough to see a literal marker at its end.
_TAIL = 32
_HUGE = 2**64


class _State(Enum):
    LINE = auto()          # reading a command line (or the rest of one after a literal)
    LITERAL = auto()       # collecting a literal's payload into the command
    DECIDE = auto()        # waiting for accept_literal() / reject_literal()
    APPEND_DATA = auto()   # streaming an APPEND message
    APPEND_AFTER = auto()  # the line after an APPEND message: end, or MULTIAPPEND
    SKIP = auto()          # counting away the payload of an abandoned literal
    DISCARD = auto()       # dropping the rest of an abandoned command
    CLOSED = auto()


def _marker(line: bytes) -> tuple[int, bool, bool] | None:
    """``(size, binary, synchronizing)`` if the line ends with a literal marker."""
    m = _MARKER.search(line, max(0, len(line) - _TAIL))
    if m is None:
        return None
    digits = m[2]
    size = int(digits) if len(digits) <= 20 else _HUGE
    return size, bool(m[1]), not m[3]


class ServerConnection:
    """One client connection. Feed bytes with :meth:`receive_data`, pull events
    with :meth:`next_event`, serialise responses with :meth:`send`."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._in = bytearray()
        self._scan = 0  # prefix of _in already searched for LF
        self._eof = False
        self._events: deque[Event] = deque()
        #: Bytes of command text handed to the parser so far: a measure of the work input
        #: causes (issue 10.14: it must stay linear in the input).
        self.parsed_bytes = 0
        self._raw = False
        self._last_tag: str | None = None  # for errors on raw lines (AUTHENTICATE)
        self._tag_window = max(1, min(1024, limits.max_line_length))
        self._connection_literal_bytes = 0  # every literal accepted, for the limit of that name
        #: The client enabled UTF-8 (RFC 6855 §3, RFC 9051 §6.3.1): commands are parsed
        #: with UTF-8 mailbox names, and responses carry them in UTF-8, not modified UTF-7.
        self.utf8 = False
        self._reset()

    def _reset(self) -> None:
        """Forget the current command; the next line starts a new one."""
        self._state = _State.LINE
        self._cmd = bytearray()
        self._text = 0
        self._literals = 0
        self._literal_bytes = 0
        self._tag: str | None = None
        self._remaining = 0
        self._overlong = False
        self._tail = b""
        self._checked = 0  # length of the command text when last parsed in partial mode
        self._pending: tuple[bool, int, bool] | None = None  # (is_append, size, sync)
        self._skip_error: CommandError | None = None
        self._append_mailbox: str | None = None
        self._replacing = False  # REPLACE (RFC 8508): one message, no MULTIAPPEND after it
        self._utf8_append = False  # the message was ``UTF8 (~{n})``: ")" follows it
        self._replace: tuple[int, bool] | None = None
        # Which fragment of an APPEND the next line continues: None (a new command),
        # "append" (after a message literal: the end, or MULTIAPPEND's next message),
        # "catenate" (after a TEXT literal, inside a CATENATE list, RFC 4469 §5).
        self._more: str | None = None

    # --- public API -------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Bytes from the client; ``b""`` means end of file."""
        if data:
            if not self._eof:
                self._in += data
        else:
            self._eof = True

    def next_event(self) -> Event | None:
        """The next event, or None when more data (or a literal decision) is needed."""
        while True:
            if self._events:
                return self._events.popleft()
            if self._state is _State.CLOSED:
                return ConnectionClosed()
            if self._state is _State.DECIDE:
                return None
            if not self._step():
                if self._eof:
                    self._state = _State.CLOSED
                    self._in.clear()
                    continue
                return None

    def accept_literal(self) -> bytes:
        """Let the announced literal come; returns the ``+`` continuation to send
        for a synchronising literal (RFC 3501 §7.5), ``b""`` otherwise."""
        pending = self._decision()
        is_append, size, sync = pending
        self._remaining = size
        if is_append:
            self._state = _State.APPEND_DATA
        else:
            self._cmd += b"\r\n"
            self._state = _State.LITERAL
        return READY if sync else b""

    def reject_literal(self, status: str, code: str | None, text: str) -> bytes:
        """Refuse the announced literal and abandon its command; returns the
        tagged response to send. A non-synchronising literal's payload, already
        on its way, is skipped along with the rest of the command."""
        _, size, sync = self._decision()
        response = serialize(StatusResponse(self._tag, status, text, code))
        self._abandon(size, sync, None)
        return response

    @property
    def between_commands(self) -> bool:
        """No command is under way: the last one was answered in full and no part of the
        next has been taken (a partial line may wait in the buffer, but no literal was
        announced nor accepted). What the server may write unsolicited responses in, e.g.
        NOTIFY's (RFC 5465 §3.1), never between a continuation request and its literal
        (RFC 3501 §7.5)."""
        return (self._state is _State.LINE and not self._cmd and not self._raw
                and not self._events and self._more is None)

    def expect_line(self) -> None:
        """Deliver the next line raw as ContinuationLine (AUTHENTICATE, IDLE DONE)."""
        self._raw = True

    def discard_buffered(self) -> bytes:
        """Drop unconsumed input: after STARTTLS, plaintext pipelined behind it
        must not be read as if it came over TLS (CVE-2011-0411, RFC 3501 §6.2.1)."""
        data = bytes(self._in)
        self._in.clear()
        self._scan = 0
        self._events.clear()
        self._raw = False
        self._reset()
        return data

    def send(self, response: Response) -> bytes:
        return serialize(response, self.utf8)

    # --- framing ------------------------------------------------------------------

    def _decision(self) -> tuple[bool, int, bool]:
        if self._state is not _State.DECIDE or self._pending is None:
            raise RuntimeError("No literal is waiting for a decision")
        pending = self._pending
        self._pending = None
        return pending

    def _step(self) -> bool:
        """Advance the state machine; False when nothing can be done without input."""
        state = self._state
        if state is _State.LINE or state is _State.APPEND_AFTER or state is _State.DISCARD:
            got = self._take_line(report=state is not _State.DISCARD)
            if got is None:
                return bool(self._events)
            line, too_long = got
            if state is _State.DISCARD or too_long:
                self._after_dropped_line(line)
            elif self._raw:
                self._raw = False
                self._events.append(ContinuationLine(line))
            elif state is _State.APPEND_AFTER:
                self._append_after(line)
            else:
                self._command_line(line)
            return True
        if not self._in:
            if self._remaining == 0:
                self._payload_done()
                return True
            return False
        n = min(self._remaining, len(self._in), APPEND_CHUNK)
        if state is _State.LITERAL:
            self._cmd += self._in[:n]
        elif state is _State.APPEND_DATA and n:
            self._events.append(AppendData(self._tag or "*", bytes(self._in[:n])))
        del self._in[:n]
        self._scan = 0
        self._remaining -= n
        if self._remaining == 0:
            self._payload_done()
        return True

    def _payload_done(self) -> None:
        if self._state is _State.LITERAL:
            self._state = _State.LINE
        elif self._state is _State.APPEND_DATA:
            self._state = _State.APPEND_AFTER
        else:  # SKIP
            if self._skip_error is not None:
                self._events.append(self._skip_error)
                self._skip_error = None
            self._state = _State.DISCARD
            self._text = 0

    def _take_line(self, report: bool) -> tuple[bytes, bool] | None:
        """The next line without its CRLF (a bare LF is accepted), or None.

        A line over the length limit is dropped as it streams in; only its
        tail is returned, with ``too_long`` set, so a literal marker at its
        end can still be honoured. The error is queued once, when detected.
        """
        buf = self._in
        idx = buf.find(b"\n", self._scan)
        limit = self.limits.max_line_length
        if idx < 0:
            # +1: a trailing CR may belong to the CRLF still on its way.
            if not self._overlong and self._text + len(buf) > limit + 1:
                self._line_overflow(report, bytes(buf[: self._tag_window]))
            if self._overlong:
                self._tail = (self._tail + bytes(buf))[-_TAIL:]
                buf.clear()
            self._scan = len(buf)
            return None
        end = idx - 1 if idx and buf[idx - 1] == 0x0D else idx
        line = bytes(buf[:end])
        del buf[: idx + 1]
        self._scan = 0
        if not self._overlong and self._text + len(line) > limit:
            self._line_overflow(report, line)
        if self._overlong:
            # The CR of the CRLF may already sit in the kept tail.
            tail = (self._tail + line).removesuffix(b"\r")[-_TAIL:]
            self._overlong = False
            self._tail = b""
            return tail, True
        self._text += len(line)
        return line, False

    def _line_overflow(self, report: bool, line_start: bytes) -> None:
        self._overlong = True
        if not report:
            return
        if self._raw:
            self._events.append(CommandError(self._last_tag, "BAD", "TOOBIG", "Line too long"))
            return
        if self._tag is None and self._state is _State.LINE:
            self._tag = self._tag_of(bytes(self._cmd) or line_start)
        self._events.append(CommandError(self._tag, "BAD", "TOOBIG", "Command line too long"))

    def _tag_of(self, data: bytes) -> str | None:
        tag = read_tag(data[: self._tag_window])
        # A tag running to the end of the window might go on: same answer
        # however the bytes were chunked.
        if tag is None or len(tag) >= self._tag_window:
            return None
        return tag

    def _after_dropped_line(self, tail: bytes) -> None:
        """The end of a line of an abandoned (or over-long) command."""
        if self._raw:
            self._raw = False
            self._reset()
            return
        marker = _marker(tail)
        if marker is not None and not marker[2]:
            # A non-synchronising literal is sent regardless: count it away.
            self._state = _State.SKIP
            self._remaining = marker[0]
        else:
            self._reset()

    def _command_line(self, line: bytes) -> None:
        if not self._cmd:
            if not line:
                return  # Blank lines between commands are harmless noise.
            self._tag = self._tag_of(line)
        self._cmd += line
        marker = _marker(line)
        if marker is None:
            self._finish_command()
        else:
            self._literal(*marker)

    def _parse_fragment(self, partial: bool) -> tuple[str, Command]:
        """Parse the command so far, or the fragment of an APPEND after a streamed literal."""
        cmd = bytes(self._cmd)
        if self._more is None:
            return parse_command(cmd, self.limits, partial, utf8=self.utf8)
        assert self._append_mailbox is not None
        if self._more == "append":
            parse_append_more(cmd, self._append_mailbox, self.limits, partial, self.utf8)
        parse_catenate_rest(cmd, self._append_mailbox, self._replace, self.limits, partial,
                            self.utf8)
        raise AssertionError("unreachable")

    def _finish_command(self) -> None:
        event: Event
        self.parsed_bytes += len(self._cmd)
        try:
            tag, command = self._parse_fragment(partial=False)
            event = CommandReceived(tag, command)
            self._last_tag = tag
        except CatenateItems as items:
            # A CATENATE whose last parts are URLs ends the APPEND on a line of its own.
            assert items.final is None  # literals end a fragment only in partial mode
            self._catenate_items(items)
            self._events.append(AppendEnd(self._tag or "*"))
            self._reset()
            return
        except ParseError as exc:
            text = exc.text
            if self._more == "append":
                text = "Expected end of APPEND command"
            event = CommandError(self._tag, exc.status, exc.code, text,
                                 empties_saved=exc.empties_saved)
        except Exception as exc:  # The parser must never take the connection down.
            event = CommandError(self._tag, "BAD", None, "Invalid command", exc)
        self._events.append(event)
        self._reset()

    def _check_prefix(self) -> bool:
        """Whether to parse the command so far before this literal. The parser cannot
        resume where it stopped, so parsing at every literal would cost the whole command
        again each time (quadratic: 64 literals in 64 KB). It is parsed for APPEND (whose
        message literal must be recognised) and otherwise whenever the text has doubled
        since the last check: early errors for the first literals, total work linear.
        The final parse checks everything anyway."""
        if self._more or _APPEND.match(self._cmd, 0, 128):
            return True
        return len(self._cmd) >= 2 * self._checked

    def _literal(self, size: int, binary: bool, sync: bool) -> None:
        """A literal was announced at the end of the current line."""
        try:
            if not self._check_prefix():
                raise Incomplete
            self._checked = len(self._cmd)
            self.parsed_bytes += len(self._cmd)
            self._parse_fragment(partial=True)
            error: CommandError | None = CommandError(
                self._tag, "BAD", None, "Unexpected literal",
            )
        except Incomplete:
            error = self._literal_limits(size, sync)
            if error is None:
                if sync:
                    self._events.append(LiteralAnnounced(self._tag or "*", size, binary))
                    self._pending = (False, size, sync)
                    self._state = _State.DECIDE
                else:
                    self._cmd += b"\r\n"
                    self._remaining = size
                    self._state = _State.LITERAL
                return
        except AppendAnnounce as a:
            self._announce_message(a, size, sync)
            return
        except CatenateItems as items:
            if items.final is not None:
                self._catenate_items(items)
                if isinstance(items.final, AppendAnnounce):
                    self._announce_message(items.final, size, sync)
                else:
                    self._events.append(CatenateText(self._tag or "*", size, sync))
                    self._utf8_append = items.final.utf8  # ")" after the octets
                    self._pending = (True, size, sync)
                    self._state = _State.DECIDE
                    self._more = "catenate"
                return
            error = CommandError(self._tag, "BAD", None, "Unexpected literal")
        except ParseError as exc:
            error = CommandError(self._tag, exc.status, exc.code, exc.text,
                                 empties_saved=exc.empties_saved)
        except Exception as exc:  # a parser bug: answered BAD, logged by the server
            error = CommandError(self._tag, "BAD", None, "Invalid command", exc)
        self._abandon(size, sync, error)

    def _announce_message(self, a: AppendAnnounce, size: int, sync: bool) -> None:
        """An APPEND message literal: the server decides, then it is streamed."""
        self._append_mailbox = a.mailbox
        self._replacing = a.replace is not None
        self._utf8_append = a.utf8
        self._events.append(AppendBegin(
            self._tag or "*", a.mailbox, a.flags, a.internal_date, a.size, a.binary,
            a.synchronizing, a.replace,
        ))
        self._pending = (True, size, sync)
        self._state = _State.DECIDE
        self._more = "append"

    def _catenate_items(self, found: CatenateItems) -> None:
        """The CATENATE messages and parts one fragment went through, as events."""
        tag = self._tag or "*"
        self._append_mailbox = found.mailbox
        for item in found.items:
            if isinstance(item, MessageStart):
                self._replacing = item.replace is not None
                self._replace = item.replace
                self._events.append(CatenateBegin(tag, found.mailbox, item.flags,
                                                  item.internal_date, item.replace))
            elif isinstance(item, UrlPart):
                self._events.append(CatenateUrl(tag, item.url))
            else:
                self._events.append(CatenateEnd(tag))

    def _literal_limits(self, size: int, sync: bool) -> CommandError | None:
        """RFC 5530 codes: TOOBIG for sizes, LIMIT for counts; RFC 7888 §5 for LITERAL-."""
        self._literals += 1
        limits = self.limits
        if self._literals > limits.max_literals_per_command:
            return CommandError(self._tag, "BAD", "LIMIT", "Too many literals")
        if size > limits.max_literal_size:
            return CommandError(self._tag, "BAD", "TOOBIG", "Literal too big")
        if not sync and limits.literal_minus and size > LITERAL_MINUS_MAX:
            return CommandError(
                self._tag, "BAD", "TOOBIG", "Non-synchronizing literal over 4096 octets",
            )
        per_command = limits.max_command_literal_bytes
        if per_command is not None and self._literal_bytes + size > per_command:
            return CommandError(self._tag, "BAD", "TOOBIG", "Literals of this command too big")
        per_connection = limits.max_connection_literal_bytes
        if per_connection is not None and \
                self._connection_literal_bytes + size > per_connection:
            return CommandError(self._tag, "BAD", "LIMIT", "Too much literal data")
        self._literal_bytes += size
        self._connection_literal_bytes += size
        return None

    def _abandon(self, size: int, sync: bool, error: CommandError | None) -> None:
        """Give up the current command at a literal marker. A synchronising
        literal will not be sent, so the next line is a new command; the
        payload of a non-synchronising one is skipped, then the error reported."""
        if sync:
            if error is not None:
                self._events.append(error)
            self._reset()
        else:
            tag = self._tag
            self._reset()
            self._tag = tag
            self._skip_error = error
            self._remaining = size
            self._state = _State.SKIP

    def _append_after(self, line: bytes) -> None:
        """After an APPEND message: CRLF ends the command; another literal is
        MULTIAPPEND (RFC 3502 §6.3.11), as is a CATENATE message (RFC 4469 §5). After a
        CATENATE TEXT literal: the rest of the list. After ``UTF8 (~{n})`` the ``)`` comes
        first (RFC 6855 §4)."""
        if self._utf8_append:
            if line[:1] != b")":
                error = CommandError(self._tag, "BAD", None, "Expected ) after UTF8 data")
                marker = _marker(line)
                if marker is None:
                    self._events.append(error)
                    self._reset()
                else:  # a non-synchronising literal that follows is counted away
                    self._abandon(marker[0], marker[2], error)
                return
            line = line[1:]
            self._utf8_append = False
        marker = _marker(line)
        if self._more == "catenate" or (line and marker is None and not self._replacing):
            self._cmd = bytearray(line)
            self._text = len(line)
            if marker is None:
                self._finish_command()
            else:
                self._literal(*marker)
            return
        if not line:
            self._events.append(AppendEnd(self._tag or "*"))
            self._reset()
            return
        if marker is None:
            name = "REPLACE" if self._replacing else "APPEND"
            self._events.append(
                CommandError(self._tag, "BAD", None, f"Expected end of {name} command"),
            )
            self._reset()
            return
        if self._replacing:
            # RFC 8508 §3.2: REPLACE takes one message literal, never several; a
            # non-synchronising one that follows is skipped with the rest of the command.
            size, _binary, sync = marker
            self._abandon(size, sync, CommandError(
                self._tag, "BAD", None, "Expected end of REPLACE command"))
            return
        self._cmd = bytearray(line)
        # The line limit is per message: MULTIAPPEND may carry any number of them.
        self._text = len(line)
        self._literal(*marker)
