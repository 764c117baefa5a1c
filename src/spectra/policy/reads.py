"""Read models of policy answers: the access decision and its trace, a group's policy, drafts,
rollouts with their cohorts and metrics, and what a member has (`member_view`)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from spectra.kit.schema import AmountOut, IsoTime, ReadModel, ViewRead, money_pair, renamed


class FundingPickRead(ViewRead):
    kind: str
    account_id: uuid.UUID
    label: str
    available: AmountOut = money_pair("available")
    available_micros: int
    cap_micros: int | None
    """The most this source may pay for one request (a package's max cost per request)."""
    assignment_id: uuid.UUID | None


class TraceStepRead(ViewRead):
    rule: str
    outcome: str
    """`pass`, `deny`, `pick` (a funding source chosen) or `skip`."""
    detail: str
    inputs: dict[str, Any]


class DecisionRead(ViewRead):
    """From a `Decision`: the gateway's own decision for one request, with its trace."""

    allowed: bool
    reason_code: str | None
    message: str
    deciding_rule: str
    funding: list[FundingPickRead]
    trace: list[TraceStepRead]


class GroupPolicyRead(ViewRead):
    group: str
    group_id: uuid.UUID
    allowed_models: list[str]
    denied_models: list[str]
    allowed_clients: list[str]
    rpm: int | None
    tpm: int | None
    max_concurrent: int | None
    wallet_fallback: bool
    group_wallet_fallback: bool
    monthly_cap: AmountOut | None = money_pair("monthly_cap")
    monthly_cap_micros: int | None
    member_monthly_cap: AmountOut | None = money_pair("member_monthly_cap")
    member_monthly_cap_micros: int | None
    default_package: str | None
    spent_this_month: AmountOut = money_pair("spent_this_month")
    spent_this_month_micros: int


class GroupFundingRead(ReadModel):
    """From the group's policy row."""

    group_id: uuid.UUID
    wallet_fallback: bool = renamed("is_wallet_fallback", "wallet_fallback")
    group_wallet_fallback: bool = renamed("is_group_wallet_fallback", "group_wallet_fallback")


class DraftRead(ViewRead):
    id: uuid.UUID
    kind: str
    target_id: uuid.UUID
    target: str
    changes: dict[str, Any]
    status: str
    created_at: IsoTime
    created_by: str
    dry_run_at: IsoTime | None
    published_at: IsoTime | None
    published_by: str | None
    dry_run: dict[str, Any] | None
    """The stored dry-run result (its summary in lists and after publish or discard)."""


class RolloutRead(ViewRead):
    id: uuid.UUID
    name: str
    goal: str
    status: str
    min_days: int | None
    max_error_rate: str | None
    """Percent, two decimals."""
    max_refusal_rate: str | None
    holdout: str | None = None
    """Percent of members kept out of every percentage cohort, two decimals."""
    autopilot: bool = False
    autopilot_settings: dict[str, Any] = Field(default_factory=dict)
    """The AutopilotSettings stored (defaults apply to what is missing)."""
    created_at: IsoTime
    created_by: str
    owner_id: uuid.UUID | None = None
    """The rollout's owner (GET /api/rollouts/{name}/people names them and the watchers)."""


class PersonRead(ViewRead):
    id: uuid.UUID
    email: str
    name: str


class RolloutPeopleRead(ViewRead):
    rollout: str
    owner: PersonRead | None
    watchers: list[PersonRead]


class CohortRead(ViewRead):
    id: uuid.UUID
    position: int
    name: str
    user_ids: list[str]
    group_ids: list[str]
    everyone: bool
    percent: str | None = None
    """A percentage cohort's share of its groups' (or everyone's) members, two decimals."""
    exclude_user_ids: list[str] = Field(default_factory=list)
    exclude_group_ids: list[str] = Field(default_factory=list)
    models: list[str]
    package: str | None
    monthly_cap: AmountOut | None = money_pair("monthly_cap")
    monthly_cap_micros: int | None
    member_monthly_cap: AmountOut | None = money_pair("member_monthly_cap")
    member_monthly_cap_micros: int | None
    status: str
    promoted_at: IsoTime | None
    rolled_back_at: IsoTime | None


class RolloutDetailRead(RolloutRead):
    cohorts: list[CohortRead]


class TimelineEventRead(ViewRead):
    at: IsoTime
    cohort: str | None
    kind: str
    """gates, promote, pause, rollback, scheduled, approval_needed, approved, autopilot_on/off."""
    actor: str
    outcome: str | None
    explanation: str
    gates: dict[str, Any]


class RolloutTimelineRead(ViewRead):
    rollout: RolloutDetailRead
    events: list[TimelineEventRead]


class WindowRead(ViewRead):
    since: IsoTime
    until: IsoTime
    active_members: int
    requests: int
    refused: int
    errors: int
    refusal_rate: str
    error_rate: str
    spend: AmountOut = money_pair("spend")
    spend_micros: int
    clients: dict[str, int]


class CohortMetricsRead(CohortRead):
    members: int
    group_caps_micros: int | None
    group_caps: AmountOut | None = money_pair("group_caps")
    before: WindowRead
    after: WindowRead | None
    """Null until the cohort is promoted."""


class RolloutMetricsRead(ViewRead):
    rollout: RolloutRead
    days: int
    cohorts: list[CohortMetricsRead]


class MemberPackageRead(ViewRead):
    assignment_id: uuid.UUID
    package: str
    version: int
    allowance: AmountOut = money_pair("allowance")
    allowance_micros: int
    available: AmountOut = money_pair("available")
    available_micros: int
    used: AmountOut = money_pair("used")
    used_micros: int
    left: AmountOut = money_pair("left")
    left_micros: int
    period_ends_at: IsoTime | None
    resets_at: IsoTime | None
    models: list[str]


class WalletBalanceRead(ViewRead):
    balance: AmountOut = money_pair("balance")
    balance_micros: int


class GroupWalletRead(ViewRead):
    group: str | None
    usable: bool
    """Whether the group's policy lets members pay from it."""
    balance: AmountOut = money_pair("balance")
    balance_micros: int


class MemberViewRead(ViewRead):
    """What a member has: packages, wallet and group wallet balances, usable models."""

    currency: str
    packages: list[MemberPackageRead]
    wallet: WalletBalanceRead
    group_wallet: GroupWalletRead
    models: list[str]
