"""`spectra keys` and `spectra tokens` on a local data directory (sync tests: the CLI runs its own loop)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from spectra.cli.main import app
from spectra.config import get_settings, reset_settings
from spectra.db.session import session_scope
from spectra.keys.models import AdminToken, MemberKey
from spectra.runtime import build_runtime, close_runtime

from .factories import make_member

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SPECTRA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SPECTRA_DATABASE_URL", raising=False)
    monkeypatch.delenv("SPECTRA_SERVER", raising=False)
    monkeypatch.delenv("SPECTRA_SECRET_KEY", raising=False)
    reset_settings()
    yield tmp_path
    get_settings.cache_clear()


def make_cli_user(**overrides: Any) -> str:
    async def go() -> str:
        runtime = await build_runtime(get_settings())
        try:
            async with session_scope(runtime.db) as session:
                return (await make_member(session, **overrides)).email
        finally:
            await close_runtime(runtime)

    return asyncio.run(go())


def rows(model: type[MemberKey] | type[AdminToken]) -> list[Any]:
    async def go() -> list[Any]:
        runtime = await build_runtime(get_settings())
        try:
            async with session_scope(runtime.db) as session:
                return list((await session.execute(select(model))).scalars())
        finally:
            await close_runtime(runtime)

    return asyncio.run(go())


def spectra(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_keys_create_prints_the_secret_once_and_list_never_does(data_dir: Path) -> None:
    email = make_cli_user()
    created = spectra(
        "keys", "create", "--user", email, "--name", "laptop", "--scope", "claude-*", "--json"
    )
    assert created.exit_code == 0, created.output
    body = json.loads(created.stdout)
    assert body["secret"].startswith("sk-spectra-")
    assert body["user_email"] == email
    table = spectra("keys", "create", "--user", email)
    assert table.exit_code == 0
    assert "shown once" in table.output
    assert "sk-spectra-" in table.output
    listed = spectra("keys", "list", "--user", email, "--json")
    page = json.loads(listed.stdout)
    assert len(page["items"]) == 2
    assert page["next_cursor"] is None
    assert body["secret"] not in listed.output
    [stored] = [k for k in rows(MemberKey) if str(k.id) == body["id"]]
    assert stored.name == "laptop"
    assert stored.scopes == ["claude-*"]


def test_keys_revoke_and_rotate(data_dir: Path) -> None:
    email = make_cli_user()
    first = json.loads(spectra("keys", "create", "--user", email, "--json").stdout)
    rotated = spectra("keys", "rotate", first["id"], "--grace-hours", "0", "--json")
    assert rotated.exit_code == 0, rotated.output
    new = json.loads(rotated.stdout)
    assert new["secret"] != first["secret"]
    assert new["rotated_from_id"] == first["id"]
    revoked = spectra("keys", "revoke", new["id"], "--reason", "test", "--json")
    assert revoked.exit_code == 0
    assert json.loads(revoked.stdout)["status"] == "revoked"
    statuses = {str(k.id): k.status for k in rows(MemberKey)}
    assert statuses[new["id"]] == "revoked"
    again = spectra("keys", "revoke", new["id"])
    assert again.exit_code == 4
    assert "already revoked" in again.output


def test_tokens_create_list_and_revoke(data_dir: Path) -> None:
    email = make_cli_user(role="admin")
    created = spectra(
        "tokens", "create", "--user", email, "--read-only", "--expires", "2099-12-31", "--json"
    )
    assert created.exit_code == 0, created.output
    body = json.loads(created.stdout)
    assert body["secret"].startswith("st-spectra-")
    assert body["read_only"] is True
    assert body["expires_at"].startswith("2100-01-01")
    listed = spectra("tokens", "list", "--json")
    assert [t["id"] for t in json.loads(listed.stdout)["items"]] == [body["id"]]
    assert body["secret"] not in listed.output
    revoked = spectra("tokens", "revoke", body["id"], "--json")
    assert json.loads(revoked.stdout)["status"] == "revoked"
    [stored] = rows(AdminToken)
    assert stored.status == "revoked"
    assert stored.is_read_only


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (("keys", "create", "--user", "ghost@example.com"), 3, "No user ghost@example.com exists"),
        (("keys", "create"), 2, "--user"),
        (("keys", "revoke", "not-an-id"), 2, "is not a key id"),
        (("tokens", "create", "--user", "ghost@example.com"), 3, "No user"),
        (
            ("tokens", "create", "--user", "x@example.com", "--expires", "someday"),
            2,
            "is not a date",
        ),
    ],
)
def test_bad_input_fails_with_one_sentence(
    data_dir: Path, args: tuple[str, ...], exit_code: int, message: str
) -> None:
    result = spectra(*args)
    assert result.exit_code == exit_code, result.output
    assert message in result.output


def test_a_malformed_cidr_fails_with_exit_2(data_dir: Path) -> None:
    email = make_cli_user()
    result = spectra("keys", "create", "--user", email, "--allow-ip", "10.0.0.0/99")
    assert result.exit_code == 2
    assert "is not an IP address or network" in result.output
    assert rows(MemberKey) == []
