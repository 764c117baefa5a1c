"""Setup / reset-password links carry the configured public URL (SPECTRA_PUBLIC_URL), the same
from the console, the API and the CLI, never the address the request happened to use."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import TEST_SECRET
from tests.factories import make_user
from typer.testing import CliRunner

from spectra.audit.actor import local_actor
from spectra.cli.main import app as cli_app
from spectra.config import Settings, reset_settings
from spectra.db.serverkey import set_server_keys
from spectra.db.session import session_scope
from spectra.keys import service as keys_service
from spectra.runtime import Runtime

PUBLIC = "https://spectra.example.com"
LINK = re.compile(r"(https?://[^\s\"'<]+)/console/setup\?token=")


@pytest.fixture
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key=TEST_SECRET,
        auto_migrate=False,
        change_poll_interval=0.05,
        commit_max_delay=0.005,
        public_url=PUBLIC + "/",
    )


@pytest.fixture
def cli(
    runtime: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.setenv("SPECTRA_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("SPECTRA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SPECTRA_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SPECTRA_AUTO_MIGRATE", "false")
    monkeypatch.setenv("SPECTRA_PUBLIC_URL", PUBLIC + "/")
    monkeypatch.delenv("SPECTRA_SERVER", raising=False)
    reset_settings()
    yield CliRunner()
    reset_settings()
    set_server_keys(runtime.keys)


def _base(text: str) -> str:
    found = LINK.search(text)
    assert found, text
    return found.group(1)


async def test_console_api_and_cli_links_use_the_public_url(
    browser: Any, runtime: Runtime, app: Any, cli: CliRunner
) -> None:
    async with session_scope(runtime.db) as session:
        member = await make_user(session, email="priya@example.com", status="invited")
        owner = await make_user(session, role="owner")
        _, token = await keys_service.create_token(session, local_actor(), user_id=owner.id)

    admin = await browser(role="admin")
    page = await admin.post_form(f"/console/users/{member.id}/setup-link", {})
    assert page.status_code == 200, page.text
    console_base = _base(page.text)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://10.0.0.7:8080"
    ) as client:
        answer = await client.post(
            "/api/users/priya@example.com/setup-link",
            headers={"authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 201, answer.text
    api_base = _base(answer.json()["url"])

    # The CLI runs its own event loop, as from a shell.
    result = await asyncio.to_thread(
        cli.invoke, cli_app, ["users", "setup-link", "priya@example.com"]
    )
    assert result.exit_code == 0, result.stderr
    cli_base = _base(result.stdout)

    assert console_base == api_base == cli_base == PUBLIC
