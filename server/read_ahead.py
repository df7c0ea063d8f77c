"""What one read gave for FETCH commands pipelined behind the first of them (issue 14).

The reading and answering is ``crispin.server.commands.fetch_ahead``'s; this is only what
the session keeps between those commands (``Session.read_ahead``), here so that the
session does not import the handlers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crispin.storage import BlobFile, MessageRecord, SessionAccess

if TYPE_CHECKING:
    from crispin.server.view import View


@dataclass
class ReadAhead:
    """Each command (by identity: the very object that runs later) takes its message
    once; the snapshot's highest modseq, UIDNEXT and rights go with every one."""

    view: View
    highest_modseq: int
    uidnext: int
    found: SessionAccess | None
    records: dict[int, MessageRecord]  # a UID asked for and not here: expunged
    bodies: dict[int, bytes | BlobFile]
    commands: dict[int, object] = field(default_factory=dict)

    def holds(self, command: object) -> bool:
        return self.commands.get(id(command)) is command
