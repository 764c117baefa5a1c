"""The console's list tables (console/tables.py): sort, filter and page live in the URL, the CSV
holds exactly the rows and columns shown (money in full precision), a lead's CSV only their
group; the audit log's before/after reads as field: old -> new; ledger rows name the wallet."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Awaitable, Callable

from tests.factories import make_user
from tests.usage.lead_seed import ALICE_COST, OWN_GROUP, seed_teams

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.ledger import service as ledger_service
from spectra.runtime import Runtime
from spectra.users import service as users_service

from .conftest import Browser

BrowserFactory = Callable[..., Awaitable[Browser]]


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-event-id="(\d+)"', html)]


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def _promote(runtime: Runtime, count: int, prefix: str = "t") -> None:
    """`count` audit events: members made auditors."""
    async with session_scope(runtime.db) as session:
        for i in range(count):
            user = await make_user(session, email=f"{prefix}{i}@tables.example.com")
            await users_service.change_role(session, local_actor(), user=user.id, role="auditor")


async def test_sort_filter_and_page_are_in_the_url(
    runtime: Runtime, browser: BrowserFactory
) -> None:
    admin = await browser(role="admin")
    await _promote(runtime, 26, prefix="role")
    page = await admin.get("/console/audit", params={"sort": "id"})
    ascending = _ids(page.text)
    assert ascending == sorted(ascending)
    assert len(ascending) >= 26
    assert 'aria-sort="ascending"' in page.text
    assert 'href="?sort=-id"' in page.text  # a second click turns it descending
    descending = _ids((await admin.get("/console/audit", params={"sort": "-id"})).text)
    assert descending == sorted(ascending, reverse=True)
    filtered = await admin.get("/console/audit", params={"q": "role2@tables"})
    assert filtered.status_code == 200
    assert "role2@tables.example.com" in filtered.text
    assert "role1@tables.example.com" not in filtered.text
    assert 'value="role2@tables"' in filtered.text  # the filter box shows the URL's filter
    first = await admin.get("/console/audit", params={"sort": "id", "per": 25})
    assert _ids(first.text) == ascending[:25]
    assert 'href="?sort=id&amp;per=25&amp;page=2" rel="next"' in first.text
    second = await admin.get("/console/audit", params={"sort": "id", "per": 25, "page": 2})
    assert _ids(second.text) == ascending[25:]
    assert "Rows 26–" in second.text
    past = await admin.get("/console/audit", params={"sort": "id", "per": 25, "page": 99})
    assert _ids(past.text) == ascending[25:]  # a page past the end shows the last one
    nothing = await admin.get("/console/audit", params={"q": "no-such-thing-anywhere"})
    assert "No rows match" in nothing.text
    assert "Clear the filter" in nothing.text


async def test_the_csv_is_exactly_what_the_page_shows(
    runtime: Runtime, browser: BrowserFactory
) -> None:
    admin = await browser(role="admin")
    await _promote(runtime, 3)
    params = {"sort": "-id", "q": "tables.example.com"}
    shown = _ids((await admin.get("/console/audit", params=params)).text)
    download = await admin.get("/console/audit", params={**params, "export": "audit-events"})
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    rows = _csv(download.text)
    assert rows[0] == ["#", "When", "Who", "Action", "Target", "Changes"]
    assert shown
    assert [int(r[0]) for r in rows[1:]] == shown
    chosen = await admin.get(
        "/console/audit", params={**params, "export": "audit-events", "cols": "id,action"}
    )
    assert _csv(chosen.text)[0] == ["#", "Action"]


async def test_money_in_the_csv_is_full_precision_and_ledger_rows_name_the_wallet(
    runtime: Runtime, browser: BrowserFactory
) -> None:
    admin = await browser(role="admin")
    async with session_scope(runtime.db) as session:
        user = await make_user(session, email="wallet@tables.example.com")
        await ledger_service.recharge(
            session,
            local_actor(),
            user_id=user.id,
            amount=1_234_567,
            memo="precision",
            idempotency_key="tables-1",
        )
    page = await admin.get("/console/ledger")
    row = re.search(r'<tr data-transaction-id="[^"]+">.*?</tr>', page.text, re.S)
    assert row
    assert "wallet@tables.example.com" in row.group(0)
    assert "$1.234567" in row.group(0)
    download = await admin.get("/console/ledger", params={"export": "transactions"})
    rows = _csv(download.text)
    assert rows[0][4] == "Wallets"
    assert any("wallet@tables.example.com $1.234567" in r[4] for r in rows[1:])


async def test_the_audit_log_reads_as_a_diff(runtime: Runtime, browser: BrowserFactory) -> None:
    admin = await browser(role="admin")
    async with session_scope(runtime.db) as session:
        user = await make_user(session, email="diff@tables.example.com")
        await users_service.change_role(session, local_actor(), user=user.id, role="billing")
    page = await admin.get("/console/audit", params={"q": "billing"})
    assert '<ul class="diff">' in page.text
    assert re.search(
        r'role</span>: <span class="old">member</span> → <span class="new">billing', page.text
    )
    assert "{&#39;" not in page.text  # no Python reprs
    download = await admin.get("/console/audit", params={"q": "billing", "export": "audit-events"})
    assert "role: member -> billing" in download.text


async def test_a_leads_csv_holds_only_their_group(
    runtime: Runtime, browser: BrowserFactory
) -> None:
    lead = await browser(role="member")
    teams = await seed_teams(runtime, lead.user)
    url = f"/console/team/{OWN_GROUP}/usage"
    page = await lead.get(url, params={"by": "user"})
    assert 'id="usage-report-csv"' in page.text
    download = await lead.get(url, params={"by": "user", "export": "usage-report"})
    assert download.status_code == 200
    rows = _csv(download.text)
    assert rows[0][:3] == ["User", "Requests", "Spend"]
    assert [r[0] for r in rows[1:]] == [teams.alice.email]
    assert rows[1][2] == f"{3 * ALICE_COST / 1_000_000:.2f}"
    leaked = [s for s in teams.forbidden_strings() if s in download.text]
    assert not leaked
