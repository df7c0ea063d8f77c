"""Thunderbird (Debian's ``thunderbird`` package) syncs an account from Crispin.

One test per connection security — plain (``socketType`` 0, allowed from loopback), STARTTLS
(2) and TLS from the first byte (3). Each gets its own server with the standard message set
(:mod:`tests.interop.messages`) and a fresh profile made by
:mod:`tests.interop.thunderbird_profile` (account, password and certificate exception seeded,
everything that would reach the internet switched off). Thunderbird runs in normal (not
``--headless``) mode on its own Xvfb display, so the synced window can be photographed; the
display number is picked by Xvfb itself (``-displayfd``).

What is checked, from Thunderbird's own IMAP log (``MOZ_LOG=IMAP:5``) and its profile:

1. it logs in and its ``LIST (SUBSCRIBED)`` answer names every subscribed folder, each of
   which gets a folder cache file (``.msf``) in the profile;
2. it downloads every message body of every folder (all are kept offline): the offline store
   (an mbox file per folder) holds exactly the server's messages, byte for byte up to the
   mbox framing, and the log shows a ``BODY.PEEK[]`` fetch of every UID;
3. it goes into IDLE on INBOX; a message APPENDed over another connection shows up as an
   ``EXISTS`` on the idling connection, is fetched, and lands in the offline store;
4. no tagged NO or BAD answer except for the ones listed in :data:`EXPECTED_FAILURES`, and the
   server's own trace has no BAD, ``[SERVERBUG]`` or traceback;
5. Thunderbird resolved no host name but the server's (so nothing reached for the internet);
6. a second run on the same profile resyncs (CONDSTORE ``CHANGEDSINCE``) without fetching
   the body of any message it already has;
7. Crispin offers UTF8=ACCEPT (docs/utf8-accept.md) and Thunderbird enables it on every
   connection, so folder names go both ways in UTF-8 (RFC 6855 §3), not modified UTF-7:
   ``Entwürfe-alt`` is listed, selected and filed in the profile under that name.

The screenshot of the synced window and a summary of the IMAP conversation go to
``$CRISPIN_TEST_ARTIFACTS/thunderbird-<transport>/`` (else the test's ``tmp_path``), and the
path is printed. Each Thunderbird run waits on its log with a deadline and is killed (its whole
process group) at the end, whatever happens.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.interop import messages
from tests.interop.conftest import InteropServer
from tests.interop.thunderbird_profile import PLAIN, STARTTLS, TLS, Account, build_profile
from tests.programs import programs

pytestmark = programs("thunderbird", "Xvfb",
                      install="apt-get install thunderbird xvfb imagemagick")

SYNC_TIMEOUT = 60        # one Thunderbird run: start, log in, list, download everything
IDLE_TIMEOUT = 30        # a message appended elsewhere reaches the offline store
QUIET_SECONDS = 4        # the resync run: no new command for this long means it is done

# Commands Thunderbird may send that Crispin answers with NO/BAD, as long as the server does
# not advertise the extension (then they must succeed): (command regex, capability).
EXPECTED_FAILURES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(myrights|getacl|listrights)\b", re.I), "ACL"),
    (re.compile(r"^(getquotaroot|getquota)\b", re.I), "QUOTA"),
]

LOCAL_NAMES = {"127.0.0.1", "localhost", "::1"}


# -- Thunderbird's IMAP log ------------------------------------------------------------------

_LINE = re.compile(r"I/IMAP (?P<conn>[0-9a-f]+):(?P<host>[^:]+):(?P<state>[^:]*):"
                   r"(?P<kind>SendData|CreateNewLineFromSocket): ?(?P<text>.*)$")
_RESOLVE = re.compile(r"Resolving host \[(?P<host>[^\]]*)\]")
_LITERAL = re.compile(r"\{(\d+)\}$")


@dataclass
class Exchange:
    conn: str
    state: str              # "NA" (not authenticated), "A", or "S-<mailbox>"
    command: str
    response: str = ""      # the tagged answer, once it came


@dataclass
class ImapLog:
    """Thunderbird's IMAP log, parsed incrementally: commands, answers, untagged lines."""

    path_glob: tuple[Path, str]
    offset: int = 0
    partial: str = ""
    commands: list[Exchange] = field(default_factory=list)
    by_tag: dict[tuple[str, str], Exchange] = field(default_factory=dict)
    # untagged answers: (conn, state, line, tag of the IDLE in progress on conn or "")
    untagged: list[tuple[str, str, str, str]] = field(default_factory=list)
    idling: dict[str, tuple[str, str]] = field(default_factory=dict)  # conn -> (tag, state)
    resolved: set[str] = field(default_factory=set)
    literal_left: dict[str, int] = field(default_factory=dict)
    last_command_at: float = 0.0

    def files(self) -> list[Path]:
        folder, pattern = self.path_glob
        return sorted(folder.glob(pattern))

    def update(self) -> None:
        main = [p for p in self.files() if ".child-" not in p.name]
        if not main:
            return
        with main[0].open("rb") as fh:
            fh.seek(self.offset)
            chunk = fh.read()
        self.offset += len(chunk)
        text = self.partial + chunk.decode("utf-8", "replace")
        lines = text.split("\n")
        self.partial = lines.pop()
        for line in lines:
            self._line(line.rstrip("\r"))

    def _line(self, line: str) -> None:
        if m := _RESOLVE.search(line):
            self.resolved.add(m["host"])
            return
        m = _LINE.search(line)
        if not m:
            return
        conn, state, text = m["conn"], m["state"], m["text"]
        if m["kind"] == "SendData":
            if text.startswith("Logging suppressed"):
                return
            tag, _, rest = text.partition(" ")
            if rest and tag != "DONE":
                ex = Exchange(conn, state, rest)
                self.commands.append(ex)
                self.by_tag[(conn, tag)] = ex
                if rest.upper() == "IDLE":
                    self.idling[conn] = (tag, state)
                self.last_command_at = time.monotonic()
            return
        left = self.literal_left.get(conn, 0)
        if left > 0:                       # a line of message data, not a response
            self.literal_left[conn] = left - len(text.encode()) - 2
            return
        if lit := _LITERAL.search(text):
            self.literal_left[conn] = int(lit.group(1))
        tag, _, rest = text.partition(" ")
        if tag == "*":
            self.untagged.append((conn, state, rest, self.idling.get(conn, ("", ""))[0]))
        elif (conn, tag) in self.by_tag and not self.by_tag[(conn, tag)].response:
            self.by_tag[(conn, tag)].response = rest
            if self.idling.get(conn, ("", ""))[0] == tag:
                del self.idling[conn]

    # -- questions asked of the log --

    def sent(self, pattern: str, state: str | None = None) -> list[Exchange]:
        rx = re.compile(pattern, re.I)
        return [c for c in self.commands
                if rx.search(c.command) and (state is None or c.state == state)]

    def body_fetches(self) -> dict[str, set[int]]:
        """Mailbox (as sent: UTF-8 once UTF8=ACCEPT is enabled) -> UIDs whose whole body
        was fetched."""
        out: dict[str, set[int]] = {}
        for c in self.sent(r"^UID fetch \S+ \(.*BODY\.PEEK\[\]"):
            if c.state.startswith("S-"):
                uids = parse_uid_set(c.command.split()[2])
                out.setdefault(c.state[2:], set()).update(uids)
        return out

    def idle_in(self, state: str) -> tuple[str, str] | None:
        """(conn, tag) of an IDLE in progress (sent, not yet answered) in ``state``."""
        return next(((conn, tag) for conn, (tag, st) in self.idling.items() if st == state),
                    None)

    def failures(self) -> list[Exchange]:
        return [c for c in self.commands if re.match(r"(NO|BAD)\b", c.response)]

    def capabilities(self) -> set[str]:
        caps: set[str] = set()
        for c in self.commands:
            if m := re.search(r"\[CAPABILITY ([^\]]*)\]", c.response):
                caps |= set(m.group(1).upper().split())
        for _, _, line, _ in self.untagged:
            if line.upper().startswith("CAPABILITY "):
                caps |= set(line.upper().split()[1:])
        return caps

    def summary(self) -> str:
        return "\n".join(f"{c.conn} {c.state}: {c.command[:160]} -> {c.response[:100]}"
                         for c in self.commands)


def parse_uid_set(text: str) -> set[int]:
    uids: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        if hi == "*":
            hi = lo
        uids.update(range(int(lo), int(hi or lo) + 1))
    return uids


# -- the offline store (one mbox file per folder) ---------------------------------------------

_FROM_LINE = re.compile(rb"^From [^\n]*\n", re.M)


def mbox_messages(path: Path) -> list[bytes]:
    """The messages in a Thunderbird mbox, normalised like :func:`normalize_message`."""
    if not path.exists():
        return []
    data = path.read_bytes()
    starts = [m.start() for m in _FROM_LINE.finditer(data)
              if m.start() == 0 or data[m.start() - 1:m.start()] == b"\n"]
    out = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        chunk = data[start:end]
        chunk = chunk[chunk.index(b"\n") + 1:]               # the "From - date" line
        while chunk.startswith(b"X-Mozilla-"):                # Thunderbird's own headers
            chunk = chunk[chunk.index(b"\n") + 1:]
        chunk = re.sub(rb"^>(>*From )", rb"\1", chunk, flags=re.M)   # mboxrd quoting
        out.append(normalize_message(chunk))
    return out


def normalize_message(data: bytes) -> bytes:
    """LF line ends, no trailing blank lines (the mbox separator)."""
    return data.replace(b"\r\n", b"\n").rstrip(b"\n")


def folder_file(profile: Path, host: str, folder: str, ext: str = "") -> Path:
    """The offline store (or with ext=".msf" the folder cache) of an IMAP folder."""
    parts = folder.split("/")  # UTF-8: Thunderbird enabled UTF8=ACCEPT (RFC 6855 §3)
    path = profile / "ImapMail" / host
    for parent in parts[:-1]:
        path = path / (parent + ".sbd")
    return path / (parts[-1] + ext)


# -- processes -------------------------------------------------------------------------------

def _kill_group(proc: subprocess.Popen[bytes], grace: float = 10) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        pass
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)


@pytest.fixture(scope="module")
def xvfb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private X display; Xvfb picks a free number and reports it on a pipe."""
    log = tmp_path_factory.mktemp("xvfb") / "xvfb.log"
    read_fd, write_fd = os.pipe()
    with log.open("wb") as out:
        proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0",
                                 "1280x900x24", "-nolisten", "tcp", "-noreset"],
                                pass_fds=(write_fd,), stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    os.close(write_fd)
    try:
        number = b""
        deadline = time.monotonic() + 20
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([read_fd], [], [], 1)
            if ready:
                piece = os.read(read_fd, 16)
                if not piece:
                    break
                number += piece
        if not number.strip().isdigit():
            _kill_group(proc)
            pytest.fail(f"Xvfb did not report a display: {log.read_text()[-2000:]}")
        yield f":{number.strip().decode()}"
    finally:
        os.close(read_fd)
        _kill_group(proc)


class Thunderbird:
    """One run of Thunderbird on a profile; always stopped by :meth:`stop`."""

    def __init__(self, profile: Path, workdir: Path, display: str, name: str) -> None:
        self.profile = profile
        self.workdir = workdir
        self.name = name
        home = workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        logbase = workdir / f"{name}-imap.log"
        self.log = ImapLog((workdir, f"{name}-imap.log*"))
        self.output = workdir / f"{name}-stdout.txt"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "XDG_RUNTIME_DIR": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"), "LANG": "C.UTF-8", "TZ": "UTC",
            "DISPLAY": display, "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent",
            "MOZ_LOG": "IMAP:5,nsHostResolver:4,timestamp,sync",
            "MOZ_LOG_FILE": str(logbase),
            "MOZ_CRASHREPORTER_DISABLE": "1", "MOZ_DISABLE_AUTO_SAFE_MODE": "1",
            "MOZ_REMOTE_SETTINGS_DEVTOOLS": "1",    # honour services.settings.server
            "MOZ_SKIA_DISABLE_ASSERTS": "1", "NO_AT_BRIDGE": "1",
        }
        self.display = display
        self.env = env
        with self.output.open("wb") as out:
            self.proc = subprocess.Popen(
                ["thunderbird", "-no-remote", "-profile", str(profile)], env=env,
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=home, start_new_session=True)

    def wait_for(self, what: str, condition: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.log.update()
            if condition():
                return
            if self.proc.poll() is not None:
                pytest.fail(f"Thunderbird exited ({self.proc.returncode}) while waiting for "
                            f"{what}\n{self.tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"Thunderbird: no {what} within {timeout}s\n{self.tail()}")
            time.sleep(0.25)

    def tail(self) -> str:
        return ("--- IMAP commands so far ---\n" + self.log.summary()[-6000:]
                + "\n--- Thunderbird output ---\n"
                + self.output.read_text(errors="replace")[-3000:])

    def screenshot(self, path: Path) -> None:
        r = subprocess.run(["import", "-window", "root", str(path)], env=self.env,
                           capture_output=True, timeout=30)
        if r.returncode != 0 or not path.exists():    # fall back to xwd | convert
            subprocess.run(f"xwd -root -silent | convert xwd:- png:{path}", shell=True,
                           env=self.env, capture_output=True, timeout=30)

    def stop(self) -> None:
        _kill_group(self.proc, grace=15)
        self.log.update()


# -- the test --------------------------------------------------------------------------------

TRANSPORTS = {"plain": PLAIN, "starttls": STARTTLS, "tls": TLS}


def artifacts_dir(tmp_path: Path, transport: str) -> Path:
    base = os.environ.get("CRISPIN_TEST_ARTIFACTS")
    path = (Path(base) if base else tmp_path / "artifacts") / f"thunderbird-{transport}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def subscribed_folders(srv: InteropServer) -> list[str]:
    imap = srv.imap()
    try:
        typ, data = imap.lsub('""', "*")
        assert typ == "OK", data
    finally:
        imap.logout()
    names = []
    for item in data:
        if isinstance(item, tuple):          # the name came as a literal
            name = item[1]
        else:
            assert isinstance(item, bytes)
            m = re.match(rb'^\([^)]*\) (?:"(?:[^"\\]|\\.)*"|NIL) (.*)$', item)
            assert m, item
            name = m.group(1)
        if name.startswith(b'"'):
            name = re.sub(rb"\\(.)", rb"\1", name[1:-1])
        names.append(messages.mutf7_decode(name.decode("ascii")))
    return names


def append_message(srv: InteropServer, data: bytes) -> int:
    """APPEND to INBOX over a separate connection; returns the new UID (APPENDUID)."""
    imap = srv.imap()
    try:
        typ, resp = imap.append("INBOX", None, None, data)
        assert typ == "OK", resp
    finally:
        imap.logout()
    m = re.search(rb"APPENDUID \d+ (\d+)", resp[0] if resp else b"")
    assert m, f"no APPENDUID in {resp!r}"
    return int(m.group(1))


def offline_store(profile: Path, host: str, folders: list[str]) -> dict[str, list[bytes]]:
    return {f: sorted(mbox_messages(folder_file(profile, host, f))) for f in folders}


def server_store(snapshot: dict[str, list[messages.ServerMessage]]) -> dict[str, list[bytes]]:
    return {f: sorted(normalize_message(m.body) for m in msgs) for f, msgs in snapshot.items()}


_MAILBOX_ARG = re.compile(r'^(?:STATUS|SELECT|EXAMINE) (?:"((?:[^"\\]|\\.)*)"|(\S+))', re.I)


def unexpected_failures(log: ImapLog, server_folders: list[str]) -> list[str]:
    """Tagged NO/BAD answers that a correct server would not give this client.

    Expected: the :data:`EXPECTED_FAILURES` (extensions Crispin does not advertise), and
    ``NO [NONEXISTENT]`` to STATUS/SELECT of a mailbox that does not exist on the server —
    Thunderbird probes folders it only knows locally (its default ``Templates``, and on a
    restart a subfolder under a not-yet-known hierarchy delimiter, ``Projekte^Crispin``,
    before its LIST has told it "/"); RFC 3501 §6.3.10 says STATUS of a mailbox that does
    not exist is answered NO.
    """
    caps = log.capabilities()
    wire_names = set(server_folders)  # UTF-8 on the wire (RFC 6855 §3)
    bad = []
    for ex in log.failures():
        expected = any(rx.search(ex.command) and cap not in caps
                       for rx, cap in EXPECTED_FAILURES)
        m = _MAILBOX_ARG.match(ex.command)
        if m and ex.response.startswith("NO [NONEXISTENT]"):
            name = re.sub(r"\\(.)", r"\1", m.group(1)) if m.group(1) is not None \
                else m.group(2)
            expected = expected or name not in wire_names
        if not expected:
            bad.append(f"{ex.conn} {ex.state}: {ex.command} -> {ex.response}")
    return bad


def utf8_on_every_connection(log: ImapLog) -> bool:
    """Every connection that logged in sent ENABLE UTF8=ACCEPT and was answered ENABLED
    UTF8=ACCEPT (RFC 6855 §3, RFC 5161 §3.2)."""
    logged_in = {c.conn for c in log.commands if c.state != "NA"}
    enabled = {conn for conn, _, line, _ in log.untagged
               if line.upper().split() == ["ENABLED", "UTF8=ACCEPT"]}
    return bool(logged_in) and logged_in <= enabled


def expected_failures(log: ImapLog, server_folders: list[str]) -> list[str]:
    bad = set(unexpected_failures(log, server_folders))
    return [line for ex in log.failures()
            if (line := f"{ex.conn} {ex.state}: {ex.command} -> {ex.response}") not in bad]


@pytest.mark.parametrize("transport", ["tls", "starttls", "plain"])
def test_thunderbird_syncs_idles_and_resyncs(transport: str, make_crispin:
                                             Callable[..., InteropServer],
                                             tmp_path: Path, xvfb: str) -> None:
    srv = make_crispin()
    srv.load()
    snapshot = srv.snapshot()
    folders = subscribed_folders(srv)
    server_names = sorted(set(snapshot) | set(folders))
    assert set(messages.FOLDERS) <= set(folders)
    host = "127.0.0.1"
    port = srv.tls_port if transport == "tls" else srv.port
    account = Account(host, port, TRANSPORTS[transport], srv.user, srv.password)
    profile = build_profile(tmp_path / "tb-profile", account,
                            None if transport == "plain" else srv.cert.read_bytes())
    work = tmp_path / "tb-run"
    out = artifacts_dir(tmp_path, transport)
    print(f"\nThunderbird artifacts ({transport}): {out}")
    expected = server_store(snapshot)
    nonempty = [f for f in folders if expected.get(f)]

    # -- first run: full sync, IDLE, a new message arrives ------------------------------
    tb = Thunderbird(profile, work, xvfb, "run1")
    try:
        log = tb.log

        def listed() -> bool:
            lists = [line for _, _, line, _ in log.untagged if line.upper().startswith("LIST ")]
            wire = set(folders)  # UTF-8, not modified UTF-7 (RFC 6855 §3)
            seen = {m.group(1) for line in lists
                    if (m := re.search(r' "/" "?(.*?)"?$', line))}
            return wire <= seen

        tb.wait_for("LIST of every subscribed folder", listed, SYNC_TIMEOUT)
        tb.wait_for("download of every message body",
                    lambda: offline_store(profile, host, nonempty)
                    == {f: expected[f] for f in nonempty}, SYNC_TIMEOUT)
        # Thunderbird leaves IDLE to fetch bodies, so wait for one that starts after that.
        tb.wait_for("IDLE in progress on INBOX", lambda: log.idle_in("S-INBOX") is not None,
                    SYNC_TIMEOUT)
        idle = log.idle_in("S-INBOX")
        assert idle is not None
        new = messages.extra_message(100, "Arrived during IDLE")
        idle_commands = len(log.sent(r"^IDLE$", "S-INBOX"))
        new_uid = append_message(srv, new)

        def exists_in_idle() -> bool:      # pushed by the server during *that* IDLE
            return any((conn, idle_tag) == idle
                       and re.match(rf"{len(expected['INBOX']) + 1} EXISTS", line)
                       for conn, _, line, idle_tag in log.untagged)

        tb.wait_for("EXISTS for the appended message, pushed during IDLE",
                    exists_in_idle, IDLE_TIMEOUT)
        tb.wait_for("the appended message in the offline store",
                    lambda: normalize_message(new)
                    in mbox_messages(folder_file(profile, host, "INBOX")), IDLE_TIMEOUT)
        tb.wait_for("IDLE again after the new message",
                    lambda: len(log.sent(r"^IDLE$", "S-INBOX")) > idle_commands,
                    IDLE_TIMEOUT)
        time.sleep(1)                    # let the window paint the new message
        tb.screenshot(out / "synced.png")
    finally:
        tb.stop()
    (out / "run1-imap-commands.txt").write_text(log.summary())

    # 1. listed, and a folder cache for every subscribed folder
    missing_msf = [f for f in folders if not folder_file(profile, host, f, ".msf").exists()]
    assert not missing_msf, f"no folder cache for {missing_msf}"
    assert log.sent(r"^list \(subscribed\)"), log.summary()
    # 2. every body fetched (log) and stored (mbox)
    fetched = log.body_fetches()
    for f in nonempty:
        uids = {m.uid for m in snapshot[f]}
        got = fetched.get(f, set())
        assert uids <= got, f"{f}: bodies of UIDs {sorted(uids - got)} never fetched"
    assert new_uid in fetched.get("INBOX", set())
    # 3. done above: EXISTS during IDLE, fetched, stored
    # 4. no unexpected NO/BAD on either side
    wrong = unexpected_failures(log, server_names)
    assert not wrong, "unexpected NO/BAD answers:\n" + "\n".join(wrong)
    print("expected NO/BAD answers, run 1:", *expected_failures(log, server_names), sep="\n  ")
    srv.assert_no_protocol_errors()
    # 7. UTF8=ACCEPT enabled on every connection that logged in (Thunderbird's log cuts the
    # long CAPABILITY line short; "* ENABLED UTF8=ACCEPT" says the server offered it)
    assert utf8_on_every_connection(log), log.summary()
    # 5. nothing but the server was looked up
    assert log.resolved <= LOCAL_NAMES, f"Thunderbird resolved {log.resolved - LOCAL_NAMES}"
    assert (out / "synced.png").exists() and (out / "synced.png").stat().st_size > 1000

    # -- second run, same profile: resync without downloading again ----------------------
    have = {"INBOX": {m.uid for m in snapshot["INBOX"]} | {new_uid}}
    have.update({f: {m.uid for m in snapshot[f]} for f in nonempty if f != "INBOX"})
    tb2 = Thunderbird(profile, work, xvfb, "run2")
    try:
        log2 = tb2.log
        tb2.wait_for("IDLE on INBOX", lambda: bool(log2.sent(r"^IDLE$", "S-INBOX")),
                     SYNC_TIMEOUT)
        tb2.wait_for("every non-empty folder selected",
                     lambda: set(nonempty)
                     <= {c.state[2:] for c in log2.commands if c.state.startswith("S-")},
                     SYNC_TIMEOUT)
        tb2.wait_for(f"{QUIET_SECONDS}s without a new command",
                     lambda: time.monotonic() - log2.last_command_at > QUIET_SECONDS,
                     SYNC_TIMEOUT)
        tb2.screenshot(out / "resynced.png")
    finally:
        tb2.stop()
    (out / "run2-imap-commands.txt").write_text(log2.summary())
    refetched = {f: sorted(log2.body_fetches().get(f, set()) & uids)
                 for f, uids in have.items()}
    assert not any(refetched.values()), f"resync downloaded known bodies again: {refetched}"
    # CONDSTORE in use: a SELECT … (CONDSTORE) or a FETCH … (CHANGEDSINCE n); which of the
    # two depends on whether Thunderbird had kept the folder's HIGHESTMODSEQ.
    assert log2.sent(r"\(CONDSTORE\)$|\(CHANGEDSINCE \d+\)$"), \
        "no CONDSTORE resync:\n" + log2.summary()
    assert offline_store(profile, host, ["INBOX"])["INBOX"] \
        == sorted(expected["INBOX"] + [normalize_message(new)])
    wrong = unexpected_failures(log2, server_names)
    assert not wrong, "unexpected NO/BAD answers:\n" + "\n".join(wrong)
    print("expected NO/BAD answers, run 2:", *expected_failures(log2, server_names), sep="\n  ")
    srv.assert_no_protocol_errors()
    assert log2.resolved <= LOCAL_NAMES, f"Thunderbird resolved {log2.resolved - LOCAL_NAMES}"


# -- the folder Thunderbird is idling on, deleted by another client ----------------------------

def open_folder_at_start(profile: Path, folder_uri: str) -> None:
    """Have Thunderbird show ``folder_uri`` when it starts, as if it had been open when it
    was last closed (the session store, ``session.json``): Thunderbird then idles on that
    folder as well as on INBOX."""
    (profile / "session.json").write_text(json.dumps({
        "rev": 0,
        "windows": [{"type": "3pane", "tabs": {"rev": 0, "selectedIndex": 0, "tabs": [
            {"mode": "mail3PaneTab",
             "state": {"firstTab": True, "folderPaneVisible": True,
                       "messagePaneVisible": True, "folderURI": folder_uri}}]}}],
    }))


def test_thunderbird_recovers_when_its_idle_folder_is_deleted(
        make_crispin: Callable[..., InteropServer], tmp_path: Path, xvfb: str) -> None:
    """Issue 9 point 3: another client deletes the folder Thunderbird is idling on. The
    server ends that connection with ``* BYE`` (as Dovecot does), never with a tagged NO
    during the IDLE or a ``[SERVERBUG]``; Thunderbird recovers on its own: it goes on
    idling on INBOX and fetches a message that arrives afterwards."""
    srv = make_crispin()
    srv.load()
    snapshot = srv.snapshot()
    folders = subscribed_folders(srv)
    victim = messages.PROJECTS
    wire = messages.mutf7_encode(victim)
    assert snapshot.get(victim), "the folder to delete holds messages"
    host = "127.0.0.1"
    account = Account(host, srv.port, PLAIN, srv.user, srv.password)
    profile = build_profile(tmp_path / "tb-profile", account, None)
    open_folder_at_start(profile, f"imap://{srv.user}@{host}/{wire}")
    out = artifacts_dir(tmp_path, "deleted-folder")
    print(f"\nThunderbird artifacts (deleted folder): {out}")
    expected = server_store(snapshot)
    nonempty = [f for f in folders if expected.get(f)]

    tb = Thunderbird(profile, tmp_path / "tb-run", xvfb, "run1")
    try:
        log = tb.log
        tb.wait_for("download of every message body",
                    lambda: offline_store(profile, host, nonempty)
                    == {f: expected[f] for f in nonempty}, SYNC_TIMEOUT)
        tb.wait_for(f"IDLE in progress on {victim}",
                    lambda: log.idle_in(f"S-{wire}") is not None, SYNC_TIMEOUT)
        tb.wait_for("IDLE in progress on INBOX", lambda: log.idle_in("S-INBOX") is not None,
                    SYNC_TIMEOUT)
        idle = log.idle_in(f"S-{wire}")
        assert idle is not None
        conn, idle_tag = idle
        imap = srv.imap()
        try:
            typ, resp = imap.delete(wire)
            assert typ == "OK", resp
        finally:
            imap.logout()

        def bye_on_idling_connection() -> bool:
            return any(c == conn and line.startswith("BYE ")
                       for c, _, line, _ in log.untagged)

        tb.wait_for("BYE on the connection idling on the deleted folder",
                    bye_on_idling_connection, IDLE_TIMEOUT)
        # recovered: a message arriving in INBOX is still pushed, fetched and stored
        tb.wait_for("IDLE in progress on INBOX", lambda: log.idle_in("S-INBOX") is not None,
                    IDLE_TIMEOUT)
        new = messages.extra_message(101, "Arrived after the delete")
        new_uid = append_message(srv, new)
        tb.wait_for("the message that arrived after the delete, in the offline store",
                    lambda: normalize_message(new)
                    in mbox_messages(folder_file(profile, host, "INBOX")), IDLE_TIMEOUT)
        time.sleep(1)                    # let the window paint
        tb.screenshot(out / "after-delete.png")
    finally:
        tb.stop()
    (out / "run1-imap-commands.txt").write_text(log.summary())
    assert new_uid in log.body_fetches().get("INBOX", set())
    # the IDLE on the deleted folder got no tagged answer: the server only said BYE
    assert not log.by_tag[(conn, idle_tag)].response, log.by_tag[(conn, idle_tag)]
    srv.assert_no_protocol_errors()
    assert "selected mailbox" in srv.log_text().lower()
    wrong = [w for w in unexpected_failures(log, sorted(set(snapshot) | set(folders)))
             if wire not in w]
    assert not wrong, "unexpected NO/BAD answers:\n" + "\n".join(wrong)
