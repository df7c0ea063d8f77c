"""Every example of README's "Testing your mail code with Crispin" runs: the plugin example in
a user's project (pytester), the curl calls against a real server."""

from __future__ import annotations

import re
import smtplib
import subprocess
from pathlib import Path

import pytest

from tests.server.http.conftest import Api, http_server_thread

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parents[2] / "README.md"


def section() -> str:
    text = README.read_text()
    start = text.index("## Testing your mail code with Crispin")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), re.S)


def test_plugin_example(pytester: pytest.Pytester) -> None:
    [example] = blocks("python")
    pytester.makepyfile(test_example=example)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=600)
    result.assert_outcomes(passed=1)


def test_curl_examples(tmp_path: Path) -> None:
    srv = http_server_thread(tmp_path / "data")
    try:
        api = Api(srv)
        (tmp_path / "message.eml").write_bytes(
            b"From: shop@example.com\r\nTo: alice@example.com\r\nSubject: Welcome\r\n\r\nHi\r\n")
        outputs = []
        for block in blocks("sh"):
            script = block.replace("localhost:8025", f"127.0.0.1:{api.port}")
            # -f: an HTTP error fails the example.
            script = script.replace("curl -s ", "curl -sSf ")
            done = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, (block, done.stderr)
            outputs.append(done.stdout)
        calls, fault = outputs
        assert '"name": "alice"' in calls and '"uid": 1' in calls
        assert '"subject": "Welcome"' in calls and '"text": "Hi' in calls
        assert '"action": "no"' in fault and '"action": "tempfail"' in fault
        client = srv.imap()
        client.login("alice", "secret")
        assert client.select("INBOX") == ("NO", [b"[UNAVAILABLE] Fault injected by the test"])
        client.logout()
        with smtplib.SMTP("127.0.0.1", srv.running.mail_port("smtp"), timeout=30) as smtp:
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                smtp.sendmail("shop@example.com", ["alice@example.com"],
                              (tmp_path / "message.eml").read_bytes())
            assert refused.value.smtp_code == 451
    finally:
        srv.stop()
