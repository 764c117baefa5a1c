"""Generate, hash and verify member keys (`sk-spectra-...`) and admin tokens (`st-spectra-...`).

Only a keyed hash (HMAC-SHA256 under the server's key-hash subkey) and a short display prefix
are stored. The secrets are 256-bit random, so a fast keyed hash is safe and cheap enough for
the gateway's hot path; a slow password hash (argon2) would add nothing but latency.
"""

from __future__ import annotations

from spectra.db.serverkey import get_server_keys
from spectra.kit.crypto import constant_time_equal, keyed_hash, random_token
from spectra.kit.ids import ADMIN_TOKEN_PREFIX, MEMBER_KEY_PREFIX

SECRET_BYTES = 32
"""Random bytes in every key and token (url-safe base64: 43 characters)."""

_SHOWN_HEAD = 4
_SHOWN_TAIL = 4


def new_member_key() -> str:
    return MEMBER_KEY_PREFIX + random_token(SECRET_BYTES)


def new_admin_token() -> str:
    return ADMIN_TOKEN_PREFIX + random_token(SECRET_BYTES)


def hash_secret(secret: str, key: bytes | None = None) -> str:
    """The stored form of a key or token: HMAC-SHA256 under the server's key-hash subkey, hex."""
    return keyed_hash(key if key is not None else get_server_keys().hash_key, secret)


def display_prefix(secret: str) -> str:
    """What lists show: the kind prefix, 4 leading and 4 trailing random characters (48 of 256 bits)."""
    kind = MEMBER_KEY_PREFIX if secret.startswith(MEMBER_KEY_PREFIX) else ADMIN_TOKEN_PREFIX
    body = secret[len(kind) :]
    return f"{kind}{body[:_SHOWN_HEAD]}…{body[-_SHOWN_TAIL:]}"


def matches(secret_hash: str, stored_hash: str) -> bool:
    """Compare a computed hash with a stored one in constant time."""
    return constant_time_equal(secret_hash, stored_hash)


def is_member_key(secret: str) -> bool:
    return secret.startswith(MEMBER_KEY_PREFIX) and len(secret) > len(MEMBER_KEY_PREFIX)


def is_admin_token(secret: str) -> bool:
    return secret.startswith(ADMIN_TOKEN_PREFIX) and len(secret) > len(ADMIN_TOKEN_PREFIX)
