"""Users: searchable, filterable, paginated list; create or invite; CSV import with the line
report; the user page (keys, packages, wallet and ledger, usage chart, refusals, audit trail)
and its actions (suspend, reactivate, change role, move group, edit, remove, setup link, set
password, assign package, revoke key).

URLs: GET/POST /console/users, POST /console/users/import, GET /console/users/{id},
POST /console/users/{id}/{suspend,reactivate,role,group,edit,remove,setup-link,password,package},
POST /console/keys/{id}/revoke.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Select
from starlette.responses import Response

from spectra.audit.service import AuditFilter
from spectra.console.charts import series_chart
from spectra.console.deps import AdminDep, ReadSessionDep, RuntimeDep, SessionDep
from spectra.console.forms import Form
from spectra.console.i18n import N_, _
from spectra.console.refusals import explain_reason
from spectra.console.render import back_url, redirect, render
from spectra.console.tables import Column, TableSpec
from spectra.console.user_actions import USER_ACTIONS, Action
from spectra.errors import InvalidError, SpectraError
from spectra.keys import service as keys_service
from spectra.kit.clock import utc_now
from spectra.kit.money import parse_amount
from spectra.kit.pagination import Page
from spectra.ledger import service as ledger_service
from spectra.ledger.schemas import TransactionRead
from spectra.packages import service as packages_service
from spectra.usage import reports
from spectra.usage import service as usage_service
from spectra.users import service as users_service
from spectra.users.models import User
from spectra.users.permissions import Role
from spectra.users.sessions import setup_path

router = APIRouter()

STATUSES = ("active", "invited", "suspended", "removed")
ROLES = tuple(r.value for r in Role)
USERS = TableSpec(
    "users",
    (
        Column("email", "Email"),
        Column("name", "Name"),
        Column("role", "Role"),
        Column("group", "Group", "group.name"),
        Column("status", "Status"),
        Column("last_seen", "Last seen", "last_seen_at", kind="when"),
        Column("created", "Created", "created_at", kind="when"),
    ),
    empty=N_("No user matches: clear the filters, or add a user below."),
    filterable=False,
)


async def group_options(session: Any, actor: Any) -> list[tuple[str, str]]:
    page = await users_service.list_groups(session, actor, limit=500)
    return [(g.name, g.name) for g in page.items]


async def package_options(session: Any, actor: Any) -> list[tuple[str, str]]:
    page = await packages_service.list_packages(session, actor, status="active", limit=500)
    return [(d.package.name, d.package.name) for d in page.items]


@router.get("/users")
async def list_users(
    request: Request,
    viewer: AdminDep,
    session: ReadSessionDep,
    q: str | None = None,
    status: str | None = None,
    role: str | None = None,
    group: str | None = None,
    package: str | None = None,
    balance: str | None = None,
    below: str | None = None,
) -> Response:
    """Filters run in the one paginated query: a package's holders and a wallet balance (below
    an amount, zero or negative) are subqueries of the packages and ledger services."""
    among: list[Select[Any]] = []
    if package:
        detail = await packages_service.get_package(session, viewer.actor, name=package)
        among.append(packages_service.holders_of(detail.package.id))
    errors: dict[str, str] = {}
    page: Page[User] = Page(items=[], total=0)
    try:
        more, excluding = _balance_filter(balance or "", below or "")
    except SpectraError as exc:
        errors = {"below": exc.message}
    else:
        page = await users_service.list_users(
            session,
            viewer.actor,
            status=status or None,
            role=role or None,
            group=group or None,
            text=q or None,
            among=[*among, *more],
            excluding=excluding,
            listing=USERS.query(request),
        )
    table = USERS.show(request, page)
    return table.csv() or render(
        request,
        viewer,
        "users/list.html",
        title=_("Users"),
        nav="Users",
        table=table,
        errors=errors,
        groups=await group_options(session, viewer.actor),
        packages=await package_options(session, viewer.actor),
        statuses=STATUSES,
        roles=ROLES,
        balances=BALANCE_FILTERS,
        report=None,
    )


BALANCE_FILTERS = (
    ("below", N_("below an amount")),
    ("zero", N_("zero")),
    ("negative", N_("negative")),
)


def _balance_filter(balance: str, below: str) -> tuple[list[Select[Any]], list[Select[Any]]]:
    """(among, excluding) subqueries for the wallet-balance filter. A user with no wallet yet
    has a zero balance, so "zero" and "below a positive amount" exclude the others instead."""
    if balance == "negative":
        return [ledger_service.user_wallet_owners(below=0)], []
    if balance == "zero":
        return [], [ledger_service.user_wallet_owners(nonzero=True)]
    if balance == "below" or below.strip():
        if not below.strip():
            raise InvalidError("Give the amount to list balances below.", field="below")
        limit = parse_amount(below, allow_zero=True, allow_negative=True, field="Below")
        if limit > 0:
            return [], [ledger_service.user_wallet_owners(at_least=limit)]
        return [ledger_service.user_wallet_owners(below=limit)], []
    if balance:
        raise InvalidError(f"Unknown balance filter {balance!r}; use below, zero or negative.")
    return [], []


@router.post("/users")
async def create_user(
    request: Request, viewer: AdminDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form = await Form.read(request)
    fields: dict[str, Any] = {
        "email": form["email"],
        "name": form["name"],
        "role": form.get("role") or "member",
        "group": form.get("group"),
    }
    if form.flag("invite"):
        issued = await users_service.invite_user(session, viewer.actor, **fields)
        return render(
            request,
            viewer,
            "users/link.html",
            title=_("Setup link"),
            nav="Users",
            user=issued.user,
            link=runtime.settings.public_base() + setup_path(issued.token),
            expires_at=issued.expires_at,
            sent_to=issued.mailed_to,
        )
    user = await users_service.create_user(session, viewer.actor, **fields)
    return redirect(f"/console/users/{user.id}", ok=_("%(email)s is created.", email=user.email))


@router.post("/users/import")
async def import_users(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    """All or nothing: a rejected file shows the report of every rejected line."""
    form = await Form.read(request)
    text = form.data.get("csv", "")
    upload = (await request.form()).get("file")
    if upload is not None and not isinstance(upload, str):
        text = (await upload.read()).decode("utf-8-sig", errors="replace") or text
    try:
        created = await users_service.import_users(session, viewer.actor, csv_text=text)
    except SpectraError as exc:
        await session.rollback()
        return render(
            request,
            viewer,
            "users/list.html",
            title=_("Users"),
            nav="Users",
            users=[],
            next_cursor=None,
            groups=await group_options(session, viewer.actor),
            packages=await package_options(session, viewer.actor),
            statuses=STATUSES,
            roles=ROLES,
            balances=BALANCE_FILTERS,
            report={"error": exc.message, "rejected": exc.details.get("rejected", []), "csv": text},
        )
    return redirect("/console/users", ok=_("Imported %(created)s users.", created=len(created)))


def ledger_rows(ledger: packages_service.UserLedger) -> list[dict[str, Any]]:
    """Each transaction with what it did to the member's wallet and to their allowances."""
    rows = []
    for txn in ledger.page.items:
        read = TransactionRead.model_validate(txn)
        mine = [p for p in read.postings if p.account_id == ledger.wallet_id]
        allowance = [p for p in read.postings if p.account_id in ledger.allowance_ids]
        rows.append(
            {
                "txn": read,
                "wallet": sum(p.amount_micros for p in mine) if mine else None,
                "allowance": sum(p.amount_micros for p in allowance) if allowance else None,
            }
        )
    return rows


@router.get("/users/{user_id}")
async def user_page(
    user_id: uuid.UUID,
    request: Request,
    viewer: AdminDep,
    session: ReadSessionDep,
    ledger_cursor: str | None = None,
) -> Response:
    actor = viewer.actor
    user = await users_service.get_user(session, actor, user=user_id)
    keys = await keys_service.list_keys(session, actor, user_id=user.id, limit=50)
    holdings = await packages_service.packages_of_user(session, actor, user_id=user.id)
    account = await ledger_service.get_wallet(session, actor, user_id=user.id)
    balance = account.balance_micros
    ledger = await packages_service.user_ledger(
        session, actor, user_id=user.id, limit=20, cursor=ledger_cursor
    )
    refusals = await usage_service.list_usage(
        session, actor, user_id=user.id, status="refused", limit=10
    )
    audit = None
    if viewer.can("audit.read"):
        audit = await users_service.list_audit_events(
            session, actor, where=AuditFilter(target_id=str(user.id)), limit=20
        )
    since, until = reports.default_range(30)
    chart = await series_chart(
        session, actor, since=since, until=until, dimension="user", value=str(user.id)
    )
    chart["datasets"][0]["label"] = "Spend per day"
    now = utc_now()
    memberships = await users_service.list_memberships(session, actor, user=user.id)
    return render(
        request,
        viewer,
        "users/show.html",
        title=user.email,
        nav="Users",
        user=user,
        keys=[{"key": k, "status": k.effective_status(now)} for k in keys.items],
        holdings=holdings,
        balance=balance,
        rows=ledger_rows(ledger),
        ledger_next=ledger.page.next_cursor,
        refusals=refusals.items,
        memberships=memberships.items,
        audit=audit.items if audit else None,
        chart=chart,
        groups=await group_options(session, actor),
        packages=await package_options(session, actor),
        roles=ROLES,
        explain_reason=explain_reason,
    )


def _back(user: User) -> str:
    return f"/console/users/{user.id}"


def _user_action(action: Action) -> Callable[..., Awaitable[Response]]:
    async def handle(
        user_id: uuid.UUID, request: Request, viewer: AdminDep, session: SessionDep
    ) -> Response:
        user, said = await action(session, viewer.actor, user_id, await Form.read(request))
        return redirect(_back(user), ok=said)

    return handle


for _name, _action in USER_ACTIONS.items():
    router.add_api_route(
        f"/users/{{user_id}}/{_name}", _user_action(_action), methods=["POST"], name=_name
    )


@router.post("/users/{user_id}/setup-link")
async def setup_link(
    user_id: uuid.UUID,
    request: Request,
    viewer: AdminDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """A one-time password-setup (reset) link, shown this once."""
    issued = await users_service.create_setup_link(session, viewer.actor, user=user_id)
    return render(
        request,
        viewer,
        "users/link.html",
        title=_("Setup link"),
        nav="Users",
        user=issued.user,
        link=runtime.settings.public_base() + setup_path(issued.token),
        expires_at=issued.expires_at,
        sent_to=issued.mailed_to,
    )


@router.post("/users/{user_id}/package")
async def assign_package(
    user_id: uuid.UUID, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    await packages_service.assign_package(
        session,
        viewer.actor,
        package=form["package"],
        user_id=user_id,
        reason=form["reason"] or "assigned in the console",
    )
    return redirect(
        f"/console/users/{user_id}", ok=_("Package %(form)s is assigned.", form=form["package"])
    )


@router.post("/keys/{key_id}/revoke")
async def revoke_key(
    key_id: uuid.UUID, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    """An admin revokes anyone's key (members use /console/me/keys)."""
    form = await Form.read(request)
    key = await keys_service.revoke_key(
        session, viewer.actor, key_id=key_id, reason=form.get("reason")
    )
    return redirect(back_url(request, f"/console/users/{key.user_id}"), ok=_("The key is revoked."))
