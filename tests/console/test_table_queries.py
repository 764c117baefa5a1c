"""The console's paged tables sort, filter and export the whole set, not the one page a
service answered: for every sortable column, two server pages in a row are the first rows of
the global order (the CSV of the same view, itself in order); the filter runs over every row;
the CSV holds every matching row (to the cap, then says it was cut); a sort key that is not a
column falls back to the default order (never SQL, never a 500); a lead's CSV holds only the
members of the groups they lead."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from tests.factories import make_group, make_user
from tests.usage.lead_seed import OTHER_GROUP, OWN_GROUP, seed_teams

from spectra.audit.actor import local_actor
from spectra.console import tables
from spectra.db.session import session_scope
from spectra.ledger import service as ledger_service
from spectra.runtime import Runtime
from spectra.usage import service as usage_service

from .conftest import Browser
from .factories import make_usage

BrowserFactory = Callable[..., Awaitable[Browser]]
PER = 25


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _order_key(kind: str, text: str) -> Any:
    if kind == "when":
        return datetime.fromisoformat(text)
    if kind == "money":
        return Decimal(text)
    if kind == "num":
        return Decimal(text)
    if kind == "tokens":
        return sum(int(part) for part in text.split(" / "))
    return text.lower()


def _assert_ordered(values: list[str], kind: str, descending: bool) -> None:
    """In order by `kind`, empty cells (nulls) last ascending and first descending; an empty
    text is the smallest text (the seeds hold no null text)."""
    if kind == "text":
        keys = [v.lower() for v in values]
        assert keys == sorted(keys, reverse=descending), values
        return
    present = [v for v in values if v != ""]
    blanks = len(values) - len(present)
    if descending:
        assert values[:blanks] == [""] * blanks, values
    else:
        assert values[len(present) :] == [""] * blanks, values
    keys = [_order_key(kind, v) for v in present]
    assert keys == sorted(keys, reverse=descending), values


async def _check_every_sort(
    browser: Browser,
    url: str,
    *,
    table: str,
    prefix: str,
    row_key: str,
    csv_key: str,
    sorts: dict[str, tuple[str, str]],
    params: dict[str, str] | None = None,
) -> None:
    """For each sort key (CSV header, kind) both ways: pages 1 and 2 are the head of the CSV's
    order, and the CSV is ordered by that column over every row."""
    for key, (header, kind) in sorts.items():
        for direction in ("", "-"):
            view = {**(params or {}), f"{prefix}sort": f"{direction}{key}"}
            download = await browser.get(url, params={**view, "export": table})
            assert download.status_code == 200, (key, download.text[:300])
            rows = _csv(download.text)
            head, body = rows[0], rows[1:]
            assert len(body) > PER, "the set must span more than one page"
            _assert_ordered([r[head.index(header)] for r in body], kind, direction == "-")
            whole = [r[head.index(csv_key)] for r in body]
            shown: list[str] = []
            for page in (1, 2):
                answer = await browser.get(
                    url, params={**view, f"{prefix}per": str(PER), f"{prefix}page": str(page)}
                )
                assert answer.status_code == 200
                keys = re.findall(row_key, answer.text)
                assert len(keys) == (PER if page == 1 else min(PER, len(body) - PER))
                shown += keys
            assert shown == whole[: len(shown)], (key, direction)
            header_html = f'<th class="[^"]*" data-col="{key}" aria-sort="'
            header_html += "descending" if direction else "ascending"
            assert re.search(header_html, answer.text), key


async def _seed_ledger(runtime: Runtime) -> None:
    """40 transactions over three wallets: recharges and adjustments, 27 with 'gamma' in the
    memo, one '100% bonus', memos in mixed case."""
    words = ["alpha", "Beta", "gamma", "Delta", "gamma ray", "GAMMA"]
    async with session_scope(runtime.db) as session:
        users = [await make_user(session, email=f"w{i}@tables.example.com") for i in range(3)]
        actor = local_actor()
        for i in range(40):
            memo = "100% bonus" if i == 0 else f"{words[i % len(words)]} {i * 7 % 40:02d}"
            if i >= 13 and "gamma" not in memo.lower():
                memo = f"gamma {memo}"
            if i % 5 == 4:
                await ledger_service.adjust(
                    session,
                    actor,
                    user_id=users[i % 3].id,
                    amount=1_000 + i,
                    reason=memo,
                    idempotency_key=f"adj-{i}",
                )
            else:
                await ledger_service.recharge(
                    session,
                    actor,
                    user_id=users[i % 3].id,
                    amount=(i * 7919) % 100_000 + 1,
                    memo=memo,
                    idempotency_key=f"rc-{i}",
                )


async def test_the_ledger_sorts_every_column_over_every_page(
    runtime: Runtime, browser: BrowserFactory
) -> None:
    admin = await browser(role="admin")
    await _seed_ledger(runtime)
    await _check_every_sort(
        admin,
        "/console/ledger",
        table="transactions",
        prefix="",
        row_key=r'<tr data-transaction-id="([^"]+)">',
        csv_key="Id",
        sorts={
            "created_at": ("When", "when"),
            "kind": ("Kind", "text"),
            "memo": ("Memo", "text"),
            "by": ("By", "text"),
            "id": ("Id", "text"),
        },
    )


async def test_the_filter_and_the_csv_cover_every_matching_row(
    runtime: Runtime, browser: BrowserFactory
) -> None:
    admin = await browser(role="admin")
    await _seed_ledger(runtime)
    everything = _csv((await admin.get("/console/ledger", params={"export": "transactions"})).text)
    assert len(everything) - 1 == 40
    gamma = [r for r in everything[1:] if "gamma" in r[2].lower()]
    assert len(gamma) > PER
    page = await admin.get("/console/ledger", params={"q": "GaMma", "per": PER})
    assert f"Rows 1–{PER} of {len(gamma)}" in page.text
    download = await admin.get(
        "/console/ledger", params={"q": "GaMma", "sort": "memo", "export": "transactions"}
    )
    rows = _csv(download.text)[1:]
    assert sorted(r[5] for r in rows) == sorted(r[5] for r in gamma)
    literal = _csv(
        (await admin.get("/console/ledger", params={"q": "100%", "export": "transactions"})).text
    )
    assert [r[2] for r in literal[1:]] == ["100% bonus"]  # % is not a wildcard
    underscore = await admin.get("/console/ledger", params={"q": "_", "export": "transactions"})
    assert _csv(underscore.text)[1:] == []


async def test_the_csv_past_the_cap_says_it_was_cut(
    runtime: Runtime, browser: BrowserFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = await browser(role="admin")
    await _seed_ledger(runtime)
    monkeypatch.setattr(tables, "EXPORT_CAP", 30)
    page = await admin.get("/console/ledger")
    assert "The CSV holds the first 30 of 40 rows" in page.text
    download = await admin.get("/console/ledger", params={"sort": "id", "export": "transactions"})
    assert download.headers["x-spectra-export-capped"] == "30 of 40"
    rows = _csv(download.text)
    assert len(rows) == 1 + 30 + 1
    assert rows[-1] == ["Only the first 30 of 40 rows: filter the table to export the rest."]
    ids = [r[5] for r in rows[1:-1]]
    assert ids == sorted(ids)
    narrowed = await admin.get("/console/ledger", params={"q": "alpha"})
    assert "The CSV holds the first" not in narrowed.text


@pytest.mark.parametrize(
    "sort",
    [
        "id; DROP TABLE ledger_transactions; --",
        "-created_at) OR 1=1 --",
        "__class__",
        "postings",  # a column, but not a sortable one
        "-" * 300,
        "memo desc, (SELECT 1)",
    ],
)
async def test_a_sort_key_that_is_not_a_column_falls_back_to_the_default(
    runtime: Runtime, browser: BrowserFactory, sort: str
) -> None:
    admin = await browser(role="admin")
    await _seed_ledger(runtime)
    default = _csv((await admin.get("/console/ledger", params={"export": "transactions"})).text)
    page = await admin.get("/console/ledger", params={"sort": sort, "per": "abc", "page": "-3"})
    assert page.status_code == 200
    assert 'aria-sort="ascending"' not in page.text
    download = await admin.get("/console/ledger", params={"sort": sort, "export": "transactions"})
    assert download.status_code == 200
    assert _csv(download.text) == default
    quoted = await admin.get("/console/ledger", params={"q": "' OR 1=1 --"})
    assert quoted.status_code == 200
    assert "No rows match" in quoted.text


async def test_usage_records_sort_every_column_over_every_page(
    runtime: Runtime, browser: BrowserFactory
) -> None:
    admin = await browser(role="admin")
    now = datetime.now(UTC)
    async with session_scope(runtime.db) as session:
        group = await make_group(session, name="records")
        members = [
            await make_user(session, email=f"{c}@records.example.com", group_id=group.id)
            for c in ("zed", "amy", "Kim")
        ]
        models = ["claude-sonnet-4-5", "gpt-5", "claude-opus-4-1", "Gemini-2.5-pro"]
        clients = ["claude-code", "codex_cli", "gemini_cli", "other"]
        for i in range(33):
            await make_usage(
                session,
                user_id=members[i % 3].id,
                group_id=group.id,
                created_at=now - timedelta(minutes=(i * 17) % 60),
                model_requested=models[i % 4],
                client_family=clients[(i // 2) % 4],
                status=("ok", "error", "refused", "partial")[(i // 3) % 4],
                input_tokens=(i * 37) % 500,
                output_tokens=(i * 11) % 300,
                web_search_calls=i % 3,
                cost_micros=(i * 104_729) % 2_000_000,
                latency_ms=None if i % 7 == 0 else (i * 131) % 4_000,
            )
    await _check_every_sort(
        admin,
        "/console/usage",
        table="usage-records",
        prefix="u",
        row_key=r'<tr data-record-id="[^"]+" data-request-id="([^"]+)">',
        csv_key="Request id",
        sorts={
            "created_at": ("When", "when"),
            "member": ("Member", "text"),
            "model": ("Model", "text"),
            "client": ("Client", "text"),
            "status": ("Status", "text"),
            "tokens": ("Tokens in/out", "tokens"),
            "searches": ("Searches", "num"),
            "cost": ("Cost", "money"),
            "latency": ("Latency (ms)", "num"),
        },
    )
    filtered = _csv(
        (
            await admin.get(
                "/console/usage", params={"uq": "amy@records", "export": "usage-records"}
            )
        ).text
    )
    assert [r[1] for r in filtered[1:]] == ["amy@records.example.com"] * 11


async def test_users_sort_every_column_over_every_page(
    runtime: Runtime, browser: BrowserFactory
) -> None:
    admin = await browser(role="admin")
    now = datetime.now(UTC)
    async with session_scope(runtime.db) as session:
        groups = [await make_group(session, name=n) for n in ("Ops", "design", "Backend")]
        for i in range(31):
            await make_user(
                session,
                email=f"p{(i * 13) % 31:02d}@people.example.com",
                name=("Ann", "bob", "Cleo", "dan")[i % 4] + f" {i}",
                role=("member", "auditor", "billing")[i % 3],
                status=("active", "suspended")[i % 2],
                group_id=groups[i % 3].id,
                last_seen_at=None if i % 4 == 0 else now - timedelta(hours=i * 5 % 31),
            )
    await _check_every_sort(
        admin,
        "/console/users",
        table="users",
        prefix="",
        row_key=r'<tr data-user-id="[^"]+"><td><a href="/console/users/[^"]+">([^<]+)</a>',
        csv_key="Email",
        sorts={
            "email": ("Email", "text"),
            "name": ("Name", "text"),
            "role": ("Role", "text"),
            "group": ("Group", "text"),
            "status": ("Status", "text"),
            "last_seen": ("Last seen", "when"),
            "created": ("Created", "when"),
        },
    )


async def test_a_leads_member_csv_holds_only_the_groups_they_lead(
    runtime: Runtime, browser: BrowserFactory
) -> None:
    lead = await browser(role="member")
    teams = await seed_teams(runtime, lead.user)
    async with session_scope(runtime.db) as session:
        for i in range(30):
            await make_user(session, email=f"mate{i:02d}@example.com", group_id=teams.mine.id)
            await make_user(session, email=f"stranger{i:02d}@example.com", group_id=teams.other.id)
    url = f"/console/team/{OWN_GROUP}"
    page = await lead.get(url, params={"mper": PER, "mpage": 2, "msort": "-email"})
    assert page.status_code == 200
    assert "Rows 26–31 of 31" in page.text
    download = await lead.get(url, params={"msort": "email", "export": "team-members"})
    emails = [r[0] for r in _csv(download.text)[1:]]
    assert emails == sorted([teams.alice.email] + [f"mate{i:02d}@example.com" for i in range(30)])
    assert lead.user.email not in emails
    assert "stranger" not in download.text
    assert teams.bob.email not in download.text
    searched = await lead.get(url, params={"mq": "stranger", "export": "team-members"})
    assert _csv(searched.text)[1:] == []
    other = await lead.get(f"/console/team/{OTHER_GROUP}", params={"export": "team-members"})
    assert other.status_code == 403
    assert "stranger" not in other.text
    assert teams.bob.email not in other.text


async def test_groups_sort_every_column_over_every_page(
    runtime: Runtime, browser: BrowserFactory
) -> None:
    admin = await browser(role="admin")
    async with session_scope(runtime.db) as session:
        for i in range(30):
            group = await make_group(
                session,
                name=f"{('Ops', 'design', 'Backend')[i % 3]}-{(i * 11) % 30:02d}",
                description=("Keeps the lights on", "pixels", "")[i % 3],
                monthly_cap_micros=None if i % 4 == 0 else (i * 7_919) % 50 * 1_000_000,
                member_monthly_cap_micros=None if i % 5 == 0 else i * 250_000,
            )
            for j in range(i % 4):
                await make_user(session, email=f"g{i}m{j}@groups.example.com", group_id=group.id)
    await _check_every_sort(
        admin,
        "/console/groups",
        table="groups",
        prefix="",
        row_key=r'<tr data-group="([^"]+)">',
        csv_key="Group",
        sorts={
            "name": ("Group", "text"),
            "description": ("Description", "text"),
            "members": ("Members", "num"),
            "monthly_cap": ("Monthly cap", "money"),
            "member_cap": ("Per-member cap", "money"),
        },
    )
    found = _csv(
        (await admin.get("/console/groups", params={"q": "PIXELS", "export": "groups"})).text
    )
    assert len(found) - 1 == 10
    assert {r[1] for r in found[1:]} == {"pixels"}


async def test_prices_sort_as_numbers(runtime: Runtime, browser: BrowserFactory) -> None:
    admin = await browser(role="admin")
    async with session_scope(runtime.db) as session:
        for model, price in (("m-nine", "9"), ("m-ten", "10"), ("m-half", "0.5"), ("m-big", "120")):
            await usage_service.set_price(
                session, local_actor(), model=model, input=price, output=price
            )
    download = await admin.get("/console/prices", params={"sort": "-input", "export": "prices"})
    rows = _csv(download.text)
    assert rows[0][:4] == ["Model", "Account", "Source", "Input"]
    assert [r[0] for r in rows[1:]] == ["m-big", "m-ten", "m-nine", "m-half"]


async def test_a_members_usage_csv_holds_only_their_records(
    runtime: Runtime, browser: BrowserFactory
) -> None:
    member = await browser(role="member")
    async with session_scope(runtime.db) as session:
        other = await make_user(session, email="other@records.example.com")
        for i in range(30):
            await make_usage(session, user_id=member.user.id, model_requested=f"mine-{i:02d}")
            await make_usage(session, user_id=other.id, model_requested=f"theirs-{i:02d}")
    page = await member.get("/console/me/usage", params={"uper": PER, "usort": "model"})
    assert "Rows 1–25 of 30" in page.text
    download = await member.get(
        "/console/me/usage", params={"usort": "-model", "export": "usage-records"}
    )
    rows = _csv(download.text)
    assert "Member" not in rows[0]
    models = [r[rows[0].index("Model")] for r in rows[1:]]
    assert models == [f"mine-{i:02d}" for i in reversed(range(30))]
    assert "theirs" not in download.text
    searched = await member.get(
        "/console/me/usage", params={"uq": "theirs", "export": "usage-records"}
    )
    assert _csv(searched.text)[1:] == []


def test_every_sortable_column_of_a_paged_table_is_a_sort_key_of_its_service() -> None:
    """A sortable column the service does not know would silently sort by the default."""
    from spectra.audit.service import EVENT_SORTING
    from spectra.budgets.repository import EXTENSION_SORTING
    from spectra.console.pages.audit import AUDIT_EVENTS
    from spectra.console.pages.budgets import EXTENSIONS
    from spectra.console.pages.drafts import DRAFTS
    from spectra.console.pages.groups import GROUPS
    from spectra.console.pages.ledger import TRANSACTIONS
    from spectra.console.pages.team import MEMBERS
    from spectra.console.pages.usage import MY_RECORDS, RECORDS
    from spectra.console.pages.users import USERS
    from spectra.ledger.repository.reads import TRANSACTION_SORTING
    from spectra.policy.repository import DRAFT_SORTING
    from spectra.usage.repository.records import RECORD_SORTING
    from spectra.users.repository import GROUP_SORTING, USER_SORTING

    pairs = [
        (TRANSACTIONS, TRANSACTION_SORTING),
        (AUDIT_EVENTS, EVENT_SORTING),
        (USERS, USER_SORTING),
        (MEMBERS, USER_SORTING),
        (GROUPS, GROUP_SORTING),
        (RECORDS, RECORD_SORTING),
        (MY_RECORDS, RECORD_SORTING),
        (DRAFTS, DRAFT_SORTING),
        (EXTENSIONS, EXTENSION_SORTING),
    ]
    for spec, sorting in pairs:
        sortable = {c.key for c in spec.columns if c.sortable}
        assert sortable <= set(sorting.keys), (spec.id, sortable - set(sorting.keys))
        assert sorting.default.lstrip("-") in sorting.keys
