"""Passkeys (WebAuthn, the `webauthn` package): register one as a second factor, use it as the
second step of a password sign-in, alone for a passwordless sign-in (a discoverable credential,
user verification required), or for step-up.

Each ceremony's challenge is stored (keyed hash) and spent by the first response that carries
it, so a captured response cannot be replayed. The relying party is the console's origin:
`SPECTRA_PUBLIC_URL` when set, else the address the browser used."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import webauthn
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from spectra.audit.actor import Actor
from spectra.db.serverkey import get_server_keys
from spectra.db.session import Session
from spectra.kit.clock import utc_now
from spectra.kit.crypto import keyed_hash, random_token
from spectra.users.models import User
from spectra.users.service._common import audit_user, clean_text
from spectra.users.service.auth import active_user

from . import repository
from .errors import PasskeyInvalidError
from .models import Passkey, WebauthnChallenge
from .service import local_account

CHALLENGE_TTL = timedelta(minutes=5)
RP_NAME = "Spectra"
PURPOSES = ("register", "second_factor", "passwordless", "step_up")


@dataclass(frozen=True, slots=True)
class RelyingParty:
    id: str
    """The host name (no port): what passkeys are scoped to."""
    origin: str
    """scheme://host[:port], as the browser reports it in clientDataJSON."""


def _hash(challenge_b64: str) -> str:
    return keyed_hash(get_server_keys().session_key, f"webauthn:{challenge_b64}")


def _refused(detail: str = "") -> PasskeyInvalidError:
    suffix = f" ({detail[:200]})" if detail else ""
    return PasskeyInvalidError(
        f"The passkey could not be verified{suffix}; try again, or use another way to sign in."
    )


async def _new_challenge(session: Session, *, purpose: str, user_id: uuid.UUID | None) -> bytes:
    challenge = base64url_to_bytes(random_token(32))
    now = utc_now()
    session.add(
        WebauthnChallenge(
            challenge_hash=_hash(bytes_to_base64url(challenge)),
            purpose=purpose,
            user_id=user_id,
            created_at=now,
            expires_at=now + CHALLENGE_TTL,
        )
    )
    await session.flush()
    return challenge


def _parse(credential: str) -> dict[str, Any]:
    try:
        data = json.loads(credential)
        client = json.loads(base64.urlsafe_b64decode(_pad(data["response"]["clientDataJSON"])))
        challenge = str(client["challenge"])
    except (ValueError, KeyError, TypeError) as exc:
        raise _refused("not a WebAuthn response") from exc
    if not isinstance(data, dict):
        raise _refused("not a WebAuthn response")
    data["_challenge"] = challenge
    return data


def _pad(text: str) -> bytes:
    return (text + "=" * (-len(text) % 4)).encode()


async def _spend(
    session: Session, data: dict[str, Any], *, purpose: str
) -> tuple[bytes, WebauthnChallenge]:
    challenge = str(data.pop("_challenge"))
    row = await repository.spend_challenge(session, _hash(challenge), purpose=purpose, at=utc_now())
    if row is None:
        raise _refused("unknown, used or expired challenge")
    return base64url_to_bytes(challenge), row


async def registration_options(session: Session, actor: Actor, rp: RelyingParty) -> str:
    """The options for `navigator.credentials.create()` (JSON), for the acting user."""
    user = await local_account(session, actor)
    existing = await repository.list_passkeys(session, user.id)
    options = webauthn.generate_registration_options(
        rp_id=rp.id,
        rp_name=RP_NAME,
        user_id=user.id.bytes,
        user_name=user.email,
        user_display_name=user.name or user.email,
        challenge=await _new_challenge(session, purpose="register", user_id=user.id),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id)) for p in existing
        ],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    return str(webauthn.options_to_json(options))


async def register(
    session: Session, actor: Actor, rp: RelyingParty, *, credential: str, name: str
) -> Passkey:
    """Verify the browser's new credential and keep it. Writes `mfa.passkey_added`."""
    user = await local_account(session, actor)
    label = clean_text(name or "Passkey", field="name", limit=100, required=True)
    data = _parse(credential)
    challenge, row = await _spend(session, data, purpose="register")
    if row.user_id != user.id:
        raise _refused("the challenge belongs to another sign-in")
    try:
        verified = webauthn.verify_registration_response(
            credential=data,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
        )
    except WebAuthnException as exc:
        raise _refused(str(exc)) from exc
    credential_id = bytes_to_base64url(verified.credential_id)
    if await repository.find_passkey(session, credential_id) is not None:
        raise _refused("this passkey is registered already")
    transports = data.get("response", {}).get("transports") or []
    passkey = Passkey(
        user_id=user.id,
        credential_id=credential_id,
        public_key=bytes_to_base64url(verified.credential_public_key),
        sign_count=verified.sign_count,
        transports=[str(t) for t in transports][:8],
        name=label,
    )
    session.add(passkey)
    await session.flush()
    await audit_user(session, actor, "mfa.passkey_added", user, passkey=label)
    return passkey


async def authentication_options(
    session: Session, rp: RelyingParty, *, purpose: str, user: User | None
) -> str:
    """The options for `navigator.credentials.get()` (JSON). With a user: their passkeys; without
    (passwordless): any discoverable passkey of this site, user verification required."""
    if purpose not in PURPOSES[1:]:
        raise _refused("unknown purpose")
    allow = []
    if user is not None:
        allow = [
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
            for p in await repository.list_passkeys(session, user.id)
        ]
    options = webauthn.generate_authentication_options(
        rp_id=rp.id,
        challenge=await _new_challenge(
            session, purpose=purpose, user_id=None if user is None else user.id
        ),
        allow_credentials=allow,
        user_verification=(
            UserVerificationRequirement.REQUIRED
            if purpose == "passwordless"
            else UserVerificationRequirement.PREFERRED
        ),
    )
    return str(webauthn.options_to_json(options))


async def authenticate(
    session: Session, rp: RelyingParty, *, purpose: str, credential: str
) -> tuple[Passkey, User]:
    """Verify an assertion for `purpose`: the passkey and its usable user. The challenge is
    spent; the passkey's signature counter moves on (a counter going back is refused)."""
    data = _parse(credential)
    challenge, row = await _spend(session, data, purpose=purpose)
    passkey = await repository.find_passkey(session, str(data.get("id", ""))[:1400])
    if passkey is None:
        raise _refused("this passkey is not registered here")
    if row.user_id is not None and row.user_id != passkey.user_id:
        raise _refused("this passkey belongs to another account")
    handle = (data.get("response") or {}).get("userHandle")
    if handle and base64url_to_bytes(handle) != passkey.user_id.bytes:
        raise _refused("the passkey names another account")
    try:
        verified = webauthn.verify_authentication_response(
            credential=data,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=base64url_to_bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=purpose == "passwordless",
        )
    except WebAuthnException as exc:
        raise _refused(str(exc)) from exc
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = utc_now()
    await session.flush()
    return passkey, await active_user(session, passkey.user_id)
