"""The account credential at rest (AES-GCM under a versioned subkey, bound to the account id)
and in memory (a wrapper whose repr never shows it)."""

from __future__ import annotations

import uuid
from typing import Final

from spectra.kit import crypto


class Credential:
    """An upstream credential in memory; `str()`/`repr()` show only its last four characters."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value: Final = value

    def reveal(self) -> str:
        """The plaintext, for the upstream request header only."""
        return self._value

    @property
    def last4(self) -> str:
        return self._value[-4:]

    def __repr__(self) -> str:
        return f"Credential('…{self.last4}')"

    __str__ = __repr__


def seal(key: bytes, version: int, account_id: uuid.UUID, plaintext: str) -> str:
    return crypto.encrypt(key, plaintext, version=version, associated=account_id.bytes)


def unseal(key: bytes, account_id: uuid.UUID, ciphertext: str) -> Credential:
    return Credential(crypto.decrypt(key, ciphertext, associated=account_id.bytes))


def last4(plaintext: str) -> str:
    return plaintext[-4:]
