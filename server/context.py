"""What every session of one server shares: configuration, storage, TLS, capabilities."""

from __future__ import annotations

import dataclasses
import logging
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crispin.protocol import Atom, Limits, StatusResponse, oauthbearer, scram
from crispin.server import metadata_events
from crispin.server.auth import Authenticator
from crispin.server.command_spec import CommandTable
from crispin.server.config import Config
from crispin.server.faults import FaultBoard
from crispin.server.hub import Hub
from crispin.server.namespaces import Namespaces
from crispin.server.oauth import TokenChecker
from crispin.server.outcome import State

if TYPE_CHECKING:
    from crispin.server.session import Session
    from crispin.storage import Store, User

log = logging.getLogger("crispin.server")

# Extensions whose every part is implemented, advertised in every state (RFC 3501 §6.1.1:
# the list may differ before and after login).
BASE_CAPABILITIES = ("IMAP4rev1", "LITERAL+", "ID", "ENABLE")
# After login: the ones that only make sense for an authenticated user.
AUTH_CAPABILITIES = ("CHILDREN", "UNSELECT", "UIDPLUS", "MOVE", "IDLE", "NAMESPACE",
                     "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CREATE-SPECIAL-USE",
                     "COMPRESS=DEFLATE", "CONDSTORE", "QRESYNC", "ACL", "RIGHTS=texk",
                     "LIST-MYRIGHTS", "QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE",
                     "QUOTASET", "SORT", "SORT=DISPLAY", "THREAD=ORDEREDSUBJECT",
                     "THREAD=REFERENCES", "THREAD=REFS", "ESEARCH", "SEARCHRES", "WITHIN",
                     "ESORT", "CONTEXT=SEARCH", "CONTEXT=SORT",
                     "PARTIAL", "UNAUTHENTICATE", "STATUS=SIZE", "MULTIAPPEND", "BINARY",
                     "REPLACE", "OBJECTID", "METADATA", "METADATA-SERVER", "SAVEDATE",
                     "PREVIEW", "CATENATE", "URLAUTH", "NOTIFY")
# SASL mechanisms that send a password (or a bearer token) the network must not see: offered
# only where ``auth.plaintext`` allows (RFC 3501 §11.1, RFC 7628 §3).
PLAINTEXT_MECHANISMS = ("PLAIN", "LOGIN")


def scram_plus_offered(bindings: dict[str, bytes]) -> bool:
    """Whether CAPABILITY offers SCRAM-SHA-256-PLUS: only where the default channel binding
    type exists, which a client uses without asking (RFC 5802 §6.1: "tls-unique", on TLS
    1.2). On TLS 1.3 the default is RFC 9266's "tls-exporter", which Python's ssl does not
    expose: GNU SASL (mutt) would pick -PLUS there and fail, so it is not offered; a client
    that asks for -PLUS with "tls-server-end-point" (RFC 5929 §4) is still served."""
    return "tls-unique" in bindings


def prelogin_commands(commands: CommandTable) -> frozenset[str]:
    """The names of the commands the state table allows before login (CAPABILITY, NOOP,
    LOGOUT, STARTTLS, LOGIN, AUTHENTICATE, ID): each command class is named for its
    command."""
    return frozenset(cls.__name__.upper() for cls, spec in commands.specs.items()
                     if State.NOT_AUTHENTICATED in spec.states)


@dataclass
class ServerContext:
    config: Config
    store: Store
    ssl_context: ssl.SSLContext
    hub: Hub
    # The command table (``crispin.server.commands.COMMANDS``), handed in so that neither the
    # session nor this module imports the handlers, which import them.
    commands: CommandTable
    tls_server_end_point: bytes | None = None
    """The certificate's ``tls-server-end-point`` channel binding (RFC 5929 §4)."""
    authenticator: Authenticator = field(init=False)
    token_checker: TokenChecker = field(init=False)
    test_any_password: bool = field(init=False)
    limits: Limits = field(init=False)
    prelogin_limits: Limits = field(init=False)
    trace: bool = field(init=False)
    namespaces: Namespaces = field(init=False)
    admins: frozenset[str] = field(init=False)
    sessions: set[Session] = field(default_factory=set)
    faults: FaultBoard = field(default_factory=FaultBoard)
    """Faults asked for through the HTTP API (test-only; empty unless asked)."""

    def __post_init__(self) -> None:
        cfg = self.config
        maker = None
        self.test_any_password = cfg.get("test", "auth") == "any"
        self.token_checker = TokenChecker(cfg)
        if self.test_any_password:
            from crispin.server.accounts import create_account

            async def maker_fn(name: str, password: str) -> User:
                log.warning("TEST MODE: created account %r at its first login", name)
                return await create_account(self.store, cfg, name, password)

            maker = maker_fn
        self.authenticator = Authenticator(self.store, float(cfg.get("auth", "cache_ttl")),
                                           maker)
        self.limits = Limits(
            max_line_length=int(cfg.get("limits", "max_line_length")),
            max_literal_size=int(cfg.get("limits", "max_literal_size")),
            # The SEARCH budget's count, enforced while parsing (crispin.server.search_budget).
            max_search_criteria=int(cfg.get("limits", "search_max_criteria")),
        )
        # Issue 11 point 5: an unauthenticated client may make the server hold little;
        # issue 10 point 14: and do little (short lines, only its state's commands parsed;
        # the count of its commands is kept by crispin.server.connection).
        self.prelogin_limits = dataclasses.replace(
            self.limits,
            max_line_length=min(self.limits.max_line_length,
                                int(cfg.get("limits", "prelogin_line_length"))),
            max_command_literal_bytes=int(cfg.get("limits", "prelogin_command_literal_bytes")),
            max_connection_literal_bytes=int(cfg.get("limits", "prelogin_literal_bytes")),
            commands=prelogin_commands(self.commands),
        )
        self.trace = bool(cfg.get("log", "trace"))
        self.namespaces = Namespaces(cfg)
        self.admins = frozenset(n.strip() for n in str(cfg.get("auth", "admins")).split(",")
                                if n.strip())

    @property
    def utf8_accept(self) -> bool:
        """UTF8=ACCEPT (RFC 6855) offered: ``imap.utf8_accept``."""
        return bool(self.config.get("imap", "utf8_accept"))

    @property
    def imap4rev2(self) -> bool:
        """IMAP4rev2 (RFC 9051) offered beside IMAP4rev1 (Appendix A): ``imap.imap4rev2``."""
        return bool(self.config.get("imap", "imap4rev2"))

    def capabilities(self, session: Session) -> list[Atom]:
        caps = [Atom(c) for c in BASE_CAPABILITIES]
        if self.imap4rev2:
            caps.insert(1, Atom("IMAP4rev2"))
        if session.state is State.NOT_AUTHENTICATED:
            if not session.channel.tls_active:
                caps.append(Atom("STARTTLS"))
            mechanisms = self.sasl_mechanisms(session)
            caps += [Atom("AUTH=" + m) for m in mechanisms]
            if mechanisms:
                caps.append(Atom("SASL-IR"))
            if not session.plaintext_allowed():
                # RFC 3501 §6.2.3: LOGIN is refused until TLS is in place.
                caps.append(Atom("LOGINDISABLED"))
        else:
            caps += [Atom(c) for c in AUTH_CAPABILITIES]
            if self.utf8_accept:
                caps.append(Atom("UTF8=ACCEPT"))
            caps.append(Atom(f"APPENDLIMIT={self.append_limit()}"))
        return caps

    def sasl_mechanisms(self, session: Session, usable_only: bool = True) -> list[str]:
        """The AUTHENTICATE mechanisms for this connection (``usable_only``: those that may
        succeed now, for CAPABILITY; else every one the server implements here, so that
        PLAIN in clear is answered [PRIVACYREQUIRED], not [CANNOT])."""
        clear_ok = not usable_only or session.plaintext_allowed()
        found = list(PLAINTEXT_MECHANISMS) if clear_ok else []
        if not self.test_any_password:
            # SCRAM sends no password (RFC 5802 §9), so it is offered in clear too; test
            # mode accepts any password, which a SCRAM proof cannot express.
            found.append(scram.MECHANISM)
            bindings = session.channel.channel_bindings()
            if scram_plus_offered(bindings) or (bindings and not usable_only):
                found.append(scram.MECHANISM_PLUS)
        if self.token_checker.enabled and clear_ok:
            found.append(oauthbearer.MECHANISM)
        return found

    def append_limit(self) -> int:
        """The largest message APPEND accepts, the same for every mailbox: advertised as
        ``APPENDLIMIT=n`` (RFC 7889 §2 (a)), answered to STATUS APPENDLIMIT (§3.1); a
        larger one is refused with [TOOBIG] (§4). No ACL or quota enters it (§3.3)."""
        return int(self.config.get("limits", "max_append_size"))

    def greeting(self, session: Session) -> StatusResponse:
        return StatusResponse(None, "OK", "Crispin ready.", "CAPABILITY",
                              tuple(self.capabilities(session)))

    def session_opened(self, session: Session) -> None:
        self.sessions.add(session)

    async def session_closed(self, session: Session) -> None:
        self.sessions.discard(session)
        metadata_events.disable(session)
        if session.notify is not None:
            session.notify.stop()
