"""Delivering a message to addresses: the one road for mail that arrives by SMTP, LMTP or
(later) the HTTP API (DESIGN.md "Other ways in").

:meth:`Router.resolve` turns an address into a mailbox of a local account, following the
``[smtp]`` routing settings:

- ``user@domain`` goes to ``user``'s INBOX, for any domain, or only for those listed in
  ``smtp.domains``;
- ``user+Folder@domain`` goes to ``Folder`` (created when missing if ``smtp.create_folders``,
  else INBOX), the "subaddress" convention of RFC 5233;
- an unknown user is refused (550 5.1.1, RFC 3463), unless ``smtp.catch_all`` names an account
  that takes everything unknown, or is ``*``: an account is created for each new name.

:func:`deliver` stores one message into every resolved mailbox in a single storage
transaction, through the same parse-once path as APPEND (:mod:`crispin.server.ingest`): when it
returns, the message is on disk for every recipient, or for none.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from crispin.server import names
from crispin.server.accounts import create_account
from crispin.server.config import Config
from crispin.server.ingest import analyse_body
from crispin.storage import AlreadyExists, ChangeKind, CommitReport, InvalidName, Store, User

log = logging.getLogger("crispin.delivery")


class RecipientRefused(Exception):
    """An address Crispin does not deliver to; ``code``/``enhanced``/``text`` make the SMTP
    reply (RFC 5321 §4.2.2, RFC 3463)."""

    def __init__(self, code: int, enhanced: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.enhanced = enhanced
        self.text = text


@dataclass(frozen=True)
class Recipient:
    """A resolved mailbox: where a copy of the message goes, with the flags it gets."""

    address: str
    user: User
    mailbox: str
    mailbox_id: int
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delivered:
    recipient: Recipient
    uid: int


def split_address(address: str) -> tuple[str, str]:
    """``local@domain`` → (local, domain), the local part unquoted (RFC 5321 §4.1.2
    Quoted-string); an address without ``@`` (``postmaster``) has domain ""."""
    local, at, domain = address.rpartition("@")
    if not at:
        local, domain = address, ""
    if len(local) >= 2 and local.startswith('"') and local.endswith('"'):
        local = local[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return local, domain.lower().strip("[]")


# Kinds of change after which a cached route may be wrong (a mailbox created, renamed, deleted,
# made a placeholder; an account deleted takes its mailboxes along). New mail is not one.
STRUCTURE = frozenset({ChangeKind.CREATED, ChangeKind.RENAMED, ChangeKind.DELETED,
                       ChangeKind.SETTINGS})
# Changes by other processes (the CLI on the same database) are not reported: a cached route
# lives this long at most.
CACHE_SECONDS = 5.0


class Router:
    def __init__(self, store: Store, config: Config, *, cache: bool = False) -> None:
        """``cache``: remember resolved local parts (two database reads per recipient
        saved), forgotten at every commit that changes mailboxes; call :meth:`close`."""
        self.store = store
        self.config = config
        domains = str(config.get("smtp", "domains"))
        self.domains = frozenset(d.strip().lower() for d in domains.split(",") if d.strip())
        self.create_folders = bool(config.get("smtp", "create_folders"))
        self.catch_all = str(config.get("smtp", "catch_all")).strip()
        self._routes: dict[str, tuple[float, User, str, int]] = {}
        # Whether a mailbox's quota root has limits: (expiry, store.quota_changes then, answer).
        self._limited: dict[int, tuple[float, int, bool]] = {}
        self._unsubscribe = store.on_commit(self._on_commit) if cache else None

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_commit(self, report: CommitReport) -> None:
        if (self._routes or self._limited) and any(c.kinds & STRUCTURE
                                                     for c in report.changes):
            self._routes.clear()
            self._limited.clear()  # a renamed shared mailbox may change quota root

    async def resolve(self, address: str) -> Recipient:
        local, domain = split_address(address)
        if not local:
            raise RecipientRefused(501, "5.1.3", f"Bad recipient address syntax: {address}")
        if self.domains and domain and domain not in self.domains:
            # RFC 5321 §3.6.2: Crispin never relays.
            raise RecipientRefused(550, "5.7.1", f"Relaying to {domain} is not allowed")
        now = time.monotonic()
        cached = self._routes.get(local)
        if cached is not None and cached[0] > now:
            return Recipient(address, *cached[1:])
        recipient = await self._resolve(address, local)
        if self._unsubscribe is not None:
            self._routes[local] = (now + CACHE_SECONDS, recipient.user, recipient.mailbox,
                                   recipient.mailbox_id)
        return recipient

    async def over_quota(self, mailbox_id: int, octets: int) -> bool:
        """Whether adding a message of ``octets`` would take the mailbox past its quota
        (RFC 9208 §5.1), for the early refusal at RCPT. With the cache on, whether the
        mailbox's root has limits is remembered until a SETQUOTA of this server, a change
        of mailboxes, or CACHE_SECONDS (a quota set by another process): a mailbox without
        (the common case) costs no read. Only the early answer depends on it: the storage
        write enforces the quota in its own transaction whatever this said."""
        if self._unsubscribe is None:
            return await self.store.check_quota(mailbox_id, octets, 1) is not None
        now = time.monotonic()
        cached = self._limited.get(mailbox_id)
        if cached is not None and cached[0] > now and cached[1] == self.store.quota_changes:
            limited = cached[2]
        else:
            changes = self.store.quota_changes
            limited = await self.store.has_quota(mailbox_id)
            self._limited[mailbox_id] = (now + CACHE_SECONDS, changes, limited)
        return limited and await self.store.check_quota(mailbox_id, octets, 1) is not None

    async def _resolve(self, address: str, local: str) -> Recipient:
        user, folder = await self._user(local)
        if user is None:
            user = await self._catch_all(local.partition("+")[0] if folder else local)
            if user is None:
                raise RecipientRefused(550, "5.1.1", f"No such user: {address}")
        mailbox = await self._mailbox(user, folder)
        info = await self.store.get_mailbox(user.id, mailbox)
        if info is None or info.noselect:
            raise RecipientRefused(450, "4.2.0", f"Mailbox {mailbox} is not available")
        return Recipient(address, user, mailbox, info.id)

    async def _user(self, local: str) -> tuple[User | None, str]:
        """The account and the folder named after ``+`` (RFC 5233 §1), if any. A user name
        that itself holds "+" wins over the split."""
        for name in dict.fromkeys((local, local.lower())):
            user = await self.store.get_user(name)
            if user is not None:
                return user, ""
        base, plus, folder = local.partition("+")
        if plus and base:
            for name in dict.fromkeys((base, base.lower())):
                user = await self.store.get_user(name)
                if user is not None:
                    return user, folder
            return None, folder
        return None, ""

    async def _catch_all(self, local: str) -> User | None:
        if not self.catch_all:
            return None
        if self.catch_all == "*":
            name = local.lower()
            try:
                # No password anyone knows: the account is reached by `crispin user passwd`,
                # or by test mode's any-password login.
                user = await create_account(self.store, self.config, name,
                                            secrets.token_urlsafe(24))
            except AlreadyExists:
                return await self.store.get_user(name)
            except (InvalidName, ValueError):
                return None
            log.info("catch-all: created account %r", name)
            return user
        return await self.store.get_user(self.catch_all)

    async def _mailbox(self, user: User, folder: str) -> str:
        if not folder:
            return "INBOX"
        name = names.normalize(folder.strip(names.DELIMITER))
        if not names.is_valid(name):
            return "INBOX"
        info = await self.store.get_mailbox(user.id, name)
        if info is not None and not info.noselect:
            return name
        if not self.create_folders:
            return "INBOX"
        try:
            await self.store.create_mailbox(user.id, name)
            await self.store.subscribe(user.id, name)
            log.info("created mailbox %r for %s (subaddress delivery)", name, user.name)
        except AlreadyExists:
            pass
        except InvalidName:
            return "INBOX"
        return name

    async def sent_mailbox(self, user: User) -> Recipient | None:
        """The user's \\Sent mailbox (RFC 6154), for the copy submission keeps."""
        for info in await self.store.list_mailboxes(user.id):
            if info.special_use == "\\Sent" and not info.noselect:
                return Recipient(user.name, user, info.name, info.id, ("\\Seen",))
        return None


async def deliver(store: Store, raw: bytes | Path, recipients: Sequence[Recipient],
                  internal_date: datetime | None = None) -> list[Delivered]:
    """Store ``raw`` once for every recipient (duplicate mailboxes once), in one storage
    transaction; wakes IDLE sessions of those mailboxes. Raises on failure, storing nothing."""
    unique: dict[int, Recipient] = {}
    for recipient in recipients:
        unique.setdefault(recipient.mailbox_id, recipient)
    columns = await analyse_body(raw)
    targets: list[tuple[int, Iterable[str]]] = [(r.mailbox_id, r.flags)
                                                for r in unique.values()]
    stored = await store.append_to_mailboxes(targets, raw, internal_date, columns)
    by_box = {r.mailbox_id: uid for r, (uid, _) in zip(unique.values(), stored, strict=True)}
    return [Delivered(r, by_box[r.mailbox_id]) for r in recipients]


async def deliver_to_addresses(store: Store, config: Config, raw: bytes | Path,
                               addresses: Iterable[str]) -> list[Delivered]:
    """:func:`deliver` for addresses, routed as SMTP routes them (``RecipientRefused`` for
    the first one that is not local): the entry point for other front ends (HTTP API)."""
    router = Router(store, config)
    recipients = [await router.resolve(a) for a in addresses]
    return await deliver(store, raw, recipients)
