"""The pytest plugin as a user's project meets it: test files run by pytester in a fresh
pytest process, alone and with two pytest-xdist workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = '''
import imaplib, json, os, smtplib, ssl, threading, urllib.request
from email.message import EmailMessage

import pytest


def record(crispin, name):
    out = os.environ["CRISPIN_RECORD"]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(os.path.join(out, f"{name}-{worker}.json"), "w") as fh:
        json.dump({"port": crispin.imap_port, "worker": os.environ.get("PYTEST_XDIST_WORKER"),
                   "pid": os.getpid()}, fh)


def test_signup_mail(crispin):
    crispin.add_user("alice", "secret")
    msg = EmailMessage()
    msg["From"] = "shop@example.com"
    msg["To"] = "alice@example.com"
    msg["Subject"] = "Welcome, Alice"
    msg.set_content("Click here")
    threading.Timer(0.05, crispin.deliver, ("alice", msg)).start()
    [found] = crispin.wait_for(to="alice@example.com", subject="welcome", timeout=30)
    assert found["uid"] == 1 and found["from"][0]["address"] == "shop@example.com"
    imap = imaplib.IMAP4("127.0.0.1", crispin.imap_port)
    imap.login("alice", "secret")
    assert imap.select("INBOX") == ("OK", [b"1"])
    crispin.fault("no", ["SELECT"], code="UNAVAILABLE", text="Not now")
    assert imap.select("INBOX") == ("NO", [b"[UNAVAILABLE] Not now"])
    imap.logout()
    crispin.smtp_fault("reject", ["RCPT"], code=550, text="Not here")
    with smtplib.SMTP("127.0.0.1", crispin.smtp_port) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.sendmail("shop@example.com", ["alice@example.com"], msg.as_bytes())
        assert refused.value.recipients == {"alice@example.com": (550, b"5.3.0 Not here")}
    assert [m["subject"] for m in crispin.messages("alice")] == ["Welcome, Alice"]
    record(crispin, "signup")


def test_state_is_clean_and_tls_is_trusted(crispin):
    with urllib.request.urlopen(crispin.http_url + "/api/users") as resp:
        assert json.load(resp) == {"users": []}  # alice of the other test is gone
    crispin.add_user("bob")
    context = ssl.create_default_context(cafile=str(crispin.cert_path))
    imap = imaplib.IMAP4_SSL("127.0.0.1", crispin.imaps_port, ssl_context=context)
    imap.login("bob", "password")
    imap.logout()
    assert crispin.imap_url == f"imap://127.0.0.1:{crispin.imap_port}"
    record(crispin, "clean")


@pytest.mark.crispin
def test_marker(crispin_server):
    assert crispin_server.messages is not None
    with pytest.raises(TimeoutError):
        crispin_server.wait_for(subject="never", timeout=0.1)
    record(crispin_server, "marker")

'''

# Collected first (file name order): a test that does not ask for the server gets none.
NOT_ASKING = '''
import threading


def test_not_asking_starts_nothing():
    assert not any(t.name == "crispin" for t in threading.enumerate())
'''


def run(pytester: pytest.Pytester, tmp_path: Path, *args: str) -> tuple[pytest.RunResult,
                                                                          list[dict[str, object]]]:
    records = tmp_path / "records"
    records.mkdir()
    pytester.makepyfile(test_user=USER_TESTS)
    pytester.makepyfile(test_nothing=NOT_ASKING)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRISPIN_RECORD", str(records))
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "crispin",
                                               *args, timeout=600)
    found = [json.loads(p.read_text()) for p in sorted(records.glob("*.json"))]
    return result, found


def test_plugin_in_a_users_project(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result, found = run(pytester, tmp_path)
    result.assert_outcomes(passed=4)
    assert len({r["port"] for r in found}) == 1  # one server for the session


def test_plugin_with_two_xdist_workers(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """Every test on both workers at once (``--dist each``): two servers side by side."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result, found = run(pytester, tmp_path, "-n", "2", "--dist", "each")
    result.assert_outcomes(passed=8)
    assert len(found) == 6
    ports = {r["worker"]: r["port"] for r in found}
    assert set(ports) == {"gw0", "gw1"} and ports["gw0"] != ports["gw1"]
    for worker in ("gw0", "gw1"):  # one server per worker session
        assert len({r["port"] for r in found if r["worker"] == worker}) == 1
