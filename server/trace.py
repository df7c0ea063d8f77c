"""Per-connection protocol trace at debug level, with secrets masked.

Passwords appear in LOGIN arguments (maybe as literals), AUTHENTICATE initial responses and
SASL continuation lines; none of them may reach a log file.
"""

from __future__ import annotations

import logging
import re

_LOGIN = re.compile(rb"^(\S+\s+(?:LOGIN|AUTHENTICATE))(\s.*)?$", re.IGNORECASE)
_LITERAL_END = re.compile(rb"~?\{\d+\+?\}$")


class Tracer:
    def __init__(self, log: logging.Logger, peer: str) -> None:
        self._log = log
        self._peer = peer
        self._masking = False  # inside a LOGIN/AUTHENTICATE exchange
        self.mask_next_lines = 0

    def incoming(self, data: bytes) -> None:
        for line in data.split(b"\n"):
            if not line:
                continue
            line = line.rstrip(b"\r")
            if self._masking or self.mask_next_lines:
                self.mask_next_lines = max(0, self.mask_next_lines - 1)
                self._masking = bool(_LITERAL_END.search(line))
                shown = b"<masked>"
            else:
                match = _LOGIN.match(line)
                if match and match.group(2):
                    shown = match.group(1) + b" <masked>"
                    self._masking = bool(_LITERAL_END.search(line))
                else:
                    shown = line
            self._log.debug("%s C: %s", self._peer, shown.decode("utf-8", "replace"))

    def outgoing(self, data: bytes) -> None:
        if len(data) > 2000:
            self._log.debug("%s S: %s... (%d bytes)", self._peer,
                            data[:200].decode("utf-8", "replace"), len(data))
            return
        for line in data.rstrip(b"\r\n").split(b"\r\n"):
            self._log.debug("%s S: %s", self._peer, line.decode("utf-8", "replace"))
