"""What commit reports say beyond the mailboxes (storage/commits.py), for NOTIFY (RFC 5465):
names before and after (MailboxName, §5.4), subscriptions (SubscriptionChange, §5.5), ACL
changes (a right granted or revoked, §5.4)."""

from __future__ import annotations

from crispin.storage import ChangeKind, CommitReport, NameChange, Store, SubscriptionChange, User


async def test_names_of_created_renamed_and_deleted_mailboxes(store: Store, user: User) -> None:
    reports: list[CommitReport] = []
    store.on_commit(reports.append)
    made = await store.create_mailbox(user.id, "a/b")
    [report] = reports
    parent = next(c.mailbox_id for c in report.changes if c.mailbox_id != made.id)
    assert report.names == (NameChange(parent, user.id, None, "a"),
                            NameChange(made.id, user.id, None, "a/b"))
    reports.clear()
    # A rename moves the inferiors too: each with its old and new name.
    await store.rename_mailbox(user.id, "a", "c")
    [report] = reports
    assert report.names == (NameChange(parent, user.id, "a", "c"),
                            NameChange(made.id, user.id, "a/b", "c/b"))
    assert {c.kinds for c in report.changes} == {frozenset({ChangeKind.RENAMED})}
    reports.clear()
    await store.delete_mailbox(user.id, "c/b")
    [report] = reports
    assert report.names == (NameChange(made.id, user.id, "c/b", None),)
    reports.clear()
    # Shared mailboxes have no owner.
    shared = await store.create_shared_mailbox("support")
    assert reports[0].names == (NameChange(shared.id, None, None, "support"),)


async def test_subscriptions_reported(store: Store, user: User) -> None:
    reports: list[CommitReport] = []
    store.on_commit(reports.append)
    await store.subscribe(user.id, "INBOX")
    await store.subscribe(user.id, "INBOX")  # already: nothing changed, nothing reported
    await store.unsubscribe(user.id, "INBOX")
    assert [r.subscriptions for r in reports] == [
        (SubscriptionChange(user.id, "INBOX", True),),
        (SubscriptionChange(user.id, "INBOX", False),),
    ]
    assert all(r.changes == () for r in reports)


async def test_acl_changes_reported(store: Store, user: User) -> None:
    box = (await store.create_mailbox(user.id, "Team")).id
    reports: list[CommitReport] = []
    store.on_commit(reports.append)
    await store.set_acl(box, "bob", "lr")
    await store.set_acl(box, "bob", "lrs")
    await store.delete_acl(box, "bob")
    assert [[(c.mailbox_id, c.kinds) for c in r.changes] for r in reports] == \
        [[(box, {ChangeKind.ACL})]] * 3
