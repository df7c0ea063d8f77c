"""Shared fixtures for interoperability tests with real, independently written clients.

Each test starts its own ``crispin serve`` process on 127.0.0.1 with a fresh data folder under
``tmp_path`` (ports chosen by the OS), one user, and the generated self-signed certificate. The
server runs with ``--trace``; its log is drained in a thread (so a chatty server never blocks
on a full pipe), kept as ``<data dir>/server.log`` after the test and its tail printed when a
test fails. :meth:`InteropServer.assert_no_protocol_errors` fails a test whose client got a
tagged BAD or ``[SERVERBUG]``, quoting the command that caused it.

Clients run through :func:`run_client`: always with a timeout, in their own process group (so
a hung client and its children are killed), with ``HOME`` pointing into ``tmp_path`` so no
configuration from the machine leaks in.
"""

from __future__ import annotations

import imaplib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.interop import messages
from tests.programs import check
from tests.server.process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
USER = "alice"
PASSWORD = "interop-Pa55 word"   # a space and digits: clients must quote it
_TAGGED_BAD = re.compile(r"(\S+) S: ([^*+\s]\S*) BAD ")   # peer, tag


def crispin_cli(data_dir: Path, *args: str, stdin: str | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m crispin ARGS --data-dir DATA_DIR``."""
    return subprocess.run([sys.executable, "-m", "crispin", *args, "--data-dir",
                           str(data_dir)], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


class InteropServer:
    """A running Crispin with one user; ``.port`` (plain/STARTTLS), ``.tls_port``, ``.cert``."""

    host = "127.0.0.1"

    def __init__(self, data_dir: Path, *, user: str = USER, password: str = PASSWORD,
                 trace: bool = True, extra_args: Sequence[str] = (),
                 env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.user, self.password = user, password
        data_dir.mkdir(parents=True, exist_ok=True)
        self.add_user(user, password)
        args = ["--trace"] if trace else []
        self.process = ServerProcess(data_dir, *args, *extra_args, env=env)
        self.port, self.tls_port = self.process.port, self.process.tls_port
        self.cert = data_dir / "tls" / "cert.pem"
        self.log: list[str] = list(self.process.output)
        self._lock = threading.Lock()
        self._drain = threading.Thread(target=self._read_log, daemon=True)
        self._drain.start()

    def _read_log(self) -> None:
        stream = self.process.proc.stderr
        assert stream is not None
        try:
            for line in stream:
                with self._lock:
                    self.log.append(line)
        except (ValueError, OSError):
            pass                    # closed by terminate()

    def log_text(self) -> str:
        with self._lock:
            return "".join(self.log)

    def protocol_errors(self) -> list[str]:
        """Trace lines a correct server never sends to a well-behaved client: tagged BAD
        (real clients send valid commands), ``[SERVERBUG]``, and logged tracebacks."""
        return [line for line in self.log_text().splitlines()
                if _TAGGED_BAD.search(line) or "[SERVERBUG]" in line or "Traceback" in line]

    def assert_no_protocol_errors(self) -> None:
        errors = self.protocol_errors()
        if not errors:
            return
        log = self.log_text().splitlines()
        shown: list[str] = []
        for line in errors[:5]:          # each BAD with the command that caused it
            if m := _TAGGED_BAD.search(line):
                sent = f"{m.group(1)} C: {m.group(2)} "
                shown += [x for x in log if sent in x][-1:]
            shown.append(line)
        raise AssertionError("server answered a real client with errors:\n" + "\n".join(shown))

    def add_user(self, name: str, password: str) -> None:
        r = crispin_cli(self.data_dir, "user", "add", name, "--password-stdin", "--create",
                        stdin=password + "\n")
        assert r.returncode == 0, r.stderr

    def imap(self) -> imaplib.IMAP4:
        """A fresh, logged-in imaplib connection on the plain port."""
        return messages.connect(self.port, self.user, self.password, self.host)

    def load(self, msgs: Sequence[messages.Message] | None = None) -> list[messages.Message]:
        """APPEND a message set (default: :func:`messages.message_set`); returns it."""
        msgs = messages.message_set() if msgs is None else msgs
        messages.load_set(self.port, self.user, self.password, msgs)
        return list(msgs)

    def snapshot(self) -> dict[str, list[messages.ServerMessage]]:
        return messages.snapshot(self.port, self.user, self.password)

    def read(self, folder: str) -> list[messages.ServerMessage]:
        imap = self.imap()
        try:
            return messages.read_mailbox(imap, folder)
        finally:
            imap.logout()

    def stop(self) -> None:
        if self.process.proc.poll() is None:
            try:
                self.process.terminate()
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._drain.join(5)


@pytest.fixture
def make_crispin(tmp_path: Path, request: pytest.FixtureRequest
                 ) -> Iterator[Callable[..., InteropServer]]:
    """Factory: ``make_crispin(trace=True, extra_args=(), env={"CRISPIN_LIMITS_…": …})``
    starts a fresh server."""
    started: list[InteropServer] = []

    def make(**kwargs: object) -> InteropServer:
        srv = InteropServer(tmp_path / f"crispin-data{len(started)}", **kwargs)  # type: ignore[arg-type]
        started.append(srv)
        return srv

    yield make
    failed = getattr(request.node, "rep_call", None)
    for srv in started:
        srv.stop()
        # The whole trace stays next to the data for a look after the run.
        (srv.data_dir / "server.log").write_text(srv.log_text())
        if failed is not None and failed.failed:
            tail = srv.log_text()[-6000:]
            print(f"\n----- crispin log ({srv.data_dir.name}, last 6000 chars) -----\n{tail}")


@pytest.fixture
def crispin(make_crispin: Callable[..., InteropServer]) -> InteropServer:
    """A running server with user ``alice`` and empty default mailboxes."""
    return make_crispin()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()          # type: ignore[attr-defined]
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def client_home(tmp_path: Path) -> Path:
    """An empty HOME for client programs."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return home


def require(program: str) -> str:
    """Path of a client program; skip (with the Debian package to install) when missing,
    fail under CI (tests/programs.py)."""
    check((program,), "apt-get install the client's package")
    path = shutil.which(program)
    assert path is not None
    return path


def run_client(cmd: Sequence[str], *, timeout: float, home: Path,
               env: dict[str, str] | None = None, cwd: Path | None = None,
               stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a client with a hard timeout; on timeout kill its process group and fail."""
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
                "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC"}
    full_env.update(env or {})
    proc = subprocess.Popen(list(cmd), stdin=subprocess.PIPE if stdin is not None
                            else subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace", env=full_env,
                            cwd=cwd or home, start_new_session=True)
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{cmd[0]} did not finish within {timeout}s\n--- stdout ---\n{out}\n"
                    f"--- stderr ---\n{err}")
    return subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)


def describe(result: subprocess.CompletedProcess[str], limit: int = 8000) -> str:
    """Exit code and the tail of a client's output, for assertion messages."""
    return (f"{result.args[0]} exited {result.returncode}\n--- stdout ---\n"
            f"{result.stdout[-limit:]}\n--- stderr ---\n{result.stderr[-limit:]}")
