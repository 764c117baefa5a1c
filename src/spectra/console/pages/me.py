"""The member portal (every signed-in user, member role or not): my keys, packages, balance and
history, redeem a code, request a recharge, my usage, my refusals and why, pool status, API tokens.

URLs (all under /console): GET /me, GET/POST /me/keys, POST /me/keys/{id}/revoke,
POST /me/keys/{id}/rotate, GET /me/wallet, POST /me/redeem, POST /me/recharge-request,
GET /me/usage, GET /me/refusals, GET /me/explain, GET/POST /me/tokens, POST /me/tokens/{id}/revoke
(POST /me/tokens/scim is in scim_tokens.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from spectra.console.charts import series_chart
from spectra.console.deps import (
    ReadSessionDep,
    RuntimeDep,
    SessionDep,
    ViewerDep,
    client_ip,
)
from spectra.console.forms import Form, field_errors
from spectra.console.i18n import N_, _
from spectra.console.refusals import explain_reason
from spectra.console.render import redirect, render
from spectra.console.snippets import MemberModels, member_models, snippets
from spectra.console.tables import Column, TableSpec
from spectra.errors import InvalidError, SpectraError
from spectra.keys import service as keys_service
from spectra.keys.schemas import KeyCreate
from spectra.kit.clock import utc_now
from spectra.kit.money import display
from spectra.ledger import service as ledger_service
from spectra.ledger.schemas import TransactionRead
from spectra.policy import rollout_timeline
from spectra.policy import service as policy_service
from spectra.pool import service as pool_service
from spectra.usage import reports
from spectra.usage import service as usage_service

from .usage import MY_RECORDS, record_rows

router = APIRouter(prefix="/me")


def _uuid(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None


async def _my_refusals(session: Any, viewer: Any, limit: int = 5) -> list[dict[str, Any]]:
    page = await usage_service.list_usage(
        session, viewer.actor, user_id=viewer.user_id, status="refused", limit=limit
    )
    return [
        {
            "at": r.created_at,
            "model": r.model_requested,
            "reason": r.refusal_reason,
            "rule": r.refusal_rule,
            "why": explain_reason(r.refusal_reason, r.refusal_rule, r.refusal_message),
            "client": r.client_family,
        }
        for r in page.items
    ]


@router.get("")
async def home(request: Request, viewer: ViewerDep, session: ReadSessionDep) -> Response:
    view = await policy_service.member_view(session, viewer.actor, user_id=viewer.user_id)
    status = await pool_service.pool_status(session, viewer.actor)
    since, until = reports.default_range(30)
    chart = await series_chart(
        session, viewer.actor, since=since, until=until, dimension="user", value=str(viewer.user_id)
    )
    chart["datasets"][0]["label"] = "My spend per day"
    return render(
        request,
        viewer,
        "me/home.html",
        title=_("My portal"),
        nav="Me",
        view=view,
        pool=status,
        chart=chart,
        refusals=await _my_refusals(session, viewer),
        waves=await rollout_timeline.member_waves(session, viewer.user_id),
    )


KEYS = TableSpec(
    "keys",
    (
        Column("name", "Name", "key.name"),
        Column("prefix", "Key", "key.prefix"),
        Column("status", "Status"),
        Column("models", "Models", lambda r: ", ".join(r["key"].scopes) or "any"),
        Column("last_used", "Last used", "key.last_used_at", kind="when"),
        Column("expires", "Expires", "key.expires_at", kind="when"),
        Column("created", "Created", "key.created_at", kind="when"),
        Column("actions", "Actions", kind="action"),
    ),
    empty=N_("No keys yet: create one above, then paste its snippet into your tool."),
)


@router.get("/keys")
async def keys_page(
    request: Request,
    viewer: ViewerDep,
    session: ReadSessionDep,
    runtime: RuntimeDep,
    cursor: str | None = None,
) -> Response:
    return await _keys_page(request, viewer, session, runtime, cursor=cursor)


async def _keys_page(
    request: Request,
    viewer: Any,
    session: Any,
    runtime: Any,
    *,
    cursor: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    """The keys table (or its CSV), the create form (with its errors) and the set-up snippets."""
    page = await keys_service.list_keys(
        session, viewer.actor, user_id=viewer.user_id, limit=50, cursor=cursor
    )
    now = utc_now()
    rows = [{"key": k, "status": k.effective_status(now)} for k in page.items]
    table = KEYS.build(request, rows, page.next_cursor)
    models = await member_models(session, viewer.actor, viewer.user_id)
    return table.csv() or render(
        request,
        viewer,
        "me/keys.html",
        title=_("My keys"),
        nav="Me",
        errors=errors or {},
        values=values or {},
        snippets=snippets(runtime.settings.public_base(), models=models),
        table=table,
    )


def expiry(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidError(
            "The expiry must be a date like 2026-12-31.", field="expires_at"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@router.post("/keys")
async def create_key(
    request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Create a key for yourself; the answer shows the secret once, with set-up snippets."""
    form = await Form.read(request)
    try:
        body = KeyCreate(
            name=form["name"],
            scopes=form.words("scopes"),
            ip_allowlist=form.words("ip_allowlist"),
            expires_at=expiry(form.get("expires_at")),
        )
        key, secret = await keys_service.create_key(
            session,
            viewer.actor,
            user_id=viewer.user_id,
            name=body.name,
            scopes=body.scopes,
            ip_allowlist=body.ip_allowlist,
            expires_at=body.expires_at,
        )
    except (SpectraError, ValidationError) as exc:
        await session.rollback()
        errors = field_errors(exc, default_field="name")
        return await _keys_page(request, viewer, session, runtime, errors=errors, values=form.data)
    models = await member_models(session, viewer.actor, viewer.user_id)
    return _secret_page(request, viewer, runtime, key, secret, rotated=False, models=models)


def _secret_page(
    request: Request,
    viewer: Any,
    runtime: Any,
    key: Any,
    secret: str,
    *,
    rotated: bool,
    models: MemberModels,
) -> Response:
    return render(
        request,
        viewer,
        "me/key_created.html",
        title=_("Your new key"),
        nav="Me",
        key=key,
        secret=secret,
        rotated=rotated,
        snippets=snippets(runtime.settings.public_base(), secret, models),
    )


@router.post("/keys/{key_id}/revoke")
async def revoke_key(
    key_id: uuid.UUID, request: Request, viewer: ViewerDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    key = await keys_service.revoke_key(
        session, viewer.actor, key_id=key_id, reason=form.get("reason")
    )
    return redirect("/console/me/keys", ok=_("Key %(key)s is revoked.", key=key.name or key.prefix))


@router.post("/keys/{key_id}/rotate")
async def rotate_key(
    key_id: uuid.UUID,
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    key, secret = await keys_service.rotate_key(session, viewer.actor, key_id=key_id)
    models = await member_models(session, viewer.actor, viewer.user_id)
    return _secret_page(request, viewer, runtime, key, secret, rotated=True, models=models)


def _wallet_delta(txn: Any, account_ids: set[uuid.UUID]) -> int:
    return sum(p.amount_micros for p in txn.postings if p.account_id in account_ids)


@router.get("/wallet")
async def wallet(
    request: Request, viewer: ViewerDep, session: ReadSessionDep, cursor: str | None = None
) -> Response:
    account = await ledger_service.get_wallet(session, viewer.actor, user_id=viewer.user_id)
    balance = account.balance_micros
    page = await ledger_service.list_transactions(
        session, viewer.actor, user_id=viewer.user_id, limit=25, cursor=cursor
    )
    rows = []
    for txn in page.items:
        read = TransactionRead.model_validate(txn)
        rows.append({"txn": read, "delta": _wallet_delta(read, {account.id})})
    requests = await ledger_service.list_recharge_requests(
        session, viewer.actor, mine=True, limit=10
    )
    return render(
        request,
        viewer,
        "me/wallet.html",
        title=_("My balance"),
        nav="Me",
        balance=balance,
        rows=rows,
        next_cursor=page.next_cursor,
        requests=requests.items,
        errors={},
        values={},
    )


@router.post("/redeem")
async def redeem(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    txn = await ledger_service.redeem_code(
        session, viewer.actor, code=form["code"], client_ip=client_ip(request)
    )
    credited = max(
        (p.amount_micros for p in TransactionRead.model_validate(txn).postings), default=0
    )
    return redirect(
        "/console/me/wallet",
        ok=_("The code added %(display)s to your wallet.", display=display(credited)),
    )


@router.post("/recharge-request")
async def request_recharge(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    amount = form.amount("amount")
    await ledger_service.create_recharge_request(
        session, viewer.actor, amount=amount, reason=form["reason"]
    )
    return redirect("/console/me/wallet", ok=_("Your recharge request is sent to the admins."))


@router.get("/usage")
async def usage(
    request: Request,
    viewer: ViewerDep,
    session: ReadSessionDep,
    model: str | None = None,
    status: str | None = None,
    client: str | None = None,
) -> Response:
    page = await usage_service.list_usage(
        session,
        viewer.actor,
        user_id=viewer.user_id,
        model=model or None,
        status=status or None,
        client=client or None,
        listing=MY_RECORDS.query(request),
    )
    table = MY_RECORDS.show(request, page, record_rows(page.items, {}))
    return table.csv() or render(
        request,
        viewer,
        "me/usage.html",
        title=_("My usage"),
        nav="Me",
        records_table=table,
    )


@router.get("/refusals")
async def refusals(
    request: Request, viewer: ViewerDep, session: ReadSessionDep, cursor: str | None = None
) -> Response:
    page = await usage_service.list_usage(
        session, viewer.actor, user_id=viewer.user_id, status="refused", limit=50, cursor=cursor
    )
    return render(
        request,
        viewer,
        "me/refusals.html",
        title=_("My refusals"),
        nav="Me",
        records=page.items,
        next_cursor=page.next_cursor,
        explain_reason=explain_reason,
    )


@router.get("/explain")
async def explain(
    request: Request, viewer: ViewerDep, session: ReadSessionDep, model: str = ""
) -> Response:
    """Why may I (not) use this model now: the gateway's own decision with its trace."""
    decision = None
    if model.strip():
        decision = await policy_service.explain(
            session, viewer.actor, user=viewer.user_id, model=model.strip()
        )
    return render(
        request,
        viewer,
        "me/explain.html",
        title=_("Explain my access"),
        nav="Me",
        model=model,
        decision=decision.as_json() if decision else None,
    )
