"""The demo workspace of SCENARIOS.md, built through the same services as the console, the API and
the CLI: three pool accounts on the demo upstream, groups Platform and Mobile, packages Starter
and Power as their defaults, twelve members imported from a CSV, recharges and keys.

Every step is idempotent: what exists (by name, email or idempotency key) is left alone, so a
second run changes nothing but the pool accounts' address (the demo upstream's port may differ).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from spectra.audit.actor import Actor, local_actor
from spectra.db.session import Session, session_scope
from spectra.errors import ConfigError
from spectra.kit.money import parse_amount
from spectra.ledger import service as ledger_service
from spectra.packages import service as packages_service
from spectra.packages.schemas import PackageCreate
from spectra.policy import service as policy_service
from spectra.pool import service as pool_service
from spectra.pool.errors import AccountNotFoundError
from spectra.pool.schemas import AccountCreate, AccountUpdate
from spectra.runtime import Runtime
from spectra.usage import service as usage_service
from spectra.users import service as users_service
from spectra.users.errors import GroupNotFoundError

DOMAIN = "demo.spectra.local"
DEFAULT_PASSWORD = "spectra-demo"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    name: str
    provider: str
    credential: str
    models: tuple[str, ...]
    priority: int = 0
    notes: str = ""


ACCOUNTS = (
    DemoAccount(
        "anthropic-primary",
        "anthropic",
        "sk-demo-anthropic-primary",
        ("claude-*",),
        notes="Team plan, main Anthropic org (demo)",
    ),
    DemoAccount(
        "anthropic-backup",
        "anthropic",
        "sk-demo-anthropic-backup",
        ("claude-*",),
        notes="Second Anthropic org, takes over when the primary is cooling (demo)",
    ),
    DemoAccount(
        "openai-main", "openai", "sk-demo-openai-main", ("gpt-*",), notes="OpenAI org (demo)"
    ),
)


@dataclass(frozen=True, slots=True)
class DemoPackage:
    name: str
    description: str
    allowance: str
    patterns: tuple[str, ...]
    rpm: int | None


PACKAGES = (
    DemoPackage(
        "Starter",
        "Sonnet and Haiku class models, 60 requests a minute",
        "20",
        ("claude-sonnet-*", "claude-haiku-*"),
        60,
    ),
    DemoPackage("Power", "Every model the pool serves", "100", ("*",), None),
)
GROUPS = (("Platform", "Power", "Platform engineering"), ("Mobile", "Starter", "iOS and Android"))


@dataclass(frozen=True, slots=True)
class Member:
    """A demo member and how they work: requests a working day, their tool and models."""

    handle: str
    name: str
    group: str
    tool: str
    """claude_code | codex_cli | openai_sdk | mixed"""
    per_day: float
    scale: float = 1.0
    """Size of a turn relative to an average one."""
    role: str = "member"
    opus_share: float = 0.0
    tries_opus: bool = False
    """Asks for Opus now and then without a package that includes it (refused)."""

    @property
    def email(self) -> str:
        return f"{self.handle}@{DOMAIN}"


MEMBERS = (
    Member("priya", "Priya Raman", "Platform", "claude_code", 26, 2.2, opus_share=0.45),
    Member("alex", "Alex Chen", "Platform", "codex_cli", 10, 1.2),
    Member("jordan", "Jordan Blake", "Platform", "claude_code", 8, opus_share=0.15),
    Member("sam", "Sam Okafor", "Platform", "openai_sdk", 4, role="admin"),
    Member("lena", "Lena Fischer", "Platform", "mixed", 6),
    Member("marco", "Marco Rossi", "Platform", "claude_code", 5),
    Member("tom", "Tom Becker", "Mobile", "claude_code", 9, 1.2, tries_opus=True),
    Member("aisha", "Aisha Khan", "Mobile", "claude_code", 14, 1.8),
    Member("diego", "Diego Alvarez", "Mobile", "mixed", 6),
    Member("yuki", "Yuki Tanaka", "Mobile", "claude_code", 6),
    Member("noah", "Noah Smith", "Mobile", "claude_code", 2),
    Member("emma", "Emma Laurent", "Mobile", "claude_code", 4),
)
SIGN_IN_MEMBERS = ("priya", "tom", "sam")
"""Members who get the demo password too, to see the member portal and a second admin."""

# Workspace-currency prices per million tokens for models genai-prices may not know yet.
PRICES = {
    "claude-opus-4-1": ("15", "75", "1.5", "18.75"),
    "claude-sonnet-4-5": ("3", "15", "0.3", "3.75"),
    "claude-haiku-4-5": ("1", "5", "0.1", "1.25"),
    "gpt-5": ("1.25", "10", "0.125", None),
    "gpt-5-codex": ("1.25", "10", "0.125", None),
    "gpt-5-mini": ("0.25", "2", "0.025", None),
}


@dataclass
class DemoWorkspace:
    """Ids the history needs, by handle."""

    owner_email: str
    users: dict[str, uuid.UUID] = field(default_factory=dict)
    groups: dict[str, uuid.UUID] = field(default_factory=dict)
    accounts: dict[str, uuid.UUID] = field(default_factory=dict)


class NotADemoWorkspaceError(ConfigError):
    code = "not_a_demo_workspace"


def actor() -> Actor:
    """Who the demo acts as: the `spectra` command on this data directory."""
    return local_actor()


async def seeded_before(session: Session) -> bool:
    """Whether the demo has seeded this database before (one of its members exists)."""
    for member in MEMBERS:
        if await users_service.find_user_by_email(session, actor(), email=member.email):
            return True
    return False


async def check_demo_database(runtime: Runtime, *, owner_email: str) -> bool:
    """Refuse a database holding users the demo did not create (a real workspace), unless the
    demo seeded it first: whatever a newcomer added to the demo since is theirs to keep, and the
    demo still starts. Returns whether the demo seeded it before."""
    async with session_scope(runtime.db) as session:
        if await seeded_before(session):
            return True
        page = await users_service.list_users(session, actor(), limit=200)
    strangers = [
        u.email for u in page.items if u.email != owner_email and not u.email.endswith(f"@{DOMAIN}")
    ]
    if strangers:
        raise NotADemoWorkspaceError(
            f"This database already holds a workspace the demo did not create ({strangers[0]}, ...); "
            "run the demo on an empty data directory (spectra demo --data-dir DIR)."
        )
    return False


async def ensure_workspace(
    runtime: Runtime, *, upstream_url: str, owner_email: str, password: str
) -> DemoWorkspace:
    """Create (or find) everything the demo workspace holds, in one unit of work."""
    me = actor()
    async with session_scope(runtime.db) as session:
        await users_service.ensure_owner(session, email=owner_email)
        await _accounts(session, me, upstream_url)
        await _prices(session, me)
        await _packages(session, me)
        await _groups(session, me)
        await _members(session, me)
        await _passwords(session, me, owner_email, password)
        workspace = await _ids(session, me, owner_email)
        await _money(session, me, workspace)
    await runtime.feed.poll_once()
    return workspace


async def _accounts(session: Session, me: Actor, upstream_url: str) -> None:
    for spec in ACCOUNTS:
        try:
            account = await pool_service.get_account_by_name(session, me, name=spec.name)
        except AccountNotFoundError:
            data = AccountCreate.model_validate(
                {
                    "name": spec.name,
                    "provider": spec.provider,
                    "base_url": upstream_url,
                    "api_key": spec.credential,
                    "models": list(spec.models),
                    "priority": spec.priority,
                    "notes": spec.notes,
                    "tags": ["demo"],
                }
            )
            await pool_service.add_account(session, me, data=data)
            continue
        if account.base_url != upstream_url:
            # The demo upstream listens on a new port this run: follow it.
            update = AccountUpdate(base_url=upstream_url)
            await pool_service.update_account(session, me, account_id=account.id, data=update)


async def _prices(session: Session, me: Actor) -> None:
    known = {p.model for p in await usage_service.list_prices(session, me, include_defaults=True)}
    for model, (inp, out, read, write) in PRICES.items():
        if model in known:
            continue
        await usage_service.set_price(
            session, me, model=model, input=inp, output=out, cache_read=read, cache_write=write
        )


async def _packages(session: Session, me: Actor) -> None:
    for spec in PACKAGES:
        if await packages_service.find_package(session, spec.name) is not None:
            continue
        data = PackageCreate.model_validate(
            {
                "name": spec.name,
                "description": spec.description,
                "allowance": spec.allowance,
                "period": "monthly",
                "model_patterns": list(spec.patterns),
                "rpm": spec.rpm,
                "list_price": spec.allowance,
            }
        )
        await packages_service.create_package(session, me, data=data)


async def _groups(session: Session, me: Actor) -> None:
    for name, package, description in GROUPS:
        try:
            await users_service.get_group(session, me, group=name)
        except GroupNotFoundError:
            await users_service.create_group(session, me, name=name, description=description)
            await packages_service.set_group_default_package(
                session, me, group=name, package=package
            )
    # Mobile members fall back to their own wallet only: the group wallet is Platform's idea.
    await policy_service.set_group_funding(
        session, me, group="Mobile", wallet_fallback=True, group_wallet_fallback=False
    )


async def _members(session: Session, me: Actor) -> None:
    missing = [
        m
        for m in MEMBERS
        if await users_service.find_user_by_email(session, me, email=m.email) is None
    ]
    if not missing:
        return
    lines = ["email,name,group,role"] + [f"{m.email},{m.name},{m.group},{m.role}" for m in missing]
    await users_service.import_users(session, me, csv_text="\n".join(lines) + "\n")


async def _passwords(session: Session, me: Actor, owner_email: str, password: str) -> None:
    emails = [owner_email] + [m.email for m in MEMBERS if m.handle in SIGN_IN_MEMBERS]
    for email in emails:
        user = await users_service.find_user_by_email(session, me, email=email)
        if user is not None and user.password_hash is None:
            await users_service.set_password(session, me, user=user.id, password=password)


async def _ids(session: Session, me: Actor, owner_email: str) -> DemoWorkspace:
    workspace = DemoWorkspace(owner_email=owner_email)
    for m in MEMBERS:
        user = await users_service.find_user_by_email(session, me, email=m.email)
        assert user is not None
        workspace.users[m.handle] = user.id
    for name, _, _ in GROUPS:
        workspace.groups[name] = (await users_service.get_group(session, me, group=name)).id
    for spec in ACCOUNTS:
        account = await pool_service.get_account_by_name(session, me, name=spec.name)
        workspace.accounts[spec.name] = account.id
    return workspace


async def _money(session: Session, me: Actor, workspace: DemoWorkspace) -> None:
    """The opening recharges (idempotent on their keys)."""
    recharges = (
        (None, "Platform", "300", "Q4 pilot", "demo:recharge:platform-q4"),
        ("diego", None, "25", "Codex trial on his own wallet", "demo:recharge:diego"),
        ("yuki", None, "5", "Welcome credit", "demo:recharge:yuki"),
        ("lena", None, "15", "Conference hack day", "demo:recharge:lena"),
    )
    for handle, group, amount, memo, key in recharges:
        await ledger_service.recharge(
            session,
            me,
            user_id=workspace.users[handle] if handle else None,
            group_id=workspace.groups[group] if group else None,
            amount=parse_amount(amount),
            memo=memo,
            idempotency_key=key,
        )
