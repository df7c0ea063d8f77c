"""Shared helpers for the benchmarks: start a throw-away Crispin server, read its CPU and memory
from /proc (psutil is not a dependency), and describe the machine.

Stdlib only. Every server runs in a fresh temporary data folder, listens on 127.0.0.1 with
ports chosen by the kernel, and is stopped (SIGTERM, then SIGKILL) by ``BenchServer.stop``.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
USER = "bench"
PASSWORD = "bench-password-0123"
CLK_TCK = os.sysconf("SC_CLK_TCK")

_READY = re.compile(r"listening on (\S+) port (\d+) \(plain, STARTTLS\) and (\d+) \(TLS\)")


def raise_nofile(wanted: int) -> int:
    """Raise the soft open-files limit toward ``wanted`` (children inherit it); the new soft
    limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads included."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    # After the ")" the fields start at number 3 (state); utime is field 14, stime 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) in kB, plus RssAnon."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "Threads"):
                out[key] = int(rest.split()[0])
    return out


def machine_info() -> dict[str, str]:
    model = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": str(os.cpu_count()), "python": platform.python_version(),
            "cpu": model, "kernel": platform.release()}


class BenchServer:
    """``python -m crispin serve`` in a temp data dir, with one user (USER/PASSWORD)."""

    def __init__(self, env: dict[str, str] | None = None, log_level: str = "warning",
                 wrapper: list[str] | None = None, data_dir: Path | None = None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="crispin-bench-"))
        # A caller-given data dir is kept by stop() (reuse a loaded mailbox); the default
        # one lives in the temp folder and goes with it.
        self.keep_data = data_dir is not None
        self.data_dir = data_dir if data_dir is not None else self.tmp / "data"
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        # Mail in on free ports, never the fixed defaults (several servers may run at once).
        self.env.setdefault("CRISPIN_SMTP_PORT", "0")
        self.env.setdefault("CRISPIN_SMTP_SUBMISSION_PORT", "0")
        self.log_level = log_level
        # e.g. [python, some_wrapper.py] instead of [python, -m, crispin.server.cli]
        self.wrapper = wrapper or [PYTHON, "-m", "crispin"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = self.tls_port = 0
        self.log_path = self.tmp / "server.log"

    @property
    def cert(self) -> Path:
        return self.data_dir / "tls" / "cert.pem"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0, add_user: bool = True) -> BenchServer:
        """Create the user (unless ``add_user`` is false: a restart on the same data) and
        start the server; returns when it is listening."""
        if add_user:
            self.add_user(timeout)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*self.wrapper, "serve", "--data-dir", str(self.data_dir), "--host", "127.0.0.1",
                 "--port", "0", "--tls-port", "0", "--log-level", self.log_level],
                cwd=REPO, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace")
            m = _READY.search(text)
            if m and "Crispin is ready." in text:
                self.port, self.tls_port = int(m.group(2)), int(m.group(3))
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("server did not start:\n" + self.log_path.read_text(errors="replace"))

    def add_user(self, timeout: float = 60.0) -> None:
        """``crispin user add`` USER/PASSWORD into the data dir (server running or not)."""
        add = subprocess.run(
            [PYTHON, "-m", "crispin", "user", "add", USER, "--password-stdin", "--create",
             "--data-dir", str(self.data_dir)],
            input=(PASSWORD + "\n").encode(), cwd=REPO, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        if add.returncode != 0:
            raise RuntimeError(f"user add failed: {add.stdout.decode(errors='replace')}")

    def import_mbox(self, mbox: Path, mailbox: str = "INBOX", timeout: float = 7200.0
                    ) -> float:
        """``crispin import`` of an mbox into USER's ``mailbox`` (run it with the server
        stopped); the wall seconds it took."""
        t0 = time.perf_counter()
        proc = subprocess.run(
            [PYTHON, "-m", "crispin", "import", "--user", USER, "--mailbox", mailbox,
             str(mbox), "--data-dir", str(self.data_dir)],
            cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError("import failed:\n" + proc.stdout.decode(errors="replace")[-2000:])
        return time.perf_counter() - t0

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop_process(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and keep its data: ``start(add_user=False)``
        runs it again on the same data dir."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.stop_process()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> BenchServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (``echo 5 > /proc/PID/clear_refs``), so that the next
    VmHWM reading is the peak of what came after. False where the kernel refuses."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def py_spy_exe() -> str | None:
    exe = shutil.which("py-spy") or str(Path(PYTHON).with_name("py-spy"))
    return exe if Path(exe).exists() else None


def py_spy_start(pid: int, out: Path, seconds: float | None = None,
                 rate: int = 250) -> subprocess.Popen[bytes] | None:
    """``py-spy record -f raw`` of ``pid`` into ``out``, for ``seconds`` or until
    :func:`py_spy_stop`. None (with a note) when py-spy is not installed."""
    exe = py_spy_exe()
    if exe is None:
        print("py-spy not found; install it with .venv/bin/pip install py-spy", file=sys.stderr)
        return None
    cmd = [exe, "record", "-p", str(pid), "-r", str(rate), "-f", "raw", "-o", str(out),
           "--threads"]
    if seconds is not None:
        cmd += ["-d", str(max(1, int(seconds)))]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def py_spy_stop(spy: subprocess.Popen[bytes] | None, timeout: float = 60.0) -> None:
    """Stop a recording started without ``seconds`` (SIGINT: py-spy then writes its file)."""
    if spy is None:
        return
    if spy.poll() is None:
        spy.send_signal(signal.SIGINT)
    try:
        spy.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait(timeout=10)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def _spin(n: int) -> float:
    t = time.perf_counter()
    x = 0
    for i in range(n):
        x += i
    return time.perf_counter() - t


def cpu_scaling(n: int = 5_000_000) -> float:
    """How many cores' worth of pure-Python work two processes get right now: 2.0 on two
    free cores, ~1.0 when the vCPUs are busy elsewhere (shared host, SMT siblings). The
    login figures swing with it, so the benchmarks print it."""
    import multiprocessing as mp

    one = _spin(n)
    with mp.get_context("fork").Pool(2) as pool:
        two = max(pool.map(_spin, [n, n]))
    return round(2 * one / two, 2)
