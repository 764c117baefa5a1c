"""The pure access decision: each rule, the funding order, the trace, the sentences."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from spectra.policy.decide import PackageFacts, PolicyInputs, WalletFacts, decide

NOW = datetime(2026, 11, 15, 10, tzinfo=UTC)
DEC1 = datetime(2026, 12, 1, tzinfo=UTC)
JAN1 = datetime(2027, 1, 1, tzinfo=UTC)
WALLET = uuid.uuid4()
GROUP_WALLET = uuid.uuid4()


def _pkg(
    name: str, patterns: tuple[str, ...], left: int, ends: datetime = DEC1, **kw: object
) -> PackageFacts:
    return PackageFacts(
        assignment_id=uuid.uuid4(),
        package_name=name,
        allowance_account_id=uuid.uuid4(),
        model_patterns=patterns,
        period_ends_at=ends,
        available_micros=left,
        allowance_micros=20_000_000,
        **kw,  # type: ignore[arg-type]
    )


def _inputs(
    *packages: PackageFacts, wallet: int = 0, group_wallet: int = 0, **kw: object
) -> PolicyInputs:
    values: dict[str, object] = {
        "user_id": uuid.uuid4(),
        "user_email": "tom@example.com",
        "user_status": "active",
        "group_id": uuid.uuid4(),
        "group_name": "Mobile",
        "packages": packages,
        "wallet": WalletFacts(WALLET, wallet),
        "group_wallet": WalletFacts(GROUP_WALLET, group_wallet),
    }
    values.update(kw)
    return PolicyInputs(**values)  # type: ignore[arg-type]


def test_funding_order_is_soonest_expiring_allowance_then_wallet_then_group_wallet() -> None:
    later = _pkg("Power", ("claude-*",), 5_000_000, ends=JAN1)
    sooner = _pkg("Starter", ("claude-*",), 1_000_000)
    decision = decide(_inputs(later, sooner, wallet=3, group_wallet=4), "claude-opus-4-8", now=NOW)
    assert decision.allowed
    assert [f.label for f in decision.funding] == [
        "package 'Starter'",
        "package 'Power'",
        "your wallet",
        "group wallet 'Mobile'",
    ]
    assert decision.trace[-1].rule == "funding"


def test_key_scope_is_checked_first() -> None:
    decision = decide(_inputs(wallet=5, key_scopes=("claude-haiku-*",)), "claude-opus-4-8", now=NOW)
    assert decision.reason_code == "model_not_in_key_scope"
    assert decision.deciding_rule == "key_scope"
    assert [s.rule for s in decision.trace] == ["key_scope"]


def test_suspended_member_is_refused() -> None:
    decision = decide(_inputs(wallet=5, user_status="suspended"), "gpt-5", now=NOW)
    assert decision.reason_code == "user_suspended"


def test_exhausted_allowance_sentence() -> None:
    decision = decide(_inputs(_pkg("Starter", ("claude-*",), 0)), "claude-sonnet-4-5", now=NOW)
    assert decision.reason_code == "package_allowance_exhausted"
    assert decision.message == (
        "Package 'Starter' has $0.00 of $20.00 left until Dec 1; your wallet and your group's "
        "wallet are empty. Ask an admin to recharge or request a top-up."
    )


def test_exhausted_allowance_falls_back_to_the_wallet() -> None:
    decision = decide(
        _inputs(_pkg("Starter", ("claude-*",), 0), wallet=7), "claude-sonnet-4-5", now=NOW
    )
    assert decision.allowed
    assert [f.kind for f in decision.funding] == ["user_wallet"]


def test_group_switches_off_skip_wallets() -> None:
    decision = decide(
        _inputs(wallet=7, group_wallet=9, wallet_fallback=False, group_wallet_fallback=False),
        "gpt-5",
        now=NOW,
    )
    assert decision.reason_code == "no_funding_source"
    assert [s.outcome for s in decision.trace if s.rule in ("wallet", "group_wallet")] == [
        "skip",
        "skip",
    ]


def test_model_not_in_package_names_another_package() -> None:
    decision = decide(
        _inputs(_pkg("Starter", ("claude-sonnet-*",), 5), offered=(("Power", ("claude-*",)),)),
        "claude-opus-4-8",
        now=NOW,
    )
    assert decision.message == (
        "Your package 'Starter' does not include claude-opus-4-8; Power does. Choose a model "
        "your package includes, such as claude-sonnet-5-5 (Claude Code: claude --model "
        "claude-sonnet-5-5, or ANTHROPIC_MODEL), or ask an admin."
    )


def test_no_package_and_empty_wallet() -> None:
    decision = decide(_inputs(), "gpt-5", now=NOW)
    assert decision.reason_code == "wallet_empty"
    assert decision.error is not None


def test_ended_period_does_not_pay() -> None:
    decision = decide(_inputs(_pkg("Old", ("*",), 5, ends=NOW), wallet=1), "gpt-5", now=NOW)
    assert [f.kind for f in decision.funding] == ["user_wallet"]


def test_as_json_shape() -> None:
    data = decide(_inputs(wallet=2_500_000), "gpt-5", now=NOW).as_json()
    assert set(data) == {"allowed", "reason_code", "message", "deciding_rule", "funding", "trace"}
    assert data["funding"][0]["available"] == "2.50"
