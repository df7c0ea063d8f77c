"""Per-connection protocol trace at debug level, with secrets masked.

Passwords appear in LOGIN arguments (maybe as literals), AUTHENTICATE initial responses and
SASL continuation lines; none of them may reach a log file.

The trace frames the client's bytes itself, as IMAP does (RFC 3501 §2.2: lines ending in CRLF,
``{n}`` / ``{n+}`` / ``~{n}`` announcing n bytes of literal that follow the line), and decides
what to mask per command line and per literal, never per network read: a LOGIN split across
two reads is still one line, and its second half is as secret as its first.
"""

from __future__ import annotations

import logging
import re

_SECRET_COMMAND = re.compile(rb"^(\S+\s+(?:LOGIN|AUTHENTICATE))(\s.*)?$", re.IGNORECASE)
_LITERAL_END = re.compile(rb"~?\{(\d+)\+?\}$")
_TAGGED_END = re.compile(rb"^(\S+) (?:OK|NO|BAD)\b", re.IGNORECASE)
MAX_LINE_SHOWN = 2000  # longer lines are cut in the trace (the parser has its own limits)
LITERAL_SHOWN = 200  # bytes of a literal shown, the rest counted
TAIL = 32  # bytes kept from the end of a long line, enough for a literal's "{n+}"


class Tracer:
    def __init__(self, log: logging.Logger, peer: str) -> None:
        self._log = log
        self._peer = peer
        self._line = bytearray()  # the line being received, until its LF (head kept)
        self._tail = b""  # its last bytes, where a literal is announced
        self._tag = b""  # the tag of the command being received
        self._sync_wait = False  # a synchronising literal announced, "+" not yet sent
        self._in_command = False  # a literal was announced: more of this command follows
        self._literal_left = 0  # bytes of the current literal still to come
        self._literal_head = bytearray()
        self._literal_size = 0
        # Masking lasts from a LOGIN/AUTHENTICATE line to the end of that command: for LOGIN
        # its last line (no literal announced), for AUTHENTICATE the tagged response (SASL
        # responses are lines of their own, RFC 3501 §6.2.2).
        self._masking = False
        self._sasl_tag: bytes | None = None
        self.mask_next_lines = 0

    def incoming(self, data: bytes) -> None:
        pos, size = 0, len(data)
        while pos < size:
            if self._literal_left:
                take = min(self._literal_left, size - pos)
                if not self._masking:
                    room = max(0, LITERAL_SHOWN - len(self._literal_head))
                    self._literal_head += data[pos : pos + min(room, take)]
                self._literal_left -= take
                pos += take
                if not self._literal_left:
                    self._literal_done()
                continue
            end = data.find(b"\n", pos)
            part = data[pos : size if end < 0 else end]
            if len(self._line) < MAX_LINE_SHOWN:
                self._line += part[: MAX_LINE_SHOWN - len(self._line)]
            self._tail = (self._tail + part[-TAIL:])[-TAIL:]
            if end < 0:
                return
            pos = end + 1
            line, tail = bytes(self._line).rstrip(b"\r"), self._tail.rstrip(b"\r")
            self._line.clear()
            self._tail = b""
            self._line_done(line, tail)

    def _line_done(self, line: bytes, tail: bytes) -> None:
        literal = _LITERAL_END.search(tail)
        secret_line = self._masking or self._sasl_tag is not None or self.mask_next_lines > 0
        if not self._in_command and not secret_line:
            self._tag = line.split(b" ", 1)[0]  # a new command begins
            match = _SECRET_COMMAND.match(line)
            if match and match.group(2):
                shown = match.group(1) + b" <masked>"
                self._masking = True
                if match.group(1).upper().endswith(b"AUTHENTICATE"):
                    self._sasl_tag = self._tag
            else:
                shown = line
        elif secret_line:
            self.mask_next_lines = max(0, self.mask_next_lines - 1)
            shown = b"<masked>"
        else:
            shown = line  # the rest of a command after a literal
        self._in_command = literal is not None
        if literal is None:
            self._masking = False  # the command's last line
        else:
            self._literal_left = self._literal_size = int(literal.group(1))
            self._literal_head.clear()
            # RFC 3501 §7.5: a synchronising literal comes only after "+"; the server may
            # refuse it instead, and then what follows is the next command, not the literal.
            self._sync_wait = not literal.group(0).endswith(b"+}")
        self._log.debug("%s C: %s", self._peer, shown.decode("utf-8", "replace"))
        if self._literal_left == 0 and literal is not None:
            self._literal_done()

    def _literal_done(self) -> None:
        if self._masking:
            shown = "<masked>"
        else:
            head = bytes(self._literal_head).decode("utf-8", "replace")
            more = self._literal_size - len(self._literal_head)
            shown = f"{head!r}" + (f"... ({self._literal_size} bytes)" if more else "")
        self._log.debug("%s C: literal %s", self._peer, shown)

    def outgoing(self, data: bytes) -> None:
        if self._sasl_tag is not None or self._sync_wait:
            for line in data.split(b"\r\n"):
                if line.startswith(b"+"):
                    self._sync_wait = False
                    continue
                match = _TAGGED_END.match(line)
                if match and match.group(1) == self._sasl_tag:
                    self._sasl_tag = None
                if match and self._sync_wait and match.group(1) == self._tag:
                    # The announced literal was refused: the command is over.
                    self._sync_wait = self._masking = self._in_command = False
                    self._literal_left = 0
        if len(data) > 2000:
            self._log.debug("%s S: %s... (%d bytes)", self._peer,
                            data[:200].decode("utf-8", "replace"), len(data))
            return
        for line in data.rstrip(b"\r\n").split(b"\r\n"):
            self._log.debug("%s S: %s", self._peer, line.decode("utf-8", "replace"))
