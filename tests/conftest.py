"""Suite-wide hooks: the ``programs`` mark (tests/programs.py) and the ``interop`` mark given
to every test under tests/interop (pyproject.toml registers the marks; ``--strict-markers``
refuses any other)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.programs import check

INTEROP = Path(__file__).resolve().parent / "interop"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEROP in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.interop)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("programs"):
        check(tuple(mark.args), str(mark.kwargs.get("install", "")))
