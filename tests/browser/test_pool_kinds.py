"""The pool's add form in a real browser, one account of each cloud kind: choosing the provider
shows that kind's credential and settings fields only; the server checks them with the same
schema and service function as the API and CLI (a bad region is refused in the form, no secret
echoed back); the account page shows the settings, and its edit form changes the region."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Locator, Page, expect
from sqlalchemy import select
from tests.fakes.clouds import service_account_info

from spectra.db.session import read_scope
from spectra.pool.models import PoolAccount

from .conftest import OWNER_EMAIL, Site, sign_in

NewPage = Callable[..., Awaitable[Page]]

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYBROWSERKEY"
ENTRA_SECRET = "Entra~Browser~Secret~0123456789"
GEMINI_KEY = "AIza-browser-gemini-key-0001"


async def _add(page: Page, provider: str, name: str, fields: dict[str, str]) -> None:
    await page.goto("/console/pool")
    form = page.locator("#add-account-form")
    await form.get_by_label("Provider").select_option(provider)
    for label, value in fields.items():
        await form.get_by_label(label, exact=True).fill(value)
    await form.get_by_label("Name", exact=True).fill(name)
    await page.locator("#add-account").click()


async def _accounts(site: Site) -> dict[str, PoolAccount]:
    async with read_scope(site.runtime.db) as session:
        rows = (await session.execute(select(PoolAccount))).scalars().all()
    return {row.name: row for row in rows}


def _visible(form: Locator, label: str) -> Locator:
    return form.get_by_label(label, exact=True)


async def test_one_account_of_each_cloud_kind_through_the_console(
    site: Site, new_page: NewPage, tmp_path: Path
) -> None:
    info, _ = service_account_info("https://oauth2.googleapis.com/token", project="acme-ai")
    key_file = tmp_path / "spectra-vertex.json"
    key_file.write_text(json.dumps(info))
    admin = await new_page()
    await sign_in(admin, OWNER_EMAIL)

    # The provider decides which fields show.
    await admin.goto("/console/pool")
    form = admin.locator("#add-account-form")
    await form.get_by_label("Provider").select_option("bedrock")
    await expect(_visible(form, "Access key id")).to_be_visible()
    await expect(_visible(form, "Region")).to_be_visible()
    await expect(_visible(form, "API key")).to_be_hidden()
    await expect(_visible(form, "Project")).to_be_hidden()
    await form.get_by_label("Provider").select_option("vertex")
    await expect(_visible(form, "Key file (JSON)")).to_be_visible()
    await expect(_visible(form, "Project")).to_be_visible()
    await expect(_visible(form, "Access key id")).to_be_hidden()
    await form.get_by_label("Provider").select_option("azure_openai")
    await expect(_visible(form, "API key")).to_be_visible()
    await expect(_visible(form, "Client id")).to_be_visible()
    await expect(_visible(form, "API version")).to_be_visible()
    await expect(_visible(form, "Region")).to_be_hidden()

    # A refusal from the service's own rules, shown in the form, the secret not echoed.
    await _add(
        admin,
        "bedrock",
        "bedrock-bad",
        {
            "Access key id": "AKIAIOSFODNN7BROWSR1",
            "Secret access key": AWS_SECRET,
            "Region": "mars-north-9",
            "Models": "claude-*",
        },
    )
    await expect(admin.locator("#add-account-form")).to_contain_text("is not a bedrock region")
    assert AWS_SECRET not in await admin.content()

    await _add(
        admin,
        "bedrock",
        "bedrock-us",
        {
            "Access key id": "AKIAIOSFODNN7BROWSR1",
            "Secret access key": AWS_SECRET,
            "Region": "us-west-2",
            "Models": "claude-*",
        },
    )
    await expect(admin.locator("#account-settings")).to_contain_text("region us-west-2")
    await expect(admin.locator("#account-provider")).to_contain_text(
        "bedrock · https://bedrock-runtime.us-west-2.amazonaws.com"
    )

    await admin.goto("/console/pool")
    form = admin.locator("#add-account-form")
    await form.get_by_label("Provider").select_option("vertex")
    await form.get_by_label("Key file (JSON)").set_input_files(str(key_file))
    await form.get_by_label("Region", exact=True).fill("us-east5")
    await form.get_by_label("Models").fill("claude-*, gemini-*")
    await form.get_by_label("Name", exact=True).fill("vertex-us")
    await admin.locator("#add-account").click()
    await expect(admin.locator("#account-settings")).to_contain_text("project acme-ai")
    await expect(admin.locator("#account-settings")).to_contain_text("region us-east5")

    await _add(
        admin,
        "azure_openai",
        "azure-entra",
        {
            "Tenant id": "contoso.onmicrosoft.com",
            "Client id": "0b6c5a3e-1d2f-4e5a-9b8c-7d6e5f4a3b21",
            "Client secret": ENTRA_SECRET,
            "Base URL": "https://acme-east.openai.azure.com",
            "API version": "2024-10-21",
            "Models": "gpt5-prod",
            "Aliases": "gpt-5=gpt5-prod",
        },
    )
    await expect(admin.locator("#account-settings")).to_contain_text("api version 2024-10-21")

    await _add(admin, "gemini", "gemini-studio", {"API key": GEMINI_KEY, "Models": "gemini-*"})
    await expect(admin.locator("#account-provider")).to_contain_text(
        "gemini · https://generativelanguage.googleapis.com"
    )

    # The edit form changes the region; the kind's own endpoint follows it.
    accounts = await _accounts(site)
    await admin.goto(f"/console/pool/{accounts['bedrock-us'].id}")
    await admin.locator("summary", has_text="Edit the account").click()
    edit = admin.locator("#edit-account-form")
    await edit.get_by_label("Region", exact=True).fill("eu-central-1")
    await admin.locator("#save-account").click()
    await expect(admin.locator("#account-settings")).to_contain_text("region eu-central-1")
    await expect(admin.locator("#account-provider")).to_contain_text(
        "https://bedrock-runtime.eu-central-1.amazonaws.com"
    )

    accounts = await _accounts(site)
    assert {name: (a.provider, a.settings) for name, a in accounts.items()} == {
        "bedrock-us": ("bedrock", {"region": "eu-central-1"}),
        "vertex-us": ("vertex", {"region": "us-east5", "project": "acme-ai"}),
        "azure-entra": ("azure_openai", {"api_version": "2024-10-21"}),
        "gemini-studio": ("gemini", {}),
    }
    assert accounts["azure-entra"].aliases == {"gpt-5": "gpt5-prod"}
    assert accounts["vertex-us"].models == ["claude-*", "gemini-*"]
    last4 = [accounts[n].credential_last4 for n in ("bedrock-us", "azure-entra", "gemini-studio")]
    assert last4 == ["WSR1", "3b21", "0001"]
    assert accounts["vertex-us"].credential_last4 == str(info["private_key_id"])[-4:]
    for account in accounts.values():
        for secret in (AWS_SECRET, ENTRA_SECRET, GEMINI_KEY, str(info["private_key"])):
            assert secret not in account.credential_ciphertext
