"""Authentication: SASL PLAIN and LOGIN, password checks with a cache, the failure delay.

scrypt makes a wrong guess expensive, and also every right one: a client like Thunderbird opens
several connections with the same password, so a verified (user, password) pair is remembered
for ``auth.cache_ttl`` seconds as an HMAC under a per-process random key (never the password
itself), the way Dovecot's auth cache works. Failures are never cached. An entry holds the
stored hash it was verified against and is used only while that hash is still the stored one,
so a password changed or a user deleted by any process is never accepted from the cache.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from crispin.storage import (
    SCRAM_ITERATIONS,
    AlreadyExists,
    InvalidName,
    SASLprepError,
    ScramKeys,
    Store,
    User,
    saslprep,
)


class SaslError(Exception):
    """The client's SASL exchange was malformed (answered BAD, RFC 3501 §6.2.2)."""


@dataclass(frozen=True)
class Credentials:
    authcid: str
    password: str
    authzid: str = ""


def decode_base64(text: str | bytes) -> bytes:
    """RFC 4959 §3: "=" stands for an empty initial response."""
    data = text.encode("ascii", "replace") if isinstance(text, str) else text
    if data.strip() == b"=":
        return b""
    try:
        return base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SaslError("Invalid base64 in SASL response") from None


def parse_plain(message: bytes) -> Credentials:
    """RFC 4616 §2: ``[authzid] NUL authcid NUL passwd``, UTF-8."""
    parts = message.split(b"\0")
    if len(parts) != 3:
        raise SaslError("Malformed PLAIN response")
    # Invalid UTF-8 is kept (surrogateescape) and fails as a wrong password would, after
    # the same delay: answering BAD at once would tell a guesser something for free.
    authzid, authcid, password = (p.decode("utf-8", "surrogateescape") for p in parts)
    if not authcid:
        raise SaslError("Empty authentication identity")
    return Credentials(authcid, password, authzid)


def plaintext_allowed(policy: str, tls_active: bool, peer_is_loopback: bool) -> bool:
    """Dovecot's ``disable_plaintext_auth``: a password may cross an unencrypted connection
    only from loopback, unless configured otherwise (``auth.plaintext``; RFC 3501 §11.1,
    RFC 4954 §4, RFC 8314 §5). Shared by IMAP and SMTP AUTH."""
    if tls_active or policy == "always":
        return True
    return policy == "loopback" and peer_is_loopback


def is_utf8(text: str) -> bool:
    """False when ``text`` carries bytes that were not UTF-8 (decoded with surrogateescape)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class _Cached:
    digest: bytes  # HMAC of (name, password) under the per-process key
    user: User
    stored: str  # the password hash that was verified
    expires: float


# Test mode (``[test] auth = "any"``): creates the account a login names.
AccountMaker = Callable[[str, str], Awaitable[User]]


class Authenticator:
    def __init__(self, store: Store, cache_ttl: float,
                 any_password: AccountMaker | None = None) -> None:
        self._store = store
        self._ttl = cache_ttl
        # Test mode, GreenMail's ``auth.disabled``: any non-empty password logs in, and an
        # unknown name becomes an account on first use.
        self._any_password = any_password
        self._key = os.urandom(32)
        self._cache: dict[str, _Cached] = {}

    def _digest(self, name: str, password: str) -> bytes:
        msg = name.encode("utf-8", "surrogateescape") + b"\0" + password.encode(
            "utf-8", "surrogateescape")
        return hmac.new(self._key, msg, hashlib.sha256).digest()

    async def verify(self, creds: Credentials) -> User | None:
        """The user, or None. An authzid other than the authcid is refused: Crispin has no
        proxy-authorisation (RFC 4616 §2 lets the server refuse it)."""
        if creds.authzid and creds.authzid != creds.authcid:
            return None
        if not (is_utf8(creds.authcid) and is_utf8(creds.password)):
            # RFC 3501 §6.2.3 / RFC 4616 §2: names and passwords are UTF-8; no stored user
            # has a name like this one, so it is a plain failure.
            return None
        name = creds.authcid
        if self._any_password is not None:
            return await self._test_mode(name, creds.password)
        now = time.monotonic()
        hit = self._cache.get(name)
        stored: str | None = None
        if hit is not None and hit.expires > now:
            # One cheap read instead of scrypt, and the reason the cache is safe: an entry
            # counts only while the stored hash is still the one that was verified, so
            # `crispin user passwd` or `user delete` (any process) ends it at once.
            found = await self._store.password_hash(name)
            stored = None if found is None else found[1]
            if found is not None and found[0] == hit.user and stored == hit.stored and \
                    hmac.compare_digest(hit.digest, self._digest(name, creds.password)):
                return hit.user
        user = await self._store.verify_password(name, creds.password)
        if user is not None and self._ttl > 0:
            if stored is None:
                found = await self._store.password_hash(name)
                stored = None if found is None or found[0] != user else found[1]
            if stored is not None:
                # Had the password changed between the two reads, the entry holds a hash
                # that is no longer stored and simply never matches.
                if len(self._cache) > 10000:
                    self._cache = {k: v for k, v in self._cache.items() if v.expires > now}
                self._cache[name] = _Cached(self._digest(name, creds.password), user,
                                            stored, now + self._ttl)
        elif user is None:
            self._cache.pop(name, None)
        return user

    async def _test_mode(self, name: str, password: str) -> User | None:
        if not password:
            return None
        user = await self._store.get_user(name)
        if user is not None:
            return user
        assert self._any_password is not None
        try:
            return await self._any_password(name, password)
        except AlreadyExists:  # two first logins at once
            return await self._store.get_user(name)
        except (InvalidName, ValueError):
            return None

    async def scram_keys(self, name: str) -> tuple[User | None, ScramKeys, str]:
        """The user a SCRAM client names and their keys; for an unknown user, or one whose
        keys are not derived yet, None and made-up keys whose salt is stable per name, so
        the exchange looks the same and fails at the proof (RFC 5802 §9), and why.

        RFC 5802 §5.1: the name is looked up as sent, then SASLprep'ed (as a query)."""
        found = await self._store.scram_keys(name)
        if found is None:
            try:
                prepared = saslprep(name, stored=False)
            except SASLprepError:
                prepared = name
            if prepared != name:
                found = await self._store.scram_keys(prepared)
        if found is not None and found[1] is not None:
            return found[0], found[1], ""
        why = "unknown user" if found is None else "no SCRAM keys yet"
        salt = hmac.new(self._key, b"scram-salt\0" + name.encode("utf-8", "surrogateescape"),
                        hashlib.sha256).digest()[:16]
        return None, ScramKeys(salt, SCRAM_ITERATIONS, os.urandom(32), os.urandom(32)), why

    def forget(self, name: str) -> None:
        self._cache.pop(name, None)

    def forget_all(self) -> None:
        """Passwords may all have changed (a snapshot was restored)."""
        self._cache.clear()
