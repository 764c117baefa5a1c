"""`spectra packages ...` and `spectra groups set-default-package` as separate processes."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete
from tests.support.cli import Done, run_spectra

from spectra.db.base import Base
from spectra.db.session import open_database, session_scope, set_database
from spectra.users.models import Group, User

SECRET = "a" * 64  # tests/conftest.py's TEST_SECRET: the database remembers its fingerprint


def _cli(data_dir: Path, url: str, *args: str) -> Done:
    env = {
        "SPECTRA_DATA_DIR": str(data_dir),
        "SPECTRA_DATABASE_URL": url,
        "SPECTRA_SECRET_KEY": SECRET,
        "SPECTRA_AUTO_MIGRATE": "false",
        "COLUMNS": "200",
    }
    return run_spectra(list(args), env)


def _sql(url: str, fn: Any) -> Any:
    async def go() -> Any:
        db = open_database(url)
        try:
            async with session_scope(db) as s:
                return await fn(s)
        finally:
            await db.dispose()
            set_database(None)

    return asyncio.run(go())


@pytest.fixture
def team(database_url: str) -> Iterator[dict[str, Any]]:
    tag = uuid.uuid4().hex[:6]
    group = f"team-{tag}"
    emails = [f"cli-{tag}-{i}@example.com" for i in range(3)]

    async def make(s: Any) -> None:
        g = Group(name=group, name_key=group)
        s.add(g)
        await s.flush()
        for email in emails:
            s.add(User(email=email, role="member", group_id=g.id))

    _sql(database_url, make)
    yield {"group": group, "emails": emails}

    async def empty(s: Any) -> None:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in {"alembic_version", "server_identity"}:
                await s.execute(delete(table))

    _sql(database_url, empty)


def test_create_assign_group_and_holdings(
    team: dict[str, Any], database_url: str, data_dir: Path
) -> None:
    run = partial(_cli, data_dir, database_url)
    made = run(
        "packages",
        "create",
        "Starter",
        "--allowance",
        "20",
        "--period",
        "monthly",
        "--models",
        "claude-sonnet-*,claude-haiku-*",
        "--rpm",
        "60",
        "--json",
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["terms"]["model_patterns"] == [
        "claude-sonnet-*",
        "claude-haiku-*",
    ]
    one = run("packages", "assign", "Starter", "--user", team["emails"][0], "--json")
    assert one.returncode == 0, one.stderr
    preview = run("packages", "assign", "Starter", "--group", team["group"], "--preview", "--json")
    assert (json.loads(preview.stdout)["gain"], json.loads(preview.stdout)["unchanged"]) == (2, 1)
    applied = run("packages", "assign", "Starter", "--group", team["group"], "--yes", "--json")
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["applied"] is True
    held = run("packages", "holdings", "--user", team["emails"][2], "--json")
    (item,) = json.loads(held.stdout)["items"]
    assert (item["remaining"], item["models"], item["rpm"]) == (
        "20.00",
        ["claude-sonnet-*", "claude-haiku-*"],
        60,
    )
    default = run("groups", "set-default-package", team["group"], "Starter")
    assert default.returncode == 0, default.stderr
    listed = run("packages", "assignments", "--package", "Starter", "--json")
    assert len(json.loads(listed.stdout)["items"]) == 3
    cancelled = run("packages", "cancel", item["assignment_id"], "--now", "--json")
    assert json.loads(cancelled.stdout)["status"] == "cancelled"


def test_failures_are_one_sentence_with_an_exit_code(
    team: dict[str, Any], database_url: str, data_dir: Path, tmp_path: Path
) -> None:
    run = partial(_cli, data_dir, database_url)
    bad = run("packages", "create", "X", "--allowance", "1.0000001", "--period", "daily")
    assert bad.returncode == 2
    assert "more than 6 decimals" in bad.stderr
    one_time = run("packages", "create", "Trial", "--allowance", "5", "--period", "one_time")
    assert one_time.returncode == 2
    assert "--valid-days" in one_time.stderr
    assert (
        run(
            "packages",
            "create",
            "Trial",
            "--allowance",
            "5",
            "--period",
            "one_time",
            "--valid-days",
            "14",
        ).returncode
        == 0
    )
    missing = run("packages", "assign", "Nope", "--user", team["emails"][0])
    assert missing.returncode == 3
    assert "no package named 'Nope'" in missing.stderr
    csv_file = tmp_path / "assign.csv"
    csv_file.write_text(f"email,package\n{team['emails'][0]},Trial\nghost@example.com,Trial\n")
    rejected = run("packages", "import", str(csv_file))
    assert rejected.returncode == 2
    assert "ghost@example.com" in rejected.stdout
    assert "nothing was imported" in rejected.stderr
    csv_file.write_text(f"email,package\n{team['emails'][0]},Trial\n")
    assert run("packages", "import", str(csv_file)).returncode == 0
