"""The read-model building blocks: `ListResource[T]` over a `Page`, the money pair (micros and
the exact display string from one source), renamed and nested attributes, report times."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from spectra.errors import InvalidAmountError
from spectra.kit.money import micros_of
from spectra.kit.pagination import ListResource, Page
from spectra.kit.schema import AmountOut, IsoTime, ReadModel, ViewRead, money_pair, renamed


class WalletRead(ReadModel):
    id: uuid.UUID
    owner: str = renamed("owner_label", "owner")
    balance: AmountOut = money_pair("balance")
    balance_micros: int
    cap: AmountOut | None = money_pair("cap")
    cap_micros: int | None
    first_note: str | None = renamed("notes.0", "first_note", default=None)


@dataclass
class Wallet:
    id: uuid.UUID
    owner_label: str
    balance_micros: int
    cap_micros: int | None
    notes: list[str]


def _wallet(balance: int = -12_345_678, cap: int | None = None) -> Wallet:
    return Wallet(uuid.uuid4(), "ana@example.com", balance, cap, ["first", "second"])


def test_a_money_pair_shows_one_micros_value_twice() -> None:
    read = WalletRead.model_validate(_wallet(cap=5_000_000))
    body = read.model_dump(mode="json")
    assert body["balance"] == "-12.345678"
    assert body["balance_micros"] == -12_345_678
    assert body["cap"] == "5.00"
    assert body["cap_micros"] == 5_000_000


def test_a_missing_amount_is_null_in_both_halves() -> None:
    body = WalletRead.model_validate(_wallet()).model_dump(mode="json")
    assert body["cap"] is None
    assert body["cap_micros"] is None


def test_renamed_and_nested_attributes_fill_their_fields() -> None:
    read = WalletRead.model_validate(_wallet())
    assert read.owner == "ana@example.com"
    assert read.first_note == "first"
    empty = _wallet()
    empty.notes = []
    assert WalletRead.model_validate(empty).first_note is None


def test_an_answer_reads_back_from_its_own_json() -> None:
    read = WalletRead.model_validate(_wallet(cap=1))
    again = WalletRead.model_validate_json(read.model_dump_json())
    assert again == read
    assert list(read.model_dump(mode="json")) == [
        "id",
        "owner",
        "balance",
        "balance_micros",
        "cap",
        "cap_micros",
        "first_note",
    ]


def test_reading_back_refuses_an_amount_that_is_not_exact_text() -> None:
    with pytest.raises(InvalidAmountError):
        micros_of("1e3")
    assert micros_of("-0.000001") == -1
    assert micros_of("4611686018427.387904") == 2**62


def test_a_list_resource_validates_a_page_as_it_is() -> None:
    page = Page(items=[_wallet(), _wallet(7)], next_cursor="abc")
    answer = ListResource[WalletRead].model_validate(page)
    body = answer.model_dump(mode="json")
    assert list(body) == ["items", "next_cursor"]
    assert body["next_cursor"] == "abc"
    assert [item["balance"] for item in body["items"]] == ["-12.345678", "0.000007"]


def test_the_last_page_has_a_null_cursor() -> None:
    answer = ListResource[WalletRead].model_validate({"items": []})
    assert answer.model_dump(mode="json") == {"items": [], "next_cursor": None}


class ViewTimes(ViewRead):
    at: IsoTime
    cost: AmountOut = money_pair("cost")
    cost_micros: int


def test_a_view_keeps_its_isoformat_times_and_refuses_unknown_keys() -> None:
    at = datetime(2026, 12, 7, 10, 0, 0, 1234, tzinfo=timezone(timedelta(hours=2)))
    view = {"at": at.isoformat(), "cost": "0.50", "cost_micros": 500_000}
    assert ViewTimes.model_validate(view).model_dump_json() == (
        '{"at":"2026-12-07T10:00:00.001234+02:00","cost":"0.50","cost_micros":500000}'
    )
    utc = ViewTimes.model_validate({**view, "at": datetime(2026, 1, 1, tzinfo=UTC)})
    assert utc.model_dump(mode="json")["at"] == "2026-01-01T00:00:00+00:00"
    with pytest.raises(ValidationError):
        ViewTimes.model_validate({**view, "extra": 1})
