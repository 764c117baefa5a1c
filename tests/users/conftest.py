"""Users tests need the server's session subkey without a Runtime, and a fresh sign-in throttle."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from tests.conftest import TEST_SECRET

from spectra.db import serverkey
from spectra.db.serverkey import ServerKeys, set_server_keys
from spectra.users import passwords
from spectra.users.throttle import throttle


@pytest.fixture(autouse=True)
def server_keys() -> Iterator[ServerKeys]:
    previous = serverkey._keys
    keys = ServerKeys(secret=bytes.fromhex(TEST_SECRET))
    set_server_keys(keys)
    yield keys
    set_server_keys(previous)


@pytest.fixture(autouse=True)
def fresh_throttle() -> Iterator[None]:
    throttle.reset()
    yield
    throttle.reset()


@pytest.fixture(autouse=True, scope="session")
def cheap_argon2() -> Iterator[None]:
    """argon2id still, with test-sized cost: the default profile takes about a second here."""
    previous = passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    passwords.use_hasher(previous)
