"""Configuration: one place for every setting.

Precedence, lowest first: built-in defaults < config file (TOML, read with ``tomllib``) <
environment (``CRISPIN_<SECTION>_<KEY>``) < command-line flags. ``conf/crispin.toml`` documents
every key; :data:`DEFAULTS` below is the source of truth for names, types and defaults.
"""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """A configuration value is missing, unknown or of the wrong type."""


DEFAULTS: dict[str, dict[str, Any]] = {
    "server": {
        "host": "127.0.0.1",
        "port": 1143,
        "tls_port": 1993,
        "hostname": "localhost",
        "data_dir": "./crispin-data",
    },
    "tls": {
        "cert": "",
        "key": "",
    },
    "auth": {
        "plaintext": "loopback",
        "failure_delay": 2.0,
        "cache_ttl": 300.0,
        "create_starter_account": True,
        "admins": "",
        "submit_users": "",
        "oauth_tokens": "",
        "oauth_introspection_url": "",
        "oauth_client_id": "",
        "oauth_client_secret": "",
        "oauth_username_field": "username",
        "oauth_scope": "",
        "oauth_openid_configuration": "",
    },
    "database": {
        "readers": 4,
        "synchronous": "full",
        "inline_reads": True,
    },
    "namespaces": {
        "other_users": "Other Users/",
        "shared": "Shared/",
    },
    "acl": {
        "subscribe_on_grant": True,
    },
    "imap": {
        # UTF8=ACCEPT (RFC 6855) advertised and ENABLE-able; then, as §4 requires, 8-bit
        # header fields in APPEND from a session that did not enable it are refused (NO
        # [CANNOT]). docs/utf8-accept.md says what was decided and why (false: the server
        # takes such APPENDs, as before, and offers no UTF-8 mode).
        "utf8_accept": True,
        # IMAP4rev2 (RFC 9051) advertised beside IMAP4rev1 (Appendix A); a session speaks
        # rev2 only after ENABLE IMAP4rev2 (docs/imap4rev2.md maps Appendix E to its tests).
        "imap4rev2": True,
    },
    "limits": {
        "max_connections": 2000,
        "max_connections_per_ip": 100,
        "max_bad_commands": 20,
        "login_timeout": 60.0,
        "tls_handshake_timeout": 10.0,
        "idle_timeout": 1800.0,
        "max_line_length": 65536,
        "max_literal_size": 65536,
        "max_append_size": 52428800,
        "max_multiappend_size": 52428800,
        "max_multiappend_messages": 5000,
        "storage_busy_timeout": 10.0,
        "prelogin_command_literal_bytes": 16384,
        "search_max_criteria": 100,
        "search_time_limit": 10.0,
        "prelogin_literal_bytes": 65536,
        "prelogin_line_length": 8192,
        "prelogin_max_commands": 50,
        # RFC 5465 §5.8: NOTIFY events one session may have waiting (per mailbox, name,
        # subscription or annotation) before it is sent [NOTIFICATIONOVERFLOW].
        "notify_queue": 1000,
    },
    "metadata": {
        "max_size": 16384,
        "max_entries": 100,
        "max_user_entries": 1000,
        "private": True,
        "admin": "",
    },
    "mailboxes": {
        "drafts": "Drafts",
        "sent": "Sent",
        "trash": "Trash",
        "junk": "Junk",
        "archive": "Archive",
    },
    "http": {
        "enabled": False,
        "host": "127.0.0.1",
        "port": 8025,
        "token": "",
        "request_timeout": 30.0,
        "max_connections": 100,
        "max_wait": 300.0,
    },
    "smtp": {
        "port": 1025,
        "submission_port": 1587,
        "lmtp_port": -1,
        "lmtp_socket": "",
        "domains": "",
        "create_folders": True,
        "catch_all": "",
        "save_sent": True,
        "bare_lf": "accept",
        "max_recipients": 100,
    },
    "accounts": {
        "users": "",
        "users_file": "",
        "preload": "",
    },
    "test": {
        "auth": "normal",
    },
    "log": {
        "level": "info",
        "trace": False,
    },
}


@dataclass(frozen=True)
class Config:
    """Resolved settings; read values as ``config.get("limits", "idle_timeout")`` or the
    typed properties for the ones used on hot paths."""

    values: Mapping[str, Mapping[str, Any]]
    source: Path | None = None
    warnings: tuple[str, ...] = ()
    """What was ignored (unknown ``CRISPIN_*`` variables): the command logs each once
    logging is set up."""

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    @property
    def data_dir(self) -> Path:
        return Path(self.get("server", "data_dir")).expanduser()

    @property
    def host(self) -> str:
        return str(self.get("server", "host"))

    def on_loopback_only(self) -> bool:
        return is_loopback_host(self.host)


def is_loopback_host(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _coerce(section: str, key: str, value: Any) -> Any:
    """Convert ``value`` to the type of the default; strings come from the environment."""
    default = DEFAULTS[section][key]
    where = f"{section}.{key}"
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if isinstance(default, int):
        try:
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if isinstance(default, float):
        try:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


# Settings limited to a set of values.
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("auth", "plaintext"): ("loopback", "always", "never"),
    ("database", "synchronous"): ("full", "normal"),
    ("log", "level"): ("debug", "info", "warning", "error"),
    ("smtp", "bare_lf"): ("accept", "reject"),
    ("test", "auth"): ("normal", "any"),
}

# Settings with a lower bound (no reader connection at all would hang every read).
MINIMUMS: dict[tuple[str, str], int] = {
    ("database", "readers"): 1,
}


def _merge(target: dict[str, dict[str, Any]], layer: Mapping[str, Any], origin: str) -> None:
    for section, entries in layer.items():
        if section not in DEFAULTS:
            raise ConfigError(f"{origin}: unknown section [{section}]")
        if not isinstance(entries, Mapping):
            raise ConfigError(f"{origin}: [{section}] must be a table")
        for key, value in entries.items():
            if key not in DEFAULTS[section]:
                raise ConfigError(f"{origin}: unknown key {section}.{key}")
            value = _coerce(section, key, value)
            least = MINIMUMS.get((section, key))
            if least is not None and value < least:
                raise ConfigError(f"{origin}: {section}.{key} must be at least {least}, "
                                  f"got {value!r}")
            allowed = CHOICES.get((section, key))
            if allowed is not None and value not in allowed:
                raise ConfigError(f"{origin}: {section}.{key} must be one of "
                                  f"{', '.join(allowed)}, got {value!r}")
            target[section][key] = value


# Short names for what a container's environment sets most (README "Crispin as a test mail
# server"); the long forms (CRISPIN_ACCOUNTS_USERS...) work too.
ENV_ALIASES: dict[str, tuple[str, str]] = {
    "CRISPIN_USERS": ("accounts", "users"),
    "CRISPIN_USERS_FILE": ("accounts", "users_file"),
    "CRISPIN_PRELOAD": ("accounts", "preload"),
}


def env_layer(environ: Mapping[str, str],
              warnings: list[str] | None = None) -> dict[str, dict[str, str]]:
    """``CRISPIN_LIMITS_IDLE_TIMEOUT=600`` -> ``{"limits": {"idle_timeout": "600"}}``.

    Only names that map to a known key are read.  Other ``CRISPIN_*`` names are ignored
    with a warning naming the variable (and the closest known one, for a typo), added to
    ``warnings``: a typo must not pass unseen, but the prefix is shared with tools around
    Crispin (``CRISPIN_TEST_ARTIFACTS`` of the interop tests) that must not stop
    ``crispin user add`` or the server.  A wrong *value* for a known key stays an error.
    """
    layer: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith("CRISPIN_") or name == "CRISPIN_CONFIG":
            continue
        if name in ENV_ALIASES:
            section, key = ENV_ALIASES[name]
            layer.setdefault(section, {})[key] = value
            continue
        rest = name[len("CRISPIN_"):].lower()
        for section in DEFAULTS:
            if rest.startswith(section + "_") and rest[len(section) + 1:] in DEFAULTS[section]:
                layer.setdefault(section, {})[rest[len(section) + 1:]] = value
                break
        else:
            if warnings is not None:
                warnings.append(_unknown_variable(name))
    return layer


def env_names() -> list[str]:
    """Every environment variable that sets a key (``CRISPIN_<SECTION>_<KEY>``, aliases)."""
    return [f"CRISPIN_{section}_{key}".upper() for section, keys in DEFAULTS.items()
            for key in keys] + list(ENV_ALIASES)


def _unknown_variable(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, env_names(), n=1, cutoff=0.8)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"environment: {name} is no Crispin setting, ignored{hint}"


def load_config(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    """Build the configuration from every layer, in precedence order.

    ``path`` None means ``$CRISPIN_CONFIG`` if set, else no file (built-in defaults are the
    embedded configuration a person gets from ``crispin serve``).
    """
    environ = os.environ if environ is None else environ
    values = copy.deepcopy(DEFAULTS)
    if path is None and environ.get("CRISPIN_CONFIG"):
        path = Path(environ["CRISPIN_CONFIG"])
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        _merge(values, data, str(path))
    warnings: list[str] = []
    _merge(values, env_layer(environ, warnings), "environment")
    if overrides:
        _merge(values, {s: {k: v for k, v in e.items() if v is not None}
                        for s, e in overrides.items()}, "command line")
    return Config(values=values, source=path, warnings=tuple(warnings))
