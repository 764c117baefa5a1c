"""Numbers for people: the console's Jinja filters for money, percentages, times and dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from spectra.console.formats import ago, day, money, money_text, percent

NOW = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)


def test_money_shows_two_decimals_and_the_exact_amount_on_hover() -> None:
    assert money(12_500_000, "USD") == "$12.50"
    assert money(123_456, "USD") == '<span class="money" title="$0.123456">$0.12</span>'
    assert money(-5_000, "EUR") == '<span class="money" title="-€0.005">-€0.01</span>'
    assert money(1_000_000, "CHF") == "1.00 CHF"
    assert money(None) == "—"
    assert money_text(123_456, "USD") == "$0.123456"


def test_money_defaults_to_the_workspace_currency() -> None:
    assert money(2_000_000).endswith("2.00")


def test_percentages() -> None:
    assert percent(42) == "42%"
    assert percent("2.5") == "2.5%"
    assert percent(33.333) == "33.3%"
    assert percent(33.333, 0) == "33%"
    assert percent(None) == "—"


def test_relative_times_keep_the_exact_time_on_hover() -> None:
    text = str(ago(NOW - timedelta(hours=3), NOW))
    assert ">3 hours ago</time>" in text
    assert 'title="2026-12-07 18:00 UTC"' in text
    assert ">just now<" in str(ago(NOW - timedelta(seconds=20), NOW))
    assert ">1 minute ago<" in str(ago(NOW - timedelta(seconds=61), NOW))
    assert ">in 2 days<" in str(ago(NOW + timedelta(days=2, hours=1), NOW))
    assert ">Oct 1<" in str(ago(datetime(2026, 10, 1, tzinfo=UTC), NOW))
    assert ago(None) == "—"


def test_dates_carry_the_year_only_when_not_this_year() -> None:
    assert ">Nov 24<" in str(day(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), NOW))
    assert ">Nov 24, 2040<" in str(day(datetime(2040, 11, 24, tzinfo=UTC), NOW))
    naive = datetime(2027, 1, 2, tzinfo=UTC).replace(tzinfo=None)  # as SQLite answers
    assert ">Jan 2, 2027<" in str(day(naive, NOW))
