"""`spectra usage list [--user EMAIL] [--limit N] [--cursor C]` and filters."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from spectra.audit.actor import Actor
from spectra.cli import context
from spectra.cli.commands.prices import parse_time
from spectra.cli.output import show_list
from spectra.db.session import Session
from spectra.usage import service as usage_service
from spectra.usage.schemas import UsageRecordRead

app = typer.Typer(help="Usage records, reports and exports.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
LIST_COLUMNS = [
    "created_at",
    "user_email",
    "model_requested",
    "status",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost",
    "client_family",
]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="usage")


@app.command("list")
def list_(
    user: Annotated[str | None, typer.Option("--user", help="The user's email.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="The group's name.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model as requested.")] = None,
    client: Annotated[
        str | None, typer.Option("--client", help="claude_code, codex_cli, ...")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="ok, refused, error, partial.")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Refusal reason code.")] = None,
    key: Annotated[str | None, typer.Option("--key", help="Key id.")] = None,
    account: Annotated[str | None, typer.Option("--account", help="Pool account id.")] = None,
    since: Annotated[
        str | None, typer.Option("--from", help="From this date or time (UTC).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--to", help="Before this date or time (UTC).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N records.")] = None,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Continue after this cursor.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Usage records, newest first (never request or response bodies)."""
    start = parse_time(since, "--from") if since else None
    end = parse_time(until, "--to") if until else None
    if context.current().remote:
        params: dict[str, Any] = {
            "user": user,
            "group": group,
            "model": model,
            "client": client,
            "status": status,
            "refusal_reason": reason,
            "key_id": key,
            "account_id": account,
            "since": start.isoformat() if start else None,
            "until": end.isoformat() if end else None,
            "limit": limit,
            "cursor": cursor,
        }
        data: dict[str, Any] = context.api("GET", "/api/usage", params=params)
    else:

        async def go(session: Session, actor: Actor) -> dict[str, Any]:
            page = await usage_service.list_usage(
                session,
                actor,
                user_email=user,
                group_name=group,
                model=model,
                client=client,
                status=status,
                refusal_reason=reason,
                key_id=_uuid(key, "--key"),
                account_id=_uuid(account, "--account"),
                since=start,
                until=end,
                limit=limit,
                cursor=cursor,
            )
            emails = page.extra.get("emails", {})
            items = [
                UsageRecordRead.of(r, user_email=emails.get(r.user_id)).model_dump(mode="json")
                for r in page.items
            ]
            return {"items": items, "next_cursor": page.next_cursor}

        data = context.run_local(go)
    show_list(data, as_json=as_json, columns=LIST_COLUMNS)


def _uuid(text: str | None, option: str) -> Any:
    import uuid

    from spectra.cli.output import fail

    if text is None:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        fail(f"{option} '{text}' is not an id.", 2)
