"""Second factors of a user: TOTP enrolment and recovery codes, the second step of a password
sign-in, step-up re-authentication, and an admin's reset. Every change is audited in the same
transaction; seeds are sealed under the credential subkey, recovery codes kept as keyed hashes.

Attempts at a code are rate limited by the sign-in throttle (`users/throttle.py`), keyed by
the user (`mfa:<user id>`) and the client IP: five wrong codes from one address lock it for
15 minutes, fifty from anywhere lock the account's codes for 5 minutes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from spectra.audit.actor import Actor, user_actor
from spectra.db.serverkey import get_server_keys
from spectra.db.session import AnySession, Session
from spectra.kit import crypto
from spectra.kit.clock import utc_now
from spectra.users import passwords, throttle
from spectra.users import repository as users_repository
from spectra.users.errors import CurrentPasswordWrongError, SessionInvalidError
from spectra.users.models import User, UserSession
from spectra.users.permissions import Manage, Permission, require, require_can_manage
from spectra.users.service._common import UserRef, audit_user, load_user
from spectra.users.service.auth import NewSession, active_user
from spectra.users.sessions import csrf_for, hash_token, new_token

from . import repository, totp
from .errors import (
    MfaNotForSsoError,
    SecondFactorLockedError,
    SecondFactorReplayedError,
    SecondFactorWrongError,
    TotpAlreadyEnrolledError,
    TotpNotStartedError,
)
from .models import RecoveryCode, TotpFactor


@dataclass(frozen=True, slots=True)
class Factors:
    """What a user has enrolled."""

    totp: bool
    passkeys: int
    recovery_codes_left: int

    @property
    def any(self) -> bool:
        return self.totp or self.passkeys > 0


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """A started enrolment: the seed exists only here (and sealed in the row)."""

    seed: str
    uri: str
    qr_svg: str


async def factors_of(session: AnySession, user_id: uuid.UUID) -> Factors:
    factor = await repository.find_totp(session, user_id)
    return Factors(
        totp=factor is not None and factor.confirmed_at is not None,
        passkeys=await repository.count_passkeys(session, user_id),
        recovery_codes_left=await repository.recovery_codes_left(session, user_id),
    )


def _seal(user_id: uuid.UUID, seed: str) -> tuple[str, int]:
    return get_server_keys().seal(seed, associated=user_id.bytes)


def _unseal(factor: TotpFactor) -> str:
    return get_server_keys().unseal(
        factor.seed_ciphertext, associated=factor.user_id.bytes, version=factor.key_version
    )


def _recovery_hash(user_id: uuid.UUID, code: str) -> str:
    normalised = totp.normalise_recovery_code(code)
    return crypto.keyed_hash(get_server_keys().session_key, f"recovery:{user_id}:{normalised}")


async def local_account(session: Session, actor: Actor) -> User:
    require(actor, Permission.SELF)
    if actor.user_id is None:
        raise MfaNotForSsoError("Only a signed-in user can enrol their own second factor.")
    user = await load_user(session, actor.user_id)
    if user.password_hash is None:
        raise MfaNotForSsoError(
            "Your account signs in through your company's identity provider, which is your "
            "second factor; there is nothing to enrol here."
        )
    return user


async def start_totp(session: Session, actor: Actor) -> TotpEnrolment:
    """Begin enrolling an authenticator app for the acting user (a new seed each time, until a
    first code confirms one). Refused while a confirmed app is enrolled."""
    user = await local_account(session, actor)
    factor = await repository.find_totp(session, user.id)
    if factor is not None and factor.confirmed_at is not None:
        raise TotpAlreadyEnrolledError(
            "An authenticator app is already enrolled; ask an admin to reset it to enrol another."
        )
    seed = totp.new_seed()
    sealed, version = _seal(user.id, seed)
    if factor is None:
        session.add(TotpFactor(user_id=user.id, seed_ciphertext=sealed, key_version=version))
    else:
        factor.seed_ciphertext, factor.key_version = sealed, version
    await session.flush()
    uri = totp.provisioning_uri(seed, email=user.email)
    return TotpEnrolment(seed=seed, uri=uri, qr_svg=totp.qr_svg(uri))


async def pending_totp(session: Session, actor: Actor) -> TotpEnrolment | None:
    """The started, unconfirmed enrolment of the acting user (to show its QR code again)."""
    user = await local_account(session, actor)
    factor = await repository.find_totp(session, user.id)
    if factor is None or factor.confirmed_at is not None:
        return None
    seed = _unseal(factor)
    uri = totp.provisioning_uri(seed, email=user.email)
    return TotpEnrolment(seed=seed, uri=uri, qr_svg=totp.qr_svg(uri))


async def confirm_totp(
    session: Session, actor: Actor, *, code: str, client_ip: str | None = None
) -> list[str]:
    """Confirm the started enrolment with a first code; returns ten new recovery codes (shown
    once, stored hashed, replacing any earlier ones). Writes `mfa.totp_enrolled`."""
    user = await local_account(session, actor)
    factor = await repository.find_totp(session, user.id)
    if factor is None or factor.confirmed_at is not None:
        raise TotpNotStartedError("Start the enrolment first: scan a new QR code.")
    await _check_totp(session, user, factor, code, client_ip=client_ip)
    factor.confirmed_at = utc_now()
    codes = await _new_recovery_codes(session, user)
    await audit_user(session, actor, "mfa.totp_enrolled", user)
    return codes


async def regenerate_recovery_codes(session: Session, actor: Actor) -> list[str]:
    """Replace the acting user's recovery codes with ten new ones. Writes an audit event."""
    user = await local_account(session, actor)
    if not (await factors_of(session, user.id)).any:
        raise TotpNotStartedError("Enrol an authenticator app or a passkey first.")
    codes = await _new_recovery_codes(session, user)
    await audit_user(session, actor, "mfa.recovery_codes_renewed", user)
    return codes


async def _new_recovery_codes(session: Session, user: User) -> list[str]:
    await repository.delete_recovery_codes(session, user.id)
    codes = totp.new_recovery_codes()
    for code in codes:
        session.add(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(user.id, code)))
    await session.flush()
    return codes


def _throttle_key(user: User) -> str:
    return f"mfa:{user.id}"


async def _guard(user: User, client_ip: str | None) -> None:
    locked = await throttle.current().locked_for(email=_throttle_key(user), ip=client_ip)
    if locked is not None:
        minutes = max(1, int(locked[1] // 60) + (1 if locked[1] % 60 else 0))
        raise SecondFactorLockedError(
            f"Too many wrong codes; try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            retry_after=int(locked[1]) + 1,
        )


async def _failed(user: User, client_ip: str | None) -> None:
    await throttle.current().record_failure(email=_throttle_key(user), ip=client_ip)


async def _check_totp(
    session: Session, user: User, factor: TotpFactor, code: str, *, client_ip: str | None
) -> None:
    await _guard(user, client_ip)
    step = totp.matching_step(_unseal(factor), code, now=utc_now())
    if step is None:
        await _failed(user, client_ip)
        raise SecondFactorWrongError("That code is wrong; enter the current one from your app.")
    if not await repository.advance_totp_step(session, factor.id, step):
        await _failed(user, client_ip)
        raise SecondFactorReplayedError(
            "That code was used already; wait for the next one in your app."
        )
    await throttle.current().record_success(email=_throttle_key(user), ip=client_ip)


async def verify_code(session: Session, user: User, *, code: str, client_ip: str | None) -> str:
    """Check a TOTP code or a recovery code of `user`; the method that passed (`totp` or
    `recovery_code`). A recovery code is spent; a TOTP code's time step may not come again."""
    factor = await repository.find_totp(session, user.id)
    if totp.looks_like_totp(code) and factor is not None and factor.confirmed_at is not None:
        await _check_totp(session, user, factor, code, client_ip=client_ip)
        return "totp"
    await _guard(user, client_ip)
    if totp.normalise_recovery_code(code) and await repository.spend_recovery_code(
        session, user.id, _recovery_hash(user.id, code), at=utc_now()
    ):
        await throttle.current().record_success(email=_throttle_key(user), ip=client_ip)
        return "recovery_code"
    await _failed(user, client_ip)
    raise SecondFactorWrongError(
        "That code is wrong, or that recovery code was used already; enter the current code "
        "from your app or an unused recovery code."
    )


async def pending_sign_in(session: AnySession, *, token: str) -> tuple[UserSession, User]:
    """The session waiting for its second factor behind a cookie token, or a refusal."""
    row = await users_repository.find_session_by_hash(session, hash_token(token))
    if (
        row is None
        or row.ended_at is not None
        or not row.second_factor_pending
        or row.expires_at <= utc_now()
    ):
        raise SessionInvalidError("This sign-in has expired; sign in again.")
    return row, await active_user(session, row.user_id)


async def finish_sign_in(
    session: Session,
    row: UserSession,
    user: User,
    *,
    method: str,
    ttl: timedelta,
    client_ip: str | None,
) -> None:
    """Turn a pending session into a signed-in one. Writes `auth.sign_in` with the method."""
    now = utc_now()
    row.second_factor_pending = False
    row.method = f"password+{method}"
    row.authenticated_at = now
    row.expires_at = now + ttl
    await session.flush()
    await audit_sign_in(session, row, user, client_ip=client_ip)


async def audit_sign_in(
    session: Session, row: UserSession, user: User, *, client_ip: str | None
) -> None:
    """The `auth.sign_in` event of a session, with how the user signed in."""
    actor = user_actor(user_id=user.id, email=user.email, role=user.role, via="session")
    await audit_user(
        session,
        actor.with_request(None, client_ip),
        "auth.sign_in",
        user,
        session_id=str(row.id),
        method=row.method,
    )


async def complete_sign_in(
    session: Session, *, token: str, code: str, ttl: timedelta, client_ip: str | None
) -> User:
    """The second step of a password sign-in: a TOTP or recovery code."""
    row, user = await pending_sign_in(session, token=token)
    method = await verify_code(session, user, code=code, client_ip=client_ip)
    await finish_sign_in(session, row, user, method=method, ttl=ttl, client_ip=client_ip)
    return user


async def complete_challenge(
    session: Session, *, challenge: str, code: str, ttl: timedelta, client_ip: str | None
) -> NewSession:
    """The REST API's second step: the challenge token of a password sign-in and a TOTP or
    recovery code. The challenge is spent: the signed-in session gets a fresh token, so the
    token that travelled in a JSON body never becomes a session cookie."""
    row, user = await pending_sign_in(session, token=challenge)
    method = await verify_code(session, user, code=code, client_ip=client_ip)
    await finish_sign_in(session, row, user, method=method, ttl=ttl, client_ip=client_ip)
    token = new_token()
    row.token_hash = hash_token(token)
    await session.flush()
    return NewSession(row=row, user=user, token=token, csrf_token=csrf_for(token))


def authenticated_at(row: UserSession) -> datetime:
    return row.authenticated_at or row.created_at


async def mark_step_up(
    session: Session, row: UserSession, user: User, *, method: str, client_ip: str | None
) -> None:
    row.authenticated_at = utc_now()
    await session.flush()
    actor = user_actor(user_id=user.id, email=user.email, role=user.role, via="session")
    await audit_user(
        session, actor.with_request(None, client_ip), "auth.step_up", user, method=method
    )


async def step_up(
    session: Session,
    *,
    token: str,
    password: str = "",
    code: str = "",
    client_ip: str | None = None,
) -> User:
    """Re-authenticate in a live session for a sensitive action: the current TOTP code (or a
    recovery code) when an app is enrolled, else the password. Writes `auth.step_up`."""
    row = await users_repository.find_session_by_hash(session, hash_token(token))
    if row is None or row.ended_at is not None or row.second_factor_pending:
        raise SessionInvalidError("Your session has ended; sign in again.")
    user = await active_user(session, row.user_id)
    if (await factors_of(session, user.id)).totp:
        method = await verify_code(session, user, code=code, client_ip=client_ip)
    else:
        await _guard(user, client_ip)
        if not passwords.verify_password(user.password_hash, password):
            await _failed(user, client_ip)
            raise CurrentPasswordWrongError("The password is wrong.")
        method = "password"
    await mark_step_up(session, row, user, method=method, client_ip=client_ip)
    return user


async def reset_factors(session: Session, actor: Actor, *, user: UserRef) -> dict[str, int]:
    """Remove every second factor of a user (lost phone): TOTP, passkeys and recovery codes.
    Needs a rank above the user's (as setting a password does). Writes `users.mfa_reset`."""
    require(actor, Permission.USERS_WRITE)
    target = await load_user(session, user)
    require_can_manage(actor, target, Manage.CREDENTIALS)
    removed = await repository.delete_factors(session, target.id)
    await audit_user(session, actor, "users.mfa_reset", target, removed=removed)
    return removed
