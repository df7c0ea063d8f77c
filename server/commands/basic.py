"""Commands valid in any state: CAPABILITY, NOOP, LOGOUT (RFC 3501 §6.1)."""

from __future__ import annotations

from crispin.protocol import Atom, Capability, Logout, Noop
from crispin.server.outcome import Result, State
from crispin.server.session import Session


async def capability(session: Session, tag: str, cmd: Capability) -> Result:
    """RFC 3501 §6.1.1."""
    session.untagged(Atom("CAPABILITY"), *session.capabilities())
    return Result("CAPABILITY completed")


async def noop(session: Session, tag: str, cmd: Noop) -> Result:
    """RFC 3501 §6.1.2: pending mailbox updates are sent by the session after any command
    that allows them (NOOP does)."""
    return Result("NOOP completed")


async def logout(session: Session, tag: str, cmd: Logout) -> Result:
    """RFC 3501 §6.1.3: BYE first, then the tagged OK, then the server closes."""
    session.untagged_status("BYE", "Crispin logging out")
    session.state = State.LOGOUT
    return Result("LOGOUT completed")
