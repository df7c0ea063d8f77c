"""ACL (RFC 4314 §7) and QUOTA (RFC 9208 §8) commands."""

from __future__ import annotations

from collections.abc import Callable

from . import commands as c
from .reader import ParseError, Reader

# RFC 9208 §8: number64 for resource limits.
MAX_NUMBER64 = 2**63 - 1


def _text(r: Reader) -> str:
    """An identifier, rights or quota root: UTF-8 text (RFC 4314 §3 names users, RFC 9208
    §8 roots); other bytes can name nothing, so they are a syntax error, not a lookup."""
    raw = r.astring()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("Not UTF-8", "CLIENTBUG") from None


def _setacl(r: Reader) -> c.Command:
    mailbox = r.mailbox()
    r.sp()
    identifier = _text(r)
    r.sp()
    rights = _text(r)
    r.end()
    return c.SetAcl(mailbox, identifier, rights)


def _mailbox_identifier(
    kind: Callable[[str, str], c.Command],
) -> Callable[[Reader], c.Command]:
    def parse(r: Reader) -> c.Command:
        mailbox = r.mailbox()
        r.sp()
        identifier = _text(r)
        r.end()
        return kind(mailbox, identifier)

    return parse


def _mailbox_only(kind: Callable[[str], c.Command]) -> Callable[[Reader], c.Command]:
    def parse(r: Reader) -> c.Command:
        mailbox = r.mailbox()
        r.end()
        return kind(mailbox)

    return parse


def _getquota(r: Reader) -> c.Command:
    root = _text(r)
    r.end()
    return c.GetQuota(root)


def _setquota(r: Reader) -> c.Command:
    root = _text(r)
    r.sp()
    r.open_paren()
    resources: list[tuple[str, int]] = []
    while r.peek() != 0x29:
        if resources:
            r.sp()
        name = r.keyword("resource name")
        r.sp()
        resources.append((name, r.number(MAX_NUMBER64)))
    r.close_paren()
    r.end()
    if len({n for n, _ in resources}) != len(resources):
        raise ParseError("Resource named twice")
    return c.SetQuota(root, tuple(resources))


HANDLERS: dict[str, Callable[[Reader], c.Command]] = {
    "SETACL": _setacl,
    "DELETEACL": _mailbox_identifier(c.DeleteAcl),
    "GETACL": _mailbox_only(c.GetAcl),
    "LISTRIGHTS": _mailbox_identifier(c.ListRights),
    "MYRIGHTS": _mailbox_only(c.MyRights),
    "GETQUOTA": _getquota,
    "GETQUOTAROOT": _mailbox_only(c.GetQuotaRoot),
    "SETQUOTA": _setquota,
}
