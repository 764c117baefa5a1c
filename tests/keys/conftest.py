"""Keys tests need the server's hash subkey even without a running Runtime."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.conftest import TEST_SECRET

from spectra.db import serverkey
from spectra.db.serverkey import ServerKeys, set_server_keys


@pytest.fixture(autouse=True)
def server_keys() -> Iterator[ServerKeys]:
    previous = serverkey._keys
    keys = ServerKeys(secret=bytes.fromhex(TEST_SECRET))
    set_server_keys(keys)
    yield keys
    set_server_keys(previous)
