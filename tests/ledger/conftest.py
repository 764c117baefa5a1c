from __future__ import annotations

from collections.abc import Iterator

import pytest

from spectra.db.serverkey import ServerKeys, set_server_keys
from spectra.ledger.ratelimit import redeem_limiter


@pytest.fixture(autouse=True)
def _ledger_keys_and_limits() -> Iterator[None]:
    """Codes hash under the server's key subkey; service tests have no runtime to load it."""
    set_server_keys(ServerKeys(secret=b"k" * 32))
    redeem_limiter.reset()
    yield
    redeem_limiter.reset()
    set_server_keys(None)
