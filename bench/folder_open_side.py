"""Issue 14's table for Crispin and Dovecot side by side, one command (``folder_open.py``).

Runs ``folder_open.py`` on Crispin (``--data-dir``: a loaded folder, e.g. a copy of
``/srv/bench/fo100k``, or one it loads and keeps), then the same under ``dovecot_side.py``
with ``--external`` (a private Dovecot 2.3, the same corpus written straight into its
Maildir), then prints the rows of both in one table: wall time of each, the ratio, and
Crispin's server CPU (Dovecot's processes are not ours to read). Each server runs alone,
one after the other; run it on a quiet host. Needs root (Dovecot's master drops privileges
itself), 127.0.0.1 only.

    cp -a /srv/bench/fo100k /tmp/side-fo100k
    .venv/bin/python bench/folder_open_side.py --data-dir /tmp/side-fo100k --json side.json
    .venv/bin/python bench/folder_open_side.py --messages 2000 --runs 3   # a quick check
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(argv: list[str]) -> None:
    print("$", " ".join(argv), flush=True)
    subprocess.run(argv, check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--data-dir", type=Path, help="Crispin's loaded folder (kept)")
    ap.add_argument("--only", nargs="*", help="folder_open.py --only (both servers)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    common = ["--messages", str(args.messages), "--runs", str(args.runs)]
    if args.only:
        common += ["--only", *args.only]
    with tempfile.TemporaryDirectory(prefix="folder-open-side-") as tmp:
        out = {name: Path(tmp) / f"{name}.json" for name in ("crispin", "dovecot")}
        crispin = [sys.executable, str(HERE / "folder_open.py"), *common,
                   "--json", str(out["crispin"])]
        if args.data_dir is not None:
            crispin += ["--data-dir", str(args.data_dir)]
        run(crispin)
        run([sys.executable, str(HERE / "dovecot_side.py"), "--", sys.executable,
             str(HERE / "folder_open.py"), "--external", *common,
             "--json", str(out["dovecot"])])
        reports = {name: json.loads(path.read_text()) for name, path in out.items()}
    rows: dict[str, dict[str, dict[str, object]]] = {}
    for name, report in reports.items():
        for row in report["rows"]:
            # The first header fetch: after Crispin's restart, after Dovecot's load.
            op = str(row["operation"]).replace(" (first after the load)",
                                               " (first after start)")
            rows.setdefault(op, {})[name] = row
    print(f"\n{args.messages} messages, median of {args.runs}; load average: Crispin "
          f"{reports['crispin']['loadavg_before']} -> {reports['crispin']['loadavg_after']}, "
          f"Dovecot {reports['dovecot']['loadavg_before']} -> "
          f"{reports['dovecot']['loadavg_after']}")
    print(f"{'operation':58} {'Crispin':>10} {'CPU':>9} {'Dovecot':>10} {'C/D':>6}  unit")
    for op, pair in rows.items():
        c, d = pair.get("crispin", {}), pair.get("dovecot", {})
        cw, dw = c.get("median_wall"), d.get("median_wall")
        unit = str((c or d).get("unit", ""))
        ratio = "" if not isinstance(cw, float) or not isinstance(dw, float) or not dw else \
            f"{(dw / cw if unit == 'msg/s' else cw / dw):.2f}"
        print(f"{op:58} {cw!s:>10} {c.get('median_server_cpu')!s:>9} {dw!s:>10} "
              f"{ratio:>6}  {unit}")
    print("C/D: Crispin's time over Dovecot's (for msg/s, Dovecot's rate over Crispin's): "
          "above 1, Crispin is slower")
    for key in ("noop_during_header_fetch", "ten_sessions_selected"):
        for name, report in reports.items():
            if key in report:
                print(f"{name} {key}: {report[key]}")
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
