from __future__ import annotations

import hashlib
import hmac

import pytest

from spectra.db.serverkey import ServerKeys
from spectra.keys import secrets


def test_member_keys_carry_the_prefix_and_at_least_32_random_bytes() -> None:
    key = secrets.new_member_key()
    assert key.startswith("sk-spectra-")
    assert len(key) - len("sk-spectra-") >= 43
    assert secrets.new_member_key() != key


def test_admin_tokens_carry_their_own_prefix() -> None:
    token = secrets.new_admin_token()
    assert token.startswith("st-spectra-")
    assert secrets.is_admin_token(token)
    assert not secrets.is_member_key(token)


def test_the_hash_is_hmac_sha256_under_the_key_hash_subkey(server_keys: ServerKeys) -> None:
    key = secrets.new_member_key()
    expected = hmac.new(server_keys.hash_key, key.encode(), hashlib.sha256).hexdigest()
    assert secrets.hash_secret(key) == expected
    assert secrets.hash_secret(key) != hashlib.sha256(key.encode()).hexdigest()


def test_another_server_secret_gives_another_hash() -> None:
    key = secrets.new_member_key()
    other = ServerKeys(secret=b"b" * 32)
    assert secrets.hash_secret(key) != secrets.hash_secret(key, other.hash_key)


def test_the_display_prefix_shows_eight_of_the_random_characters() -> None:
    key = secrets.new_member_key()
    shown = secrets.display_prefix(key)
    body = key[len("sk-spectra-") :]
    assert shown == f"sk-spectra-{body[:4]}…{body[-4:]}"
    assert body not in shown


def test_matching_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert secrets.matches("ab" * 32, "ab" * 32)
    assert not secrets.matches("ab" * 32, "cd" * 32)
    assert len(calls) == 2
