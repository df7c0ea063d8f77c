"""The server side of one SMTP, submission or LMTP connection, sans-I/O (DESIGN.md "Other
ways in"), in the manner of h11: feed bytes with :meth:`SmtpConnection.receive_data`, pull
events with :meth:`~SmtpConnection.next_event`, answer every command with
:meth:`~SmtpConnection.send`, which returns the bytes to write.

The connection owns framing and the order of commands (RFC 5321 §4.1.4): a command out of
sequence never reaches the server, it comes out as :class:`BadCommand` with its 503. It learns
the server's decisions from the replies the server sends: a 250 to MAIL opens a transaction, a
354 to DATA switches to message mode, a 220 to STARTTLS resets everything (RFC 3207 §4.2), a 334
to AUTH makes the next line a SASL response (RFC 4954 §4).

Message content (RFC 5321 §4.5.2) comes out un-dot-stuffed as :class:`MessageData` chunks, so
a big message never has to sit whole in memory, then :class:`MessageEnd`. In LMTP (RFC 2033
§4.2) the end of the message is answered once per accepted recipient.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from .commands import Auth, CommandSyntaxError, Hello, MailFrom, RcptTo, Simple, SmtpCommand
from .commands import parse_command as _parse
from .replies import BAD_SEQUENCE, BARE_LF, LINE_TOO_LONG, Reply


@dataclass(frozen=True)
class CommandReceived:
    command: SmtpCommand


@dataclass(frozen=True)
class BadCommand:
    """Send ``reply`` (with :meth:`SmtpConnection.send`); the connection goes on."""

    reply: Reply


@dataclass(frozen=True)
class AuthResponse:
    """A line answering a 334 challenge (RFC 4954 §4); ``*`` means the client cancels."""

    line: str


@dataclass(frozen=True)
class MessageData:
    data: bytes


@dataclass(frozen=True)
class MessageEnd:
    """The end of DATA. ``too_big``: more than ``max_message_size`` arrived (the excess was
    dropped); ``bare_lf``: a line ended in LF alone while bare LF is refused."""

    size: int
    too_big: bool = False
    bare_lf: bool = False


@dataclass(frozen=True)
class ConnectionClosed:
    pass


SmtpEvent = (CommandReceived | BadCommand | AuthResponse | MessageData | MessageEnd
             | ConnectionClosed)


class Phase(enum.Enum):
    INITIAL = "initial"  # before HELO/EHLO/LHLO
    READY = "ready"  # greeted, no transaction
    MAIL = "mail"  # MAIL accepted
    DATA = "data"  # reading the message after 354
    DATA_REPLY = "data-reply"  # message ended, waiting for the server's reply(s)
    CLOSED = "closed"


# RFC 5321 §4.5.3.1.4: at least 512 octets; extensions add parameters (RFC 1870 §3 etc.).
DEFAULT_COMMAND_LINE = 2048
# Message lines longer than this are passed on in pieces instead of being held whole.
DATA_PIECE = 64 * 1024
# A line starting with "." (RFC 5321 §4.5.2). A compiled pattern finds it in ~10 us per
# 10 KB where bytearray.find of the two octets took ~25 us (CPython's search for a short
# needle); the regular expression engine scans for the literal's first octet.
_DOT_LINE = re.compile(rb"\n\.")


class SmtpConnection:
    def __init__(self, *, lmtp: bool = False, max_message_size: int = 50 * 1024 * 1024,
                 max_command_line: int = DEFAULT_COMMAND_LINE, bare_lf: str = "accept",
                 enhanced_codes: bool = True) -> None:
        if bare_lf not in ("accept", "reject"):
            raise ValueError("bare_lf must be 'accept' or 'reject'")
        self.lmtp = lmtp
        self.max_message_size = max_message_size
        self.max_command_line = max_command_line
        self.accept_bare_lf = bare_lf == "accept"
        self.enhanced_codes = enhanced_codes
        self.phase = Phase.INITIAL
        self.extended = False  # EHLO/LHLO accepted: enhanced status codes in replies
        self.authenticated = False
        self.recipients = 0  # accepted RCPTs in this transaction
        self._buffer = bytearray()
        self._eof = False
        self._pending: SmtpCommand | None = None
        self._auth_line = False
        self._discarding = False  # skipping the rest of an over-long command line
        self._data_replies = 0
        # Message-mode state.
        self._size = 0
        self._too_big = False
        self._saw_bare_lf = False
        self._mid_line = False  # the current line was partly handed on already
        self._last_cr = False
        self._after_data: MessageEnd | None = None

    # -- input ------------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Bytes from the client; ``b""`` means end of input."""
        if data:
            self._buffer += data
        else:
            self._eof = True

    def next_event(self) -> SmtpEvent | None:
        """The next event, or None when more input is needed."""
        if self.phase is Phase.CLOSED:
            return None
        if self._after_data is not None:
            end, self._after_data = self._after_data, None
            return end
        if self.phase is Phase.DATA:
            event = self._message_event()
            if event is not None:
                return event
        elif self.phase is not Phase.DATA_REPLY:
            while True:
                line = self._line()
                if line is None:
                    break
                if isinstance(line, BadCommand):
                    return line
                return self._command_event(line)
        if self._eof and not self._buffer:
            self.phase = Phase.CLOSED
            return ConnectionClosed()
        return None

    def _line(self) -> str | BadCommand | None:
        end = self._buffer.find(b"\n")
        if self._discarding:
            if end < 0:
                self._buffer.clear()
                return None
            del self._buffer[:end + 1]
            self._discarding = False
            return BadCommand(LINE_TOO_LONG)
        if end < 0:
            if len(self._buffer) > self.max_command_line:
                # RFC 5321 §4.5.3.1.4 / §4.2.2: 500 for a line too long; drop it up to its end.
                self._buffer.clear()
                self._discarding = True
            elif self._eof:
                # A last line without its line ending: treat it as a line.
                end = len(self._buffer)
                if not end:
                    return None
                raw = bytes(self._buffer)
                self._buffer.clear()
                return raw.decode("utf-8", "surrogateescape")
            return None
        raw = bytes(self._buffer[:end + 1])
        del self._buffer[:end + 1]
        if len(raw) > self.max_command_line:
            return BadCommand(LINE_TOO_LONG)
        if raw.endswith(b"\r\n"):
            raw = raw[:-2]
        else:
            raw = raw[:-1]
            if not self.accept_bare_lf:
                return BadCommand(BARE_LF)
        return raw.decode("utf-8", "surrogateescape")

    def _command_event(self, line: str) -> SmtpEvent:
        if self._auth_line:
            self._auth_line = False
            return AuthResponse(line)
        try:
            command = _parse(line)
        except CommandSyntaxError as exc:
            return BadCommand(exc.reply)
        refusal = self._out_of_sequence(command)
        if refusal is not None:
            return BadCommand(refusal)
        self._pending = command
        return CommandReceived(command)

    def _out_of_sequence(self, command: SmtpCommand) -> Reply | None:
        """RFC 5321 §4.1.4 and §3.3 ordering; RFC 2033 §4.1: LMTP greets with LHLO only."""
        if isinstance(command, Hello):
            if (command.verb == "LHLO") != self.lmtp:
                return Reply(500, f"{command.verb} is not used on this port "
                             f"({'LHLO' if self.lmtp else 'EHLO'} is)", "5.5.1")
            return None
        if isinstance(command, MailFrom):
            if self.phase is Phase.INITIAL:
                return Reply(503, "Send EHLO first", "5.5.1")
            if self.phase is Phase.MAIL:
                return Reply(503, "Nested MAIL command", "5.5.1")
            return None
        if isinstance(command, RcptTo):
            if self.phase is not Phase.MAIL:
                return Reply(503, "Need MAIL before RCPT", "5.5.1")
            return None
        if isinstance(command, Auth):
            if not self.extended:
                return Reply(503, "Send EHLO first", "5.5.1")
            if self.authenticated:
                return Reply(503, "Already authenticated", "5.5.1")  # RFC 4954 §4
            if self.phase is Phase.MAIL:
                return Reply(503, "AUTH is not allowed during a mail transaction", "5.5.1")
            return None
        assert isinstance(command, Simple)
        if command.verb == "DATA":
            if self.phase is not Phase.MAIL:
                return Reply(503, "Need MAIL and RCPT before DATA", "5.5.1")
            if not self.recipients:
                return Reply(554, "No valid recipients", "5.5.1")  # RFC 5321 §3.3
        if command.verb == "STARTTLS" and self.phase is Phase.MAIL:
            return BAD_SEQUENCE
        return None

    # -- DATA (RFC 5321 §4.5.2 transparency, §4.1.1.4 end of data) ----------------------------
    def _message_event(self) -> SmtpEvent | None:
        out = bytearray()
        while True:
            block = self._clean_lines(DATA_PIECE - len(out))
            if block:
                self._emit(out, block)
                if len(out) >= DATA_PIECE:
                    break
                continue
            end = self._buffer.find(b"\n")
            if end < 0:
                # No complete line: pass on a long partial line so memory stays bounded. A
                # line start beginning with "." is kept until it can be told apart from ".".
                if len(self._buffer) >= DATA_PIECE:
                    piece = bytes(self._buffer[:-1])  # keep a trailing CR with its LF
                    del self._buffer[:len(piece)]
                    if not self._mid_line and piece.startswith(b"."):
                        piece = piece[1:]
                    self._mid_line = True
                    self._emit(out, piece)
                    self._last_cr = piece.endswith(b"\r")
                break
            line = bytes(self._buffer[:end + 1])
            del self._buffer[:end + 1]
            crlf = line.endswith(b"\r\n") or (end == 0 and self._mid_line and self._last_cr)
            if not self._mid_line:
                if line == b".\r\n" or (line == b".\n" and self.accept_bare_lf):
                    self._emit(out, b"")
                    return self._end_message(out)
                if line.startswith(b"."):
                    line = line[1:]  # RFC 5321 §4.5.2: the sender doubled a leading dot
            self._mid_line = False
            self._last_cr = False
            if not crlf:
                self._saw_bare_lf = True
                line = line[:-1] + b"\r\n"
            self._emit(out, line)
            if len(out) >= DATA_PIECE:
                break
        if out:
            return MessageData(bytes(out))
        if self._eof:
            # The client went away inside DATA: the message is not taken.
            self._buffer.clear()
            self.phase = Phase.CLOSED
            return ConnectionClosed()
        return None

    def _clean_lines(self, room: int) -> bytes:
        """The complete lines at the start of the buffer (at most ``room`` bytes) that need
        no undoing: none starts with "." (dot-stuffing, or the end of data) and all end in
        CRLF. Taken in one piece: the line-by-line loop costs ~1 µs a line (a 1 MB message
        of 78-byte lines: 14 ms line by line, 3 ms so). Empty when the next line needs a
        look of its own."""
        buffer = self._buffer
        if self._mid_line or buffer.startswith(b"."):
            return b""
        found = _DOT_LINE.search(buffer, 0, room)
        last = buffer.rfind(b"\n", 0, room if found is None else found.start() + 1)
        if last < 0:
            return b""
        block = bytes(buffer[:last + 1])
        if block.count(b"\n") != block.count(b"\r\n"):
            return b""  # a bare LF in there: the loop marks or fixes it
        del buffer[:last + 1]
        self._last_cr = False
        return block

    def _emit(self, out: bytearray, data: bytes) -> None:
        if self._too_big:
            return
        if self._size + len(data) > self.max_message_size:
            self._too_big = True
            return
        self._size += len(data)
        out += data

    def _end_message(self, out: bytearray) -> SmtpEvent:
        """The terminating line was seen: data collected before it goes out first, the end
        event on the next call."""
        self.phase = Phase.DATA_REPLY
        self._data_replies = self.recipients if self.lmtp else 1
        end = MessageEnd(self._size, self._too_big, self._saw_bare_lf and not self.accept_bare_lf)
        if out:
            self._after_data = end
            return MessageData(bytes(out))
        return end

    # -- output -----------------------------------------------------------------------------
    def greeting(self, reply: Reply) -> bytes:
        """The 220 (or 421/554) opening reply, RFC 5321 §4.3.1; never with an enhanced code."""
        if reply.code != 220:
            self.phase = Phase.CLOSED
        return reply.to_bytes(enhanced=False)

    def send(self, reply: Reply) -> bytes:
        """The bytes of ``reply`` to the pending command (or to the end of data), and what it
        means for the state of the session."""
        enhanced = self.extended and self.enhanced_codes
        command, self._pending = self._pending, None
        if self.phase is Phase.DATA_REPLY:
            self._data_replies -= 1
            if self._data_replies <= 0:
                self.phase = Phase.READY
                self.recipients = 0
            return reply.to_bytes(enhanced)
        if reply.code == 421:  # RFC 5321 §3.8: the server closes the channel
            self.phase = Phase.CLOSED
            return reply.to_bytes(enhanced)
        if isinstance(command, Auth):
            self._auth_line = reply.code == 334
            if self._auth_line:
                self._pending = command
                return reply.to_bytes(enhanced=False)  # a challenge, not a status
            self.authenticated = reply.code == 235
            return reply.to_bytes(enhanced)
        if command is None or not reply.positive:
            return reply.to_bytes(enhanced)
        if isinstance(command, Hello):
            self.extended = command.extended
            self.phase = Phase.READY
            self.recipients = 0
            # RFC 2034 §3: no enhanced code on the EHLO reply itself.
            return reply.to_bytes(enhanced=False)
        if isinstance(command, MailFrom):
            self.phase = Phase.MAIL
            self.recipients = 0
        elif isinstance(command, RcptTo):
            self.recipients += 1
        elif command.verb == "DATA" and reply.code == 354:
            self.phase = Phase.DATA
            self._size = 0
            self._too_big = self._saw_bare_lf = self._mid_line = self._last_cr = False
            return reply.to_bytes(enhanced=False)
        elif command.verb == "RSET" and self.phase is Phase.MAIL:
            self.phase = Phase.READY
            self.recipients = 0
        elif command.verb == "QUIT":
            self.phase = Phase.CLOSED
        elif command.verb == "STARTTLS":
            # RFC 3207 §4.2: forget everything, including input sent before the handshake
            # (it was not protected: CVE-2011-0411).
            out = reply.to_bytes(enhanced)
            self._buffer.clear()
            self.phase = Phase.INITIAL
            self.extended = False
            self.recipients = 0
            return out
        return reply.to_bytes(enhanced)
