"""`spectra policy ...`: explain the access decision; set a group's funding fallbacks."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import typer

from spectra.audit.actor import Actor
from spectra.cli import context
from spectra.cli.output import console, fail, print_json, show_list
from spectra.db.session import Session
from spectra.policy import service as policy_service

policy_app = typer.Typer(help="Access decisions and group policy.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")


@policy_app.command("explain")
def explain(
    user: Annotated[str, typer.Option("--user", help="The member's email.")],
    model: Annotated[str, typer.Option("--model", help="The model asked for.")],
    key: Annotated[str | None, typer.Option("--key", help="Through this key (its id).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Say whether USER may use MODEL now, who would pay, and every rule checked."""
    key_id = None
    if key is not None:
        try:
            key_id = uuid.UUID(key)
        except ValueError:
            fail(f"'{key}' is not a key id; `spectra keys list` shows them.", 2)
    if context.current().remote:
        params: dict[str, Any] = {"user": user, "model": model}
        if key_id is not None:
            params["key_id"] = str(key_id)
        data = context.api("GET", "/api/policy/explain", params=params)
    else:

        async def run(session: Session, actor: Actor) -> dict[str, Any]:
            decision = await policy_service.explain(
                session, actor, user=user, model=model, key_id=key_id
            )
            return decision.as_json()

        data = context.run_local(run)
    if as_json:
        print_json(data)
        return
    verdict = "allowed" if data["allowed"] else f"refused ({data['reason_code']})"
    console.print(f"{model} for {user}: {verdict}", style="bold", markup=False)
    console.print(data["message"], markup=False, highlight=False)
    if data["funding"]:
        show_list({"items": data["funding"]}, as_json=False, columns=("label", "kind", "available"))
    show_list({"items": data["trace"]}, as_json=False, columns=("rule", "outcome", "detail"))


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
    if context.current().remote:
        data = context.api(
            "PATCH",
            f"/api/policy/groups/{group}",
            json={"wallet_fallback": wallet, "group_wallet_fallback": group_wallet},
        )
    else:

        async def run(session: Session, actor: Actor) -> dict[str, Any]:
            row = await policy_service.set_group_funding(
                session,
                actor,
                group=group,
                wallet_fallback=wallet,
                group_wallet_fallback=group_wallet,
            )
            return {
                "group": group,
                "wallet_fallback": row.is_wallet_fallback,
                "group_wallet_fallback": row.is_group_wallet_fallback,
            }

        data = context.run_local(run)
    if as_json:
        print_json(data)
    else:
        console.print(
            f"{group}: wallet fallback {'on' if data['wallet_fallback'] else 'off'}, "
            f"group wallet fallback {'on' if data['group_wallet_fallback'] else 'off'}",
            markup=False,
        )
