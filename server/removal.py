"""Removing messages for someone other than an IMAP client (the HTTP API, injected faults).

Done the way a client would, +FLAGS \\Deleted then UID EXPUNGE (RFC 4315 §2.1), so every
session with the mailbox selected is told through the usual change log, at the moment
RFC 3501 §7.4.1 allows.
"""

from __future__ import annotations

from crispin.storage import Store


async def remove_messages(store: Store, mailbox_id: int, uids: list[int] | None) -> int:
    """Expunge ``uids`` (None: every message) whatever their flags; returns how many."""
    if uids is None:
        uids = [m.uid for m in await store.list_messages(mailbox_id)]
    if not uids:
        return 0
    await store.store_flags(mailbox_id, uids, "add", ["\\Deleted"])
    gone, _ = await store.expunge(mailbox_id, uids)
    return len(gone)
