"""``crispin acl``, ``crispin shared``, ``crispin quota`` and ``crispin mailbox private``:
sharing administered from the command line. They write the same database as the running
server, which reads rights and quotas afresh for every command, so a change takes effect
for connected clients at once."""

from __future__ import annotations

import argparse
import sys

from crispin.server import names
from crispin.server.commands.acl import expand, shown
from crispin.server.config import Config
from crispin.server.grants import change_rights
from crispin.server.namespaces import Namespaces
from crispin.storage import (
    PRIVATE_FLAG_CHOICES,
    AlreadyExists,
    HasChildren,
    InvalidName,
    MailboxInfo,
    NotFound,
    Store,
)


def _fail(message: str) -> int:
    print(f"crispin: {message}", file=sys.stderr)
    return 1


class Usage(Exception):
    pass


async def _mailbox(store: Store, ns: Namespaces, spec: str) -> MailboxInfo:
    """USER/NAME (a user's mailbox) or Shared/NAME."""
    spec = spec.strip(names.DELIMITER)
    if spec.startswith(ns.shared):
        info = await store.get_shared_mailbox(spec[len(ns.shared):])
    else:
        owner, _, name = spec.partition(names.DELIMITER)
        user = await store.get_user(owner)
        if user is None:
            raise Usage(f"no such user: {owner}")
        info = await store.get_mailbox(user.id, names.normalize(name or "INBOX"))
    if info is None:
        raise Usage(f"no such mailbox: {spec}")
    return info


async def _root(store: Store, ns: Namespaces, spec: str) -> tuple[str, int]:
    if spec.startswith(ns.shared):
        info = await store.get_shared_mailbox(spec[len(ns.shared):].split(names.DELIMITER)[0])
        if info is None:
            raise Usage(f"no such shared mailbox: {spec}")
        return "mailbox", info.id
    user = await store.get_user(spec)
    if user is None:
        raise Usage(f"no such user: {spec}")
    return "user", user.id


async def run_sharing(store: Store, config: Config, args: argparse.Namespace) -> int:
    ns = Namespaces(config)
    try:
        if args.command == "acl":
            info = await _mailbox(store, ns, args.mailbox)
            if args.action == "get":
                if info.owner_id is not None:
                    owner = await store.get_user_by_id(info.owner_id)
                    print(f"{owner.name if owner else '?'}\tlrswipkxtea (owner)")
                for entry in await store.get_acl(info.id):
                    print(f"{entry.identifier}\t{shown(entry.rights)}")
            elif args.action == "set":
                rights = args.rights
                mode, letters = (rights[0], rights[1:]) if rights[:1] in "+-" and rights \
                    else ("", rights)
                change = await change_rights(store, config, info, args.identifier, mode,
                                             expand(letters))
                print(f"{args.identifier}\t{expand(change)}")
            else:
                await store.delete_acl(info.id, args.identifier)
        elif args.command == "shared":
            if args.action == "create":
                name = args.name.strip(names.DELIMITER)
                created = await store.create_shared_mailbox(name)
                print(f"created {ns.shared_name(created.name)}")
            elif args.action == "delete":
                await store.delete_shared_mailbox(args.name.strip(names.DELIMITER))
            else:
                for info in await store.list_shared_mailboxes():
                    print(ns.shared_name(info.name))
        else:
            kind, root_id = await _root(store, ns, args.root)
            if args.action == "set":
                await store.set_quota(kind, root_id, args.storage, args.messages)
            quota = await store.get_quota(kind, root_id)
            if quota is None:
                print(f"{args.root}: no limits")
            for res in quota.resources if quota else []:
                print(f"{args.root}\t{res.name}\t{res.usage}\t{res.limit}")
    except Usage as exc:
        return _fail(str(exc))
    except AlreadyExists:
        return _fail("it already exists")
    except (NotFound, HasChildren, InvalidName) as exc:
        return _fail(str(exc) or type(exc).__name__)
    except Exception as exc:  # e.g. a CommandFailed for an unknown right letter
        text = getattr(exc, "text", None)
        if text is None:
            raise
        return _fail(text)
    return 0


async def run_private_flags(args: argparse.Namespace, config: Config) -> int:
    """``crispin mailbox private MAILBOX [none|seen|seen+flagged]``: which flags each user
    keeps for themselves in a mailbox others use (storage/migrations.py, version 4).  The
    new setting applies from now on: flags that become private start clear for everyone
    but the owner; every message gets a new modseq, so connected clients refetch flags
    (the server notices within its poll interval)."""
    store = await Store.open(config.data_dir)
    try:
        info = await _mailbox(store, Namespaces(config), args.mailbox)
        if args.flags is not None:
            await store.set_private_flags(info.id, PRIVATE_FLAG_CHOICES[args.flags])
            info = await store.get_mailbox_by_id(info.id) or info
        shown_as = {v: k for k, v in PRIVATE_FLAG_CHOICES.items()}.get(
            info.private_flag_names, " ".join(info.private_flag_names))
        print(f"{args.mailbox}\tprivate flags: {shown_as}")
    except Usage as exc:
        return _fail(str(exc))
    finally:
        await store.close()
    return 0
