"""Single sign-on providers in the console: list, add, show, edit, test, remove (owners change
them).

URLs: GET/POST /console/sso-providers, GET /console/sso-providers/{name},
POST /console/sso-providers/{name}/edit, POST /console/sso-providers/{name}/test,
POST /console/sso-providers/{name}/remove.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from spectra.console.deps import AdminDep, ReadSessionDep, RuntimeDep, SessionDep, Viewer
from spectra.console.forms import Form, problems
from spectra.console.i18n import _
from spectra.console.render import redirect, render
from spectra.users import service as users_service
from spectra.users.sso import service as sso_service
from spectra.users.sso.schemas import ProviderCreate, ProviderUpdate, parse_mapping

from .sso import redirect_uri

router = APIRouter()


@router.get("/sso-providers")
async def providers(
    request: Request, viewer: AdminDep, session: ReadSessionDep, runtime: RuntimeDep
) -> Response:
    page = await sso_service.list_providers(session, viewer.actor)
    return render(
        request,
        viewer,
        "settings/sso.html",
        title=_("Single sign-on"),
        nav="Settings",
        providers=page.items,
        callback_example=redirect_uri(runtime, "NAME"),
    )


@router.post("/sso-providers")
async def add_provider(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    minutes = form.get("session_ttl_minutes")
    try:
        data = _provider_form(form, minutes)
    except ValidationError as exc:
        return redirect(
            "/console/sso-providers",
            error=_("The provider was not added: %(problems)s.", problems=problems(exc)),
        )
    provider = await sso_service.add_provider(session, viewer.actor, data=data)
    return redirect(
        f"/console/sso-providers/{quote(provider.name, safe='')}",
        ok=_("Added %(name)s.", name=provider.name),
    )


def _provider_form(form: Form, minutes: str | None) -> ProviderCreate:
    return ProviderCreate(
        name=form["name"],
        issuer=form["issuer"],
        client_id=form["client_id"],
        client_secret=form["client_secret"],
        scopes=form.words("scopes") or ["openid", "email", "profile"],
        allowed_domains=form.words("allowed_domains"),
        groups_claim=form.get("groups_claim"),
        group_mappings=[parse_mapping(line) for line in form.words("group_mappings")],
        require_sso=form.flag("require_sso"),
        trust_email=form.flag("trust_email"),
        break_glass_owner=form.get("break_glass_owner"),
        session_ttl_minutes=int(minutes) if minutes and minutes.isdigit() else None,
    )


async def _provider_page(
    request: Request,
    viewer: Viewer,
    session: ReadSessionDep,
    runtime: RuntimeDep,
    name: str,
    *,
    run_test: bool,
) -> Response:
    provider = await sso_service.get_provider(session, viewer.actor, name=name)
    report = await sso_service.test_provider(session, viewer.actor, name=name) if run_test else None
    break_glass = ""
    if provider.break_glass_user_id is not None:
        owner = await users_service.get_user(
            session, viewer.actor, user=provider.break_glass_user_id
        )
        break_glass = owner.email
    return render(
        request,
        viewer,
        "settings/sso_provider.html",
        title=provider.name,
        nav="Settings",
        provider=provider,
        callback=redirect_uri(runtime, provider.name),
        report=report,
        break_glass=break_glass,
        mappings="\n".join(
            f"{m['claim']}={m.get('group') or ''}:{m.get('role') or ''}"
            for m in provider.group_mappings
        ),
    )


@router.get("/sso-providers/{name}")
async def show_provider(
    name: str, request: Request, viewer: AdminDep, session: ReadSessionDep, runtime: RuntimeDep
) -> Response:
    return await _provider_page(request, viewer, session, runtime, name, run_test=False)


@router.post("/sso-providers/{name}/edit")
async def edit_provider(
    name: str, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    """Save the edit form: every setting as shown; an empty client secret keeps the sealed one."""
    form = await Form.read(request)
    page = f"/console/sso-providers/{quote(name, safe='')}"
    minutes = form.get("session_ttl_minutes")
    try:
        data = ProviderUpdate(
            issuer=form["issuer"],
            client_id=form["client_id"],
            scopes=form.words("scopes") or ["openid", "email", "profile"],
            allowed_domains=form.words("allowed_domains"),
            groups_claim=form.get("groups_claim"),
            group_mappings=[parse_mapping(line) for line in form.words("group_mappings")],
            require_sso=form.flag("require_sso"),
            trust_email=form.flag("trust_email"),
            is_enabled=form.flag("is_enabled"),
            break_glass_owner=form.get("break_glass_owner"),
            session_ttl_minutes=int(minutes) if minutes and minutes.isdigit() else None,
            client_secret=form.get("client_secret"),  # None (empty) keeps the sealed one
        )
    except ValidationError as exc:
        return redirect(
            page, error=_("The provider was not changed: %(problems)s.", problems=problems(exc))
        )
    await sso_service.update_provider(session, viewer.actor, name=name, data=data)
    return redirect(page, ok=_("Saved %(name)s.", name=name))


@router.post("/sso-providers/{name}/test")
async def test_provider(
    name: str, request: Request, viewer: AdminDep, session: ReadSessionDep, runtime: RuntimeDep
) -> Response:
    """Fetch discovery and keys now and show the report on the provider's page."""
    return await _provider_page(request, viewer, session, runtime, name, run_test=True)


@router.post("/sso-providers/{name}/remove")
async def remove_provider(name: str, viewer: AdminDep, session: SessionDep) -> Response:
    await sso_service.remove_provider(session, viewer.actor, name=name)
    return redirect("/console/sso-providers", ok=_("Removed %(name)s.", name=name))
