"""Pydantic input and output shared by the API, the CLI and the console."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from spectra.kit.money import Micros
from spectra.kit.schema import AmountOut, NonNegativeAmountIn, ReadModel, money_pair, renamed

from .permissions import Role

Email = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
GroupName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(max_length=1000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Password = Annotated[str, StringConstraints(max_length=256)]
Token = Annotated[str, StringConstraints(max_length=200)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(_In):
    email: Email
    name: Name = ""
    role: Role = Role.MEMBER
    group: GroupName | None = None
    """Group name; the built-in `default` group when absent."""
    invite: bool = False
    """Create the user as `invited` and answer with a one-time password-setup link."""


class UserUpdate(_In):
    email: Email | None = None
    name: Name | None = None


class UserSuspend(_In):
    reason: Reason


class RoleChange(_In):
    role: Role


class GroupMove(_In):
    group: GroupName


class PasswordSet(_In):
    password: Password


class UserImport(_In):
    csv: Annotated[str, StringConstraints(max_length=5_000_000)]
    """CSV text: email,name,group,role (a header line is optional)."""


class GroupCreate(_In):
    name: GroupName
    description: Description = ""
    monthly_cap: NonNegativeAmountIn | None = None
    member_monthly_cap: NonNegativeAmountIn | None = None


class GroupUpdate(_In):
    """Only the fields sent change; send `null` for a cap to remove it."""

    name: GroupName | None = None
    description: Description | None = None
    monthly_cap: NonNegativeAmountIn | None = None
    member_monthly_cap: NonNegativeAmountIn | None = None


class LoginIn(_In):
    email: Email
    password: Password


class SecondFactorIn(_In):
    challenge: Token
    """The challenge token from the `mfa_required` answer of `POST /api/auth/login`."""
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    """The current code from the authenticator app, or an unused recovery code."""


class SetupIn(_In):
    token: Token
    password: Password


class PasswordChange(_In):
    current_password: Password
    new_password: Password


class GroupRead(ReadModel):
    id: uuid.UUID
    name: str
    description: str
    is_builtin: bool
    monthly_cap: AmountOut | None = money_pair("monthly_cap")
    monthly_cap_micros: int | None
    member_monthly_cap: AmountOut | None = money_pair("member_monthly_cap")
    member_monthly_cap_micros: int | None
    member_count: int | None = None
    """In lists and on creation (counted by the service); null elsewhere."""
    created_at: datetime
    updated_at: datetime


class UserRead(ReadModel):
    """Needs `user.group` loaded (the repository loads it)."""

    id: uuid.UUID
    email: str
    name: str
    role: str
    status: str
    status_reason: str | None
    group_id: uuid.UUID
    group: str = renamed("group.name", "group")
    has_password: bool
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime | None


class SetupLinkRead(BaseModel):
    """Shown once: the token is never stored in plaintext and cannot be shown again. When mail
    is configured the link is e-mailed instead: `sent_to` names the address, no token or url."""

    token: str | None = None
    url: str | None = None
    sent_to: str | None = None
    expires_at: datetime


class UserCreated(UserRead):
    setup_link: SetupLinkRead | None = None


class ImportRejection(BaseModel):
    line: int
    email: str | None
    reason: str


class ImportReport(BaseModel):
    created: int
    users: list[UserRead]


class SignInRead(BaseModel):
    user: UserRead
    csrf_token: str
    """Send it back as `x-csrf-token` on every state-changing request made with the cookie."""
    expires_at: datetime


class LeadSet(_In):
    approval_limit: NonNegativeAmountIn = Micros(0)
    """The most money the lead may approve or move at once inside the group; 0 = none."""


class LeadRead(ReadModel):
    user_id: uuid.UUID
    email: str
    group_id: uuid.UUID
    group: str
    approval_limit: AmountOut = money_pair("approval_limit")
    approval_limit_micros: int
    created_at: datetime
    created_by: str


class MembershipAdd(_In):
    group: GroupName


class MembershipRead(ReadModel):
    group_id: uuid.UUID
    group: str
    is_primary: bool
    """The primary group funds by default; the others are secondary."""
