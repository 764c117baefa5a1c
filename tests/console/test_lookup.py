"""The console looks users and groups up through the users service, so it answers unknown names
with the API's rule: a clear "no such user" to those who may read everyone, and to anyone else
the same refusal as for a name that exists."""

from __future__ import annotations

from typing import Any

UNKNOWN = "nobody-here@example.com"


async def test_an_admin_is_told_which_email_is_unknown(browser: Any) -> None:
    admin = await browser(role="admin")
    confirm = await admin.post_form(
        "/console/recharges/confirm", {"user": UNKNOWN, "amount": "5", "memo": "pilot"}
    )
    assert confirm.status_code == 200
    assert 'id="e-user"' in confirm.text
    assert f"No user has the email {UNKNOWN}" in confirm.text
    statement = await admin.get("/console/usage/statements", params={"user": UNKNOWN})
    assert statement.status_code == 404
    assert f"No user has the email {UNKNOWN}" in statement.text
    export = await admin.get("/console/usage/export", params={"user": UNKNOWN})
    assert export.status_code == 404


async def test_a_member_gets_the_same_answer_for_known_and_unknown_emails(browser: Any) -> None:
    member = await browser(role="member")
    other = await browser(role="member")
    for path, field in (
        ("/console/ledger", "user"),
        ("/console/usage/statements", "user"),
        ("/console/usage/export", "user"),
    ):
        known = await member.get(path, params={field: other.user.email})
        unknown = await member.get(path, params={field: UNKNOWN})
        assert known.status_code == unknown.status_code == 403, path
        assert known.text.replace(other.user.email, "") == unknown.text.replace(UNKNOWN, "")
