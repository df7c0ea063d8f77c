"""Whose is this bearer token? The check behind OAUTHBEARER (RFC 7628), pluggable.

Two sources, asked in this order: static tokens from the configuration (``auth.oauth_tokens``,
for tests and small setups), and an authorization server's token introspection endpoint
(RFC 7662, ``auth.oauth_introspection_url``) for real deployments. The HTTP request runs in a
worker thread, so a slow authorization server holds up only the login that waits for it.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from crispin.server.config import Config, ConfigError

log = logging.getLogger("crispin.auth")

INTROSPECTION_TIMEOUT = 10.0
MAX_ANSWER = 1024 * 1024


def static_tokens(text: str) -> dict[str, str]:
    """``auth.oauth_tokens``: a JSON object of token -> user name (ConfigError if not)."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"auth.oauth_tokens: not JSON ({exc})") from None
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and k and isinstance(v, str) and v for k, v in value.items()):
        raise ConfigError('auth.oauth_tokens: expected a JSON object of "token": "user"')
    return value


class TokenChecker:
    """``await user_for(token)``: the user name the token stands for, or None."""

    def __init__(self, config: Config) -> None:
        self._tokens = static_tokens(str(config.get("auth", "oauth_tokens")))
        self._url = str(config.get("auth", "oauth_introspection_url"))
        if self._url and urllib.parse.urlsplit(self._url).scheme not in ("http", "https"):
            raise ConfigError("auth.oauth_introspection_url: expected an http(s) URL")
        self._client_id = str(config.get("auth", "oauth_client_id"))
        self._client_secret = str(config.get("auth", "oauth_client_secret"))
        self._field = str(config.get("auth", "oauth_username_field"))
        self.scope = str(config.get("auth", "oauth_scope"))
        self.openid_configuration = str(config.get("auth", "oauth_openid_configuration"))

    @property
    def enabled(self) -> bool:
        """OAUTHBEARER is advertised only when some token can succeed."""
        return bool(self._tokens or self._url)

    async def user_for(self, token: str) -> str | None:
        if not token:
            return None
        for known, user in self._tokens.items():
            # Compared in constant time, every entry: the time taken tells nothing.
            if hmac.compare_digest(known.encode(), token.encode()):
                return user
        if self._url:
            return await asyncio.to_thread(self._introspect, token)
        return None

    def _introspect(self, token: str) -> str | None:
        """RFC 7662 §2.1: POST ``token=...`` as a form; §2.2: the answer's ``active``."""
        request = urllib.request.Request(
            self._url, data=urllib.parse.urlencode(
                {"token": token, "token_type_hint": "access_token"}).encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "Accept": "application/json"}, method="POST")
        if self._client_id:
            # RFC 7662 §2.1: the protected resource authenticates itself; RFC 6749 §2.3.1
            # form-encodes the id and secret before HTTP Basic.
            pair = (urllib.parse.quote(self._client_id, safe="") + ":"
                    + urllib.parse.quote(self._client_secret, safe=""))
            request.add_header("Authorization",
                               "Basic " + base64.b64encode(pair.encode()).decode("ascii"))
        try:
            with urllib.request.urlopen(request, timeout=INTROSPECTION_TIMEOUT) as answer:
                body = answer.read(MAX_ANSWER + 1)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            log.warning("OAuth token introspection at %s failed: %s", self._url, exc)
            return None
        if len(body) > MAX_ANSWER:
            log.warning("OAuth token introspection at %s: answer too large", self._url)
            return None
        try:
            claims: Any = json.loads(body)
        except ValueError:
            log.warning("OAuth token introspection at %s: answer is not JSON", self._url)
            return None
        return self._user_of(claims)

    def _user_of(self, claims: Any) -> str | None:
        if not isinstance(claims, dict) or claims.get("active") is not True:
            return None
        exp = claims.get("exp")
        if isinstance(exp, int | float) and exp <= time.time():
            return None  # RFC 7662 §2.2 "exp": the server should have said inactive
        if self.scope and self.scope not in str(claims.get("scope", "")).split():
            return None
        user = claims.get(self._field)
        if not isinstance(user, str) or not user:
            log.warning("OAuth token introspection: active token without %r", self._field)
            return None
        return user
