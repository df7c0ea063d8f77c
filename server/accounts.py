"""Creating an account the way clients expect to find it.

RFC 6154: clients look for the mailboxes where drafts, sent mail, deleted mail, junk and
archives go by their special-use attributes. Every new account gets them, subscribed (a
client such as Thunderbird shows only subscribed folders), named from ``[mailboxes]``.
"""

from __future__ import annotations

from crispin.server import names
from crispin.server.config import Config
from crispin.storage import AlreadyExists, Store, User

SPECIAL_USES = {
    "drafts": "\\Drafts",
    "sent": "\\Sent",
    "trash": "\\Trash",
    "junk": "\\Junk",
    "archive": "\\Archive",
}


async def create_account(store: Store, config: Config, name: str, password: str,
                         *, password_hash: str | None = None) -> User:
    """``password_hash``: a hash in storage's stored form instead of ``password``."""
    if password_hash is not None:
        user = await store.create_user_hashed(name, password_hash)
    else:
        user = await store.create_user(name, password)
    await store.subscribe(user.id, "INBOX")
    for key, use in SPECIAL_USES.items():
        mailbox = names.normalize(str(config.get("mailboxes", key)).strip(names.DELIMITER))
        if not mailbox or mailbox == "INBOX":
            continue
        try:
            await store.create_mailbox(user.id, mailbox, special_use=use)
        except AlreadyExists:
            continue
        await store.subscribe(user.id, mailbox)
    return user
