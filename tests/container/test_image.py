"""The image, built and run for real with podman (issue 12 "The image, for real").

Built FROM a local Debian base made by ``.ci/container-base`` (debootstrap + Debian's python3;
no registry needed). Each test talks to the container only through ports published on
127.0.0.1. Without podman the module is skipped, except under CI (``CI=true``), where a missing
podman is a failure.
"""

from __future__ import annotations

import imaplib
import json
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.container, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "localhost/crispin-test:ci"

if shutil.which("podman") is None:
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but podman is not installed (.ci/run installs it)",
                    pytrace=False)
    pytest.skip("podman is not installed", allow_module_level=True)


def ulimits() -> list[str]:
    """Limits runc may set here: podman's build defaults exceed what this machine allows
    ("error setting rlimits"); open files up to this process's hard limit, 4096 processes
    (runc is refused even this process's own hard limit on some machines)."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = 65536 if hard == resource.RLIM_INFINITY else hard
    return ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", "nproc=4096:4096"]


def podman(*args: str, timeout: float = 120, check: bool = True
           ) -> subprocess.CompletedProcess[str]:
    if args and args[0] == "run":
        args = ("run", *ulimits(), *args[1:])
    result = subprocess.run(["podman", *args], capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def image() -> str:
    base = subprocess.run([str(ROOT / ".ci" / "container-base")], capture_output=True,
                          text=True, timeout=1800)
    assert base.returncode == 0, base.stderr[-3000:]
    podman("build", *ulimits(), "--format", "docker",
           "--build-arg", f"BASE_IMAGE={base.stdout.strip()}", "--build-arg", "VERSION=ci",
           "-t", IMAGE, str(ROOT), timeout=900)
    return IMAGE


class Container:
    def __init__(self, name: str) -> None:
        self.name = name

    def port(self, inside: int) -> int:
        out = podman("port", self.name, f"{inside}/tcp").stdout.strip()
        return int(out.rsplit(":", 1)[1])

    def logs(self) -> str:
        result = podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def wait_healthy(self, timeout: float = 60) -> float:
        """Seconds until ``podman healthcheck run`` (the image's HEALTHCHECK) passes."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if podman("healthcheck", "run", self.name, check=False).returncode == 0:
                return time.monotonic() - start
            state = podman("inspect", "--format", "{{.State.Status}}", self.name).stdout
            if state.strip() in ("exited", "stopped"):
                raise AssertionError(f"container exited:\n{self.logs()}")
            time.sleep(0.1)
        raise AssertionError(f"not healthy within {timeout}s:\n{self.logs()}")


@pytest.fixture
def containers() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        podman("rm", "-f", "-t", "0", name, check=False)


def run(image: str, names: list[str], *args: str, env: dict[str, str] | None = None
        ) -> Container:
    name = f"crispin-test-{uuid.uuid4().hex[:8]}"
    names.append(name)
    env_args = [a for k, v in (env or {}).items() for a in ("-e", f"{k}={v}")]
    podman("run", "-d", "--name", name, *env_args,
           *[a for p in (143, 993, 25, 587) for a in ("-p", f"127.0.0.1::{p}")], *args, image)
    return Container(name)


MESSAGE = b"From: app@example.org\r\nSubject: from the app\r\n\r\nHello from the host.\r\n"


def test_container_end_to_end(image: str, containers: list[str], tmp_path: Path) -> None:
    volume = f"crispin-test-{uuid.uuid4().hex[:8]}"
    preload = tmp_path / "preload" / "alice" / "Fixtures"
    preload.mkdir(parents=True)
    (preload / "one.eml").write_bytes(b"Subject: preloaded\r\n\r\nfixture\r\n")
    preload.parent.parent.chmod(0o755)
    env = {"CRISPIN_USERS": "alice:secret,bob:secret2", "CRISPIN_PRELOAD": "/preload",
           "CRISPIN_AUTH_PLAINTEXT": "always"}
    try:
        started = time.monotonic()
        box = run(image, containers, "-v", f"{volume}:/var/lib/crispin",
                  "-v", f"{tmp_path / 'preload'}:/preload:ro", env=env)
        healthy = box.wait_healthy() + 0
        print(f"container start to healthy: {time.monotonic() - started:.2f}s "
              f"(health polled for {healthy:.2f}s)")

        # SMTP in on 25, from the host.
        with smtplib.SMTP("127.0.0.1", box.port(25), timeout=20) as smtp:
            assert smtp.sendmail("app@example.org", ["alice@example.com"], MESSAGE) == {}
        # Submission on 587 with STARTTLS and AUTH as bob.
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", box.port(587), timeout=20) as smtp:
            smtp.starttls(context=tls)
            smtp.login("bob", "secret2")
            smtp.sendmail("bob@example.com", ["alice@example.com"], MESSAGE)

        # IMAP out on 143 and 993.
        imap = imaplib.IMAP4("127.0.0.1", box.port(143), timeout=20)
        imap.login("alice", "secret")
        assert imap.select("INBOX")[1] == [b"2"]
        typ, data = imap.fetch("1", "(BODY.PEEK[])")
        assert data[0][1].endswith(MESSAGE) and data[0][1].startswith(b"Received: ")
        assert imap.select("Fixtures")[1] == [b"1"]  # the preload folder
        imap.logout()
        imaps = imaplib.IMAP4_SSL("127.0.0.1", box.port(993), ssl_context=tls, timeout=20)
        imaps.login("bob", "secret2")
        assert imaps.select("Sent")[1] == [b"1"]
        imaps.logout()

        # podman stop: SIGTERM, a BYE to the connected client, a clean exit (not the
        # SIGKILL podman sends after -t seconds).
        idle = socket.create_connection(("127.0.0.1", box.port(143)), timeout=20)
        assert idle.recv(1024).startswith(b"* OK")
        before = time.monotonic()
        podman("stop", "-t", "10", box.name, timeout=60)
        print(f"podman stop took {time.monotonic() - before:.2f}s")
        assert b"* BYE" in idle.recv(1024)
        idle.close()
        code = podman("inspect", "--format", "{{.State.ExitCode}}", box.name).stdout.strip()
        assert code == "0", box.logs()

        # Mail survives a restart on the named volume; the preload is not imported again.
        podman("start", box.name)
        box.wait_healthy()
        imap = imaplib.IMAP4("127.0.0.1", box.port(143), timeout=20)
        imap.login("alice", "secret")
        assert imap.select("INBOX")[1] == [b"2"]
        assert imap.select("Fixtures")[1] == [b"1"]
        imap.logout()
    finally:
        for name in containers:
            podman("rm", "-f", "-t", "0", name, check=False)
        containers.clear()
        podman("volume", "rm", "-f", volume, check=False)


def test_data_folder_ownership(image: str, containers: list[str], tmp_path: Path) -> None:
    """A bind-mounted host folder the image's user cannot write: an exact message. Given to
    uid 10143 (the image's user), or run with --user matching its owner: it works."""
    host = tmp_path / "data"
    host.mkdir(mode=0o700)
    tmp_path.chmod(0o755)
    result = podman("run", "--rm", "-v", f"{host}:/var/lib/crispin", image, check=False,
                    timeout=60)
    assert result.returncode != 0
    assert "is owned by uid 0 gid 0" in result.stderr, result.stderr
    assert "chown -R 10143:10143" in result.stderr and "--user 0:0" in result.stderr
    os.chown(host, 10143, 10143)
    box = run(image, containers, "-v", f"{host}:/var/lib/crispin")
    box.wait_healthy()
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    os.chown(other, 12345, 12345)
    box = run(image, containers, "--user", "12345:12345", "-v", f"{other}:/var/lib/crispin")
    box.wait_healthy()


def test_compose_file_validated_and_its_app_command_run(image: str, containers: list[str]
                                                        ) -> None:
    """docker-compose.yml: validated by podman-compose, then its two services as it defines
    them (environment, the application's command) on one network, the app reaching Crispin
    by the service name ``mail``."""
    compose_file = ROOT / "docker-compose.yml"
    if shutil.which("podman-compose") is not None:
        # podman-compose 1.0 (Debian 12) has no "config": --dry-run parses the file and
        # prints the podman commands it would run.
        result = subprocess.run(["podman-compose", "--dry-run", "-f", str(compose_file),
                                 "up", "-d"], capture_output=True, text=True, timeout=60,
                                cwd=ROOT)
        assert result.returncode == 0, result.stderr
        assert "--network-alias mail" in result.stdout, result.stdout
    elif os.environ.get("CI") == "true":
        pytest.fail("CI=true but podman-compose is not installed")
    # YAML read by the Python that runs podman-compose (Debian's, with python3-yaml): not a
    # dependency of the test environment.
    read = subprocess.run(["/usr/bin/python3", "-c", "import json, sys, yaml; "
                           "print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
                           str(compose_file)], capture_output=True, text=True, timeout=60)
    assert read.returncode == 0, read.stderr
    spec = json.loads(read.stdout)
    mail, app = spec["services"]["mail"], spec["services"]["app"]
    network = f"crispin-test-{uuid.uuid4().hex[:8]}"
    podman("network", "create", network)
    try:
        env_args = [a for k, v in mail["environment"].items() for a in ("-e", f"{k}={v}")]
        name = f"crispin-test-{uuid.uuid4().hex[:8]}"
        containers.append(name)
        podman("run", "-d", "--name", name, "--network", network, "--network-alias", "mail",
               "--hostname", mail["hostname"], *env_args, image)
        Container(name).wait_healthy()
        result = podman("run", "--rm", "--network", network, "--entrypoint",
                        app["entrypoint"][0], image, *app["entrypoint"][1:], *app["command"],
                        timeout=120)
        assert "bob has 1 message(s)" in result.stdout, result.stdout + result.stderr
    finally:
        for name in containers:
            podman("rm", "-f", "-t", "0", name, check=False)
        containers.clear()
        podman("network", "rm", "-f", network, check=False)
