"""NOTIFY fan-out (RFC 5465): how fast does a new message reach 1,000 NOTIFY sessions?

``bench/idle_fanout.py`` with NOTIFY instead of IDLE: the same client processes, appender,
timing and report, but each of the 1,000 connections, after LOGIN, sends NOTIFY SET and then
no command at all, so every notification is one the server sends between commands (§3.1),
from the same commit reports that wake IDLE. Two modes:

  --mode selected   SELECT INBOX, then ``NOTIFY SET (selected (MessageNew MessageExpunge))``:
                    each APPEND arrives as ``* n EXISTS`` (§5.2), as with IDLE.
  --mode status     no SELECT; ``NOTIFY SET (inboxes (MessageNew MessageExpunge))``: each
                    APPEND arrives as ``* STATUS "INBOX" (UIDNEXT u MESSAGES n)`` (§5.2),
                    one STATUS read per session.

    .venv/bin/python bench/notify_fanout.py                  # 1,000 sessions, 100 APPENDs
    .venv/bin/python bench/notify_fanout.py --mode status
    .venv/bin/python bench/notify_fanout.py --quick          # 100 sessions, 20 APPENDs

Targets as IDLE's: p99 < 0.2 s, none missed, server < 100 MB. Stdlib only, 127.0.0.1 only.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import idle_fanout  # bench/ is not a package: found through sys.path above
from _common import PASSWORD, USER

MODE = os.environ.get("NOTIFY_FANOUT_MODE", "selected")
STATUS_MESSAGES = re.compile(rb'\* STATUS "?INBOX"? \([^)]*MESSAGES (\d+)')


class Notified(idle_fanout.Idler):
    """LOGIN, [SELECT INBOX], NOTIFY SET; then record when each message is announced."""

    def data_received(self, data: bytes) -> None:
        if self.state != "idling" or MODE == "selected":
            super().data_received(data)
            return
        now = time.monotonic()
        buf = self.buf + data
        end = buf.rfind(b"\r\n")
        if end < 0:
            self.buf = buf
            return
        self.buf = buf[end + 2:]
        found = STATUS_MESSAGES.findall(buf[:end])
        if found:
            self._exists(int(found[-1]), now)

    def _setup_line(self, line: bytes) -> None:
        t = self.transport
        assert t is not None
        if self.state == "greeting":
            if not line.startswith(b"* OK"):
                return self._fail(line)
            t.write(f'a LOGIN {USER} "{PASSWORD}"\r\n'.encode())
            self.state = "login"
        elif self.state == "login":
            if line.startswith(b"a "):
                if not line.startswith(b"a OK"):
                    return self._fail(line)
                if MODE == "selected":
                    t.write(b"b SELECT INBOX\r\n")
                    self.state = "select"
                else:
                    t.write(b"c NOTIFY SET (inboxes (MessageNew MessageExpunge))\r\n")
                    self.state = "notify"
        elif self.state == "select":
            if line.startswith(b"b "):
                if not line.startswith(b"b OK"):
                    return self._fail(line)
                t.write(b"c NOTIFY SET (selected (MessageNew MessageExpunge))\r\n")
                self.state = "notify"
        elif self.state == "notify" and line.startswith(b"c "):
            if not line.startswith(b"c OK"):
                return self._fail(line)
            self.state = "idling"
            if not self.ready.done():
                self.ready.set_result(None)


def main() -> int:
    global MODE
    args = sys.argv[1:]
    if "--mode" in args:
        i = args.index("--mode")
        MODE = args[i + 1]
        del args[i:i + 2]
        if MODE not in ("selected", "status"):
            print("--mode selected or status", file=sys.stderr)
            return 2
        os.environ["NOTIFY_FANOUT_MODE"] = MODE  # the forked client processes see it too
    sys.argv[1:] = args
    # Keep clear of the SMTP ports other servers on this machine use.
    os.environ.setdefault("CRISPIN_SMTP_PORT", "0")
    os.environ.setdefault("CRISPIN_SMTP_SUBMISSION_PORT", "0")
    idle_fanout.Idler = Notified  # type: ignore[misc]
    print(f"NOTIFY fan-out, mode {MODE}", flush=True)
    return idle_fanout.main()


if __name__ == "__main__":
    sys.exit(main())
