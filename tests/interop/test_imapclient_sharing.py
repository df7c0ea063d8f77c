"""imapclient (a client nobody here wrote) against shared mailboxes: getacl, setacl,
getquotaroot, namespace and the other users' namespace."""

from __future__ import annotations

from pathlib import Path

import imapclient
import pytest

from tests.server.harness import PASSWORD, ServerThread


@pytest.fixture
def server(tmp_path: Path) -> ServerThread:
    srv = ServerThread(tmp_path / "data", auth={"admins": "alice"})
    srv.add_account("alice")
    srv.add_account("bob")
    yield srv
    srv.stop()


def client(server: ServerThread, user: str) -> imapclient.IMAPClient:
    c = imapclient.IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=10)
    c.login(user, PASSWORD)
    return c


def test_acl_quota_and_namespaces_through_imapclient(server: ServerThread) -> None:
    alice, bob = client(server, "alice"), client(server, "bob")
    assert {b"ACL", b"QUOTA", b"NAMESPACE"} <= set(alice.capabilities())
    alice.create_folder("Projects")
    alice.append("Projects", b"Subject: plan\r\n\r\nthe plan\r\n")
    alice.setacl("Projects", "bob", "lrswite")
    acl = dict(alice.getacl("Projects"))
    assert acl[b"bob"] == b"lrswitecd" or acl[b"bob"] == b"lrswited"
    assert acl[b"alice"].startswith(b"lrswipkxtea")
    ns = bob.namespace()
    assert ns.personal[0][0] == "" and ns.other[0][0] == "Other Users/"
    assert ns.shared[0][0] == "Shared/"
    folders = [name for _, _, name in bob.list_folders()]
    assert "Other Users/alice/Projects" in folders
    info = bob.select_folder("Other Users/alice/Projects")
    assert info[b"EXISTS"] == 1
    assert bob.fetch([1], ["BODY[]"])[1][b"BODY[]"] == b"Subject: plan\r\n\r\nthe plan\r\n"
    # bob's \Seen is his own: alice still sees the message unread
    alice.select_folder("Projects")
    assert alice.search(["UNSEEN"]) == [1]
    assert bob.search(["UNSEEN"]) == []
    # quota
    roots, quotas = bob.get_quota_root("INBOX")
    assert roots.mailbox == "INBOX" and roots.quota_roots == [] and quotas == []  # no limit
    alice._imap._simple_command("SETQUOTA", '"Other Users/bob"', "(STORAGE 100)")
    roots, quotas = bob.get_quota_root("INBOX")
    assert [(q.quota_root, q.resource, q.limit) for q in quotas] == [("", "STORAGE", 100)]
    # revoking
    alice._imap._simple_command("DELETEACL", "Projects", "bob")  # imapclient has no deleteacl
    with pytest.raises(imapclient.exceptions.IMAPClientError):
        bob.select_folder("Other Users/alice/Projects")
    alice.logout()
    bob.logout()
