"""Ledger accounts: race-safe creation, wallets, balances, lookups and the transaction list."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select

from spectra.audit.actor import Actor
from spectra.db.session import AnySession, Session
from spectra.errors import InvalidError
from spectra.kit.listing import ListQuery
from spectra.kit.pagination import Page
from spectra.ledger import repository as repo
from spectra.ledger.errors import (
    AccountNotFoundError,
    TransactionNotFoundError,
    WalletOwnerNotFoundError,
)
from spectra.ledger.models import (
    OWNED_KINDS,
    SINGLETON_KINDS,
    AccountKind,
    LedgerAccount,
    LedgerTransaction,
)
from spectra.users import service as users_service
from spectra.users.errors import GroupNotFoundError, UserNotFoundError
from spectra.users.permissions import Permission, PermissionDeniedError, allows, require
from spectra.users.scope import led_groups, require_read_user


async def get_or_create_account(
    session: Session, *, kind: AccountKind | str, owner_id: uuid.UUID | None = None
) -> LedgerAccount:
    """Return the account for (kind, owner), creating it if missing. Race-safe: unique in the schema
    and inserted with on-conflict-do-nothing, so concurrent callers get the same row."""
    kind = AccountKind(kind)
    if kind in OWNED_KINDS and owner_id is None:
        raise InvalidError(f"A {kind} account needs an owner id.")
    if kind in SINGLETON_KINDS and owner_id is not None:
        raise InvalidError(f"The {kind} account is a singleton; it has no owner.")
    account = await repo.find_account(session, kind=kind, owner_id=owner_id)
    if account is None:
        await repo.insert_account_if_missing(session, kind=kind, owner_id=owner_id)
        account = await repo.find_account(session, kind=kind, owner_id=owner_id)
    assert account is not None
    return account


async def wallet_account(
    session: Session, *, user_id: uuid.UUID | None = None, group_id: uuid.UUID | None = None
) -> LedgerAccount:
    """The wallet of exactly one of a user or a group (created on first use); the owner must exist."""
    kind, owner_id = await _wallet_owner(session, user_id=user_id, group_id=group_id)
    return await get_or_create_account(session, kind=kind, owner_id=owner_id)


async def _find_wallet(
    session: AnySession, *, user_id: uuid.UUID | None, group_id: uuid.UUID | None
) -> LedgerAccount:
    """The wallet as it is, without writing: one that does not exist yet is answered as a
    transient, unsaved account with a zero balance and the id it will get when first used."""
    kind, owner_id = await _wallet_owner(session, user_id=user_id, group_id=group_id)
    found = await repo.find_account(session, kind=kind, owner_id=owner_id)
    if found is not None:
        return found
    return LedgerAccount(
        id=repo.account_id_for(kind, owner_id),
        kind=kind,
        owner_id=owner_id,
        owner_key=repo.owner_key(owner_id),
        balance_micros=0,
    )


async def _wallet_owner(
    session: AnySession, *, user_id: uuid.UUID | None, group_id: uuid.UUID | None
) -> tuple[AccountKind, uuid.UUID]:
    """The wallet kind and owner for exactly one of a user or a group, which must exist."""
    if (user_id is None) == (group_id is None):
        raise InvalidError("Name exactly one of a user or a group.")
    if user_id is not None:
        if await repo.get_user(session, user_id) is None:
            raise WalletOwnerNotFoundError("That user does not exist.", user_id=str(user_id))
        return AccountKind.USER_WALLET, user_id
    assert group_id is not None
    if await repo.get_group(session, group_id) is None:
        raise WalletOwnerNotFoundError("That group does not exist.", group_id=str(group_id))
    return AccountKind.GROUP_WALLET, group_id


async def get_account(session: AnySession, account_id: uuid.UUID) -> LedgerAccount:
    account = await repo.get_account(session, account_id)
    if account is None:
        raise AccountNotFoundError(
            "That ledger account does not exist.", account_id=str(account_id)
        )
    return account


async def balance(session: AnySession, account_id: uuid.UUID) -> int:
    """The account's balance in micros (the cached sum of its postings)."""
    found = await repo.balances(session, [account_id])
    if account_id not in found:
        raise AccountNotFoundError(
            "That ledger account does not exist.", account_id=str(account_id)
        )
    return found[account_id]


async def get_balances(
    session: AnySession, account_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Balances in micros of the given accounts (missing ids are left out)."""
    return await repo.balances(session, account_ids)


async def resolve_owner(
    session: AnySession,
    actor: Actor,
    *,
    user_email: str | None = None,
    group_name: str | None = None,
    user_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """A wallet owner as (user_id, group_id) from an email or a group name (the users service's
    lookup, so an unknown name is a 403 to an actor who may not read everyone)."""
    try:
        owner = await users_service.resolve_owner(
            session,
            actor,
            user_email=user_email,
            group_name=group_name,
            user_id=user_id,
            group_id=group_id,
        )
    except (UserNotFoundError, GroupNotFoundError) as exc:
        raise WalletOwnerNotFoundError(exc.message, **exc.details) from None
    return owner.user_id, owner.group_id


async def _may_read_wallet(
    session: AnySession, actor: Actor, *, user_id: uuid.UUID | None, group_id: uuid.UUID | None
) -> None:
    if allows(actor, Permission.READ_ALL):
        return
    require(actor, Permission.SELF)
    if user_id is not None and actor.user_id == user_id:
        return
    if group_id is not None and actor.user_id is not None:
        me = await repo.get_user(session, actor.user_id)
        if me is not None and me.group_id == group_id:
            return
    led = await led_groups(session, actor)
    if led and group_id is not None and group_id in led:
        return
    if led and user_id is not None:
        # a team lead reads the wallets of their groups' members (the role's refusal otherwise)
        await require_read_user(session, actor, user_id)
        return
    raise PermissionDeniedError("You can only see your own balance and your group's.")


async def get_wallet(
    session: AnySession,
    actor: Actor,
    *,
    user_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
) -> LedgerAccount:
    """A wallet with its balance, for its owner, its group's members, or anyone who may read all.
    A read: a wallet not yet used is answered with a zero balance and nothing is written."""
    await _may_read_wallet(session, actor, user_id=user_id, group_id=group_id)
    return await _find_wallet(session, user_id=user_id, group_id=group_id)


async def list_transactions(
    session: AnySession,
    actor: Actor,
    *,
    user_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    account_id: uuid.UUID | None = None,
    also_accounts: Sequence[uuid.UUID] = (),
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    cursor: str | None = None,
    listing: ListQuery | None = None,
) -> Page[LedgerTransaction]:
    """Transactions, newest first, filtered by wallet owner, account, kind and time; with
    `listing`, one offset page in its sort and text filter instead (the console's table).
    `also_accounts` widens the owner's wallet to more accounts of the same owner (a member's
    allowances); the caller vouches that they are the owner's."""
    account_ids: list[uuid.UUID] | None = None
    if user_id is not None or group_id is not None:
        wallet = await get_wallet(session, actor, user_id=user_id, group_id=group_id)
        account_ids = [wallet.id]
    else:
        require(actor, Permission.READ_ALL)
    if account_id is not None:
        require(actor, Permission.READ_ALL)
        account_ids = [*(account_ids or []), account_id]
    if also_accounts:
        account_ids = [*(account_ids or []), *also_accounts]
    return await repo.list_transactions(
        session,
        account_ids=account_ids,
        kind=kind,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
        listing=listing,
    )


async def get_transaction(
    session: AnySession, actor: Actor, *, transaction_id: uuid.UUID
) -> LedgerTransaction:
    require(actor, Permission.READ_ALL)
    txn = await repo.get_transaction(session, transaction_id)
    if txn is None:
        raise TransactionNotFoundError(
            "That ledger transaction does not exist.", transaction_id=str(transaction_id)
        )
    return txn


def user_wallet_owners(
    *, below: int | None = None, at_least: int | None = None, nonzero: bool = False
) -> Select[Any]:
    """A subquery of the users whose wallet balance (micros) is below `below`, at least
    `at_least`, or not zero; users without a wallet (balance zero) are never in it."""
    return repo.user_wallet_owners(below=below, at_least=at_least, nonzero=nonzero)
