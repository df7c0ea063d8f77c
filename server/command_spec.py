"""One row of the command table, and the rules of RFC 3501 §7.4.1 stated as data.

How mailbox updates reach a client (the whole flow, in one place):

1. Other sessions change the selected mailbox; storage writes each change with a modseq and
   leaves a tombstone per expunged UID (DESIGN.md "Many clients, one mailbox").
2. ``Session.execute`` runs a command's handler. A handler changes flags of the selected
   mailbox only through ``Session.store_flags``, which records the modseqs this command
   wrote; it reports its own expunges (EXPUNGE, MOVE) through
   ``Session.report_own_expunges``.
3. After the handler, and only if the row's ``updates`` says so, ``Session.sync`` pulls the
   changes since the view's modseq and ``View.apply`` turns them into untagged responses:
   EXPUNGE (or VANISHED), FLAGS, EXISTS, RECENT, FETCH, in the order Dovecot's imap-sync
   uses.
   - ``expunges`` says whether pending EXPUNGEs may be sent: RFC 3501 §7.4.1 forbids them
     during FETCH, STORE and SEARCH by message number, because the client's numbers would
     shift under it; the UID forms carry no numbers the client relies on (``UID_FORM``).
     Until then an expunged message stays in the view as a *ghost* at its number (RFC 2180
     §4.1): FETCH answers it with what is still known, STORE leaves it alone.
   - ``echo`` says whether the command's own flag changes come back as FETCH updates.
     STORE and FETCH (its implicit \\Seen) answer their changes themselves, so they are not
     echoed; RFC 3501 §6.4.6 .SILENT asks for no FETCH at all.
   - LOGOUT sends nothing after its BYE (RFC 3501 §6.1.3), so its ``updates`` is off.
4. The tagged completion goes last. IDLE (RFC 2177) runs step 3 at each wake-up, with
   expunges allowed.

If the selected mailbox is deleted meanwhile, the session ends with ``* BYE`` as Dovecot's
does (RFC 3501 §7.1.5), never with a failure of the command in progress.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crispin.protocol import Event
from crispin.server.outcome import Result, State

if TYPE_CHECKING:
    from crispin.server.session import Session

Handler = Callable[["Session", str, Any], Awaitable[Result]]


class Expunges(enum.Enum):
    """When pending EXPUNGE responses may follow a command (RFC 3501 §7.4.1)."""

    ALLOWED = "allowed"
    UID_FORM = "only in the UID form"
    NEVER = "never"


@dataclass(frozen=True)
class CommandSpec:
    handler: Handler
    states: frozenset[State]
    expunges: Expunges = Expunges.ALLOWED
    echo: bool = True
    updates: bool = True
    # The handler itself reads and writes nothing (NOOP, CHECK): the access recheck before
    # it and the sync after it are one database read (issue 14: each trip waits for the
    # event loop, which another session's big FETCH shares).
    sync_only: bool = False
    # The handler rechecks access itself (``access.recheck``, or ``access.apply_access``
    # on what it read together with its own data: a FETCH of one message, issue 14), before
    # it reads or answers anything; the session does not do it before the handler.
    checks_access: bool = False

    def may_expunge(self, command: object) -> bool:
        if self.expunges is Expunges.UID_FORM:
            return bool(getattr(command, "uid", False))
        return self.expunges is Expunges.ALLOWED


@dataclass(frozen=True)
class CommandTable:
    """Everything the session runs: the table of commands, and APPEND, whose message
    literals arrive as events of their own (``protocol.AppendBegin``...)."""

    specs: Mapping[type, CommandSpec]
    append_event: Callable[[Session, Event], Awaitable[None]]
    abandon_append: Callable[[Session], None]
