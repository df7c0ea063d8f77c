"""Where a client-visible mailbox name lives (RFC 2342 namespaces).

``INBOX`` and every name outside the two prefixes are the user's own (personal namespace
""). ``Other Users/bob/Projects`` is bob's ``Projects``; ``Shared/support`` is the shared
mailbox ``support``, which belongs to no single user. ``Other Users``, ``Other Users/bob``
and ``Shared`` themselves are not mailboxes: LIST shows them \\Noselect so that clients can
walk the tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from crispin.server import names

if TYPE_CHECKING:
    from crispin.server.config import Config
    from crispin.server.session import Session
    from crispin.storage import Store, User

# "virtual": a \Noselect level of the namespace tree; "missing": under a user that does not
# exist (or oneself), where nothing can ever be found.
Kind = Literal["personal", "other", "shared", "virtual", "missing"]


@dataclass(frozen=True)
class Place:
    kind: Kind
    owner_id: int | None
    owner_name: str | None
    name: str  # the name in storage, under its owner ("" for a virtual level)
    client: str  # the name as this client sees it


class Namespaces:
    def __init__(self, config: Config) -> None:
        self.other = self._prefix(str(config.get("namespaces", "other_users")))
        self.shared = self._prefix(str(config.get("namespaces", "shared")))

    @staticmethod
    def _prefix(value: str) -> str:
        value = value.strip(names.DELIMITER)
        return value + names.DELIMITER

    def other_name(self, owner: str, name: str) -> str:
        return f"{self.other}{owner}{names.DELIMITER}{name}"

    def shared_name(self, name: str) -> str:
        return f"{self.shared}{name}"

    def roots(self) -> tuple[str, str]:
        """The \\Noselect top levels, without the delimiter."""
        return self.other[:-1], self.shared[:-1]

    async def resolve(self, session: Session, raw: str) -> Place:
        """Map a client name to its place; an unknown user under "Other Users" is a
        place with no owner id, which nothing can be found in."""
        assert session.user is not None
        return await self.resolve_as(session.server.store, session.user, raw)

    async def resolve_as(self, store: Store, user: User, raw: str) -> Place:
        """:meth:`resolve` for the names as ``user`` sees them (a URLAUTH-authorized URL
        names its mailbox as the URL's user does, RFC 4467 §7 URLFETCH)."""
        name = names.normalize(raw)
        other_root, shared_root = self.roots()
        if name in (other_root, shared_root):
            return Place("virtual", None, None, "", name)
        if name.startswith(self.other):
            owner, _, rest = name[len(self.other):].partition(names.DELIMITER)
            if not rest:
                return Place("virtual", None, owner, "", name)
            found = await store.get_user(owner)
            if found is None or found.id == user.id:
                return Place("missing", None, owner, rest, name)
            return Place("other", found.id, found.name, names.normalize(rest), name)
        if name.startswith(self.shared):
            return Place("shared", None, None, name[len(self.shared):], name)
        return Place("personal", user.id, user.name, name, name)
