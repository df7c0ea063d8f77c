from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.harness import ServerThread


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    srv = ServerThread(tmp_path / "data")
    srv.add_user("alice")
    srv.add_user("bob")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[object]:
    """Start a server with configuration overrides: ``make_server(limits={...})``."""
    started: list[ServerThread] = []

    def make(**overrides: dict[str, object]) -> ServerThread:
        srv = ServerThread(tmp_path / f"data{len(started)}", **overrides)  # type: ignore[arg-type]
        srv.add_user("alice")
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()
