"""ACL (RFC 4314) and shared mailboxes (owner NULL) in storage."""

from __future__ import annotations

import pytest

from crispin.storage import (
    AlreadyExists,
    HasChildren,
    InvalidName,
    MailboxInfo,
    NotFound,
    Store,
    User,
)
from crispin.storage.acl import ALL_RIGHTS, InvalidRights, normalise_rights, with_obsolete_rights
from crispin.storage.models import AclEntry

from .helpers import query


@pytest.fixture
async def bob(store: Store) -> User:
    return await store.create_user("bob", "secret")


@pytest.fixture
async def carol(store: Store) -> User:
    return await store.create_user("carol", "secret")


async def box(store: Store, owner: User | None, name: str) -> MailboxInfo:
    found = await store.get_mailbox_in(None if owner is None else owner.id, name)
    if found is None:
        found = await store.create_mailbox_in(None if owner is None else owner.id, name)
    return found


# -- rights strings ----------------------------------------------------------------------


def test_all_rights_order() -> None:
    assert ALL_RIGHTS == "lrswipkxtea"


def test_normalise_rights() -> None:
    assert normalise_rights("") == ""
    assert normalise_rights("aetxkpiwsrl") == ALL_RIGHTS
    assert normalise_rights("rrlwl") == "lrw"
    # RFC 4314 §2.1.1: obsolete "c" (create) and "d" (delete) expand on input.
    assert normalise_rights("lrc") == "lrkx"
    assert normalise_rights("lrswida") == "lrswitea"
    for bad in ["L", "z", "1", "lr ", "+l", "-l", "é"]:
        with pytest.raises(InvalidRights):
            normalise_rights(bad)


def test_with_obsolete_rights() -> None:
    assert with_obsolete_rights("lr") == "lr"
    assert with_obsolete_rights("lrk") == "lrkc"
    assert with_obsolete_rights("lrte") == "lrted"
    assert with_obsolete_rights(ALL_RIGHTS) == ALL_RIGHTS + "cd"


# -- get / set / delete ------------------------------------------------------------------


async def test_set_get_normalises_and_sorts(store: Store, user: User) -> None:
    inbox = await box(store, user, "INBOX")
    assert await store.get_acl(inbox.id) == []
    await store.set_acl(inbox.id, "bob", "wrl")
    await store.set_acl(inbox.id, "anyone", "l")
    await store.set_acl(inbox.id, "-bob", "w")
    await store.set_acl(inbox.id, "Bob", "rd")  # case-sensitive: another identifier
    assert await store.get_acl(inbox.id) == [
        AclEntry("-bob", "w"),
        AclEntry("Bob", "rte"),
        AclEntry("anyone", "l"),
        AclEntry("bob", "lrw"),
    ]


async def test_set_replaces_and_empty_deletes(store: Store, user: User) -> None:
    inbox = await box(store, user, "INBOX")
    before = await store.get_mailbox_by_id(inbox.id)
    await store.set_acl(inbox.id, "bob", "lr")
    await store.set_acl(inbox.id, "bob", "i")
    assert await store.get_acl(inbox.id) == [AclEntry("bob", "i")]
    await store.set_acl(inbox.id, "bob", "")
    assert await store.get_acl(inbox.id) == []
    await store.set_acl(inbox.id, "bob", "")  # deleting nothing is fine
    assert await store.get_mailbox_by_id(inbox.id) == before  # no modseq bump


async def test_delete_acl(store: Store, user: User) -> None:
    inbox = await box(store, user, "INBOX")
    await store.set_acl(inbox.id, "bob", "lr")
    await store.set_acl(inbox.id, "-bob", "r")
    await store.delete_acl(inbox.id, "bob")
    assert await store.get_acl(inbox.id) == [AclEntry("-bob", "r")]
    await store.delete_acl(inbox.id, "bob")  # absent: no error
    await store.delete_acl(inbox.id, "nobody")


async def test_acl_errors(store: Store, user: User) -> None:
    inbox = await box(store, user, "INBOX")
    with pytest.raises(InvalidRights):
        await store.set_acl(inbox.id, "bob", "lrZ")
    with pytest.raises(InvalidName):  # InvalidRights is an InvalidName
        await store.set_acl(inbox.id, "bob", "9")
    for ident in ["", "-", "bo\x00b"]:
        with pytest.raises(InvalidRights):
            await store.set_acl(inbox.id, ident, "l")
    assert await store.get_acl(inbox.id) == []
    with pytest.raises(NotFound):
        await store.set_acl(9999, "bob", "l")
    with pytest.raises(NotFound):
        await store.get_acl(9999)
    with pytest.raises(NotFound):
        await store.delete_acl(9999, "bob")
    with pytest.raises(NotFound):
        await store.rights_of(9999, user.id, user.name)


# -- effective rights --------------------------------------------------------------------


async def test_owner_has_all_rights_implicitly(store: Store, user: User) -> None:
    inbox = await box(store, user, "INBOX")
    assert await store.rights_of(inbox.id, user.id, user.name) == ALL_RIGHTS
    await store.set_acl(inbox.id, "-alice", ALL_RIGHTS)
    await store.set_acl(inbox.id, "-anyone", ALL_RIGHTS)
    assert await store.rights_of(inbox.id, user.id, user.name) == ALL_RIGHTS


async def test_no_entry_no_rights(store: Store, user: User, bob: User) -> None:
    inbox = await box(store, user, "INBOX")
    assert await store.rights_of(inbox.id, bob.id, bob.name) == ""
    await store.set_acl(inbox.id, "carol", "lr")
    assert await store.rights_of(inbox.id, bob.id, bob.name) == ""


async def test_union_of_user_and_anyone(store: Store, user: User, bob: User) -> None:
    inbox = await box(store, user, "INBOX")
    await store.set_acl(inbox.id, "anyone", "lr")
    assert await store.rights_of(inbox.id, bob.id, bob.name) == "lr"
    await store.set_acl(inbox.id, "bob", "wi")
    assert await store.rights_of(inbox.id, bob.id, bob.name) == "lrwi"
    # The name is matched exactly (user names are case-sensitive).
    assert await store.rights_of(inbox.id, bob.id, "Bob") == "lr"


async def test_negative_rights(store: Store, user: User, bob: User, carol: User) -> None:
    inbox = await box(store, user, "INBOX")
    await store.set_acl(inbox.id, "anyone", "lrs")
    await store.set_acl(inbox.id, "bob", "lrswi")
    await store.set_acl(inbox.id, "-bob", "ri")  # RFC 4314 §2: removed whatever grants it
    assert await store.rights_of(inbox.id, bob.id, bob.name) == "lsw"
    assert await store.rights_of(inbox.id, carol.id, carol.name) == "lrs"
    await store.set_acl(inbox.id, "-anyone", "s")
    assert await store.rights_of(inbox.id, bob.id, bob.name) == "lw"
    assert await store.rights_of(inbox.id, carol.id, carol.name) == "lr"
    # DELETEACL of "bob" leaves "-bob" in force.
    await store.delete_acl(inbox.id, "bob")
    assert await store.rights_of(inbox.id, bob.id, bob.name) == "l"


async def test_shared_mailbox_rights_only_through_acl(store: Store, user: User) -> None:
    shared = await store.create_shared_mailbox("Team")
    assert await store.rights_of(shared.id, user.id, user.name) == ""
    await store.set_acl(shared.id, "alice", "lra")
    assert await store.rights_of(shared.id, user.id, user.name) == "lra"


async def test_acl_follows_rename_and_goes_with_delete(store: Store, user: User) -> None:
    a = await box(store, user, "a")
    await box(store, user, "a/b")
    await store.set_acl(a.id, "bob", "lr")
    await store.rename_mailbox(user.id, "a", "z")
    assert await store.get_acl(a.id) == [AclEntry("bob", "lr")]
    await store.delete_mailbox(user.id, "z")  # has an inferior: stays as a placeholder
    assert await store.get_acl(a.id) == []
    new_a = await store.create_mailbox(user.id, "a")
    assert await store.get_acl(new_a.id) == []  # no inheritance


async def test_deleting_user_deletes_entries_naming_them(
    store: Store, user: User, bob: User
) -> None:
    inbox = await box(store, user, "INBOX")
    bob_inbox = await box(store, bob, "INBOX")
    await store.set_acl(inbox.id, "bob", "lr")
    await store.set_acl(inbox.id, "-bob", "r")
    await store.set_acl(inbox.id, "bobby", "l")
    await store.set_acl(bob_inbox.id, "alice", "lr")
    await store.delete_user("bob")
    assert await store.get_acl(inbox.id) == [AclEntry("bobby", "l")]
    assert query(store.data_dir, "SELECT count(*) FROM acl WHERE mailbox_id = ?", (bob_inbox.id,))[
        0
    ] == (0,)
    new_bob = await store.create_user("bob", "other")
    assert await store.rights_of(inbox.id, new_bob.id, "bob") == ""


# -- visible mailboxes -------------------------------------------------------------------


async def test_visible_mailboxes(store: Store, user: User, bob: User, carol: User) -> None:
    a_inbox = await box(store, user, "INBOX")
    a_proj = await box(store, user, "Projects/x")
    a_secret = await box(store, user, "Secret")
    a_read = await box(store, user, "ReadOnly")
    c_inbox = await box(store, carol, "INBOX")
    b_own = await box(store, bob, "Mine")
    team = await store.create_shared_mailbox("Team/Sales")
    lobby = await store.create_shared_mailbox("Lobby")
    await store.create_shared_mailbox("Hidden")

    await store.set_acl(a_inbox.id, "bob", "lr")
    await store.set_acl(a_proj.id, "anyone", "lrs")
    await store.set_acl(a_secret.id, "anyone", "lr")
    await store.set_acl(a_secret.id, "-bob", "l")  # negative removes visibility
    await store.set_acl(a_read.id, "bob", "r")  # no "l": not visible
    await store.set_acl(c_inbox.id, "bob", "lrswi")
    await store.set_acl(c_inbox.id, "-anyone", "s")
    await store.set_acl(b_own.id, "anyone", "l")  # bob's own: not listed
    await store.set_acl(team.id, "bob", "lrsa")
    await store.set_acl(lobby.id, "anyone", "l")

    visible = await store.visible_mailboxes(bob.id, bob.name)
    assert [(m.name, rights, owner) for m, rights, owner in visible] == [
        ("INBOX", "lr", "alice"),
        ("Projects/x", "lrs", "alice"),
        ("INBOX", "lrwi", "carol"),
        ("Lobby", "l", None),
        ("Team/Sales", "lrsa", None),
    ]
    assert visible[0][0] == await store.get_mailbox_by_id(a_inbox.id)
    assert visible[3][0].owner_id is None

    carol_sees = await store.visible_mailboxes(carol.id, carol.name)
    assert [(m.name, r, o) for m, r, o in carol_sees] == [
        ("Projects/x", "lrs", "alice"),
        ("Secret", "lr", "alice"),
        ("Mine", "l", "bob"),
        ("Lobby", "l", None),
    ]
    # The owner sees none of their own mailboxes here.
    alice_sees = await store.visible_mailboxes(user.id, user.name)
    assert [(m.name, o) for m, _, o in alice_sees] == [("Mine", "bob"), ("Lobby", None)]


async def test_mailboxes_as_seen(store: Store, user: User, bob: User) -> None:
    """A few mailboxes by id, as ``visible_mailboxes`` and the owner's list see them: the
    user's rights (all for the owner, "" without an entry), the owner's name (None for a
    shared one); ids that no longer exist are left out."""
    mine = await box(store, bob, "Mine")
    theirs = await box(store, user, "Theirs")
    hidden = await box(store, user, "Hidden")
    team = await store.create_shared_mailbox("Team")
    await store.set_acl(theirs.id, "bob", "lr")
    await store.set_acl(team.id, "anyone", "l")
    seen = await store.mailboxes_as_seen([mine.id, theirs.id, hidden.id, team.id, 999999],
                                         bob.id, bob.name)
    assert [(m.id, m.name, rights, owner) for m, rights, owner in seen] == [
        (mine.id, "Mine", ALL_RIGHTS, "bob"),
        (theirs.id, "Theirs", "lr", "alice"),
        (hidden.id, "Hidden", "", "alice"),
        (team.id, "Team", "l", None),
    ]


async def test_visible_mailboxes_for_name_without_account(store: Store, user: User) -> None:
    inbox = await box(store, user, "INBOX")
    await store.set_acl(inbox.id, "anyone", "l")
    visible = await store.visible_mailboxes(424242, "ghost")
    assert [(m.id, r, o) for m, r, o in visible] == [(inbox.id, "l", "alice")]


# -- shared mailboxes --------------------------------------------------------------------


async def shared_names(store: Store) -> list[str]:
    return [m.name for m in await store.list_shared_mailboxes()]


async def test_create_shared_with_intermediates(store: Store, user: User) -> None:
    created = await store.create_shared_mailbox("Team/Sales/Q1", special_use="\\Archive")
    assert created.owner_id is None and created.special_use == "\\Archive"
    assert await shared_names(store) == ["Team", "Team/Sales", "Team/Sales/Q1"]
    assert all(m.owner_id is None and not m.noselect for m in await store.list_shared_mailboxes())
    assert await store.get_shared_mailbox("Team/Sales/Q1") == created
    assert await store.get_mailbox_in(None, "Team/Sales/Q1") == created
    assert await store.get_shared_mailbox("Nope") is None
    # Separate from every user's hierarchy, both ways.
    assert await store.get_mailbox(user.id, "Team") is None
    mine = await store.create_mailbox(user.id, "Team")
    assert mine.owner_id == user.id
    assert (await store.get_shared_mailbox("Team")) != mine
    assert [m.name for m in await store.list_mailboxes(user.id)] == ["INBOX", "Team"]
    assert await store.get_mailbox_in(None, "INBOX") is None


async def test_create_shared_existing_and_invalid(store: Store) -> None:
    await store.create_shared_mailbox("Team/Sales")
    for name in ["Team", "Team/Sales"]:
        with pytest.raises(AlreadyExists):
            await store.create_shared_mailbox(name)
    for bad in ["", "/a", "a/", "a//b"]:
        with pytest.raises(InvalidName):
            await store.create_shared_mailbox(bad)


async def test_delete_shared_rules(store: Store) -> None:
    await store.create_shared_mailbox("Team/Sales/Q1")
    await store.create_shared_mailbox("Other")
    with pytest.raises(NotFound):
        await store.delete_shared_mailbox("Nope")
    # With inferiors: becomes a \Noselect placeholder (RFC 3501 §6.3.4).
    await store.delete_shared_mailbox("Team")
    team = await store.get_shared_mailbox("Team")
    assert team is not None and team.noselect
    with pytest.raises(HasChildren):
        await store.delete_shared_mailbox("Team")
    # Deleting the last leaf prunes placeholders left without inferiors.
    await store.delete_shared_mailbox("Team/Sales")  # has Q1: placeholder too
    await store.delete_shared_mailbox("Team/Sales/Q1")
    assert await shared_names(store) == ["Other"]
    await store.delete_shared_mailbox("Other")
    assert await shared_names(store) == []


async def test_rename_shared(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "Team/Sales")  # a user's namesake stays put
    sales = await store.create_shared_mailbox("Team/Sales")
    await store.create_shared_mailbox("Team/Sales/Q1")
    await store.rename_mailbox_in(None, "Team/Sales", "Group/Deals")
    assert await shared_names(store) == ["Group", "Group/Deals", "Group/Deals/Q1", "Team"]
    moved = await store.get_shared_mailbox("Group/Deals")
    assert moved is not None and moved.id == sales.id and moved.uidvalidity == sales.uidvalidity
    assert [m.name for m in await store.list_mailboxes(user.id)] == [
        "INBOX",
        "Team",
        "Team/Sales",
    ]
    await store.rename_shared_mailbox("Group", "G")
    assert await shared_names(store) == ["G", "G/Deals", "G/Deals/Q1", "Team"]
    with pytest.raises(AlreadyExists):
        await store.rename_shared_mailbox("G", "Team")
    with pytest.raises(NotFound):
        await store.rename_shared_mailbox("Nope", "X")
    with pytest.raises(InvalidName):
        await store.rename_shared_mailbox("G", "G/Deals/Sub")


async def test_shared_inbox_is_an_ordinary_name(store: Store) -> None:
    inbox = await store.create_shared_mailbox("INBOX")
    await store.rename_shared_mailbox("INBOX", "Box")
    moved = await store.get_shared_mailbox("Box")
    assert moved is not None and moved.id == inbox.id  # moved, not emptied into a new one
    assert await store.get_shared_mailbox("INBOX") is None
    await store.create_shared_mailbox("INBOX")
    await store.delete_shared_mailbox("INBOX")
    assert await shared_names(store) == ["Box"]


async def test_in_functions_with_user_ids(store: Store, user: User) -> None:
    made = await store.create_mailbox_in(user.id, "a/b", "\\Sent")
    assert made == await store.get_mailbox(user.id, "a/b")
    assert await store.get_mailbox_in(user.id, "a/b") == made
    assert await store.list_mailboxes_in(user.id) == await store.list_mailboxes(user.id)
    await store.rename_mailbox_in(user.id, "a", "c")
    assert [m.name for m in await store.list_mailboxes(user.id)] == ["INBOX", "c", "c/b"]
    await store.delete_mailbox_in(user.id, "c/b")
    with pytest.raises(InvalidName):
        await store.delete_mailbox_in(user.id, "INBOX")
    with pytest.raises(NotFound):
        await store.create_mailbox_in(424242, "x")
    assert await store.list_mailboxes_in(None) == []


async def test_get_user_by_id(store: Store, user: User) -> None:
    assert await store.get_user_by_id(user.id) == user
    assert await store.get_user_by_id(424242) is None
