"""Recharges, approvals, member requests, adjustments, transfers, refunds, codes, thresholds."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from tests.factories import make_group, make_user

from spectra.audit.actor import GATEWAY, Actor, ActorKind, local_actor, user_actor
from spectra.audit.models import AuditEvent
from spectra.db.session import Session
from spectra.errors import InvalidAmountError
from spectra.kit import clock as clock_module
from spectra.ledger import service as ledger_service
from spectra.ledger.errors import (
    ApprovalNotPendingError,
    CodeAlreadyRedeemedError,
    CodeExpiredError,
    CodeNotFoundError,
    CodeRevokedError,
    FourEyesRequiredError,
    IdempotencyConflictError,
    InsufficientBalanceError,
    MemoRequiredError,
    RechargeLimitExceededError,
    RechargeRequestNotFoundError,
    RedeemRateLimitedError,
    RefundExceedsOriginalError,
    RefundNotAllowedError,
)
from spectra.ledger.models import (
    AccountKind,
    LedgerTransaction,
    LowBalanceNotice,
    RechargeApproval,
    RechargeRequest,
    RedemptionCode,
    TransactionKind,
)
from spectra.ledger.verify import verify_ledger
from spectra.users.models import User
from spectra.users.permissions import PermissionDeniedError, ReadOnlyTokenError
from spectra.workspace import service as workspace_service

from .factories import admin, fund, member

BILLING = admin("billing@example.com", role="billing")
ADMIN = admin()


async def _audit(session: Session, action: str) -> list[AuditEvent]:
    return list(
        (await session.execute(select(AuditEvent).where(AuditEvent.action == action)))
        .scalars()
        .all()
    )


def _read_only(user: User) -> Actor:
    """The actor of `user`'s read-only admin API token."""
    return user_actor(
        user_id=user.id, email=user.email, role=user.role, via="token", read_only=True
    )


async def _setting(session: Session, name: str, value: str) -> None:
    await workspace_service.set_setting(session, local_actor(), name=name, value=value)


class TestRecharge:
    async def test_credits_a_user_wallet_from_funding_and_audits(self, session: Session) -> None:
        user = await make_user(session)
        outcome = await ledger_service.recharge(
            session, ADMIN, user_id=user.id, amount=12_500_000, memo="pilot", idempotency_key="k"
        )
        assert outcome.status == "credited"
        assert outcome.account.balance_micros == 12_500_000
        funding = await ledger_service.get_or_create_account(session, kind=AccountKind.FUNDING)
        assert funding.balance_micros == -12_500_000
        [event] = await _audit(session, "ledger.recharge")
        assert event.after == {"balance": "12.50"}
        assert event.actor_label == ADMIN.label

    async def test_a_double_submit_credits_once(self, session: Session) -> None:
        group = await make_group(session)
        for _ in range(2):
            outcome = await ledger_service.recharge(
                session,
                ADMIN,
                group_id=group.id,
                amount=300_000_000,
                memo="Q4 pilot",
                idempotency_key="click",
            )
        assert outcome.account.balance_micros == 300_000_000
        assert len(await _audit(session, "ledger.recharge")) == 1

    async def test_the_same_key_for_another_amount_is_a_conflict(self, session: Session) -> None:
        user = await make_user(session)
        await ledger_service.recharge(
            session, ADMIN, user_id=user.id, amount=1_000_000, memo="m", idempotency_key="k"
        )
        with pytest.raises(IdempotencyConflictError):
            await ledger_service.recharge(
                session, ADMIN, user_id=user.id, amount=2_000_000, memo="m", idempotency_key="k"
            )

    async def test_needs_a_memo_a_positive_amount_and_the_permission(
        self, session: Session
    ) -> None:
        user = await make_user(session)
        with pytest.raises(MemoRequiredError):
            await ledger_service.recharge(
                session, ADMIN, user_id=user.id, amount=1, memo="  ", idempotency_key="a"
            )
        with pytest.raises(InvalidAmountError):
            await ledger_service.recharge(
                session, ADMIN, user_id=user.id, amount=0, memo="m", idempotency_key="b"
            )
        with pytest.raises(PermissionDeniedError):
            await ledger_service.recharge(
                session, member(user.id), user_id=user.id, amount=1, memo="m", idempotency_key="c"
            )

    async def test_refuses_more_than_the_maximum(self, session: Session) -> None:
        user = await make_user(session)
        await _setting(session, "max_recharge", "100")
        with pytest.raises(RechargeLimitExceededError, match=r"at most 100\.00"):
            await ledger_service.recharge(
                session, ADMIN, user_id=user.id, amount=100_000_001, memo="m", idempotency_key="k"
            )


class TestFourEyes:
    async def test_above_the_threshold_waits_for_a_second_person(self, session: Session) -> None:
        group = await make_group(session)
        await _setting(session, "four_eyes_threshold", "250")
        outcome = await ledger_service.recharge(
            session,
            ADMIN,
            group_id=group.id,
            amount=500_000_000,
            memo="runway",
            idempotency_key="k",
        )
        assert outcome.status == "pending_approval"
        assert outcome.account.balance_micros == 0
        assert outcome.approval is not None
        with pytest.raises(FourEyesRequiredError):
            await ledger_service.approve_recharge(session, ADMIN, approval_id=outcome.approval.id)
        approved = await ledger_service.approve_recharge(
            session, BILLING, approval_id=outcome.approval.id
        )
        again = await ledger_service.approve_recharge(
            session, BILLING, approval_id=outcome.approval.id
        )
        assert approved.status == again.status == "approved"
        wallet = await ledger_service.wallet_account(session, group_id=group.id)
        assert await ledger_service.balance(session, wallet.id) == 500_000_000
        assert len(await _audit(session, "ledger.recharge.approve")) == 1

    async def test_two_local_os_users_are_two_people(self, session: Session) -> None:
        user = await make_user(session)
        await _setting(session, "four_eyes_threshold", "1")
        alice = Actor(kind=ActorKind.LOCAL, label="local:alice")
        bob = Actor(kind=ActorKind.LOCAL, label="local:bob")
        outcome = await ledger_service.recharge(
            session, alice, user_id=user.id, amount=5_000_000, memo="m", idempotency_key="k"
        )
        assert outcome.approval is not None
        with pytest.raises(FourEyesRequiredError):
            await ledger_service.approve_recharge(session, alice, approval_id=outcome.approval.id)
        await ledger_service.approve_recharge(session, bob, approval_id=outcome.approval.id)
        assert outcome.account.balance_micros == 5_000_000

    async def test_a_rejected_recharge_credits_nothing(self, session: Session) -> None:
        user = await make_user(session)
        await _setting(session, "four_eyes_threshold", "1")
        outcome = await ledger_service.recharge(
            session, ADMIN, user_id=user.id, amount=5_000_000, memo="m", idempotency_key="k"
        )
        assert outcome.approval is not None
        rejected = await ledger_service.reject_recharge(
            session, BILLING, approval_id=outcome.approval.id, note="no"
        )
        assert rejected.status == "rejected"
        assert rejected.transaction_id is None
        assert outcome.account.balance_micros == 0
        events = await _audit(session, "ledger.recharge.reject")
        assert [(e.before, e.after) for e in events] == [
            ({"status": "pending"}, {"status": "rejected"})
        ]

    async def test_a_decided_approval_cannot_take_the_other_decision(
        self, session: Session
    ) -> None:
        user = await make_user(session)
        await _setting(session, "four_eyes_threshold", "1")
        first = await ledger_service.recharge(
            session, ADMIN, user_id=user.id, amount=5_000_000, memo="m", idempotency_key="a"
        )
        second = await ledger_service.recharge(
            session, ADMIN, user_id=user.id, amount=7_000_000, memo="m", idempotency_key="b"
        )
        assert first.approval is not None
        assert second.approval is not None
        await ledger_service.approve_recharge(session, BILLING, approval_id=first.approval.id)
        await ledger_service.reject_recharge(session, BILLING, approval_id=second.approval.id)
        with pytest.raises(ApprovalNotPendingError) as refused:
            await ledger_service.reject_recharge(session, BILLING, approval_id=first.approval.id)
        assert refused.value.code == "recharge_approval_not_pending"
        with pytest.raises(ApprovalNotPendingError):
            await ledger_service.approve_recharge(session, BILLING, approval_id=second.approval.id)
        assert await ledger_service.balance(session, first.account.id) == 5_000_000
        assert len(await _audit(session, "ledger.recharge.approve")) == 1
        assert len(await _audit(session, "ledger.recharge.reject")) == 1


class TestRechargeRequests:
    async def test_member_asks_and_billing_approves(self, session: Session) -> None:
        user = await make_user(session)
        me = member(user.id, user.email)
        request = await ledger_service.create_recharge_request(
            session, me, amount=20_000_000, reason="big refactor"
        )
        page = await ledger_service.list_recharge_requests(session, me)
        assert [r.id for r in page.items] == [request.id]
        decided = await ledger_service.approve_recharge_request(
            session, BILLING, request_id=request.id
        )
        assert decided.status == "approved"
        assert decided.transaction_id is not None
        wallet = await ledger_service.get_wallet(session, me, user_id=user.id)
        assert wallet.balance_micros == 20_000_000
        assert len(await _audit(session, "ledger.recharge_request.approve")) == 1

    async def test_a_member_cannot_decide(self, session: Session) -> None:
        user = await make_user(session)
        me = member(user.id)
        request = await ledger_service.create_recharge_request(
            session, me, amount=1_000_000, reason="r"
        )
        with pytest.raises(PermissionDeniedError):
            await ledger_service.approve_recharge_request(session, me, request_id=request.id)

    async def test_a_rejection_is_visible_to_the_member(self, session: Session) -> None:
        user = await make_user(session)
        me = member(user.id)
        request = await ledger_service.create_recharge_request(
            session, me, amount=1_000_000, reason="r"
        )
        await ledger_service.reject_recharge_request(
            session, ADMIN, request_id=request.id, note="use your package"
        )
        seen = await ledger_service.get_recharge_request(session, me, request_id=request.id)
        assert seen.status == "rejected"
        assert seen.decision_note == "use your package"

    async def test_a_read_only_token_cannot_ask(self, session: Session) -> None:
        user = await make_user(session, role="owner")
        with pytest.raises(ReadOnlyTokenError):
            await ledger_service.create_recharge_request(
                session, _read_only(user), amount=1_000_000, reason="r"
            )
        assert (await session.execute(select(RechargeRequest))).scalars().all() == []
        assert await _audit(session, "ledger.recharge_request.create") == []

    async def test_a_member_cannot_see_another_members_request(self, session: Session) -> None:
        asker, other = await make_user(session), await make_user(session)
        request = await ledger_service.create_recharge_request(
            session, member(asker.id), amount=1_000_000, reason="r"
        )
        with pytest.raises(RechargeRequestNotFoundError):
            await ledger_service.get_recharge_request(
                session, member(other.id), request_id=request.id
            )
        page = await ledger_service.list_recharge_requests(session, member(other.id))
        assert page.items == []


class TestAdjustAndTransfer:
    async def test_debit_and_credit_with_a_reason(self, session: Session) -> None:
        user = await make_user(session)
        await ledger_service.adjust(
            session,
            ADMIN,
            user_id=user.id,
            amount=5_000_000,
            reason="goodwill",
            idempotency_key="a",
        )
        txn = (
            await ledger_service.adjust(
                session,
                ADMIN,
                user_id=user.id,
                amount=-2_000_000,
                reason="correction",
                idempotency_key="b",
            )
        ).transaction
        assert txn is not None
        assert txn.kind == TransactionKind.ADJUSTMENT
        wallet = await ledger_service.wallet_account(session, user_id=user.id)
        assert wallet.balance_micros == 3_000_000
        assert len(await _audit(session, "ledger.adjust")) == 2
        with pytest.raises(InsufficientBalanceError):
            await ledger_service.adjust(
                session, ADMIN, user_id=user.id, amount=-3_000_001, reason="x", idempotency_key="c"
            )

    async def test_transfer_moves_money_between_wallets(self, session: Session) -> None:
        group = await make_group(session)
        user = await make_user(session, group=group)
        await ledger_service.recharge(
            session, ADMIN, group_id=group.id, amount=10_000_000, memo="m", idempotency_key="r"
        )
        await ledger_service.transfer(
            session,
            ADMIN,
            from_group_id=group.id,
            to_user_id=user.id,
            amount=4_000_000,
            memo="share",
            idempotency_key="t",
        )
        assert (
            await ledger_service.wallet_account(session, user_id=user.id)
        ).balance_micros == 4_000_000
        assert (
            await ledger_service.wallet_account(session, group_id=group.id)
        ).balance_micros == 6_000_000
        with pytest.raises(InsufficientBalanceError):
            await ledger_service.transfer(
                session,
                ADMIN,
                from_group_id=group.id,
                to_user_id=user.id,
                amount=6_000_001,
                memo="too much",
                idempotency_key="t2",
            )
        [event] = await _audit(session, "ledger.transfer")
        assert event.details is not None
        assert event.details["amount"] == "4.00"


async def _usage(session: Session, sources: list[tuple[uuid.UUID, int]]) -> LedgerTransaction:
    expense = await ledger_service.get_or_create_account(session, kind=AccountKind.USAGE_EXPENSE)
    total = sum(m for _, m in sources)
    return await ledger_service.post(
        session,
        GATEWAY,
        kind=TransactionKind.USAGE,
        postings=[*((a, -m) for a, m in sources), (expense.id, total)],
        idempotency_key=f"usage:{uuid.uuid4()}",
    )


class TestRefund:
    async def test_partial_refunds_never_exceed_the_original(self, session: Session) -> None:
        user = await make_user(session)
        wallet = await ledger_service.wallet_account(session, user_id=user.id)
        allowance = await ledger_service.get_or_create_account(
            session, kind=AccountKind.ALLOWANCE, owner_id=uuid.uuid4()
        )
        await fund(session, wallet, 1_000)
        await fund(session, allowance, 1_000)
        usage = await _usage(session, [(allowance.id, 300), (wallet.id, 200)])
        first = (
            await ledger_service.refund(
                session,
                ADMIN,
                transaction_id=usage.id,
                amount=150,
                reason="timeout",
                idempotency_key="r1",
            )
        ).transaction
        assert first is not None
        assert first.reverses_id == usage.id
        assert await ledger_service.get_balances(session, [wallet.id, allowance.id]) == {
            wallet.id: 950,
            allowance.id: 700,
        }
        with pytest.raises(RefundExceedsOriginalError):
            await ledger_service.refund(
                session,
                ADMIN,
                transaction_id=usage.id,
                amount=351,
                reason="x",
                idempotency_key="r2",
            )
        await ledger_service.refund(
            session, ADMIN, transaction_id=usage.id, reason="rest", idempotency_key="r3"
        )
        assert await ledger_service.get_balances(session, [wallet.id, allowance.id]) == {
            wallet.id: 1000,
            allowance.id: 1000,
        }
        with pytest.raises(RefundNotAllowedError):
            await ledger_service.refund(
                session, ADMIN, transaction_id=usage.id, reason="again", idempotency_key="r4"
            )
        assert len(await _audit(session, "ledger.refund")) == 2
        assert (await verify_ledger(session)).ok

    async def test_only_usage_is_refundable(self, session: Session) -> None:
        user = await make_user(session)
        outcome = await ledger_service.recharge(
            session, ADMIN, user_id=user.id, amount=5, memo="m", idempotency_key="k"
        )
        assert outcome.transaction is not None
        with pytest.raises(RefundNotAllowedError):
            await ledger_service.refund(
                session,
                ADMIN,
                transaction_id=outcome.transaction.id,
                reason="x",
                idempotency_key="r",
            )


class TestCodes:
    async def test_a_batch_moves_value_and_stores_only_hashes(self, session: Session) -> None:
        created = await ledger_service.create_codes(
            session, BILLING, count=3, amount=25_000_000, memo="hackathon"
        )
        assert len(set(created.codes)) == 3
        assert all(c.startswith("SPC-") for c in created.codes)
        stored = (await session.execute(select(RedemptionCode))).scalars().all()
        assert {c.code_hash for c in stored}.isdisjoint(created.codes)
        outstanding = await ledger_service.get_or_create_account(
            session, kind=AccountKind.CODES_OUTSTANDING
        )
        assert outstanding.balance_micros == 75_000_000
        [event] = await _audit(session, "codes.create")
        assert not any(code in str(event.after) + str(event.details) for code in created.codes)

    async def test_redeem_credits_the_wallet_once(self, session: Session) -> None:
        user = await make_user(session)
        created = await ledger_service.create_codes(session, BILLING, count=2, amount=10_000_000)
        txn = await ledger_service.redeem_code(
            session, member(user.id), code=created.codes[0].lower()
        )
        assert txn.kind == TransactionKind.REDEEM
        assert (
            await ledger_service.wallet_account(session, user_id=user.id)
        ).balance_micros == 10_000_000
        with pytest.raises(CodeAlreadyRedeemedError):
            await ledger_service.redeem_code(session, member(user.id), code=created.codes[0])
        summary = (await ledger_service.list_batches(session, BILLING)).items[0]
        assert (summary.redeemed, summary.unused) == (1, 1)

    async def test_revoke_returns_unused_value_to_funding(self, session: Session) -> None:
        user = await make_user(session)
        created = await ledger_service.create_codes(session, BILLING, count=3, amount=1_000_000)
        await ledger_service.redeem_code(session, member(user.id), code=created.codes[0])
        assert await ledger_service.revoke_codes(session, BILLING, batch_id=created.batch.id) == 2
        assert await ledger_service.revoke_codes(session, BILLING, batch_id=created.batch.id) == 0
        with pytest.raises(CodeRevokedError):
            await ledger_service.redeem_code(session, member(user.id), code=created.codes[1])
        outstanding = await ledger_service.get_or_create_account(
            session, kind=AccountKind.CODES_OUTSTANDING
        )
        assert outstanding.balance_micros == 0
        assert (await verify_ledger(session)).ok

    async def test_an_expired_code_is_refused(self, session: Session, clock: object) -> None:
        user = await make_user(session)
        created = await ledger_service.create_codes(
            session,
            BILLING,
            count=1,
            amount=1_000_000,
            expires_at=clock_module.utc_now() + timedelta(days=1),
        )
        clock_module.advance(timedelta(days=2))
        with pytest.raises(CodeExpiredError):
            await ledger_service.redeem_code(session, member(user.id), code=created.codes[0])

    async def test_a_read_only_token_cannot_redeem(self, session: Session) -> None:
        user = await make_user(session, role="owner")
        created = await ledger_service.create_codes(session, BILLING, count=1, amount=1_000_000)
        with pytest.raises(ReadOnlyTokenError):
            await ledger_service.redeem_code(session, _read_only(user), code=created.codes[0])
        [code] = (await session.execute(select(RedemptionCode))).scalars().all()
        assert code.status == "unused"
        assert await _audit(session, "codes.redeem") == []

    async def test_guessing_is_rate_limited_per_user(self, session: Session) -> None:
        user = await make_user(session)
        for _ in range(10):
            with pytest.raises(CodeNotFoundError):
                await ledger_service.redeem_code(
                    session, member(user.id), code="SPC-AAAA-BBBB-CCCC-DDDD"
                )
        with pytest.raises(RedeemRateLimitedError) as info:
            await ledger_service.redeem_code(
                session, member(user.id), code="SPC-AAAA-BBBB-CCCC-DDDD"
            )
        assert info.value.code == "rate_limited"
        assert info.value.details["retry_after"] > 0


class TestLowBalance:
    async def test_crossing_a_threshold_records_one_notice(self, session: Session) -> None:
        user = await make_user(session)
        await ledger_service.recharge(
            session, ADMIN, user_id=user.id, amount=10_000_000, memo="m", idempotency_key="r"
        )
        await ledger_service.set_low_balance_threshold(
            session, BILLING, user_id=user.id, threshold=5_000_000
        )
        for i, amount in enumerate([-4_000_000, -2_000_000, -1_000_000]):
            await ledger_service.adjust(
                session,
                ADMIN,
                user_id=user.id,
                amount=amount,
                reason="spend",
                idempotency_key=f"a{i}",
            )
        notices = (await session.execute(select(LowBalanceNotice))).scalars().all()
        assert [(n.threshold_micros, n.balance_micros) for n in notices] == [(5_000_000, 4_000_000)]
        assert len(await _audit(session, "ledger.threshold.set")) == 1

    async def test_the_workspace_default_applies_without_a_wallet_threshold(
        self, session: Session
    ) -> None:
        group = await make_group(session)
        await _setting(session, "low_balance_threshold", "1")
        await ledger_service.recharge(
            session, ADMIN, group_id=group.id, amount=2_000_000, memo="m", idempotency_key="r"
        )
        await ledger_service.adjust(
            session, ADMIN, group_id=group.id, amount=-1_500_000, reason="x", idempotency_key="a"
        )
        notices = (await session.execute(select(LowBalanceNotice))).scalars().all()
        assert len(notices) == 1
        assert notices[0].balance_micros == 500_000


class TestVerify:
    async def test_a_clean_ledger_verifies(self, session: Session) -> None:
        user = await make_user(session)
        await ledger_service.recharge(
            session, ADMIN, user_id=user.id, amount=1, memo="m", idempotency_key="r"
        )
        report = await ledger_service.verify(session, ADMIN)
        assert report.ok
        assert report.transactions >= 1

    async def test_approvals_list_shows_pending(self, session: Session) -> None:
        user = await make_user(session)
        await _setting(session, "four_eyes_threshold", "1")
        await ledger_service.recharge(
            session, ADMIN, user_id=user.id, amount=2_000_000, memo="m", idempotency_key="k"
        )
        page = await ledger_service.list_approvals(session, BILLING, status="pending")
        assert len(page.items) == 1
        assert isinstance(page.items[0], RechargeApproval)
