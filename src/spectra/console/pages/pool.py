"""The account pool: every account's state at a glance (colour, reason, since), utilisation,
latency, success rate; add, edit, rotate the credential, test (htmx), disable, enable, reset;
the account page with its state history. No page ever shows a credential (only its last four).

URLs: GET/POST /console/pool, GET /console/pool/{id}, POST /console/pool/{id}/edit,
POST .../credential, POST .../test (htmx fragment, or a redirect), POST .../disable,
POST .../enable, POST .../reset.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import SecretStr, ValidationError
from starlette.responses import HTMLResponse, Response

from spectra.console import pool_kinds
from spectra.console.deps import AdminDep, ReadSessionDep, SessionDep, require_recent_auth
from spectra.console.forms import Form, field_errors
from spectra.console.i18n import N_, _
from spectra.console.render import environment, redirect, render
from spectra.console.tables import Column, TableSpec
from spectra.errors import SpectraError
from spectra.kit.clock import utc_now
from spectra.pool import service as pool_service
from spectra.pool import wiring as pool_wiring
from spectra.pool.models import PoolAccount
from spectra.pool.schemas import AccountCreate, AccountUpdate

router = APIRouter()

DEFAULT_URLS = {"anthropic": "https://api.anthropic.com", "openai": "https://api.openai.com/v1"}
STATES = ("active", "cooling", "failing", "needs_attention", "disabled")
ACCOUNT_COLUMNS = (
    Column("name", "Account", "account.name"),
    Column("provider", "Provider", "account.provider"),
    Column("state", "State", "account.state"),
    Column("since", "Since", "account.state_changed_at", kind="when"),
    Column("tier", "Tier", "account.priority", kind="num"),
    Column("utilisation", "Utilisation", kind="num"),
    Column("latency", "Latency p50", "figures.latency_p50_ms", kind="num"),
    Column("success", "Success today", "success_rate"),
    Column("requests", "Requests today", "figures.requests_today", kind="num"),
    Column("key", "Key", lambda r: f"…{r['account'].credential_last4}", sortable=False),
    Column("test", "Test", kind="action"),
)
ACCOUNTS = TableSpec("accounts", ACCOUNT_COLUMNS, empty=N_("No accounts yet: add one below."))


async def figures_of(session: Any, actor: Any, account: PoolAccount) -> dict[str, Any]:
    """Live figures from this process's pool, else what the figures job last persisted."""
    running = pool_wiring.find_current()
    if running is not None:
        live = running.state.accounts.get(account.id)
        if live is not None:
            return dict(live.figures.summary(utc_now()))
    return await pool_service.persisted_figures(session, actor, account_id=account.id)


def _utilisation(account: PoolAccount, figures: dict[str, Any]) -> int | None:
    if account.rpm_cap:
        return min(
            100, round(100 * int(figures.get("requests_last_minute") or 0) / account.rpm_cap)
        )
    if account.max_concurrency:
        return min(100, round(100 * int(figures.get("in_flight") or 0) / account.max_concurrency))
    return None


def _success_rate(figures: dict[str, Any]) -> str:
    rate = figures.get("success_rate_today")
    if rate is None:
        done = int(figures.get("successes_today") or 0) + int(figures.get("failures_today") or 0)
        rate = None if done == 0 else int(figures.get("successes_today") or 0) / done
    return "—" if rate is None else f"{100 * float(rate):.1f}%"


async def _list(
    request: Request,
    viewer: Any,
    session: Any,
    *,
    state: str | None = None,
    cursor: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    page = await pool_service.list_accounts(
        session, viewer.actor, limit=50, cursor=cursor, state=state
    )
    rows = []
    for account in page.items:
        figures = await figures_of(session, viewer.actor, account)
        rows.append(
            {
                "account": account,
                "figures": figures,
                "utilisation": _utilisation(account, figures),
                "success_rate": _success_rate(figures),
            }
        )
    alerts = await pool_service.list_alerts(session, viewer.actor, limit=20, open_only=True)
    table = ACCOUNTS.build(request, rows, page.next_cursor)
    return table.csv() or render(
        request,
        viewer,
        "pool/list.html",
        title=_("Account pool"),
        nav="Pool",
        table=table,
        alerts=alerts.items,
        states=STATES,
        **pool_kinds.kind_context(),
        errors=errors or {},
        values=values or {},
    )


@router.get("/pool")
async def pool(
    request: Request,
    viewer: AdminDep,
    session: ReadSessionDep,
    state: str | None = None,
    cursor: str | None = None,
) -> Response:
    return await _list(request, viewer, session, state=state or None, cursor=cursor)


def _aliases(text: str) -> dict[str, str]:
    """`public=upstream` pairs, comma- or line-separated."""
    out: dict[str, str] = {}
    for part in text.replace("\n", ",").split(","):
        if "=" in part:
            public, _sep, upstream = part.partition("=")
            if public.strip() and upstream.strip():
                out[public.strip()] = upstream.strip()
    return out


def _common(form: Form) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in ("priority", "weight", "max_concurrency", "rpm_cap", "tpm_cap"):
        if form.get(name) is not None:
            values[name] = form[name]
    for name in ("monthly_spend_cap", "fixed_monthly_cost"):
        if form.get(name) is not None:
            values[name] = form[name]
    if form.get("cost_basis"):
        values["cost_basis"] = form["cost_basis"]
    if form.get("translate") in ("on", "off"):
        values["translate"] = form["translate"] == "on"
    return values


@router.post("/pool")
async def add_account(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    provider = form.get("provider") or "anthropic"
    try:
        data = AccountCreate(
            name=form["name"],
            provider=provider,
            base_url=form.get("base_url") or DEFAULT_URLS.get(provider, ""),
            api_key=SecretStr((await pool_kinds.credential(request, form, provider)).strip()),
            **pool_kinds.settings(form),
            models=form.words("models"),
            aliases=_aliases(form["aliases"]),
            groups=form.words("groups"),
            tags=form.words("tags"),
            notes=form["notes"],
            **_common(form),
        )
        account = await pool_service.add_account(session, viewer.actor, data=data)
    except (SpectraError, ValidationError) as exc:
        await session.rollback()
        values = pool_kinds.safe_values(form)
        return await _list(
            request, viewer, session, errors=field_errors(exc, default_field="name"), values=values
        )
    return redirect(
        f"/console/pool/{account.id}",
        ok=_("Account %(name)s is added; test it to see it answer.", name=account.name),
    )


@router.get("/pool/{account_id}")
async def show_account(
    account_id: uuid.UUID,
    request: Request,
    viewer: AdminDep,
    session: ReadSessionDep,
    cursor: str | None = None,
) -> Response:
    account = await pool_service.get_account(session, viewer.actor, account_id=account_id)
    history = await pool_service.list_history(
        session, viewer.actor, account_id=account_id, limit=50, cursor=cursor
    )
    figures = await figures_of(session, viewer.actor, account)
    return render(
        request,
        viewer,
        "pool/show.html",
        title=_("Account %(name)s", name=account.name),
        nav="Pool",
        account=account,
        history=history.items,
        next_cursor=history.next_cursor,
        figures=figures,
        utilisation=_utilisation(account, figures),
        success_rate=_success_rate(figures),
        aliases=", ".join(f"{k}={v}" for k, v in account.aliases.items()),
        errors={},
        **pool_kinds.kind_context(),
    )


@router.post("/pool/{account_id}/edit")
async def edit_account(
    account_id: uuid.UUID, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    try:
        fields: dict[str, Any] = {
            "name": form.get("name"),
            "base_url": form.get("base_url"),
            "models": form.words("models") or None,
            "aliases": _aliases(form["aliases"]),
            "groups": form.words("groups"),
            "tags": form.words("tags"),
            "notes": form["notes"],
            **_common(form),
            **{k: v for k, v in pool_kinds.settings(form).items() if v is not None},
        }
        for cap in ("max_concurrency", "rpm_cap", "tpm_cap", "monthly_spend_cap"):
            fields.setdefault(cap, None)
        data = AccountUpdate(**fields)
        await pool_service.update_account(session, viewer.actor, account_id=account_id, data=data)
    except (SpectraError, ValidationError) as exc:
        await session.rollback()
        first = next(iter(field_errors(exc).items()))
        return redirect(
            f"/console/pool/{account_id}",
            error=_("%(first)s: %(first2)s", first=first[0], first2=first[1]),
        )
    return redirect(f"/console/pool/{account_id}", ok=_("Saved."))


@router.post("/pool/{account_id}/credential")
async def rotate_credential(
    account_id: uuid.UUID, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    await require_recent_auth(session, viewer)
    form = await Form.read(request)
    current = await pool_service.get_account(session, viewer.actor, account_id=account_id)
    account, outcome = await pool_service.rotate_credential(
        session,
        viewer.actor,
        account_id=account_id,
        api_key=(await pool_kinds.credential(request, form, current.provider)).strip(),
        run_probe=True,
    )
    if outcome is not None and not outcome.ok:
        return redirect(
            f"/console/pool/{account_id}",
            error=_(
                "The new credential is stored, but the test failed: %(outcome)s.",
                outcome=outcome.message or outcome.label,
            ),
        )
    return redirect(
        f"/console/pool/{account_id}",
        ok=_("Credential rotated; %(name)s is %(state)s.", name=account.name, state=account.state),
    )


@router.post("/pool/{account_id}/test")
async def test_account(
    account_id: uuid.UUID, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    """Probe the account now. With htmx, answer the result fragment for the row."""
    account, outcome = await pool_service.test_account(session, viewer.actor, account_id=account_id)
    if request.headers.get("hx-request"):
        html = environment.get_template("pool/_test_result.html").render(
            account=account, outcome=outcome
        )
        return HTMLResponse(html)
    message = (
        f"{account.name} answered in {outcome.latency_ms:.0f} ms."
        if outcome.ok
        else f"{account.name} failed the test: {outcome.message or outcome.label}."
    )
    return redirect(
        f"/console/pool/{account_id}", **({"ok": message} if outcome.ok else {"error": message})
    )


@router.post("/pool/{account_id}/disable")
async def disable_account(
    account_id: uuid.UUID, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    account = await pool_service.disable_account(
        session, viewer.actor, account_id=account_id, reason=form["reason"]
    )
    return redirect(f"/console/pool/{account_id}", ok=_("%(name)s is disabled.", name=account.name))


@router.post("/pool/{account_id}/enable")
async def enable_account(account_id: uuid.UUID, viewer: AdminDep, session: SessionDep) -> Response:
    account = await pool_service.enable_account(session, viewer.actor, account_id=account_id)
    return redirect(f"/console/pool/{account_id}", ok=_("%(name)s is enabled.", name=account.name))


@router.post("/pool/{account_id}/reset")
async def reset_account(account_id: uuid.UUID, viewer: AdminDep, session: SessionDep) -> Response:
    account = await pool_service.reset_account_state(session, viewer.actor, account_id=account_id)
    return redirect(
        f"/console/pool/{account_id}",
        ok=_("%(name)s is back to %(state)s.", name=account.name, state=account.state),
    )
