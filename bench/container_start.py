"""Container start: seconds from ``podman run`` to healthy (``crispin health`` passes, polled
every 50 ms) and to the first message accepted over SMTP (250 after DATA), on a fresh volume.

Needs podman and the image (tests/container builds ``localhost/crispin-test:ci``):

    .venv/bin/python bench/container_start.py [--image IMAGE] [--runs 5]
"""

from __future__ import annotations

import argparse
import resource
import smtplib
import statistics
import subprocess
import time
import uuid

# Limits runc may set on this kind of machine (see tests/container/test_image.py ulimits()).
_NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
_NOFILE = 65536 if _NOFILE == resource.RLIM_INFINITY else _NOFILE
ULIMITS = ["--ulimit", f"nofile={_NOFILE}:{_NOFILE}", "--ulimit", "nproc=4096:4096"]


def podman(*args: str) -> str:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=True,
                          timeout=120).stdout.strip()


def one(image: str) -> tuple[float, float]:
    name = f"crispin-bench-{uuid.uuid4().hex[:8]}"
    t0 = time.monotonic()
    podman("run", "-d", "--rm", "--name", name, *ULIMITS, "-p", "127.0.0.1::25",
           "-e", "CRISPIN_USERS=alice:secret", image)
    try:
        port = int(podman("port", name, "25/tcp").rsplit(":", 1)[1])
        smtp_at = healthy_at = 0.0
        while not (smtp_at and healthy_at):
            if not smtp_at:
                try:
                    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
                        smtp.sendmail("b@x", ["alice@x"], b"Subject: first\r\n\r\nhi\r\n")
                    smtp_at = time.monotonic() - t0
                except (OSError, smtplib.SMTPException):
                    pass
            if not healthy_at and subprocess.run(["podman", "healthcheck", "run", name],
                                                 capture_output=True).returncode == 0:
                healthy_at = time.monotonic() - t0
            time.sleep(0.05)
        return healthy_at, smtp_at
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--image", default="localhost/crispin-test:ci")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = [one(args.image) for _ in range(args.runs)]
    for healthy, smtp in results:
        print(f"healthy after {healthy:.2f} s, first SMTP message accepted after {smtp:.2f} s")
    print(f"median: healthy {statistics.median(r[0] for r in results):.2f} s, first SMTP "
          f"{statistics.median(r[1] for r in results):.2f} s")


if __name__ == "__main__":
    main()
