"""Prices: admin overrides (per model, or per pool account and model) over the genai-prices
defaults, in versions that take effect from a moment; reading the price in force."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.changes import record_change
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.kit.ids import uuid7
from spectra.kit.money import parse_amount, to_decimal
from spectra.pool import repository as pool_repository
from spectra.pool.errors import AccountNotFoundError
from spectra.usage import defaults, repository
from spectra.usage.errors import (
    InvalidPriceError,
    PriceNotFoundError,
)
from spectra.usage.models import PriceOverride
from spectra.usage.pricing import resolve_cache_write_1h
from spectra.usage.schemas import PriceRead, PriceTierRead
from spectra.usage.table import (
    ACCOUNT_PREFIX,
    OverrideView,
    PriceTable,
    account_key,
    split_account_key,
)
from spectra.users.permissions import Permission, require
from spectra.workspace import service as workspace_service

PRICES_CHANGE = "usage.prices"
_PAST_TOLERANCE = timedelta(minutes=1)


def _parse_price(value: Decimal | str, field: str) -> Decimal:
    return to_decimal(parse_amount(value, allow_zero=True, field=field))


def _parse_optional(value: Decimal | str | None, field: str) -> Decimal | None:
    return None if value is None else _parse_price(value, field)


async def set_price(
    session: Session,
    actor: Actor,
    *,
    model: str,
    input: Decimal | str,
    output: Decimal | str,
    cache_read: Decimal | str | None = None,
    cache_write: Decimal | str | None = None,
    effective_from: datetime | None = None,
    cache_write_1h: Decimal | str | None = None,
    web_search: Decimal | str | None = None,
    account: str | None = None,
) -> PriceRead:
    """Set a model's price per million tokens (workspace currency) from `effective_from` (now).

    With `account` (a pool account's name), the price applies only when that account serves
    the model (an override named `@<account id>/<model>`, before the provider's and the
    default; it follows a renamed account); an unknown account raises `pool_account_not_found`.

    A new price version: earlier ones stay in history. Omitted cache prices are filled in now,
    from genai-prices when it knows the model, else at the input price (see
    `pricing.resolve_cache_prices`). Writes an audit event and a `usage.prices` change.
    """
    require(actor, Permission.PRICES_WRITE)
    name = model.strip().lower()
    if not name or len(name) > 200 or any(c.isspace() for c in name):
        raise InvalidPriceError("The model name must be one word of at most 200 characters.")
    provider_kind: str | None = None
    names: dict[str, str] = {}
    label = name
    if name.startswith(ACCOUNT_PREFIX):
        raise InvalidPriceError(
            "A model name cannot start with '@'; set an account's price with --account NAME.",
            field="model",
        )
    if account is not None:
        found = await pool_repository.find_by_name(session, account)
        if found is None:
            raise AccountNotFoundError(f"No pool account is named '{account}'.", account=account)
        provider_kind = found.provider
        names[str(found.id)] = found.name
        label = f"{name} on {found.name}"
        name = account_key(found.id, name)
        if len(name) > 200:
            raise InvalidPriceError("The account and model names together are too long.")
    input_price = _parse_price(input, "input")
    output_price = _parse_price(output, "output")
    read = _parse_optional(cache_read, "cache_read")
    write = _parse_optional(cache_write, "cache_write")
    write_1h = _parse_optional(cache_write_1h, "cache_write_1h")
    searches = _parse_optional(web_search, "web_search")
    now = utc_now()
    when = effective_from or now
    if when.tzinfo is None:
        raise InvalidPriceError(
            "The effective-from time needs a time zone (e.g. 2026-12-01T00:00Z)."
        )
    if when < now - _PAST_TOLERANCE:
        raise InvalidPriceError(
            "A price cannot take effect in the past: requests already charged keep their price."
        )
    when = max(when, now)
    settings = await workspace_service.get_settings(session)
    notes = []
    if read is None or write is None or write_1h is None or searches is None:
        plain = split_account_key(name)[1]
        kind, _, bare = plain.rpartition("/")
        if provider_kind is not None and not kind:  # an account's price: its provider's default
            kind = provider_kind
        if kind in defaults.PROVIDER_PRICES:  # `bedrock/claude-sonnet-4-5`: that provider's price
            known = defaults.default_price(bare, when, provider=kind)
        else:
            known = defaults.default_price(plain, when)
        converted = (
            known.in_currency(name, currency=settings.currency, usd_rate=settings.usd_rate_decimal)
            if known is not None
            else None
        )
        if read is None:
            has = known is not None and known.cache_read is not None
            read = converted.cache_read if has and converted else input_price
            notes.append("cache read from genai-prices" if has else "cache read at input price")
        if write is None:
            has = known is not None and known.cache_write is not None
            write = converted.cache_write if has and converted else input_price
            notes.append("cache write from genai-prices" if has else "cache write at input price")
        if write_1h is None:
            has = known is not None and known.cache_write_1h is not None
            write_1h = (
                converted.write_1h
                if has and converted
                else resolve_cache_write_1h(input_price, None)
            )
            notes.append(
                "1h cache write from genai-prices" if has else "1h cache write at 2x input"
            )
        if searches is None:
            has = known is not None and known.web_search is not None
            default = PriceTable.web_search_default(settings.currency, settings.usd_rate_decimal)
            searches = converted.web_search if has and converted else default
            notes.append("web search from genai-prices" if has else "web search at the default")
    row = PriceOverride(
        id=uuid7(),
        model=name,
        input_price=input_price,
        output_price=output_price,
        cache_read_price=read,
        cache_write_price=write,
        cache_write_1h_price=write_1h,
        web_search_price=searches,
        currency=settings.currency,
        effective_from=when,
        created_at=now,
        created_by=actor.label,
        note="; ".join(notes),
    )
    previous = await _current_read(session, name, when, names)
    session.add(row)
    await session.flush()
    result = _override_read(row, current=when <= now, web_search_default=searches, names=names)
    await audit_service.record(
        session,
        actor,
        "prices.set",
        target_type="model",
        target_id=name,
        target_label=label,
        before=_audit_view(previous),
        after=_audit_view(result),
    )
    await record_change(session, PRICES_CHANGE, name)
    return result


def _audit_view(price: PriceRead | None) -> dict[str, Any] | None:
    if price is None:
        return None
    data = price.model_dump(mode="json")
    return {
        k: data[k]
        for k in (
            "source",
            "version_id",
            "input",
            "output",
            "cache_read",
            "cache_write",
            "cache_write_1h",
            "web_search",
            "currency",
            "effective_from",
        )
    }


def _override_read(
    row: PriceOverride | OverrideView,
    *,
    current: bool,
    web_search_default: Decimal,
    names: dict[str, str],
) -> PriceRead:
    view = row if isinstance(row, OverrideView) else OverrideView.of(row)
    account, model = split_account_key(view.model)
    return PriceRead(
        model=model,
        account=_account_name(account, names),
        source="override",
        version_id=view.version_id,
        input=view.input,
        output=view.output,
        cache_read=view.cache_read,
        cache_write=view.cache_write,
        cache_write_1h=resolve_cache_write_1h(view.input, view.cache_write_1h),
        web_search=view.web_search if view.web_search is not None else web_search_default,
        currency=row.currency if isinstance(row, PriceOverride) else "",
        effective_from=view.effective_from,
        created_by=row.created_by if isinstance(row, PriceOverride) else None,
        is_current=current,
    )


async def _table(session: AnySession) -> PriceTable:
    table = PriceTable()
    await table.load(session)
    return table


def _account_name(account: str | None, names: dict[str, str]) -> str | None:
    """An account price's account by its name now (its id when it is no longer in the pool)."""
    return None if account is None else names.get(account, account)


async def _account_names(session: AnySession) -> dict[str, str]:
    return {str(a.id): a.name for a in await pool_repository.list_all_accounts(session)}


async def _current_read(
    session: AnySession, model: str, at: datetime, names: dict[str, str]
) -> PriceRead | None:
    table = await _table(session)
    return _resolved_read(table, model, at, names)


def _resolved_read(
    table: PriceTable, model: str, at: datetime, names: dict[str, str]
) -> PriceRead | None:
    override = table.override_for(model, at)
    price = table.price_for(model, at)
    if price is None:
        return None
    account, plain = split_account_key(model)
    return PriceRead(
        model=plain,
        account=_account_name(account, names),
        source="override" if override is not None else "genai-prices",
        version_id=price.version_id,
        input=price.input,
        output=price.output,
        cache_read=price.cache_read,
        cache_write=price.cache_write,
        cache_write_1h=price.write_1h,
        web_search=price.web_search,
        currency=table.currency,
        effective_from=override.effective_from if override is not None else None,
        is_current=True,
        tiers=[PriceTierRead.model_validate(t) for t in price.tiers],
    )


async def get_price(session: AnySession, actor: Actor, *, model: str) -> PriceRead:
    """The price in force for `model` now; raises PriceNotFoundError when it has none."""
    require(actor, Permission.SELF)
    table = await _table(session)
    found = _resolved_read(table, model.strip().lower(), utc_now(), {})
    if found is None:
        raise PriceNotFoundError(
            f"Model {model} has no price; set one with `spectra prices set {model} --input PRICE --output PRICE`.",
            model=model,
        )
    return found


async def list_prices(
    session: AnySession,
    actor: Actor,
    *,
    model: str | None = None,
    include_defaults: bool = False,
    include_history: bool = False,
) -> list[PriceRead]:
    """Prices in force now (and scheduled ones): overrides, optionally the genai-prices defaults.

    With `model`, that model's price in force (and each pool account's for it) plus, with
    `include_history`, every override version they have had. Any signed-in user may read prices.
    """
    require(actor, Permission.SELF)
    now = utc_now()
    table = await _table(session)
    rows = await repository.all_overrides(session)
    names = await _account_names(session) if any(r.model[:1] == "@" for r in rows) else {}
    web_search = table.default_web_search()
    out: list[PriceRead] = []
    if model is not None:
        name = model.strip().lower()
        accounts = {
            r.model for r in rows if r.model[:1] == "@" and split_account_key(r.model)[1] == name
        }
        keys = [name, *sorted(accounts)]
        for key in keys:
            current = _resolved_read(table, key, now, names)
            if current is not None:
                out.append(current)
            for row in rows:
                if row.model != key:
                    continue
                if row.effective_from > now or include_history:
                    if current is not None and row.version_id == current.version_id:
                        continue
                    out.append(
                        _override_read(
                            row, current=False, web_search_default=web_search, names=names
                        )
                    )
        return out
    current_versions: dict[str, str] = {}
    for name in table.overridden_models():
        view = table.override_for(name, now)
        if view is not None:
            current_versions[name] = view.version_id
    for row in rows:
        is_current = current_versions.get(row.model) == row.version_id
        if is_current or row.effective_from > now or include_history:
            out.append(
                _override_read(row, current=is_current, web_search_default=web_search, names=names)
            )
    if include_defaults:
        overridden = set(current_versions)
        for _provider, model_id in defaults.known_models():
            if model_id in overridden:
                continue
            resolved = _resolved_read(table, model_id, now, names)
            if resolved is not None:
                out.append(resolved)
    return out
