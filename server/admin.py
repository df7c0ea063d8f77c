"""Administration subcommands (``crispin user ...``, ``crispin mailbox ...``).

They open the same database as a running server; SQLite's locking lets both write, and the
server sees the change on its next read.
"""

from __future__ import annotations

import argparse
import sys

from crispin.server import names
from crispin.server.accounts import create_account
from crispin.server.cli import read_password
from crispin.server.config import Config
from crispin.storage import (
    AlreadyExists,
    HasChildren,
    InvalidName,
    InvalidPassword,
    NotFound,
    Store,
)


def _fail(message: str) -> int:
    print(f"crispin: {message}", file=sys.stderr)
    return 1


async def run_admin(args: argparse.Namespace, config: Config) -> int:
    store = await Store.open(config.data_dir)
    try:
        if args.command == "user":
            return await _user(store, config, args)
        if args.command == "import":
            return await _import(store, args)
        if args.command in ("acl", "shared", "quota"):
            from crispin.server.admin_sharing import run_sharing

            return await run_sharing(store, config, args)
        return await _mailbox(store, args)
    finally:
        await store.close()


async def _user(store: Store, config: Config, args: argparse.Namespace) -> int:
    try:
        if args.action == "add":
            # --if-missing / --update: the same command may run twice (a container's
            # entry script, a provisioning run) and end in the same state, exit 0.
            if (args.if_missing or args.update) and await store.get_user(args.name):
                if args.if_missing:
                    print(f"user {args.name} exists; left unchanged")
                    return 0
                await store.set_password(args.name, read_password(args.password_stdin))
                print(f"user {args.name} exists; password changed")
                return 0
            user = await create_account(store, config, args.name,
                                        read_password(args.password_stdin))
            print(f"created user {user.name}")
        elif args.action == "passwd":
            await store.set_password(args.name, read_password(args.password_stdin))
            print(f"password changed for {args.name}")
        elif args.action == "delete":
            await store.delete_user(args.name)
            print(f"deleted user {args.name}")
        else:
            for user in await store.list_users():
                print(user.name)
    except AlreadyExists:
        return _fail(f"user {args.name} already exists")
    except NotFound:
        return _fail(f"no such user: {args.name}")
    except InvalidName as exc:
        return _fail(f"invalid user name: {exc}")
    except InvalidPassword:
        return _fail("empty passwords are refused")
    return 0


async def _mailbox(store: Store, args: argparse.Namespace) -> int:
    user = await store.get_user(args.user)
    if user is None:
        return _fail(f"no such user: {args.user}")
    try:
        if args.action == "list":
            for info in await store.list_mailboxes(user.id):
                print(info.name + ("  (\\Noselect)" if info.noselect else ""))
        elif args.action == "create":
            name = names.normalize(args.name.rstrip(names.DELIMITER))
            await store.create_mailbox(user.id, name)
            # Mailboxes made outside IMAP are subscribed, so clients that show only
            # subscribed folders (Thunderbird) show them.
            await store.subscribe(user.id, name)
            print(f"created {name}")
        else:
            name = names.normalize(args.name)
            if name == "INBOX":
                return _fail("INBOX cannot be deleted")
            await store.delete_mailbox(user.id, name)
            print(f"deleted {name}")
    except AlreadyExists:
        return _fail(f"mailbox {args.name} already exists")
    except NotFound:
        return _fail(f"no such mailbox: {args.name}")
    except HasChildren:
        return _fail(f"mailbox {args.name} has inferiors; delete them first")
    except InvalidName:
        return _fail(f"invalid mailbox name: {args.name}")
    return 0


async def _import(store: Store, args: argparse.Namespace) -> int:
    """``crispin import``: messages keep the source's order, flags and dates."""
    from crispin.server.importer import ImportError_, Progress, count_messages, read_messages
    from crispin.server.ingest import deliver

    user = await store.get_user(args.user)
    if user is None:
        return _fail(f"no such user: {args.user}")
    name = names.normalize(args.mailbox.rstrip(names.DELIMITER))
    info = await store.get_mailbox(user.id, name)
    if info is None or info.noselect:
        try:
            info = await store.create_mailbox(user.id, name)
        except (InvalidName, AlreadyExists):
            return _fail(f"cannot create mailbox {args.mailbox}")
        await store.subscribe(user.id, name)

    def skipped(source: str, reason: str) -> None:
        print(f"\ncrispin: skipped {source}: {reason}", file=sys.stderr)

    try:
        messages = read_messages(args.path, on_skip=skipped)
        progress = Progress(count_messages(args.path))
        with progress:
            for message in messages:
                await deliver(store, info.id, message.data, message.flags,
                              message.internal_date)
                progress.advance()
    except ImportError_ as exc:
        return _fail(str(exc))
    # Delivery leaves new mail's full-text indexing to the server (storage/text_index.py);
    # an import indexes what it brought before it ends, in large batches, so the next
    # SEARCH TEXT finds it in the index instead of scanning it.
    from crispin.server import backfill
    from crispin.server.text_index import TextIndexJob

    await backfill.run_storage_job(store, TextIndexJob())
    return 0
