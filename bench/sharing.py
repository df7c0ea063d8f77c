"""Shared mailboxes (RFC 4314 ACLs, RFC 2342 namespaces): LIST over many users' mailboxes, and
STATUS / SELECT / SEARCH of a big shared mailbox with private \\Seen per user.

Part ``list`` (a fresh temp data dir, set up in-process through ``storage.Store`` before the
server starts; the server never sees the setup code):

  * 50 users ``user00``..``user49`` with 20 mailboxes each (INBOX + 19: Sent, Drafts, Trash,
    Junk, Archive, Archive/2021..2024, Projects, Projects/alpha..delta, Lists, Lists/python,
    Lists/linux, Family, Receipts): 1,000 mailboxes, plus 10 under "Shared/".
  * ACLs (2,829 entries with 50 users): each user i shares Projects and its four children with
    the next 10 users (i+1..i+10 mod 50; "lrswi" to the first five, "lr" to the others);
    every 5th user gives ``anyone`` "lr" on Lists and Lists/python; every 10th (i = 5, 15,
    ...) takes "l" from user00 on Lists/python with a negative entry ``-user00``; every user
    but user00 gives user00 ("the auditor") "lr" on Archive and its four children; Family
    goes to the next user with "rs" and no "l" (so it must *not* be listed). Shared: 8 with
    ``anyone`` "lrs", one only for user00, one with no ACL at all (invisible).
  * The expected view of every user is computed here from that plan, with RFC 4314's rule
    (owner: everything; others: union of their name's and "anyone"'s rights minus the
    negative ones; listed only with "l"), independently of the server's code. The user who
    sees the most (user00: 337 mailboxes + 51 \\Noselect levels of "Other Users/<owner>" and
    "Shared") and a typical one are timed. Each subscribes (untimed) to everything they see.
  * Timed, each ``--repeat`` times on one logged-in connection (first run reported apart):
    ``LIST "" "*"``, ``LIST "" "%"``, ``LIST "" "*" RETURN (MYRIGHTS)``, ``LSUB "" "*"``.
    Wall time per command (send to tagged OK) and server CPU per command (utime+stime over
    all repeats / repeats: one /proc tick is 10 ms). Checked exactly: the set of names, the
    \\Noselect levels, the MYRIGHTS of every mailbox, the LSUB names.

Part ``status`` (``--messages N``, default 100,000; ``--data-dir DIR`` keeps the load and
reuses it):

  * user ``bench`` owns ``Team``, loaded with ``crispin import`` of N generated messages
    (bench/_mailgen.py, ~11.7 KB each); bob, carol, dave and erin get "lrswi" on it. \\Seen is
    private per user (the default ``private_flags`` mask).
  * Untimed reset: every user clears their \\Seen (``UID STORE 1:N -FLAGS.SILENT (\\Seen)``),
    so a reused dir starts from the same state. Then each of the 5 users marks a different
    UID range \\Seen with one ``UID STORE a:b +FLAGS.SILENT (\\Seen)`` (10%, 25%, 40%, 55%,
    70% of N, at different offsets): timed, it is how their private rows are written.
  * Timed, ``--repeat`` times on fresh connections: ``STATUS <Team> (MESSAGES UNSEEN)`` for
    each user (the owner as "Team", the others as "Other Users/bench/Team"), checked:
    MESSAGES = N, UNSEEN = N - marked. For erin (a non-owner, 70% marked) and for the owner:
    ``SELECT`` (EXISTS = N, [UNSEEN first] right), ``SEARCH UNSEEN`` (exact set), ``UID FETCH
    1:* (FLAGS)`` (\\Seen on exactly the marked UIDs).

    .venv/bin/python bench/sharing.py --quick                   # 20 users, 5,000 messages
    .venv/bin/python bench/sharing.py --part list               # ~30 s
    .venv/bin/python bench/sharing.py --messages 100000 --data-dir /tmp/share100k
    .venv/bin/python bench/sharing.py --part status --data-dir /tmp/share100k --py-spy /tmp/spy

``--py-spy DIR`` adds a profile of each timed command (a loop of it for ``--spy-seconds``)
after the timed pass. Stdlib only (plus the project's own ``storage`` for the setup);
127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    PASSWORD,
    REPO,
    USER,
    BenchServer,
    cpu_scaling,
    machine_info,
    percentile,
    proc_cpu_seconds,
    proc_memory_kb,
    py_spy_start,
    py_spy_stop,
    reset_peak_rss,
)
from _imapwire import Client, ProtocolError
from mailbox100k import write_mbox

sys.path.insert(0, str(REPO))

ALL_RIGHTS = "lrswipkxtea"  # RFC 4314 §2.1
OTHER, SHARED = "Other Users", "Shared"  # the default namespaces (server/config.py)
MARKER = "bench-sharing.json"

MAILBOXES = ["INBOX", "Sent", "Drafts", "Trash", "Junk",
             "Archive", "Archive/2021", "Archive/2022", "Archive/2023", "Archive/2024",
             "Projects", "Projects/alpha", "Projects/beta", "Projects/gamma", "Projects/delta",
             "Lists", "Lists/python", "Lists/linux", "Family", "Receipts"]
PROJECTS = [m for m in MAILBOXES if m.startswith("Projects")]
ARCHIVE = [m for m in MAILBOXES if m.startswith("Archive")]
SHARED_BOXES = ["announcements", "helpdesk", "hr", "it", "marketing", "office", "sales",
                "support", "board", "vault"]
AUDITOR = "user00"
TEAM_USERS = ["bob", "carol", "dave", "erin"]  # besides the owner USER

_LIST = re.compile(rb'^\* (LIST|LSUB) \(([^)]*)\) (?:NIL|"[^"]*") (.*)$')
_MYRIGHTS = re.compile(rb"^\* MYRIGHTS (.*) (\S+)$")
_STATUS = re.compile(rb"^\* STATUS .* \((.*)\)$")
_EXISTS = re.compile(rb"^\* (\d+) EXISTS$")
_UNSEEN_CODE = re.compile(rb"\[UNSEEN (\d+)\]")
_FETCH_UID = re.compile(rb"\bUID (\d+)")
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")


def quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote(raw: bytes) -> str:
    text = raw.decode()
    if text.startswith('"') and text.endswith('"'):
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def user_name(i: int) -> str:
    return f"user{i:02d}"


# --------------------------------------------------------------------------------------------
# Part 1: the ACL plan and what each user should see


def acl_plan(n_users: int) -> list[tuple[str | None, str, str, str]]:
    """(owner or None for Shared, mailbox, identifier, rights) for every ACL entry."""
    plan: list[tuple[str | None, str, str, str]] = []
    for i in range(n_users):
        owner = user_name(i)
        for box in PROJECTS:
            for k in range(1, 11):
                plan.append((owner, box, user_name((i + k) % n_users),
                             "lrswi" if k <= 5 else "lr"))
        if i % 5 == 0:
            plan += [(owner, "Lists", "anyone", "lr"), (owner, "Lists/python", "anyone", "lr")]
        if i % 10 == 5:
            plan.append((owner, "Lists/python", "-" + AUDITOR, "l"))
        if owner != AUDITOR:
            plan += [(owner, box, AUDITOR, "lr") for box in ARCHIVE]
        plan.append((owner, "Family", user_name((i + 1) % n_users), "rs"))
    for box in SHARED_BOXES[:8]:
        plan.append((None, box, "anyone", "lrs"))
    plan.append((None, SHARED_BOXES[8], AUDITOR, "lrswi"))
    return plan


def expected_views(n_users: int, plan: list[tuple[str | None, str, str, str]]
                   ) -> dict[str, tuple[dict[str, str], set[str]]]:
    """For each user: {client name: effective rights} of the mailboxes they may list, and the
    \\Noselect namespace levels ("Other Users", "Other Users/<owner>", "Shared")."""
    acls: dict[tuple[str | None, str], dict[str, str]] = {}
    for owner, box, ident, rights in plan:
        acls.setdefault((owner, box), {})[ident] = rights
    out: dict[str, tuple[dict[str, str], set[str]]] = {}
    for v in range(n_users):
        me = user_name(v)
        names = {box: ALL_RIGHTS for box in MAILBOXES}
        virtual: set[str] = set()
        for (owner, box), acl in acls.items():
            if owner == me:
                continue
            granted = set(acl.get(me, "") + acl.get("anyone", ""))
            denied = set(acl.get("-" + me, "") + acl.get("-anyone", ""))
            rights = "".join(r for r in ALL_RIGHTS if r in granted - denied)
            if "l" not in rights:
                continue
            if owner is None:
                names[f"{SHARED}/{box}"] = rights
                virtual.add(SHARED)
            else:
                names[f"{OTHER}/{owner}/{box}"] = rights
                virtual |= {OTHER, f"{OTHER}/{owner}"}
        out[me] = (names, virtual)
    return out


async def setup_list_data(data_dir: Path, n_users: int,
                          plan: list[tuple[str | None, str, str, str]],
                          views: dict[str, tuple[dict[str, str], set[str]]],
                          subscribers: list[str]) -> dict[str, Any]:
    from crispin.storage import Store

    t0 = time.perf_counter()
    store = await Store.open(data_dir)
    try:
        ids: dict[tuple[str | None, str], int] = {}
        users: dict[str, int] = {}
        for i in range(n_users):
            user = await store.create_user(user_name(i), PASSWORD)
            users[user.name] = user.id
            existing = {m.name: m.id for m in await store.list_mailboxes(user.id)}
            for box in MAILBOXES:
                if box not in existing:
                    existing[box] = (await store.create_mailbox(user.id, box)).id
                ids[(user.name, box)] = existing[box]
        for box in SHARED_BOXES:
            ids[(None, box)] = (await store.create_shared_mailbox(box)).id
        for owner, box, ident, rights in plan:
            await store.set_acl(ids[(owner, box)], ident, rights)
        for name in subscribers:
            for client_name in views[name][0]:
                await store.subscribe(users[name], client_name)
    finally:
        await store.close()
    return {"users": n_users, "user_mailboxes": n_users * len(MAILBOXES),
            "shared_mailboxes": len(SHARED_BOXES), "acl_entries": len(plan),
            "setup_s": round(time.perf_counter() - t0, 1)}


def parse_list(kept: list[tuple[bytes, list[bytes]]]) -> tuple[dict[str, set[str]],
                                                               dict[str, str], int]:
    """{name: attributes} of LIST/LSUB lines, {name: rights} of MYRIGHTS, other lines."""
    names: dict[str, set[str]] = {}
    rights: dict[str, str] = {}
    other = 0
    for text, lits in kept:
        if m := _LIST.match(text):
            name = lits[0].decode() if lits else unquote(m.group(3))
            if name in names:
                raise ProtocolError(f"{name!r} listed twice")
            names[name] = set(m.group(2).decode().split())
        elif m := _MYRIGHTS.match(text):
            rights[unquote(m.group(1))] = unquote(m.group(2))
        else:
            other += 1
    return names, rights, other


def check_list(kind: str, names: dict[str, set[str]], rights: dict[str, str],
               view: dict[str, str], virtual: set[str], subscribed: set[str]) -> list[str]:
    problems: list[str] = []
    if kind == "lsub":
        want = set(subscribed)
    elif kind == "percent":
        want = {n for n in set(view) | virtual if "/" not in n}
    else:
        want = set(view) | virtual
    got = set(names)
    if got != want:
        problems.append(f"{len(got)} names, {len(want)} expected; missing "
                        f"{sorted(want - got)[:5]}, extra {sorted(got - want)[:5]}")
    if kind in ("star", "percent", "myrights"):
        wrong = [n for n in got & virtual if "\\Noselect" not in names[n]]
        wrong += [n for n in got - virtual if "\\Noselect" in names[n]]
        if wrong:
            problems.append(f"\\Noselect wrong on {sorted(wrong)[:5]}")
    if kind == "myrights":
        # RFC 4314 §2.1.1: MYRIGHTS may add the virtual "c" and "d".
        bad = [n for n in view if set(rights.get(n, "")) - set("cd") != set(view[n])]
        extra = set(rights) - set(view)
        if bad or extra:
            problems.append(f"MYRIGHTS wrong for {sorted(bad)[:5]}, unexpected for "
                            f"{sorted(extra)[:5]}")
    elif rights:
        problems.append("MYRIGHTS not asked for")
    return problems


def timed_repeat(server: BenchServer, client: Client, command: str, repeat: int,
                 check: Callable[[list[tuple[bytes, list[bytes]]]], tuple[int, list[str]]]
                 ) -> dict[str, Any]:
    """The command once (first) then ``repeat`` more times: wall times, CPU per command."""
    walls: list[float] = []
    problems: list[str] = []
    lines = 0
    cpu_first = cpu_rest = 0.0
    reset_peak_rss(server.pid)
    for r in range(repeat + 1):
        cpu0 = proc_cpu_seconds(server.pid)
        t0 = time.perf_counter()
        tagged, _, _, kept = client.run(command, keep=True)
        wall = time.perf_counter() - t0
        cpu = proc_cpu_seconds(server.pid) - cpu0
        if b" OK" not in tagged[:12]:
            raise ProtocolError(f"{command}: {tagged.decode(errors='replace')[:200]}")
        if r == 0:
            first, cpu_first = wall, cpu
        else:
            walls.append(wall)
            cpu_rest += cpu
        if r in (0, repeat):  # check the first and the last answer
            lines, found = check(kept)
            problems += found
    walls.sort()
    return {"command": command, "lines": lines, "first_ms": round(first * 1000, 2),
            "median_ms": round(statistics.median(walls) * 1000, 2),
            "p90_ms": round(percentile(walls, 0.9) * 1000, 2),
            "max_ms": round(walls[-1] * 1000, 2),
            "server_cpu_ms_each": round(cpu_rest / repeat * 1000, 2),
            "server_cpu_ms_first": round(cpu_first * 1000, 1),
            "peak_rss_mb": round(proc_memory_kb(server.pid)["VmHWM"] / 1024, 1),
            "correct": "yes" if not problems else "NO", "problems": problems[:6]}


def profile(server: BenchServer, client: Client, command: str, out: Path,
            seconds: float) -> None:
    spy = py_spy_start(server.pid, out)
    if spy is None:
        return
    time.sleep(1.0)  # let py-spy attach
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline and n < 100_000:
        client.ok(command)
        n += 1
    py_spy_stop(spy)
    print(f"  py-spy: {out} ({n} x {command})", flush=True)


LIST_COMMANDS = [("star", 'LIST "" "*"'), ("percent", 'LIST "" "%"'),
                 ("myrights", 'LIST "" "*" RETURN (MYRIGHTS)'), ("lsub", 'LSUB "" "*"')]


def run_list(n_users: int, repeat: int, spy_dir: Path | None, spy_seconds: float
             ) -> dict[str, Any]:
    plan = acl_plan(n_users)
    views = expected_views(n_users, plan)
    counts = sorted((len(v[0]), name) for name, v in views.items())
    top = max(counts, key=lambda c: (c[0], c[1] == AUDITOR))[1]
    typical = counts[len(counts) // 2][1]
    report: dict[str, Any] = {"visible_per_user": {
        "min": counts[0][0], "median": counts[len(counts) // 2][0], "max": counts[-1][0]}}
    server = BenchServer()
    try:
        report["setup"] = asyncio.run(setup_list_data(server.data_dir, n_users, plan, views,
                                                      [top, typical]))
        print(f"  setup: {report['setup']}", flush=True)
        server.start(add_user=False)
        report["rss_after_start_mb"] = round(proc_memory_kb(server.pid)["VmRSS"] / 1024, 1)
        for who in dict.fromkeys([top, typical]):
            view, virtual = views[who]
            subscribed = set(view)
            c = Client(server.port, login=False)
            c.ok(f'LOGIN {who} "{PASSWORD}"')
            rows = {}
            for kind, command in LIST_COMMANDS:
                def check(kept: list[tuple[bytes, list[bytes]]], kind: str = kind,
                          view: dict[str, str] = view, virtual: set[str] = virtual,
                          subscribed: set[str] = subscribed) -> tuple[int, list[str]]:
                    names, rights, other = parse_list(kept)
                    found = check_list(kind, names, rights, view, virtual, subscribed)
                    if other:
                        found.append(f"{other} unexpected untagged lines")
                    return len(kept), found

                rows[command] = timed_repeat(server, c, command, repeat, check)
                r = rows[command]
                print(f"  {who} {command:<32} {r['lines']:>5} lines  first {r['first_ms']:7.2f} ms"
                      f"  median {r['median_ms']:7.2f} ms  p90 {r['p90_ms']:7.2f} ms"
                      f"  CPU {r['server_cpu_ms_each']:6.2f} ms/cmd  {r['correct']}"
                      f" {'; '.join(r['problems'])}", flush=True)
            if spy_dir is not None and who == top:
                for kind, command in LIST_COMMANDS:
                    profile(server, c, command, spy_dir / f"list-{kind}.txt", spy_seconds)
            c.close()
            report[who] = {"role": "sees the most" if who == top else "typical",
                           "visible_mailboxes": len(view), "noselect_levels": len(virtual),
                           "commands": rows}
    except Exception as exc:
        print(f"FAILED: {type(exc).__name__}: {exc}\nserver log:\n{server.log_tail()}",
              file=sys.stderr)
        raise
    finally:
        server.stop()
    return report


# --------------------------------------------------------------------------------------------
# Part 2: a big shared mailbox with private \Seen


async def setup_team(data_dir: Path) -> None:
    from crispin.storage import Store

    store = await Store.open(data_dir)
    try:
        owner = await store.get_user(USER)
        assert owner is not None
        box = await store.get_mailbox(owner.id, "Team")
        if box is None:
            box = await store.create_mailbox(owner.id, "Team")
        for name in TEAM_USERS:
            if await store.get_user(name) is None:
                await store.create_user(name, PASSWORD)
            await store.set_acl(box.id, name, "lrswi")
    finally:
        await store.close()


def seen_ranges(n: int) -> dict[str, tuple[int, int]]:
    """Each user's \\Seen UID range: 10%, 25%, 40%, 55%, 70% of n, at offsets 0, 5%, ...20%."""
    out = {}
    for k, who in enumerate([USER, *TEAM_USERS]):
        lo = 1 + round(n * 0.05 * k)
        out[who] = (lo, lo + round(n * (0.10 + 0.15 * k)) - 1)
    return out


def login(port: int, who: str) -> Client:
    c = Client(port, login=False)
    c.ok(f'LOGIN {who} "{PASSWORD}"')
    return c


def status_values(kept: list[tuple[bytes, list[bytes]]]) -> dict[str, int]:
    for text, _ in kept:
        if m := _STATUS.match(text):
            parts = m.group(1).decode().split()
            return {parts[i]: int(parts[i + 1]) for i in range(0, len(parts) - 1, 2)}
    raise ProtocolError("no STATUS answer")


def timed_fresh(server: BenchServer, who: str, command: str, repeat: int,
                check: Callable[[list[tuple[bytes, list[bytes]]]], list[str]],
                before: str | None = None) -> dict[str, Any]:
    """``repeat`` runs, each on a fresh connection (LOGIN, then ``before`` untimed)."""
    walls, cpus, problems = [], [], []
    reset_peak_rss(server.pid)
    for _ in range(repeat):
        c = login(server.port, who)
        if before:
            c.ok(before)
        cpu0 = proc_cpu_seconds(server.pid)
        t0 = time.perf_counter()
        tagged, count, _, kept = c.run(command, keep=True)
        walls.append(time.perf_counter() - t0)
        cpus.append(proc_cpu_seconds(server.pid) - cpu0)
        c.close()
        if b" OK" not in tagged[:12]:
            raise ProtocolError(f"{who}: {command}: {tagged.decode(errors='replace')[:200]}")
        problems += check(kept)
    return {"user": who, "command": command, "untagged": count,
            "first_ms": round(walls[0] * 1000, 2),
            "median_ms": round(statistics.median(walls) * 1000, 2),
            "max_ms": round(max(walls) * 1000, 2),
            "server_cpu_ms": round(sum(cpus) / len(cpus) * 1000, 1),  # mean: 10 ms ticks
            "peak_rss_mb": round(proc_memory_kb(server.pid)["VmHWM"] / 1024, 1),
            "correct": "yes" if not problems else "NO", "problems": problems[:6]}


def run_status(n: int, repeat: int, data_dir: Path | None, spy_dir: Path | None,
               spy_seconds: float) -> dict[str, Any]:
    report: dict[str, Any] = {"messages": n}
    marker = data_dir / MARKER if data_dir else None
    reuse = marker is not None and marker.exists()
    if marker is not None and reuse:
        loaded = json.loads(marker.read_text())
        if loaded.get("messages") != n:
            raise SystemExit(f"{data_dir} holds {loaded.get('messages')} messages, not {n}")
        report["load"] = {**loaded.get("load", {}), "reused": str(data_dir)}
    elif data_dir is not None:
        if data_dir.exists() and any(data_dir.iterdir()):
            raise SystemExit(f"{data_dir} is not empty and holds no {MARKER}")
        data_dir.mkdir(parents=True, exist_ok=True)
    server = BenchServer(data_dir=data_dir)
    try:
        if not reuse:
            server.add_user()
            asyncio.run(setup_team(server.data_dir))
            mbox = server.tmp / "team.mbox"
            t0 = time.perf_counter()
            size = write_mbox(mbox, list(range(n)))
            t_write = time.perf_counter() - t0
            print(f"  import: {n} messages ({size / 1e6:.0f} MB mbox, written in "
                  f"{t_write:.1f} s)...", flush=True)
            t_import = server.import_mbox(mbox, "Team")
            mbox.unlink()
            report["load"] = {"mbox_mb": round(size / 1e6, 1), "import_s": round(t_import, 1),
                              "msgs_per_s": round(n / t_import)}
            print(f"  {report['load']}", flush=True)
            if marker is not None:
                marker.write_text(json.dumps({"messages": n, "load": report["load"]}))
        server.start(add_user=False)
        report["rss_after_start_mb"] = round(proc_memory_kb(server.pid)["VmRSS"] / 1024, 1)
        ranges = seen_ranges(n)
        boxes = {who: "Team" if who == USER else f"{OTHER}/{USER}/Team"
                 for who in [USER, *TEAM_USERS]}

        # Untimed reset, then each user's one big STORE (timed: writes the private rows).
        stores = {}
        for who, (lo, hi) in ranges.items():
            c = login(server.port, who)
            _, _, _, kept = c.ok(f"STATUS {quote(boxes[who])} (MESSAGES UIDNEXT)", keep=True)
            st = status_values(kept)
            if st.get("MESSAGES") != n or st.get("UIDNEXT") != n + 1:
                raise RuntimeError(f"{who}: {boxes[who]} is {st}, expected {n} messages, "
                                   f"UIDs 1..{n}")
            c.ok(f"SELECT {quote(boxes[who])}")
            c.ok(f"UID STORE 1:{n} -FLAGS.SILENT (\\Seen)")
            cpu0 = proc_cpu_seconds(server.pid)
            t0 = time.perf_counter()
            c.ok(f"UID STORE {lo}:{hi} +FLAGS.SILENT (\\Seen)")
            stores[who] = {"uids": f"{lo}:{hi}", "marked": hi - lo + 1,
                           "wall_s": round(time.perf_counter() - t0, 3),
                           "server_cpu_s": round(proc_cpu_seconds(server.pid) - cpu0, 2)}
            c.close()
            print(f"  {who:<6} UID STORE {lo}:{hi} +FLAGS.SILENT (\\Seen): "
                  f"{stores[who]['wall_s']} s, CPU {stores[who]['server_cpu_s']} s", flush=True)
        report["store_seen"] = stores

        rows = []
        for who, (lo, hi) in ranges.items():
            def check(kept: list[tuple[bytes, list[bytes]]], lo: int = lo, hi: int = hi
                      ) -> list[str]:
                st = status_values(kept)
                want = {"MESSAGES": n, "UNSEEN": n - (hi - lo + 1)}
                return [] if st == want else [f"STATUS {st}, expected {want}"]

            rows.append(timed_fresh(server, who, f"STATUS {quote(boxes[who])} (MESSAGES UNSEEN)",
                                    repeat, check))
        # SELECT / SEARCH UNSEEN / UID FETCH FLAGS for the non-owner with the most private rows,
        # and for the owner for comparison.
        for who in (TEAM_USERS[-1], USER):
            lo, hi = ranges[who]
            box = quote(boxes[who])
            first_unseen_uid = 1 if lo > 1 else hi + 1

            def check_select(kept: list[tuple[bytes, list[bytes]]], who: str = who,
                             fu: int = first_unseen_uid) -> list[str]:
                exists = [int(m.group(1)) for t, _ in kept if (m := _EXISTS.match(t))]
                codes = [int(m.group(1)) for t, _ in kept if (m := _UNSEEN_CODE.search(t))]
                out = [] if exists == [n] else [f"EXISTS {exists}, expected {n}"]
                if codes and codes != [fu]:  # UIDs are 1..n: sequence number = UID
                    out.append(f"[UNSEEN {codes}], expected {fu}")
                return out

            def check_search(kept: list[tuple[bytes, list[bytes]]], lo: int = lo,
                             hi: int = hi) -> list[str]:
                got = [int(x) for t, _ in kept if t.startswith(b"* SEARCH")
                       for x in t.split()[2:]]
                want = n - (hi - lo + 1)
                if len(got) != want or any(lo <= u <= hi for u in got) or len(set(got)) != want:
                    return [f"SEARCH UNSEEN gave {len(got)}, expected {want} (the UIDs outside "
                            f"{lo}:{hi})"]
                return []

            def check_fetch(kept: list[tuple[bytes, list[bytes]]], lo: int = lo,
                            hi: int = hi) -> list[str]:
                seen, total = [], 0
                for t, _ in kept:
                    u, f = _FETCH_UID.search(t), _FLAGS.search(t)
                    if u and f:
                        total += 1
                        if b"\\Seen" in f.group(1).split():
                            seen.append(int(u.group(1)))
                if total != n or len(seen) != hi - lo + 1 or min(seen) != lo or max(seen) != hi:
                    return [f"{total} FETCH lines, {len(seen)} \\Seen, expected {n} and "
                            f"{hi - lo + 1} ({lo}:{hi})"]
                return []

            rows.append(timed_fresh(server, who, f"SELECT {box}", repeat, check_select))
            rows.append(timed_fresh(server, who, "SEARCH UNSEEN", repeat, check_search,
                                    before=f"SELECT {box}"))
            rows.append(timed_fresh(server, who, "UID FETCH 1:* (FLAGS)", max(1, repeat // 2),
                                    check_fetch, before=f"SELECT {box}"))
        for r in rows:
            print(f"  {r['user']:<6} {r['command'][:44]:<44} first {r['first_ms']:8.1f} ms  "
                  f"median {r['median_ms']:8.1f} ms  CPU {r['server_cpu_ms']:7.1f} ms  "
                  f"{r['correct']} {'; '.join(r['problems'])}", flush=True)
        report["commands"] = rows
        if spy_dir is not None:
            for who, command, before, fname in [
                    (TEAM_USERS[-1], f"STATUS {quote(boxes[TEAM_USERS[-1]])} (MESSAGES UNSEEN)",
                     None, "status-nonowner"),
                    (USER, "STATUS Team (MESSAGES UNSEEN)", None, "status-owner"),
                    (TEAM_USERS[-1], f"SELECT {quote(boxes[TEAM_USERS[-1]])}", None,
                     "select-nonowner"),
                    (TEAM_USERS[-1], "SEARCH UNSEEN", f"SELECT {quote(boxes[TEAM_USERS[-1]])}",
                     "search-unseen-nonowner")]:
                c = login(server.port, who)
                if before:
                    c.ok(before)
                profile(server, c, command, spy_dir / f"{fname}.txt", spy_seconds)
                c.close()
    except Exception as exc:
        print(f"FAILED: {type(exc).__name__}: {exc}\nserver log:\n{server.log_tail()}",
              file=sys.stderr)
        raise
    finally:
        server.stop()
    return report


# --------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=("list", "status", "all"), default="all")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=None,
                    help="timed runs per command (default 50 for LIST, 5 for STATUS)")
    ap.add_argument("--quick", action="store_true", help="20 users, 5,000 messages, 3 runs")
    ap.add_argument("--data-dir", type=Path, help="status part: keep / reuse the loaded data")
    ap.add_argument("--py-spy", type=Path, help="profile each command into DIR (2nd pass)")
    ap.add_argument("--spy-seconds", type=float, default=5.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.quick:
        args.users, args.messages = 20, 5000
        args.repeat = args.repeat or 3
    if not 12 <= args.users <= 1000 or not 100 <= args.messages <= 1_000_000 \
            or not 1 <= (args.repeat or 1) <= 200 or not 1 <= args.spy_seconds <= 120:
        ap.error("bad --users / --messages / --repeat / --spy-seconds")
    if args.py_spy is not None:
        args.py_spy.mkdir(parents=True, exist_ok=True)

    info = machine_info()
    scaling = cpu_scaling()
    print(f"machine: {info}")
    print(f"CPU check: two busy processes get {scaling} cores' worth (2.0 = two free cores)",
          flush=True)
    report: dict[str, Any] = {"machine": info, "cpu_scaling": [scaling],
                    "started": datetime.now().isoformat(timespec="seconds")}
    ok = True
    if args.part in ("list", "all"):
        print(f"LIST: {args.users} users x {len(MAILBOXES)} mailboxes + {len(SHARED_BOXES)} "
              f"shared", flush=True)
        report["list"] = run_list(args.users, args.repeat or 50, args.py_spy, args.spy_seconds)
        ok &= all(r["correct"] == "yes" for k, v in report["list"].items()
                  if isinstance(v, dict) and "commands" in v for r in v["commands"].values())
    if args.part in ("status", "all"):
        print(f"STATUS: {args.messages} messages shared by {USER} with {len(TEAM_USERS)} users",
              flush=True)
        report["status"] = run_status(args.messages, args.repeat or 5, args.data_dir,
                                      args.py_spy, args.spy_seconds)
        ok &= all(r["correct"] == "yes" for r in report["status"]["commands"])
    scaling = cpu_scaling()
    report["cpu_scaling"].append(scaling)
    print(f"CPU check at the end: {scaling}")
    report["finished"] = datetime.now().isoformat(timespec="seconds")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")
    print("all answers correct" if ok else "SOME ANSWERS WRONG")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
