"""Commands about the session rather than mail: ID (RFC 2971), NAMESPACE (RFC 2342),
ENABLE (RFC 5161)."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

from crispin.protocol import Atom, Compress, Enable, Id, Mailbox, Namespace, Value
from crispin.server import metadata_events, names
from crispin.server.outcome import CommandFailed, Result
from crispin.server.session import Session

log = logging.getLogger("crispin.session")

# Extensions a client may ENABLE (RFC 5161 §3.1).
ENABLEABLE = frozenset({"CONDSTORE", "QRESYNC", "UTF8=ACCEPT", "IMAP4REV2", "METADATA",
                        "METADATA-SERVER"})
# How ENABLED names them (the command's words arrive upper-cased).
CANONICAL = {"IMAP4REV2": "IMAP4rev2"}


def server_version() -> str:
    try:
        return version("crispin")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0"


async def id_(session: Session, tag: str, cmd: Id) -> Result:
    """RFC 2971 §3.1: any state; the client's values are logged, never acted upon."""
    if cmd.params:
        fields = ", ".join(f"{k}={v!r}" for k, v in cmd.params[:30])
        log.info("%s: client ID: %s", session.peer, fields)
    session.untagged(Atom("ID"), ["name", "Crispin", "version", server_version(),
                                  "vendor", "Crispin"])
    return Result("ID completed")


async def namespace(session: Session, tag: str, cmd: Namespace) -> Result:
    """RFC 2342 §5: the personal namespace has no prefix; other users' mailboxes shared
    with this user, and the mailboxes of no single user, each have theirs. The prefixes are
    mailbox names: modified UTF-7, or UTF-8 once enabled (RFC 6855 §3)."""
    ns = session.server.namespaces
    personal: list[Value] = [[Mailbox(""), names.DELIMITER]]
    others: list[Value] = [[Mailbox(ns.other), names.DELIMITER]]
    shared: list[Value] = [[Mailbox(ns.shared), names.DELIMITER]]
    session.untagged(Atom("NAMESPACE"), personal, others, shared)
    return Result("NAMESPACE completed")


async def enable(session: Session, tag: str, cmd: Enable) -> Result:
    """RFC 5161 §3.1: the ENABLED response lists what was newly enabled; unknown or
    non-enableable names are ignored."""
    if not cmd.capabilities:
        raise CommandFailed("ENABLE needs at least one capability", status="BAD")
    newly = [c for c in dict.fromkeys(cmd.capabilities)
             if c in ENABLEABLE and c not in session.enabled
             and (c != "IMAP4REV2" or session.server.imap4rev2)
             and (c != "UTF8=ACCEPT" or session.server.utf8_accept)]
    for capability in newly:
        if capability == "QRESYNC":
            session.enable_qresync()
        elif capability in ("UTF8=ACCEPT", "IMAP4REV2"):
            # RFC 6855 §3: from now on UTF-8 in quoted strings and mailbox names, both ways;
            # RFC 9051 §5.1 and Appendix A: the same for IMAP4rev2, whose other changes
            # (docs/imap4rev2.md) follow ``Session.rev2``. ENABLE is allowed only in the
            # authenticated state, so no mailbox is selected here.
            session.enabled.add(capability)
            session.channel.use_utf8()
        elif capability.startswith("METADATA"):
            # RFC 5464 §4.1: unsolicited METADATA responses from now on.
            metadata_events.enable(session, capability)
            session.enabled.add(capability)
        else:
            session.enable_condstore()
    session.untagged(Atom("ENABLED"), *[Atom(CANONICAL.get(c, c)) for c in newly])
    return Result("ENABLE completed")


async def compress(session: Session, tag: str, cmd: Compress) -> Result:
    """RFC 4978 §3: the tagged OK is the last uncompressed data; compression then covers
    both directions for the rest of the connection (inside TLS, if any)."""
    if cmd.algorithm != "DEFLATE":
        raise CommandFailed(f"Unknown compression algorithm {cmd.algorithm}", status="BAD")
    if session.channel.compression_active:
        raise CommandFailed("Compression is already active", "COMPRESSIONACTIVE")
    return Result("DEFLATE active", after=session.channel.start_compression)
