"""Finding the user and mailbox a URL names, or answering 404."""

from __future__ import annotations

from crispin.server import names
from crispin.server.http.wire import HttpError
from crispin.storage import MailboxInfo, Store, User


async def user_or_404(store: Store, name: str) -> User:
    user = await store.get_user(name)
    if user is None:
        raise HttpError(404, f"no user {name!r}")
    return user


async def mailbox_or_404(store: Store, user: User, name: str) -> MailboxInfo:
    mailbox = await store.get_mailbox(user.id, names.normalize(name))
    if mailbox is None or mailbox.noselect:
        raise HttpError(404, f"no mailbox {name!r} for {user.name!r}")
    return mailbox
