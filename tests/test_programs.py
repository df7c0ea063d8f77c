"""A missing client program skips a test on a developer's machine and fails it under CI."""

from __future__ import annotations

import pytest

from tests.programs import check

NOWHERE = "crispin-no-such-program-x"


def test_missing_program_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=NOWHERE):
        check((NOWHERE,))


def test_missing_program_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=f"CI=true and {NOWHERE}"):
        check((NOWHERE,))
    check(("sh",))  # present: nothing happens
