"""Accounts and mail from configuration, for containers and CI (issue 12): users created or
updated at every start from ``accounts.users`` / ``CRISPIN_USERS`` and ``accounts.users_file``,
and a preload folder imported once into an empty store.

Preload layout (GreenMail's preload folder, plus the formats ``crispin import`` reads)::

    <preload>/<user>/*.eml                       -> INBOX
    <preload>/<user>/<Mailbox>/<Sub>/*.eml       -> Mailbox/Sub
    <preload>/<user>/<Mailbox>/<name>.mbox       -> Mailbox/name (any file that is not .eml)
    <preload>/<user>/<Mailbox>/  (a Maildir)     -> Mailbox

A user named in the preload but not configured gets an account with a random password (the
log says so; test mode logs in with any password).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path

from crispin.server import names
from crispin.server.accounts import create_account
from crispin.server.config import Config, ConfigError
from crispin.storage import AlreadyExists, InvalidName, Store, User, is_password_hash

log = logging.getLogger("crispin.provision")

PRELOAD_MARKER = ".preloaded"


def parse_users(text: str, origin: str) -> list[tuple[str, str]]:
    """``name:secret`` entries separated by commas or newlines; ``#`` starts a comment line.
    The secret is everything after the first ":" (a password may hold ":" and ",", in a
    file only, where entries are one per line)."""
    entries: list[tuple[str, str]] = []
    lines = text.splitlines() if "\n" in text else text.split(",")
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, secret = line.partition(":")
        if not colon or not name.strip() or not secret:
            raise ConfigError(f"{origin}: entry {number} is not name:password")
        entries.append((name.strip(), secret))
    return entries


def configured_users(config: Config) -> list[tuple[str, str]]:
    entries = parse_users(str(config.get("accounts", "users")), "accounts.users")
    path = str(config.get("accounts", "users_file"))
    if path:
        try:
            text = Path(path).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"accounts.users_file: cannot read {path}: {exc.strerror}") from None
        entries += parse_users(text + "\n", path)
    return entries


async def provision_users(store: Store, config: Config) -> dict[str, str]:
    """Create or update every configured account; idempotent. Returns name -> what was done
    ("created", "updated", "unchanged"). A name given twice takes its last password.
    The accounts are done side by side: each costs a scrypt hash (creation) or check
    (restart), on the store's hashing threads, so N users do not cost N hashes in a row at
    start (issue 12: container start to healthy within 5 s)."""
    entries = dict(configured_users(config))
    results: dict[str, asyncio.Task[str]] = {}
    try:
        async with asyncio.TaskGroup() as group:
            for name, secret in entries.items():
                results[name] = group.create_task(_provision_one(store, config, name, secret))
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None  # a ConfigError, as one at a time would give
    done = {name: task.result() for name, task in results.items()}
    for name, what in done.items():
        if what != "unchanged":
            log.info("account %s %s from configuration", name, what)
    return done


async def _provision_one(store: Store, config: Config, name: str, secret: str) -> str:
    hashed = secret if is_password_hash(secret) else None
    user = await store.get_user(name)
    try:
        if user is None:
            await create_account(store, config, name, secret, password_hash=hashed)
            return "created"
        if await store.update_password(name, None if hashed else secret, hashed):
            return "updated"
        return "unchanged"
    except InvalidName as exc:
        raise ConfigError(f"accounts: invalid user name {name!r}: {exc}") from None


async def _user_for(store: Store, config: Config, name: str) -> User:
    user = await store.get_user(name)
    if user is None:
        user = await create_account(store, config, name, secrets.token_urlsafe(24))
        log.warning("preload: created account %r with a random password (configure it in "
                    "accounts.users to log in)", name)
    return user


async def _mailbox_id(store: Store, user: User, name: str) -> int:
    name = names.normalize(name)
    info = await store.get_mailbox(user.id, name)
    if info is None or info.noselect:
        try:
            info = await store.create_mailbox(user.id, name)
            await store.subscribe(user.id, name)
        except AlreadyExists:
            info = await store.get_mailbox(user.id, name)
    assert info is not None
    return info.id


def preload_sources(user_dir: Path) -> list[tuple[str, Path]]:
    """(mailbox name, source path) for everything under one user's folder."""
    from crispin.server.importer.maildir import is_maildir

    sources: list[tuple[str, Path]] = []

    def walk(folder: Path, mailbox: str) -> None:
        if is_maildir(folder):
            sources.append((mailbox or "INBOX", folder))
            return
        entries = sorted(folder.iterdir())
        if any(p.is_file() and p.suffix.lower() == ".eml" for p in entries):
            sources.append((mailbox or "INBOX", folder))
        for path in entries:
            if path.name.startswith("."):
                continue
            child = f"{mailbox}{names.DELIMITER}{path.name}" if mailbox else path.name
            if path.is_dir():
                walk(path, child)
            elif path.is_file() and path.suffix.lower() != ".eml":
                sources.append((child.rsplit(".", 1)[0] if "." in path.name else child, path))

    walk(user_dir, "")
    return sources


async def preload(store: Store, config: Config) -> int | None:
    """Import ``accounts.preload`` once; the number of messages, or None when skipped."""
    from crispin.server.importer import ImportError_, read_messages
    from crispin.server.ingest import deliver

    source = str(config.get("accounts", "preload"))
    if not source:
        return None
    root = Path(source).expanduser()
    marker = config.data_dir / PRELOAD_MARKER
    if marker.exists():
        return None
    if not root.is_dir():
        raise ConfigError(f"accounts.preload: {root} is not a folder")
    if await store.has_messages():
        log.warning("preload: the store already holds mail; %s is not imported", root)
        return None
    count = 0
    for user_dir in sorted(p for p in root.iterdir() if p.is_dir()
                           and not p.name.startswith(".")):
        user = await _user_for(store, config, user_dir.name)
        for mailbox, path in preload_sources(user_dir):
            mailbox_id = await _mailbox_id(store, user, mailbox)
            try:
                for message in read_messages(path):
                    await deliver(store, mailbox_id, message.data, message.flags,
                                  message.internal_date)
                    count += 1
            except ImportError_ as exc:
                log.warning("preload: skipped %s: %s", path, exc)
    marker.write_text(f"{root}\n", encoding="utf-8")
    log.info("preload: imported %d messages from %s", count, root)
    return count
