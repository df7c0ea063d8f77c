"""Granting "l" subscribes the grantee (issue 9 point 15): Thunderbird shows only subscribed
folders, so a share nobody subscribed to looked broken. SETACL over a real connection and
``crispin acl set`` on the same data folder."""

from __future__ import annotations

import pytest

from crispin.server.cli import main
from tests.server.harness import RawClient, ServerThread, raw_login


def subscribed(client: RawClient) -> list[bytes]:
    """What Thunderbird asks for: LIST (SUBSCRIBED)."""
    lines = client.command(b"ls", b'LIST (SUBSCRIBED) "" "*"')
    assert lines[-1].startswith(b"ls OK"), lines
    return [line.split(b' "/" ', 1)[1] for line in lines[:-1]]


@pytest.fixture
def users(server: ServerThread) -> ServerThread:
    server.add_user("carol")
    alice = server.login("alice")
    alice.create("Projects")
    alice.logout()
    return server


def test_setacl_first_l_grant_subscribes_the_grantee(users: ServerThread) -> None:
    alice, bob, carol = (raw_login(users, u) for u in ("alice", "bob", "carol"))
    assert subscribed(bob) == []
    assert alice.command(b"a", b"SETACL Projects bob lr")[-1].startswith(b"a OK")
    assert subscribed(bob) == [b'"Other Users/alice/Projects"']
    assert subscribed(alice) == []  # the owner's own subscriptions are untouched
    # a user who unsubscribes stays so when the rights change again
    assert bob.command(b"u", b'UNSUBSCRIBE "Other Users/alice/Projects"')[-1].startswith(
        b"u OK")
    assert alice.command(b"b", b"SETACL Projects bob +w")[-1].startswith(b"b OK")
    assert subscribed(bob) == []
    # "l" taken away and given back is a new first grant
    assert alice.command(b"c", b"SETACL Projects bob -l")[-1].startswith(b"c OK")
    assert alice.command(b"d", b"SETACL Projects bob +l")[-1].startswith(b"d OK")
    assert subscribed(bob) == [b'"Other Users/alice/Projects"']
    # "anyone" would mean every account: nobody is subscribed
    assert alice.command(b"e", b"SETACL Projects anyone lr")[-1].startswith(b"e OK")
    assert subscribed(carol) == []
    lines = carol.command(b"f", b'LIST "" "Other Users/*"')
    assert b'"Other Users/alice/Projects"' in lines[-2]  # visible, just not subscribed


def test_cli_acl_set_subscribes_the_grantee(users: ServerThread,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    data = str(users.config.data_dir)
    assert main(["acl", "set", "--data-dir", data, "alice/Projects", "carol", "lrs"]) == 0
    assert "carol\tlrs" in capsys.readouterr().out
    assert subscribed(raw_login(users, "carol")) == [b'"Other Users/alice/Projects"']
    assert main(["shared", "create", "--data-dir", data, "support"]) == 0
    assert main(["acl", "set", "--data-dir", data, "Shared/support", "bob", "lrsi"]) == 0
    assert subscribed(raw_login(users, "bob")) == [b'"Shared/support"']


def test_subscribe_on_grant_can_be_turned_off(make_server) -> None:  # type: ignore[no-untyped-def]
    srv = make_server(acl={"subscribe_on_grant": False})
    srv.add_user("bob")
    alice = raw_login(srv, "alice")
    alice.command(b"c", b"CREATE Projects")
    assert alice.command(b"a", b"SETACL Projects bob lr")[-1].startswith(b"a OK")
    bob = raw_login(srv, "bob")
    assert subscribed(bob) == []
    assert bob.command(b"s", b'SELECT "Other Users/alice/Projects"')[-1].startswith(b"s OK")
