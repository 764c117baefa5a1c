"""Sign-in through an OIDC provider at the HTTP level: the redirect, the callback, JIT
provisioning with group mapping, and each refusal with its clear page."""

from __future__ import annotations

import html
import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from tests.factories import make_user
from tests.fakes.oidc import CLIENT_ID, ISSUER, FakeIdp, _key

from spectra.audit.models import AuditEvent
from spectra.db.session import session_scope
from spectra.runtime import Runtime
from spectra.users import passwords
from spectra.users import repository as users_repository
from spectra.users.models import User, UserSession
from spectra.users.sso import oidc
from spectra.users.sso.models import SsoProvider

from .conftest import OWNER, PASSWORD


async def _start(client: httpx.AsyncClient, idp: FakeIdp, next_path: str = "") -> str:
    """Follow the console's sign-in button to the provider; return the callback URL."""
    suffix = f"?next={next_path}" if next_path else ""
    response = await client.get(f"/console/sso/Acme/start{suffix}")
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    code, state = idp.authorize(location)
    query = parse_qs(urlsplit(location).query)
    return f"{urlsplit(query['redirect_uri'][0]).path}?code={code}&state={state}"


async def _user(runtime: Runtime, email: str) -> User | None:
    async with session_scope(runtime.db) as session:
        return await users_repository.find_user_by_email(session, email)


async def _refused(client: httpx.AsyncClient, callback: str, sentence: str) -> None:
    response = await client.get(callback)
    assert response.status_code == 400, response.text
    assert "Sign-in refused" in response.text
    assert sentence in response.text
    assert "spectra_session" not in client.cookies


class TestRedirect:
    async def test_sends_pkce_state_and_nonce_to_the_discovered_endpoint(
        self, client: httpx.AsyncClient, provider: SsoProvider
    ) -> None:
        response = await client.get("/console/sso/Acme/start")
        assert response.status_code == 303
        parts = urlsplit(response.headers["location"])
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{ISSUER}/authorize"
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert query["client_id"] == CLIENT_ID
        assert query["code_challenge_method"] == "S256"
        assert len(query["code_challenge"]) == 43
        assert query["nonce"] != query["state"]
        assert len(query["state"]) >= 43
        assert query["redirect_uri"].endswith("/console/sso/Acme/callback")
        cookie = next(
            h for h in response.headers.get_list("set-cookie") if h.startswith("spectra_sso_state")
        )
        assert "HttpOnly" in cookie

    async def test_login_page_shows_one_button_per_provider(
        self, client: httpx.AsyncClient, provider: SsoProvider
    ) -> None:
        page = await client.get("/console/login")
        assert 'href="/console/sso/Acme/start?next=/console/"' in page.text
        assert "Sign in with Acme" in page.text


class TestCallback:
    async def test_provisions_a_new_user_with_the_mapped_role_and_signs_them_in(
        self, runtime: Runtime, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        response = await client.get(await _start(client, idp))
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/console/"
        user = await _user(runtime, "ada@example.com")
        assert user is not None
        assert (user.role, user.status, user.name) == ("admin", "active", "Ada")
        assert user.password_hash is None
        page = await client.get("/console/")
        assert page.status_code == 200
        async with session_scope(runtime.db) as session:
            actions = (
                await session.execute(
                    select(AuditEvent.action, AuditEvent.actor_label).where(
                        AuditEvent.target_id == str(user.id)
                    )
                )
            ).all()
        assert ("users.create", "sso:Acme") in actions
        assert ("auth.sign_in", "ada@example.com") in actions

    async def test_group_mapping_places_the_user_in_the_spectra_group(
        self, runtime: Runtime, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        idp.account["groups"] = ["spectra-devs"]
        response = await client.get(await _start(client, idp))
        assert response.headers["location"] == "/console/me"
        user = await _user(runtime, "ada@example.com")
        assert user is not None
        assert (user.role, user.group.name) == ("member", "Platform")

    async def test_links_an_existing_local_user_by_verified_email(
        self, runtime: Runtime, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        async with session_scope(runtime.db) as session:
            local = await make_user(session, email="ada@example.com", role="member")
        idp.account["groups"] = []
        response = await client.get(await _start(client, idp))
        assert response.status_code == 303
        user = await _user(runtime, "ada@example.com")
        assert user is not None
        assert user.id == local.id
        # The next sign-in finds the user by `sub`, even after the email at the provider changed.
        client.cookies.clear()
        idp.account.update(email="ada.lovelace@example.com", email_verified=False)
        response = await client.get(await _start(client, idp))
        assert response.status_code == 303, response.text

    async def test_an_unverified_email_is_neither_linked_nor_created(
        self, runtime: Runtime, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        async with session_scope(runtime.db) as session:
            await make_user(session, email="ada@example.com", role="member")
        idp.account["email_verified"] = False
        await _refused(client, await _start(client, idp), "has not verified the email")

    async def test_a_domain_outside_the_allowed_ones_is_refused(
        self, runtime: Runtime, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        idp.account["email"] = "eve@elsewhere.org"
        await _refused(client, await _start(client, idp), "Accounts of elsewhere.org may not")
        assert await _user(runtime, "eve@elsewhere.org") is None

    async def test_a_rotated_key_is_fetched_when_its_kid_is_unknown(
        self,
        client: httpx.AsyncClient,
        idp: FakeIdp,
        provider: SsoProvider,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(oidc, "KEYS_REFETCH_SECONDS", 0.0)  # the last fetch is a minute old
        callback = await _start(client, idp)
        fetched = idp.jwks_fetches
        idp.rotate()
        response = await client.get(callback)
        assert response.status_code == 303, response.text
        assert idp.jwks_fetches == fetched + 1

    async def test_unknown_kids_refetch_the_key_set_at_most_once_a_minute(
        self, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        idp.sign_with = _key("forged")
        callback = await _start(client, idp)  # discovery fetches the key set here
        fetched = idp.jwks_fetches
        assert fetched >= 1
        await _refused(client, callback, "a key the provider does not publish")
        for _ in range(2):
            await _refused(client, await _start(client, idp), "a key the provider does not publish")
        assert idp.jwks_fetches == fetched

    async def test_next_path_is_followed(
        self, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        response = await client.get(await _start(client, idp, "/console/usage"))
        assert response.headers["location"] == "/console/usage"


class TestRefusals:
    async def test_tampered_id_token(
        self, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        idp.tamper = True
        await _refused(client, await _start(client, idp), "signature is not valid")

    async def test_token_signed_by_a_key_the_provider_does_not_publish(
        self, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        idp.sign_with = _key("k1")
        await _refused(client, await _start(client, idp), "signature is not valid")

    async def test_wrong_audience(
        self, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        idp.next_claims = {"aud": "another-app"}
        await _refused(client, await _start(client, idp), "wrong audience")

    async def test_expired_token(
        self, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        now = int(time.time())
        idp.next_claims = {"iat": now - 3600, "exp": now - 600}
        await _refused(client, await _start(client, idp), "ID token has expired")

    async def test_wrong_nonce(
        self, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        idp.next_claims = {"nonce": "someone-elses"}
        await _refused(client, await _start(client, idp), "nonce mismatch")

    async def test_replayed_callback(
        self, runtime: Runtime, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        callback = await _start(client, idp)
        first = await client.get(callback)
        assert first.status_code == 303
        client.cookies.clear()
        # Replayed with the browser's state cookie too: the attempt is spent.
        client.cookies.set("spectra_sso_state", parse_qs(urlsplit(callback).query)["state"][0])
        await _refused(client, callback, "used already")

    async def test_wrong_state(
        self, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        callback = await _start(client, idp)
        forged = callback.replace("state=", "state=x")
        await _refused(client, forged, "start the sign-in again")

    async def test_a_callback_from_another_browser(
        self, app: object, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        callback = await _start(client, idp)
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://spectra.test") as other:
            await _refused(other, callback, "started in another browser")

    async def test_the_provider_says_no(
        self, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        callback = await _start(client, idp)
        state = parse_qs(urlsplit(callback).query)["state"][0]
        await _refused(
            client,
            f"/console/sso/Acme/callback?error=access_denied&error_description=denied+by+policy&state={state}",
            "The provider did not sign you in: denied by policy.",
        )


class TestRequireSso:
    async def _require(self, runtime: Runtime, provider: SsoProvider, owner: User) -> None:
        async with session_scope(runtime.db) as session:
            row = await session.get(SsoProvider, provider.id)
            assert row is not None
            row.require_sso = True
            row.break_glass_user_id = owner.id

    async def test_password_sign_in_is_refused_except_for_the_break_glass_owner(
        self, runtime: Runtime, client: httpx.AsyncClient, provider: SsoProvider, owner: User
    ) -> None:
        await self._require(runtime, provider, owner)
        async with session_scope(runtime.db) as session:
            other = await make_user(
                session, role="owner", password_hash=passwords.hash_password(PASSWORD)
            )
        refused = await client.post(
            "/console/login", data={"email": other.email, "password": PASSWORD}
        )
        assert refused.status_code == 200
        assert "requires single sign-on" in refused.text
        assert "spectra_session" not in client.cookies
        allowed = await client.post("/console/login", data={"email": OWNER, "password": PASSWORD})
        assert allowed.status_code == 303
        api = await client.post(
            "/api/auth/login", json={"email": other.email, "password": PASSWORD}
        )
        assert api.status_code == 403
        assert api.json()["error"]["code"] == "sso_required"
        assert api.json()["error"]["details"]["providers"] == ["Acme"]


class TestSignOut:
    async def test_ends_the_session_and_sends_the_browser_to_the_provider(
        self, runtime: Runtime, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        await client.get(await _start(client, idp))
        csrf = client.cookies["spectra_csrf"]
        response = await client.post("/console/logout", data={"csrf_token": csrf})
        assert response.status_code == 200
        link = re.search(
            r'id="provider-logout" href="([^"]+)"|href="([^"]+)" id="provider-logout"',
            response.text,
        )
        assert link is not None
        location = urlsplit(html.unescape(link.group(1) or link.group(2)))
        assert f"{location.scheme}://{location.netloc}{location.path}" == f"{ISSUER}/session/end"
        query = parse_qs(location.query)
        assert query["client_id"] == [CLIENT_ID]
        assert query["post_logout_redirect_uri"][0].endswith("/console/login")
        assert (await client.get("/console/")).status_code == 303


class TestTrustEmail:
    async def test_a_provider_without_email_verified_needs_trust_email(
        self, runtime: Runtime, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        idp.account.pop("email_verified")
        await _refused(client, await _start(client, idp), "has not verified the email")
        async with session_scope(runtime.db) as session:
            row = await session.get(SsoProvider, provider.id)
            assert row is not None
            row.trust_email = True
        client.cookies.clear()
        response = await client.get(await _start(client, idp))
        assert response.status_code == 303, response.text
        assert await _user(runtime, "ada@example.com") is not None

    async def test_an_explicit_false_is_refused_even_when_trusted(
        self, runtime: Runtime, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        async with session_scope(runtime.db) as session:
            row = await session.get(SsoProvider, provider.id)
            assert row is not None
            row.trust_email = True
        idp.account["email_verified"] = False
        await _refused(client, await _start(client, idp), "has not verified the email")


class TestSessionLifetime:
    async def test_the_providers_session_lifetime_bounds_the_console_session(
        self, runtime: Runtime, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        async with session_scope(runtime.db) as session:
            row = await session.get(SsoProvider, provider.id)
            assert row is not None
            row.session_ttl_minutes = 30
        await client.get(await _start(client, idp))
        async with session_scope(runtime.db) as session:
            opened = (await session.execute(select(UserSession))).scalar_one()
        assert opened.expires_at - opened.created_at == timedelta(minutes=30)
