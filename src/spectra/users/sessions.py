"""Session and setup-link tokens: generated here, stored only as keyed hashes, and the CSRF
token bound to a session. Pure helpers; the service keeps the rows.

CSRF (for cookie-authenticated, state-changing API calls): a signed double-submit token. The
CSRF token is HMAC(session subkey, "csrf:" + session token); the browser gets it at sign-in
(and in the readable `spectra_csrf` cookie) and sends it back as `x-csrf-token`. An attacker on
another site can neither read the HttpOnly session cookie nor compute the token, and a cookie
planted by a sibling subdomain does not match the session. Bearer/x-api-key calls need no CSRF
token: browsers never attach those headers on their own.
"""

from __future__ import annotations

from spectra.db.serverkey import get_server_keys
from spectra.kit.crypto import constant_time_equal, keyed_hash, random_token

SESSION_COOKIE = "spectra_session"
CSRF_COOKIE = "spectra_csrf"
CSRF_HEADER = "x-csrf-token"


def new_token() -> str:
    """256 random bits, url-safe."""
    return random_token(32)


def hash_token(token: str) -> str:
    return keyed_hash(get_server_keys().session_key, token)


def csrf_for(session_token: str) -> str:
    return keyed_hash(get_server_keys().session_key, "csrf:" + session_token)


def csrf_matches(session_token: str, presented: str | None) -> bool:
    if not presented:
        return False
    return constant_time_equal(csrf_for(session_token), presented)


def setup_path(token: str) -> str:
    """Where a password-setup link points (the console's setup page), relative to the base URL."""
    return f"/console/setup?token={token}"
