"""Experiment only: ``crispin`` with asyncio's per-connection TLS read buffer made smaller.

asyncio.sslproto.SSLProtocol allocates ``bytearray(max_size)`` (256 KiB) for every TLS
connection and keeps it for the connection's life. This wrapper sets the class attribute from
BENCH_SSL_MAX_SIZE before the server starts, to measure what a fix would save. The server's own
code is unchanged.
"""

import asyncio.sslproto
import os
import sys

size = int(os.environ.get("BENCH_SSL_MAX_SIZE", "0"))
if size:
    asyncio.sslproto.SSLProtocol.max_size = size
    # server/tls.py now sets the same attribute itself (from TLS_READ_BUFFER) at startup:
    # change that constant too, or the experiment would measure the server's default.
    import server.tls

    if hasattr(server.tls, "TLS_READ_BUFFER"):
        server.tls.TLS_READ_BUFFER = size

from server.cli import main  # noqa: E402

sys.exit(main())
