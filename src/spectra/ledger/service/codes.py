"""Redemption codes: batches (value moved funding -> codes_outstanding), redemption into a wallet
(codes_outstanding -> wallet, at most once per code), revocation of unused codes (reversed).

Codes are shown once, when created; only keyed hashes (HMAC under the server's hash subkey) are
stored. Failed redemptions are rate-limited per user and per IP against guessing.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.serverkey import get_server_keys
from spectra.db.session import AnySession, Session
from spectra.errors import AmountOutOfRangeError, InvalidError
from spectra.kit.clock import utc_now
from spectra.kit.crypto import keyed_hash
from spectra.kit.ids import REDEEM_CODE_PREFIX, uuid7
from spectra.kit.money import MAX_AMOUNT_MICROS, format_amount
from spectra.kit.pagination import Page
from spectra.ledger import ratelimit
from spectra.ledger import repository as repo
from spectra.ledger.errors import (
    CodeAlreadyRedeemedError,
    CodeBatchNotFoundError,
    CodeExpiredError,
    CodeNotFoundError,
    CodeRevokedError,
    CodesAlreadyIssuedError,
    FourEyesRequiredError,
)
from spectra.ledger.models import (
    AccountKind,
    CodeBatch,
    CodeStatus,
    LedgerTransaction,
    RedemptionCode,
    TransactionKind,
)
from spectra.users.permissions import Permission, ReadOnlyTokenError, require

from ._common import positive, replayed
from .accounts import get_or_create_account
from .four_eyes import approval_rule, refuse_own_gain, scoped_key
from .post import post

MAX_BATCH = 10_000
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


@dataclass(frozen=True, slots=True)
class CreatedBatch:
    batch: CodeBatch
    codes: list[str]
    """The plaintext codes: shown this once, never stored."""


@dataclass(frozen=True, slots=True)
class BatchSummary:
    batch: CodeBatch
    redeemed: int
    unused: int
    revoked: int
    expired: int
    """Unused codes past the batch's expiry (still counted in `unused`)."""


def generate_code() -> str:
    """`SPC-XXXX-XXXX-XXXX-XXXX`: 80 random bits."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return REDEEM_CODE_PREFIX + "-".join(chars[i : i + 4] for i in range(0, 16, 4))


def normalize_code(code: str) -> str:
    raw = "".join(ch for ch in code.upper() if ch.isalnum())
    if raw.startswith(REDEEM_CODE_PREFIX.rstrip("-")):
        raw = raw[len(REDEEM_CODE_PREFIX.rstrip("-")) :]
    return raw


def hash_code(code: str) -> str:
    return keyed_hash(get_server_keys().hash_key, "code:" + normalize_code(code))


async def create_codes(
    session: Session,
    actor: Actor,
    *,
    count: int,
    amount: int,
    expires_at: datetime | None = None,
    memo: str = "",
    idempotency_key: str | None = None,
) -> CreatedBatch:
    """Generate `count` codes worth `amount` each; moves count x amount from funding to
    codes_outstanding. Returns the codes in plaintext once. Writes an audit event.

    With an `idempotency_key`, a retry of the same request (a double submit, a timed-out call)
    creates nothing and raises `codes_already_issued` naming the first batch: its codes cannot
    be shown again, but no money moves twice; the same key for a different batch is an
    `idempotency_conflict`."""
    require(actor, Permission.CODES_WRITE)
    positive(amount)
    if not 1 <= count <= MAX_BATCH:
        raise InvalidError(f"A batch holds 1 to {MAX_BATCH} codes.", field="count")
    if expires_at is not None and expires_at <= utc_now():
        raise InvalidError("The expiry must be in the future.", field="expires")
    total = count * amount
    if total > MAX_AMOUNT_MICROS:
        raise AmountOutOfRangeError(
            f"A batch may be worth at most {format_amount(MAX_AMOUNT_MICROS)} in all "
            f"({count} codes of {format_amount(amount)} is {format_amount(total)}).",
            field="amount",
        )
    batch_id = uuid7()
    key = (
        scoped_key(actor, "codes.issue", idempotency_key)
        if idempotency_key
        else f"codes.issue:{batch_id}"
    )
    why = None
    if await replayed(session, key) is None:
        why = await approval_rule(session, actor, amount=total, creates=True, capped=True)
    if why is not None:
        # Codes are shown once, to whoever creates them, so a batch cannot wait for a second
        # approver the way a recharge does: above the four-eyes rule it is refused.
        raise FourEyesRequiredError(
            f"A batch worth {format_amount(total)} in all needs a second approver "
            f"({why.replace('_', ' ')}); issue a smaller batch or ask an owner to change "
            "four_eyes_threshold.",
            reason=why,
        )
    funding = await get_or_create_account(session, kind=AccountKind.FUNDING)
    outstanding = await get_or_create_account(session, kind=AccountKind.CODES_OUTSTANDING)
    txn = await post(
        session,
        actor,
        kind=TransactionKind.CODES_ISSUE,
        postings=[(funding.id, -total), (outstanding.id, total)],
        idempotency_key=key,
        memo=memo or f"{count} redemption codes",
        metadata={"batch_id": str(batch_id), "count": count, "value_micros": amount},
    )
    first = (txn.meta or {}).get("batch_id")
    if first != str(batch_id):
        raise CodesAlreadyIssuedError(
            "This request already created a batch of codes; they were shown once and cannot be "
            "shown again. Revoke that batch and create a new one if the codes were lost.",
            batch_id=first,
        )
    batch = CodeBatch(
        id=batch_id,
        count=count,
        value_micros=amount,
        expires_at=expires_at,
        memo=memo,
        created_by_label=actor.label,
        transaction_id=txn.id,
    )
    session.add(batch)
    await session.flush()
    codes = [generate_code() for _ in range(count)]
    session.add_all(
        [
            RedemptionCode(
                batch_id=batch_id, code_hash=hash_code(c), hint=c[-4:], status=CodeStatus.UNUSED
            )
            for c in codes
        ]
    )
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "codes.create",
        target_type="code_batch",
        target_id=batch_id,
        target_label=memo or None,
        after={
            "count": count,
            "value": format_amount(amount),
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
        transaction_id=str(txn.id),
    )
    return CreatedBatch(batch=batch, codes=codes)


async def redeem_code(
    session: Session, actor: Actor, *, code: str, client_ip: str | None = None
) -> LedgerTransaction:
    """Credit the caller's wallet with a code's value; each code is redeemed at most once.
    Not with a read-only token. Failed attempts count against per-user and per-IP limits.
    Writes an audit event."""
    require(actor, Permission.SELF)
    if actor.read_only:
        raise ReadOnlyTokenError("This API token is read-only; it cannot redeem a code.")
    if actor.user_id is None:
        raise InvalidError("Only a signed-in user can redeem a code into their wallet.")
    ip = client_ip or actor.client_ip
    limiter = ratelimit.current()
    await limiter.check(user_id=actor.user_id, ip=ip)
    digest = hash_code(code)
    row = await repo.find_code(session, digest)
    if row is None:
        await limiter.failed(user_id=actor.user_id, ip=ip)
        raise CodeNotFoundError("That code is not valid; check it and try again.")
    batch = await session.get(CodeBatch, row.batch_id)
    assert batch is not None
    if row.status == CodeStatus.REVOKED:
        raise CodeRevokedError("That code was revoked.")
    if row.status == CodeStatus.REDEEMED:
        raise CodeAlreadyRedeemedError("That code was already redeemed.")
    now = utc_now()
    if batch.expires_at is not None and batch.expires_at <= now:
        raise CodeExpiredError(f"That code expired on {batch.expires_at:%Y-%m-%d}.")
    issued = await session.get(LedgerTransaction, batch.transaction_id)
    await refuse_own_gain(
        session,
        actor,
        amount=batch.value_micros,
        user_id=issued.actor_user_id if issued is not None else None,
        why="You issued this code, so you cannot redeem it into your own wallet.",
    )
    if not await repo.claim_code(session, code_hash=digest, user_id=actor.user_id, at=now):
        raise CodeAlreadyRedeemedError("That code was already redeemed.")
    outstanding = await get_or_create_account(session, kind=AccountKind.CODES_OUTSTANDING)
    wallet = await get_or_create_account(
        session, kind=AccountKind.USER_WALLET, owner_id=actor.user_id
    )
    txn = await post(
        session,
        actor,
        kind=TransactionKind.REDEEM,
        postings=[(outstanding.id, -batch.value_micros), (wallet.id, batch.value_micros)],
        idempotency_key=f"redeem:{row.id}",
        memo=f"Redeemed code …{row.hint}",
        metadata={"code_id": str(row.id), "batch_id": str(batch.id)},
    )
    row.transaction_id = txn.id
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "codes.redeem",
        target_type="redemption_code",
        target_id=row.id,
        target_label=f"…{row.hint}",
        before={"status": "unused"},
        after={"status": "redeemed"},
        amount=format_amount(batch.value_micros),
        transaction_id=str(txn.id),
    )
    return txn


async def revoke_codes(
    session: Session,
    actor: Actor,
    *,
    batch_id: uuid.UUID,
    code_ids: Sequence[uuid.UUID] | None = None,
) -> int:
    """Revoke a batch's unused codes (or the given ones); their value goes back to funding in one
    reversing transaction. Returns how many were revoked. Writes an audit event."""
    require(actor, Permission.CODES_WRITE)
    batch = await session.get(CodeBatch, batch_id)
    if batch is None:
        raise CodeBatchNotFoundError("That code batch does not exist.", batch_id=str(batch_id))
    revoked = await repo.revoke_unused(session, batch_id=batch_id, code_ids=code_ids, at=utc_now())
    if revoked == 0:
        return 0
    funding = await get_or_create_account(session, kind=AccountKind.FUNDING)
    outstanding = await get_or_create_account(session, kind=AccountKind.CODES_OUTSTANDING)
    total = revoked * batch.value_micros
    txn = await post(
        session,
        actor,
        kind=TransactionKind.CODES_REVOKE,
        postings=[(outstanding.id, -total), (funding.id, total)],
        idempotency_key=f"codes.revoke:{batch_id}:{uuid7()}",
        memo=f"Revoked {revoked} unused codes",
        metadata={"batch_id": str(batch_id), "count": revoked},
        reverses_id=batch.transaction_id,
    )
    await audit_service.record(
        session,
        actor,
        "codes.revoke",
        target_type="code_batch",
        target_id=batch_id,
        after={"revoked": revoked},
        amount=format_amount(total),
        transaction_id=str(txn.id),
    )
    return revoked


async def list_batches(
    session: AnySession, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> Page[BatchSummary]:
    """Code batches, newest first, with redeemed / unused / revoked / expired counts."""
    require(actor, Permission.READ_ALL)
    page = await repo.list_batches(session, limit=limit, cursor=cursor)
    counts = await repo.batch_counts(session, [b.id for b in page.items])
    now = utc_now()
    items = []
    for batch in page.items:
        c = counts[batch.id]
        expired = c["unused"] if batch.expires_at is not None and batch.expires_at <= now else 0
        items.append(
            BatchSummary(
                batch=batch,
                redeemed=c["redeemed"],
                unused=c["unused"],
                revoked=c["revoked"],
                expired=expired,
            )
        )
    return Page(items=items, next_cursor=page.next_cursor)
