"""`spectra policy ...`: explain the access decision; show a group's policy; set its funding
fallbacks; draft, dry-run and publish policy changes."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import typer

from spectra.cli import transport
from spectra.cli.options import CursorOpt, JsonOpt, LimitOpt
from spectra.cli.output import console, fail, print_json, show_done, show_list, show_object

policy_app = typer.Typer(help="Access decisions and group policy.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")


@policy_app.command("explain")
def explain(
    user: Annotated[str, typer.Option("--user", help="The member's email.")],
    model: Annotated[str, typer.Option("--model", help="The model asked for.")],
    key: Annotated[str | None, typer.Option("--key", help="Through this key (its id).")] = None,
    client: Annotated[
        str | None,
        typer.Option("--client", help="As if sent by this client family (e.g. claude_code)."),
    ] = None,
    protocol: Annotated[
        str | None,
        typer.Option(
            "--protocol",
            help="As if asked in this protocol: anthropic_messages, openai_chat, openai_responses.",
        ),
    ] = None,
    project: Annotated[
        str | None,
        typer.Option("--project", help="As if the request named this project (x-spectra-project)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Say whether USER may use MODEL now, who would pay, every rule checked, and which pool
    accounts could serve it (and why the others would not)."""
    key_id = None
    if key is not None:
        try:
            key_id = uuid.UUID(key)
        except ValueError:
            fail(f"'{key}' is not a key id; `spectra keys list` shows them.", 2)
    params: dict[str, Any] = {"user": user, "model": model}
    if key_id is not None:
        params["key_id"] = str(key_id)
    if client is not None:
        params["client"] = client
    if protocol is not None:
        params["protocol"] = protocol
    if project is not None:
        params["project"] = project
    data = transport.api("GET", "/api/policy/explain", params=params)
    if as_json:
        print_json(data)
        return
    verdict = "allowed" if data["allowed"] else f"refused ({data['reason_code']})"
    console.print(f"{model} for {user}: {verdict}", style="bold", markup=False)
    console.print(data["message"], markup=False, highlight=False)
    if data["funding"]:
        show_list({"items": data["funding"]}, as_json=False, columns=("label", "kind", "available"))
    show_list({"items": data["trace"]}, as_json=False, columns=("rule", "outcome", "detail"))
    pool = next((s for s in data["trace"] if s["rule"] == "pool"), None)
    if pool is not None and pool["inputs"]["accounts"]:
        show_list(
            {"items": pool["inputs"]["accounts"]},
            as_json=False,
            columns=("account", "protocols", "upstream_model", "usable", "reason"),
            title="Pool accounts for this model",
        )


@policy_app.command("set-funding")
def set_funding(
    group: Annotated[str, typer.Argument(help="The group's name.")],
    wallet: Annotated[
        bool | None, typer.Option("--wallet/--no-wallet", help="Members may pay from their wallet.")
    ] = None,
    group_wallet: Annotated[
        bool | None,
        typer.Option(
            "--group-wallet/--no-group-wallet", help="Members may pay from the group wallet."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Turn a group's wallet fallbacks on or off (both on by default)."""
    data = transport.api(
        "PATCH",
        f"/api/policy/groups/{group}",
        json={"wallet_fallback": wallet, "group_wallet_fallback": group_wallet},
    )
    show_done(
        data,
        as_json=as_json,
        message=f"{group}: wallet fallback {'on' if data['wallet_fallback'] else 'off'}, "
        f"group wallet fallback {'on' if data['group_wallet_fallback'] else 'off'}",
    )


@policy_app.command("show")
def show(
    group: Annotated[str, typer.Argument(help="The group's name.")],
    as_json: JsonOpt = False,
) -> None:
    """Show a group's policy: models, clients, limits, fallbacks, caps and default package."""
    data = transport.api("GET", f"/api/policy/groups/{group}")
    show_object(data, as_json=as_json, title=f"policy of {group}")


def _list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def _int_or_none(value: str | None, name: str) -> tuple[bool, int | None]:
    if value is None:
        return False, None
    if value.lower() == "none":
        return True, None
    try:
        return True, int(value)
    except ValueError:
        fail(f"{name} must be a whole number or 'none'.", 2)


@policy_app.command("draft")
def draft(
    group: Annotated[str | None, typer.Option("--group", help="Draft this group's policy.")] = None,
    allow: Annotated[
        str | None,
        typer.Option("--allow", help="Allowed model patterns, comma-separated ('' = any)."),
    ] = None,
    deny: Annotated[
        str | None, typer.Option("--deny", help="Denied model patterns, comma-separated.")
    ] = None,
    clients: Annotated[
        str | None,
        typer.Option("--clients", help="Allowed client families, comma-separated ('' = any)."),
    ] = None,
    rpm: Annotated[
        str | None, typer.Option("--rpm", help="Requests/minute per member, or none.")
    ] = None,
    tpm: Annotated[
        str | None, typer.Option("--tpm", help="Tokens/minute per member, or none.")
    ] = None,
    max_concurrent: Annotated[
        str | None, typer.Option("--max-concurrent", help="Open requests per member, or none.")
    ] = None,
    monthly_cap: Annotated[
        str | None, typer.Option("--monthly-cap", help="Group monthly cap (amount), or none.")
    ] = None,
    member_cap: Annotated[
        str | None, typer.Option("--member-cap", help="Per-member monthly cap, or none.")
    ] = None,
    wallet: Annotated[
        bool | None, typer.Option("--wallet/--no-wallet", help="Members may pay from their wallet.")
    ] = None,
    group_wallet: Annotated[
        bool | None,
        typer.Option("--group-wallet/--no-group-wallet", help="Members may use the group wallet."),
    ] = None,
    rollout: Annotated[
        str | None, typer.Option("--rollout", help="Draft this rollout's next promotion.")
    ] = None,
    cohort: Annotated[str | None, typer.Option("--cohort", help="The cohort to promote.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Draft a group policy change (--group) or a rollout cohort's promotion (--rollout)."""
    changes: dict[str, Any] = {}
    for name, value in (
        ("allowed_models", allow),
        ("denied_models", deny),
        ("allowed_clients", clients),
    ):
        if value is not None:
            changes[name] = _list(value)
    for name, text in (("rpm", rpm), ("tpm", tpm), ("max_concurrent", max_concurrent)):
        given, number = _int_or_none(text, f"--{name.replace('_', '-')}")
        if given:
            changes[name] = number
    for name, text in (("monthly_cap", monthly_cap), ("member_monthly_cap", member_cap)):
        if text is not None:
            changes[name] = None if text.lower() == "none" else text
    if wallet is not None:
        changes["wallet_fallback"] = wallet
    if group_wallet is not None:
        changes["group_wallet_fallback"] = group_wallet
    body: dict[str, Any] = {"group": group, "rollout": rollout, "cohort": cohort}
    if group is not None:
        body["changes"] = changes
    data = transport.api("POST", "/api/policy/drafts", json=body)
    if as_json:
        print_json(data)
        return
    console.print(
        f"draft {data['id']} ({data['target']}); next: spectra policy dry-run {data['id']}",
        markup=False,
    )


def _draft_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        fail(f"'{text}' is not a draft id; `spectra policy drafts` lists them.", 2)


def show_dry_run(data: dict[str, Any]) -> None:
    result = data.get("dry_run") or {}
    console.print(
        f"dry-run of {data['target']} over {result.get('days')} days: "
        f"{result.get('requests_evaluated')} requests, {result.get('would_refuse')} would be "
        f"refused ({result.get('newly_refused')} newly, {result.get('newly_allowed')} newly "
        f"allowed); {result.get('members_gaining')} members gain access, "
        f"{result.get('members_losing')} lose it; spend impact "
        f"{result.get('spend_impact_per_week')} per week",
        markup=False,
    )
    if result.get("would_refuse_by_reason"):
        show_list(
            {
                "items": [
                    {"reason": k, "requests": v}
                    for k, v in result["would_refuse_by_reason"].items()
                ]
            },
            as_json=False,
            columns=("reason", "requests"),
        )
    if result.get("access_changes"):
        show_list(
            {"items": result["access_changes"]},
            as_json=False,
            columns=("user", "model", "change", "keys"),
        )


@policy_app.command("dry-run")
def dry_run(
    draft_id: Annotated[str, typer.Argument(help="The draft's id.")],
    days: Annotated[int, typer.Option("--days", help="Look back this many days.")] = 7,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate a draft against the last N days of requests; the result is stored on it."""
    did = _draft_id(draft_id)
    data = transport.api("POST", f"/api/policy/drafts/{did}/dry-run", json={"days": days})
    if as_json:
        print_json(data)
    else:
        show_dry_run(data)


@policy_app.command("publish")
def publish(
    draft_id: Annotated[str, typer.Argument(help="The draft's id.")],
    yes_without_dry_run: Annotated[
        bool,
        typer.Option("--yes-without-dry-run", help="Publish although the draft was never dry-run."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Apply a draft in one audited action (its dry-run summary goes into the audit event)."""
    did = _draft_id(draft_id)
    data = transport.api(
        "POST",
        f"/api/policy/drafts/{did}/publish",
        json={"confirm_without_dry_run": yes_without_dry_run},
    )
    show_done(data, as_json=as_json, message=f"published {data['target']}")


@policy_app.command("drafts")
def drafts(
    status: Annotated[
        str | None, typer.Option("--status", help="draft, published, discarded")
    ] = None,
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List policy drafts, newest first."""
    params = {k: v for k, v in (("status", status), ("limit", limit), ("cursor", cursor)) if v}
    data = transport.api("GET", "/api/policy/drafts", params=params)
    show_list(data, as_json=as_json, columns=("id", "kind", "target", "status", "dry_run_at"))
