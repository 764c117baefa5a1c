"""Ledger test builders: funded wallets and actors."""

from __future__ import annotations

import uuid

from spectra.audit.actor import Actor, ActorKind
from spectra.db.session import Session
from spectra.ledger import service as ledger_service
from spectra.ledger.models import AccountKind, LedgerAccount, TransactionKind

SYSTEM_TEST = Actor(kind=ActorKind.SYSTEM, label="system", role="owner")


def admin(label: str = "admin@example.com", role: str = "admin") -> Actor:
    return Actor(kind=ActorKind.USER, label=label, user_id=uuid.uuid4(), role=role, via="session")


def member(user_id: uuid.UUID, label: str = "member@example.com") -> Actor:
    return Actor(kind=ActorKind.USER, label=label, user_id=user_id, role="member", via="session")


async def fund(
    session: Session, account: LedgerAccount, amount: int, *, key: str | None = None
) -> None:
    """Credit `account` from funding with a plain posting (no recharge controls)."""
    funding = await ledger_service.get_or_create_account(session, kind=AccountKind.FUNDING)
    await ledger_service.post(
        session,
        SYSTEM_TEST,
        kind=TransactionKind.GRANT,
        postings=[(funding.id, -amount), (account.id, amount)],
        idempotency_key=key or f"test-fund:{uuid.uuid4()}",
        memo="test funding",
    )
