"""Alert fixtures: the gateway's world (member, key, prices, pool on the fake upstream)."""

from __future__ import annotations

from tests.gateway.conftest import fake, pooled, world

__all__ = ["fake", "pooled", "world"]
