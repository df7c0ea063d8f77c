from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.server.harness import ServerThread


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Api:
    """A urllib client for the HTTP API of a ``ServerThread``."""

    def __init__(self, srv: ServerThread, token: str = "") -> None:
        assert srv.running.http_address is not None
        host, port = srv.running.http_address
        self.base = f"http://{host}:{port}"
        self.port = port
        self.token = token

    def request(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                headers: dict[str, str] | None = None, timeout: float = 30) -> Reply:
        data = raw
        hdrs = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if self.token:
            hdrs.setdefault("Authorization", f"Bearer {self.token}")
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return Reply(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, exc.headers, exc.read())

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)


def http_server_thread(data_dir: Path, **http: Any) -> ServerThread:
    return ServerThread(data_dir, http={"enabled": True, "port": 0, **http})


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[ServerThread]:
    srv = http_server_thread(tmp_path / "data")
    srv.add_user("alice")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def api(http_server: ServerThread) -> Api:
    return Api(http_server)
