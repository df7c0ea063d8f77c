"""Tests that need a client program nobody here wrote (curl, mutt, Thunderbird...).

Where one is missing, a developer's run skips the test with the Debian package to install;
under CI (``CI=true``, as CI services set it) a missing program is a *failure*: CI installs
them all (.ci/run), so a skip there would hide a broken setup.
"""

from __future__ import annotations

import os
import shutil

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(*programs: str) -> list[str]:
    return [p for p in programs if shutil.which(p) is None]


def programs(*names: str, install: str = "") -> pytest.MarkDecorator:
    """Mark for a test module or test: skip without ``names``, fail under CI."""
    return pytest.mark.programs(*names, install=install)


def check(names: tuple[str, ...], install: str = "") -> None:
    """Skip, or fail under CI, when any of ``names`` is not on PATH."""
    lacking = missing(*names)
    if not lacking:
        return
    hint = f" ({install})" if install else " (.ci/run installs it)"
    message = f"{', '.join(lacking)} not installed{hint}"
    if in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)
