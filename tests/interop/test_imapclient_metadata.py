"""imapclient (a client nobody here wrote) against METADATA (RFC 5464): it has no metadata
helper, so its own low-level command path sends GETMETADATA/SETMETADATA and its own
response parser reads the METADATA responses and the response codes."""

from __future__ import annotations

from pathlib import Path

import imapclient
import pytest
from imapclient.response_parser import parse_response

from tests.server.harness import PASSWORD, ServerThread


@pytest.fixture
def server(tmp_path: Path) -> ServerThread:
    srv = ServerThread(tmp_path / "data", metadata={"max_size": 1024})
    srv.add_account("alice")
    yield srv
    srv.stop()


def test_metadata_through_imapclient(server: ServerThread) -> None:
    client = imapclient.IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=10)
    client.login("alice", PASSWORD)
    assert {b"METADATA", b"METADATA-SERVER"} <= set(client.capabilities())
    client._raw_command_untagged(
        b"SETMETADATA",
        [b"INBOX", b'(/private/comment "My own comment" /shared/comment "Shared comment")'],
        uid=False)
    data = client._raw_command_untagged(
        b"GETMETADATA", [b"INBOX", b"(/shared/comment /private/comment)"],
        response_name=b"METADATA", uid=False)
    assert parse_response(data) == (
        b"INBOX", (b"/shared/comment", b"Shared comment", b"/private/comment",
                   b"My own comment"))
    # MAXSIZE leaves the value out and says how long it is (RFC 5464 §4.2.1).
    data = client._raw_command_untagged(
        b"GETMETADATA", [b"INBOX", b"(MAXSIZE 5)", b"/shared/comment"],
        response_name=b"METADATA", uid=False)
    # No METADATA response: imaplib files the tagged OK's [METADATA LONGENTRIES n] code
    # under the code's name, so that is all there is.
    assert data == [b"LONGENTRIES 14"]
    # NIL removes the entry.
    client._raw_command_untagged(b"SETMETADATA", [b"INBOX", b"(/shared/comment NIL)"],
                                 uid=False)
    data = client._raw_command_untagged(b"GETMETADATA", [b"INBOX", b"/shared/comment"],
                                        response_name=b"METADATA", uid=False)
    assert parse_response(data) == (b"INBOX", (b"/shared/comment", None))
    # A value over the limit: imapclient raises with the server's NO text and code.
    with pytest.raises(imapclient.exceptions.IMAPClientError, match="METADATA MAXSIZE 1024"):
        client._raw_command_untagged(
            b"SETMETADATA", [b"INBOX", b'(/private/comment "%s")' % (b"x" * 1025)], uid=False)
    client.logout()
