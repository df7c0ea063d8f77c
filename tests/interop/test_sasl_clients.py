"""SCRAM-SHA-256(-PLUS) and OAUTHBEARER with clients nobody here wrote: GNU SASL's ``gsasl``
command (the library mutt links; RFC 5802, RFC 7677, channel binding ``tls-unique`` on TLS
1.2) and curl's ``--oauth2-bearer`` (RFC 7628). The accounts are made the ways a person makes
them: ``crispin user add`` and ``CRISPIN_USERS``, so the SCRAM keys come from those paths."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.interop.conftest import PASSWORD, USER, InteropServer, describe, require, run_client
from tests.programs import programs

pytestmark = programs("gsasl", "curl", install="apt-get install gsasl curl")


def gsasl(server: InteropServer, home: Path, *args: str, user: str = USER,
          password: str = PASSWORD) -> tuple[int, str]:
    result = run_client([require("gsasl"), "--client", "--imap", "--connect",
                         f"127.0.0.1:{server.port}", "--authentication-id", user,
                         "--password", password, "--x509-ca-file", str(server.cert), "--verbose",
                         *args],
                        timeout=60, home=home, stdin="")
    return result.returncode, describe(result)


@pytest.fixture
def crispin(make_crispin: Callable[..., InteropServer]) -> InteropServer:
    return make_crispin(env={"CRISPIN_USERS": "bob:bob-Pass-2",
                             "CRISPIN_AUTH_OAUTH_TOKENS": json.dumps({"tok-alice-1": USER})})


def test_gsasl_scram_sha_256_in_clear(crispin: InteropServer, client_home: Path) -> None:
    rc, out = gsasl(crispin, client_home, "--no-starttls", "--mechanism", "SCRAM-SHA-256")
    assert rc == 0, out
    assert "AUTHENTICATE SCRAM-SHA-256" in out and "Logged in" in out
    # The account of CRISPIN_USERS has its keys too.
    rc, out = gsasl(crispin, client_home, "--no-starttls", "--mechanism", "SCRAM-SHA-256",
                    user="bob", password="bob-Pass-2")
    assert rc == 0, out
    crispin.assert_no_protocol_errors()


def test_gsasl_wrong_password(crispin: InteropServer, client_home: Path) -> None:
    rc, out = gsasl(crispin, client_home, "--no-starttls", "--mechanism", "SCRAM-SHA-256",
                    password="not it")
    assert rc != 0 and "NO [AUTHENTICATIONFAILED]" in out, out


def test_gsasl_picks_scram_plus_on_tls_1_2(crispin: InteropServer, client_home: Path) -> None:
    """STARTTLS on TLS 1.2: -PLUS is offered, gsasl picks it by itself, binds with
    tls-unique (RFC 5929 §3), and checks the server's signature."""
    rc, out = gsasl(crispin, client_home, "--priority", "NORMAL:-VERS-TLS1.3")
    assert rc == 0, out
    assert "AUTH=SCRAM-SHA-256-PLUS" in out and "AUTHENTICATE SCRAM-SHA-256-PLUS" in out
    assert "Logged in" in out


def test_gsasl_scram_over_tls_1_3(crispin: InteropServer, client_home: Path) -> None:
    """TLS 1.3: -PLUS is not offered (its default binding, RFC 9266's tls-exporter, is not
    available from Python's ssl), so gsasl is not led into a -PLUS it cannot finish."""
    rc, out = gsasl(crispin, client_home, "--no-cb")
    assert rc == 0, out
    assert "(TLS1.3)" in out and "AUTH=SCRAM-SHA-256-PLUS" not in out
    assert "AUTHENTICATE SCRAM-SHA-256" in out and "Logged in" in out


def curl(server: InteropServer, home: Path, token: str) -> tuple[int, str]:
    result = run_client([require("curl"), "-sS", "-v", "--max-time", "30",
                         "--oauth2-bearer", token, "-u", f"{USER}:",
                         f"imap://127.0.0.1:{server.port}/"], timeout=60, home=home)
    return result.returncode, describe(result)


def test_curl_oauthbearer(crispin: InteropServer, client_home: Path) -> None:
    rc, out = curl(crispin, client_home, "tok-alice-1")
    assert rc == 0, out
    assert "AUTHENTICATE OAUTHBEARER" in out and '"INBOX"' in out
    # A refused token: the RFC 7628 §3.2.2 JSON, curl's dummy response, then NO.
    rc, out = curl(crispin, client_home, "not-a-token")
    assert rc != 0, out
    assert "+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=" in out and "> AQ==" in out
    assert "NO [AUTHENTICATIONFAILED]" in out
    crispin.assert_no_protocol_errors()


@programs("mutt", "tmux")
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "OAUTHBEARER"])
def test_mutt_logs_in(crispin: InteropServer, client_home: Path, mechanism: str) -> None:
    """Mutt over STARTTLS told to use one mechanism (``imap_authenticators``): SCRAM through
    GNU SASL with the password, OAUTHBEARER with the token its refresh command prints. It
    shows the INBOX, and the server's trace shows the mechanism and the login."""
    secret = ('set imap_oauth_refresh_command="echo tok-alice-1"' if mechanism == "OAUTHBEARER"
              else f'set imap_pass="{PASSWORD}"')
    muttrc = client_home / "muttrc"
    muttrc.write_text("\n".join([
        f"set folder=imap://{USER}@localhost:{crispin.port}/", "set spoolfile=+INBOX",
        "set ssl_starttls=yes", "set ssl_force_tls=yes", f"set certificate_file={crispin.cert}",
        "set header_cache=", "set message_cachedir=", "set wait_key=no", "set timeout=1",
        f'set imap_authenticators="{mechanism.lower()}"', secret, ""]))
    sock = str(client_home / "tmux.sock")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(client_home),
           "LANG": "C.UTF-8", "TERM": "xterm"}

    def tmux(*args: str) -> str:
        r = subprocess.run(["tmux", "-S", sock, "-f", "/dev/null", *args], capture_output=True,
                           text=True, env=env, timeout=10)
        assert r.returncode == 0, r.stderr
        return r.stdout

    tmux("new-session", "-d", "-x", "150", "-y", "30", "-s", "m",
         f"mutt -n -F {muttrc}; echo MUTT-EXITED; sleep 60")
    try:
        deadline = time.monotonic() + 30
        screen = ""
        while time.monotonic() < deadline and "Mutt: =INBOX" not in screen \
                and "MUTT-EXITED" not in screen:
            time.sleep(0.2)
            screen = tmux("capture-pane", "-p", "-t", "m")
        assert "Mutt: =INBOX" in screen, screen
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True, env=env,
                       timeout=10)
    log = crispin.log_text()
    assert f"{USER} logged in with {mechanism}" in log
    assert "LOGIN <masked>" not in log  # no fallback to a password login
    crispin.assert_no_protocol_errors()
