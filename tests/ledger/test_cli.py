"""The `spectra ledger` and `spectra codes` commands against a real database, in process (tests/support/cli.py)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from tests.support.cli import Done, run_spectra

from spectra.db.base import Base
from spectra.db.session import open_database, session_scope, set_database
from spectra.ledger.models import AccountKind, LedgerAccount, LedgerPosting, LedgerTransaction
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


def _sql(url: str, fn: Callable[[Any], Awaitable[Any]]) -> Any:
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
def people(database_url: str) -> Iterator[dict[str, str]]:
    email, group = f"cli-{uuid.uuid4().hex[:6]}@example.com", f"team-{uuid.uuid4().hex[:6]}"

    async def make(s):  # type: ignore[no-untyped-def]
        g = Group(name=group, name_key=group)
        s.add(g)
        await s.flush()
        s.add(User(email=email, role="member", group_id=g.id))

    _sql(database_url, make)
    yield {"email": email, "group": group}

    async def empty(s):  # type: ignore[no-untyped-def]
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in {"alembic_version", "server_identity"}:
                await s.execute(delete(table))

    _sql(database_url, empty)


def test_recharge_balance_and_a_clean_verify(
    people: dict[str, str], database_url: str, data_dir: Path
) -> None:
    done = _cli(
        data_dir,
        database_url,
        "ledger",
        "recharge",
        "--user",
        people["email"],
        "--amount",
        "12.50",
        "--memo",
        "pilot",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["account"]["balance"] == "12.50"
    shown = _cli(data_dir, database_url, "ledger", "balance", "--group", people["group"], "--json")
    assert json.loads(shown.stdout)["balance_micros"] == 0
    clean = _cli(data_dir, database_url, "ledger", "verify")
    assert clean.returncode == 0
    assert "Ledger verified" in clean.stdout


def test_more_than_six_decimals_is_refused(
    people: dict[str, str], database_url: str, data_dir: Path
) -> None:
    done = _cli(
        data_dir,
        database_url,
        "ledger",
        "recharge",
        "--user",
        people["email"],
        "--amount",
        "1.0000001",
        "--memo",
        "x",
    )
    assert done.returncode == 2
    assert "more than 6 decimals" in done.stderr


def test_verify_names_a_posting_and_a_balance_edited_in_sql(
    people: dict[str, str], database_url: str, data_dir: Path
) -> None:
    assert (
        _cli(
            data_dir,
            database_url,
            "ledger",
            "recharge",
            "--user",
            people["email"],
            "--amount",
            "10",
            "--memo",
            "m",
        ).returncode
        == 0
    )
    assert (
        _cli(data_dir, database_url, "codes", "create", "--count", "2", "--amount", "5").returncode
        == 0
    )

    async def tamper(s):  # type: ignore[no-untyped-def]
        txn = (
            await s.execute(select(LedgerTransaction).where(LedgerTransaction.kind == "recharge"))
        ).scalar_one()
        posting = (
            await s.execute(
                select(LedgerPosting).where(
                    LedgerPosting.transaction_id == txn.id, LedgerPosting.amount_micros > 0
                )
            )
        ).scalar_one()
        await s.execute(
            update(LedgerPosting)
            .where(LedgerPosting.id == posting.id)
            .values(amount_micros=posting.amount_micros + 1)
        )
        outstanding = (
            await s.execute(
                select(LedgerAccount).where(LedgerAccount.kind == AccountKind.CODES_OUTSTANDING)
            )
        ).scalar_one()
        await s.execute(
            update(LedgerAccount).where(LedgerAccount.id == outstanding.id).values(balance_micros=1)
        )
        return txn.id, posting.account_id, outstanding.id

    txn_id, wallet_id, outstanding_id = _sql(database_url, tamper)
    done = _cli(data_dir, database_url, "ledger", "verify")
    assert done.returncode == 1
    assert f"transaction {txn_id} postings sum to 0.000001, not zero" in done.stderr
    assert f"account {wallet_id}" in done.stderr
    assert f"account {outstanding_id}" in done.stderr
    assert "codes_outstanding holds 0.000001" in done.stderr
    as_json = json.loads(_cli(data_dir, database_url, "ledger", "verify", "--json").stdout)
    assert as_json["ok"] is False
    assert {p["check"] for p in as_json["problems"]} == {
        "zero_sum",
        "balance",
        "codes",
    }


def test_codes_create_prints_codes_once_and_list_counts_them(
    people: dict[str, str], database_url: str, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "codes.csv"
    done = _cli(
        data_dir,
        database_url,
        "codes",
        "create",
        "--count",
        "3",
        "--amount",
        "2.50",
        "--expires",
        "2099-01-01",
        "--memo",
        "hack",
        "--csv",
        str(out),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert len(created["codes"]) == 3
    assert out.read_text().count("SPC-") == 3
    listed = json.loads(_cli(data_dir, database_url, "codes", "list", "--json").stdout)
    assert listed["items"][0]["unused"] == 3
    assert listed["items"][0]["value"] == "2.50"
    revoked = json.loads(
        _cli(data_dir, database_url, "codes", "revoke", created["id"], "--json").stdout
    )
    assert revoked["revoked"] == 3
