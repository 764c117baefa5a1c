"""API tests need a fresh sign-in throttle and a test-sized argon2 profile."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher

from spectra.users import passwords
from spectra.users.throttle import throttle


@pytest.fixture(autouse=True)
def fresh_throttle() -> Iterator[None]:
    throttle.reset()
    yield
    throttle.reset()


@pytest.fixture(autouse=True, scope="session")
def cheap_argon2() -> Iterator[None]:
    previous = passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    passwords.use_hasher(previous)
