"""Secrets at rest: HKDF subkeys of the server secret, credential encryption, keyed hashes.

The server secret is never used directly. Each purpose gets its own versioned subkey, so
rotating the credential-encryption key never disturbs member-key hashes and vice versa.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from spectra.errors import ConfigError

PURPOSE_CREDENTIALS = "spectra/credentials"
PURPOSE_KEY_HASH = "spectra/key-hash"
PURPOSE_SESSION = "spectra/session"
PURPOSE_WEBHOOK = "spectra/webhook"
PURPOSE_AUDIT_CHAIN = "spectra/audit-chain"
PURPOSE_AUDIT_ANCHOR = "spectra/audit-anchor"


class CredentialDecryptError(ConfigError):
    code = "credential_decrypt_failed"


def derive_subkey(secret: bytes, purpose: str, version: int = 1) -> bytes:
    """A 32-byte subkey for `purpose` at `version`, derived from the server secret by HKDF-SHA256."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"spectra-hkdf-v1",
        info=f"{purpose}#v{version}".encode(),
    )
    return hkdf.derive(secret)


def new_server_secret() -> bytes:
    return secrets.token_bytes(32)


def fingerprint(secret: bytes) -> str:
    """A public fingerprint of the server secret, stored in the database to detect a changed key."""
    return hashlib.sha256(
        b"spectra-fingerprint:" + derive_subkey(secret, "spectra/fingerprint")
    ).hexdigest()[:32]


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 of `value` under `key`, hex. Used for member keys, tokens and codes."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def encrypt(key: bytes, plaintext: str, *, version: int = 1, associated: bytes = b"") -> str:
    """AES-256-GCM encrypt; the result names the key version: `v1.<nonce+ciphertext b64>`."""
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), associated)
    return f"v{version}." + base64.urlsafe_b64encode(nonce + sealed).decode()


def ciphertext_version(token: str) -> int:
    head, _, _ = token.partition(".")
    if not head.startswith("v") or not head[1:].isdigit():
        raise CredentialDecryptError("A stored credential is not in a format Spectra knows.")
    return int(head[1:])


def decrypt(key: bytes, token: str, *, associated: bytes = b"") -> str:
    """Decrypt a value from `encrypt`; a wrong key is a clear error, never garbage."""
    _, _, body = token.partition(".")
    try:
        raw = base64.urlsafe_b64decode(body.encode())
        return AESGCM(key).decrypt(raw[:12], raw[12:], associated).decode()
    except (InvalidTag, ValueError) as exc:
        raise CredentialDecryptError(
            "A stored credential cannot be decrypted with this server secret; "
            "restore the secret key file this database was created with."
        ) from exc


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
