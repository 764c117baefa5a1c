"""Pure rules shared by the database path and the gateway cache: input cleaning (scopes, CIDRs,
expiry) and the one decision whether a key may be used now, from where."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from fnmatch import fnmatchcase

from .errors import (
    InvalidCidrError,
    InvalidExpiryError,
    InvalidKeyNameError,
    InvalidScopeError,
    IpNotAllowedError,
    KeyExpiredError,
    KeyRevokedError,
    UserSuspendedError,
)
from .models import KEY_REVOKED

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_NAME = 100
MAX_SCOPES = 50
MAX_SCOPE_LENGTH = 200
MAX_NETWORKS = 100
MAX_FIRST_USE_DAYS = 3650
USABLE_USER_STATUSES = frozenset({"active", "invited"})


def clean_name(name: str) -> str:
    value = name.strip()
    if len(value) > MAX_NAME:
        raise InvalidKeyNameError(f"A key name is at most {MAX_NAME} characters.", field="name")
    return value


def clean_scopes(scopes: Iterable[str]) -> list[str]:
    """Model glob patterns (`claude-*`, `gpt-4o`), trimmed and de-duplicated in order."""
    out: list[str] = []
    for raw in scopes:
        pattern = raw.strip()
        if not pattern or len(pattern) > MAX_SCOPE_LENGTH or any(c.isspace() for c in pattern):
            raise InvalidScopeError(
                f"'{raw[:MAX_SCOPE_LENGTH]}' is not a model pattern; use a model name or a glob like 'claude-*'.",
                field="scopes",
            )
        if pattern not in out:
            out.append(pattern)
    if len(out) > MAX_SCOPES:
        raise InvalidScopeError(f"A key takes at most {MAX_SCOPES} model patterns.", field="scopes")
    return out


def parse_network(raw: str) -> Network:
    try:
        return ipaddress.ip_network(raw.strip(), strict=False)
    except ValueError:
        raise InvalidCidrError(
            f"'{raw[:60]}' is not an IP address or network; write it like 10.0.0.0/8 or 2001:db8::/32.",
            field="ip_allowlist",
            value=raw[:60],
        ) from None


def clean_allowlist(entries: Iterable[str]) -> list[str]:
    """CIDRs (or single addresses) normalised to network form; malformed -> `invalid_cidr`."""
    out: list[str] = []
    for raw in entries:
        text = str(parse_network(raw))
        if text not in out:
            out.append(text)
    if len(out) > MAX_NETWORKS:
        raise InvalidCidrError(
            f"An IP allowlist takes at most {MAX_NETWORKS} networks.", field="ip_allowlist"
        )
    return out


def parse_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    return tuple(parse_network(e) for e in entries)


def end_of_day(day: date) -> datetime:
    """An expiry date means the key works through that whole day (UTC)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def check_expiry(expires_at: datetime | None, first_use_days: int | None, now: datetime) -> None:
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise InvalidExpiryError(
                "An expiry time needs a time zone (or give a date).", field="expires_at"
            )
        if expires_at <= now:
            raise InvalidExpiryError(
                "The expiry is in the past; give a later date.", field="expires_at"
            )
    if first_use_days is not None and not 1 <= first_use_days <= MAX_FIRST_USE_DAYS:
        raise InvalidExpiryError(
            f"Days after first use must be between 1 and {MAX_FIRST_USE_DAYS}.",
            field="expires_after_first_use_days",
        )


def check_usable(
    *,
    status: str,
    grace_until: datetime | None,
    expires_at: datetime | None,
    user_status: str,
    networks: Sequence[Network],
    client_ip: str | None,
    now: datetime,
) -> None:
    """Raise the typed refusal when a (known) key may not be used now from `client_ip`.

    `expires_at` is the effective expiry (the earlier of the fixed and first-use expiries).
    """
    if status == KEY_REVOKED:
        raise KeyRevokedError("This API key was revoked; create a new one in the portal.")
    if grace_until is not None and grace_until <= now:
        raise KeyRevokedError(
            "This API key was rotated and its grace period is over; use the new key."
        )
    if expires_at is not None and expires_at <= now:
        raise KeyExpiredError("This API key has expired; create a new one in the portal.")
    if user_status not in USABLE_USER_STATUSES:
        raise UserSuspendedError(
            f"This key's user is {user_status}; ask an admin to reactivate the account.",
            user_status=user_status,
        )
    if networks and not ip_allowed(networks, client_ip):
        raise IpNotAllowedError(
            "This API key may not be used from this IP address; ask an admin to extend its allowlist.",
            client_ip=client_ip,
        )


def ip_allowed(networks: Sequence[Network], client_ip: str | None) -> bool:
    if client_ip is None:
        return False
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    candidates = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    return any(a in network for a in candidates for network in networks)


def scope_allows(scopes: Sequence[str], model: str) -> bool:
    """Whether a key scoped to `scopes` (globs; empty = all) may use `model`."""
    return not scopes or any(fnmatchcase(model, pattern) for pattern in scopes)
