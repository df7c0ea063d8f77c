"""pytest plugin: a real Crispin IMAP server for the tests that ask for one.

Installed with Crispin (entry point ``pytest11``) but inert until a test uses the
``crispin`` fixture or the ``@pytest.mark.crispin`` marker: a project that never asks starts
nothing. ``-p no:crispin`` removes it altogether.

One server per test session (per worker under pytest-xdist, each on its own free ports); each
test that uses it starts from the state right after start-up (no users, no mail), restored
from a snapshot in milliseconds. Tests that want to share users set up once can call
``crispin.snapshot("name")`` and ``crispin.restore("name")`` themselves.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crispin.server.testing import CrispinServer


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "crispin: the test gets a clean Crispin server (fixture `crispin`)")


@pytest.fixture(scope="session")
def crispin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrispinServer]:
    """The session's server, started on first use; its state is whatever tests left."""
    server = CrispinServer(tmp_path_factory.mktemp("crispin") / "data").start()
    try:
        server.snapshot()
        yield server
    finally:
        server.stop()


@pytest.fixture
def crispin(crispin_server: CrispinServer) -> CrispinServer:
    """The session's server, reset to its empty start-up state for this test."""
    crispin_server.restore()
    return crispin_server


@pytest.fixture(autouse=True)
def _crispin_marker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("crispin") is not None:
        request.getfixturevalue("crispin")
