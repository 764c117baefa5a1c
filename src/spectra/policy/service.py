"""Policy service: explain the access decision for a member and a model (the same pure
function and trace the gateway uses), and set a group's funding switches.

`from spectra.policy import service as policy_service`.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.changes import record_change
from spectra.keys import service as keys_service
from spectra.kit.clock import utc_now
from spectra.ledger import service as ledger_service
from spectra.users import service as users_service
from spectra.users.permissions import Permission, require
from spectra.workspace import service as workspace_service

from . import repository
from .decide import Decision, decide
from .errors import PolicyKeyNotFoundError
from .models import GroupPolicy
from .snapshot import GROUP_POLICY_CHANGE, load_snapshot


async def explain(
    session: AsyncSession,
    actor: Actor,
    *,
    user: uuid.UUID | str,
    model: str,
    key_id: uuid.UUID | None = None,
) -> Decision:
    """Decide, from the database, whether `user` (id or email) may use `model` now and who would
    pay; with `key_id`, through that key's scope. A member may explain their own access."""
    require(actor, Permission.SELF)
    member = await users_service.get_user(session, actor, user=user)
    scopes: tuple[str, ...] = ()
    if key_id is not None:
        key = await keys_service.get_key(session, actor, key_id=key_id)
        if key.user_id != member.id:
            raise PolicyKeyNotFoundError(
                f"That key does not belong to {member.email}.", key_id=str(key_id)
            )
        scopes = tuple(key.scopes or ())
    snap = await load_snapshot(session, user_ids=[member.id], group_ids=[member.group_id])
    accounts = snap.funding_accounts(member.id, member.group_id)
    balances = await ledger_service.get_balances(session, accounts)
    settings = await workspace_service.get_settings(session)
    inputs = snap.inputs(
        user_id=member.id,
        user_email=member.email,
        user_status=member.status,
        group_id=member.group_id,
        available=balances,
        key_id=key_id,
        key_scopes=scopes,
        currency=settings.currency,
        time_zone=settings.time_zone,
    )
    return decide(inputs, model, now=utc_now())


async def set_group_funding(
    session: AsyncSession,
    actor: Actor,
    *,
    group: uuid.UUID | str,
    wallet_fallback: bool | None = None,
    group_wallet_fallback: bool | None = None,
) -> GroupPolicy:
    """Turn a group's funding fallbacks on or off (both on by default). Writes an audit event
    and a `policy.group` change, so every gateway applies it within a second."""
    require(actor, Permission.POLICY_WRITE)
    target = await users_service.get_group(session, actor, group=group)
    row = await repository.get_group_policy(session, target.id)
    before = None if row is None else _view(row)
    if row is None:
        row = GroupPolicy(
            group_id=target.id, is_wallet_fallback=True, is_group_wallet_fallback=True
        )
        session.add(row)
    if wallet_fallback is not None:
        row.is_wallet_fallback = wallet_fallback
    if group_wallet_fallback is not None:
        row.is_group_wallet_fallback = group_wallet_fallback
    row.updated_at = utc_now()
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "policy.group_funding",
        target_type="group",
        target_id=target.id,
        target_label=target.name,
        before=before,
        after=_view(row),
    )
    await record_change(session, GROUP_POLICY_CHANGE, target.id)
    return row


def _view(row: GroupPolicy) -> dict[str, bool]:
    return {
        "wallet_fallback": row.is_wallet_fallback,
        "group_wallet_fallback": row.is_group_wallet_fallback,
    }


__all__ = ["Decision", "explain", "set_group_funding"]
