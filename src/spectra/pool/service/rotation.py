"""Credential rotation: one account's API key, or the subkey that seals every credential."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db import serverkey
from spectra.db.changes import record_change
from spectra.db.serverkey import ServerKeys, get_server_keys
from spectra.db.session import Session
from spectra.pool import kinds, repository
from spectra.pool.credentials import Credential, seal, unseal
from spectra.pool.models import PoolAccount
from spectra.pool.probes import ProbeOutcome
from spectra.pool.states import AccountState
from spectra.providers.client import UpstreamClient
from spectra.users.permissions import Permission, require

from ._common import get_for_update
from .lifecycle import probe_and_record


async def rotate_credential(
    session: Session,
    actor: Actor,
    *,
    account_id: uuid.UUID,
    api_key: str,
    run_probe: bool = True,
    client: UpstreamClient | None = None,
) -> tuple[PoolAccount, ProbeOutcome | None]:
    """Replace an account's credential (sealed under the current key version) and, by default,
    test it at once: a successful test returns a `needs_attention` account to `active`.

    Writes an audit event naming only the old and new last four characters.
    """
    require(actor, Permission.POOL_WRITE)
    account = await get_for_update(session, account_id)
    credential = kinds.clean_credential(account.provider, api_key)
    key = credential.stored
    keys = get_server_keys()
    old_last4 = account.credential_last4
    account.credential_ciphertext = seal(
        keys.credentials_key(), keys.credentials_version, account.id, key
    )
    account.credential_key_version = keys.credentials_version
    account.credential_last4 = credential.last4
    await session.flush()
    await audit_service.record_on(
        session,
        actor,
        "pool.credential_rotated",
        "pool_account",
        account,
        previous_last4=old_last4,
        new_last4=account.credential_last4,
    )
    outcome = None
    if run_probe and account.state != AccountState.DISABLED:
        outcome = await probe_and_record(
            session, account, Credential(key), by_admin=True, actor=actor, client=client
        )
    await record_change(session, "pool.account", account.id)
    return account, outcome


Resealer = Callable[[Session, ServerKeys], Awaitable[tuple[str, int]]]
"""Re-encrypts another domain's sealed values under the new keys in the same transaction and
returns (what, how many) for the audit event (alerts.rotation passes the alert channels' and
the sealed settings')."""


async def rotate_credential_key(
    session: Session, actor: Actor, *, also: Sequence[Resealer] = ()
) -> int:
    """Move the credential-encryption subkey to its next version and re-encrypt every pool
    account's credential under it, and what each of `also` reseals (one transaction).
    Member-key and token hashes use another subkey and are not touched. Returns how many
    credentials were re-encrypted. Audited."""
    require(actor, Permission.SETTINGS_WRITE)
    old = get_server_keys()
    accounts = await repository.all_accounts_for_update(session)
    keys = await serverkey.raise_credentials_version(session)
    for account in accounts:
        credential = unseal(
            old.credentials_key(account.credential_key_version),
            account.id,
            account.credential_ciphertext,
        )
        account.credential_ciphertext = seal(
            keys.credentials_key(), keys.credentials_version, account.id, credential.reveal()
        )
        account.credential_key_version = keys.credentials_version
    await session.flush()
    resealed = dict([await reseal(session, keys) for reseal in also])
    await audit_service.record(
        session,
        actor,
        "pool.credential_key_rotated",
        target_type="server_identity",
        target_id=None,
        target_label="credential-encryption subkey",
        before={"version": old.credentials_version},
        after={"version": keys.credentials_version},
        accounts=len(accounts),
        **resealed,
    )
    for account in accounts:
        await record_change(session, "pool.account", account.id)
    return len(accounts)
