"""Inputs and read answers of the budgets domain, shared by the API, console and CLI."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from spectra.kit.schema import AmountIn, AmountOut, ReadModel, money_pair, renamed

Mode = Literal["hard", "soft", "approval"]


class KeyBudgetChange(BaseModel):
    """What to change on a key's budget; a field left out stays, `null` clears it."""

    model_config = ConfigDict(extra="forbid")

    day: AmountIn | None = None
    week: AmountIn | None = None
    month: AmountIn | None = None
    mode: Mode | None = None
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)
    concurrency: int | None = Field(default=None, gt=0)
    models: list[str] | None = None
    clients: list[str] | None = None


class KeyBudgetRead(ReadModel):
    key_id: uuid.UUID
    day: AmountOut | None = money_pair("day")
    day_micros: int | None
    week: AmountOut | None = money_pair("week")
    week_micros: int | None
    month: AmountOut | None = money_pair("month")
    month_micros: int | None
    mode: str
    rpm: int | None
    tpm: int | None
    concurrency: int | None
    models: list[str]
    clients: list[str]
    updated_at: datetime


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    budget: AmountIn | None = None
    mode: Mode = "hard"
    header_allowed: bool = False


class ProjectChange(BaseModel):
    """A project's budget settings; a field left out stays, `budget: null` removes the budget."""

    model_config = ConfigDict(extra="forbid")

    budget: AmountIn | None = None
    mode: Mode | None = None
    header_allowed: bool | None = None


class ProjectRead(ReadModel):
    id: uuid.UUID
    name: str
    monthly_budget: AmountOut | None = money_pair("monthly_budget")
    monthly_budget_micros: int | None
    mode: str
    header_allowed: bool = renamed("is_header_allowed", "header_allowed")
    members: list[str]
    keys: list[uuid.UUID]
    created_at: datetime


class ReportLine(ReadModel):
    key: str
    label: str
    requests: int
    cost: AmountOut = money_pair("cost")
    cost_micros: int


class ProjectReportRead(ReadModel):
    project: str
    since: datetime | None
    until: datetime | None
    requests: int
    cost: AmountOut = money_pair("cost")
    cost_micros: int
    """Sum of the usage records' cost attributed to the project, micros."""
    charged: AmountOut = money_pair("charged")
    charged_micros: int
    """Sum of what those records charged to funding sources, micros (equals `cost`)."""
    by_user: list[ReportLine]
    by_model: list[ReportLine]


class ExtensionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key_id: uuid.UUID | None = None
    project: str | None = None
    amount: AmountIn
    reason: str = Field(default="", max_length=500)


class ExtensionDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_at: datetime | None = None
    """When the approved extension stops counting; required to approve."""


class ExtensionRead(ReadModel):
    id: uuid.UUID
    key_id: uuid.UUID | None
    project_id: uuid.UUID | None
    amount: AmountOut = money_pair("amount")
    amount_micros: int
    reason: str
    status: str
    requested_by: str = renamed("requested_by_label", "requested_by")
    decided_by: str | None = renamed("decided_by_label", "decided_by")
    expires_at: datetime | None
    created_at: datetime
    decided_at: datetime | None
