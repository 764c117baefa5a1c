from __future__ import annotations

import pytest

from spectra.kit import crypto


def test_subkeys_differ_by_purpose_and_version() -> None:
    secret = b"s" * 32
    a = crypto.derive_subkey(secret, crypto.PURPOSE_CREDENTIALS, 1)
    b = crypto.derive_subkey(secret, crypto.PURPOSE_CREDENTIALS, 2)
    c = crypto.derive_subkey(secret, crypto.PURPOSE_KEY_HASH, 1)
    assert len({a, b, c, secret}) == 4


def test_encrypt_round_trips_and_names_the_version() -> None:
    key = crypto.derive_subkey(b"s" * 32, crypto.PURPOSE_CREDENTIALS)
    token = crypto.encrypt(key, "sk-ant-secret", version=3)
    assert token.startswith("v3.")
    assert "sk-ant-secret" not in token
    assert crypto.ciphertext_version(token) == 3
    assert crypto.decrypt(key, token) == "sk-ant-secret"


def test_a_wrong_key_is_a_clear_error_not_garbage() -> None:
    token = crypto.encrypt(crypto.derive_subkey(b"a" * 32, "p"), "secret")
    with pytest.raises(crypto.CredentialDecryptError, match="restore the secret key"):
        crypto.decrypt(crypto.derive_subkey(b"b" * 32, "p"), token)


def test_keyed_hash_is_stable_and_keyed() -> None:
    assert crypto.keyed_hash(b"k1", "x") == crypto.keyed_hash(b"k1", "x")
    assert crypto.keyed_hash(b"k1", "x") != crypto.keyed_hash(b"k2", "x")
    assert crypto.constant_time_equal("abc", "abc")
    assert not crypto.constant_time_equal("abc", "abd")
