"""The header's language switch: remembers the choice in a cookie and goes back to the page."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import RedirectResponse

from spectra.console.i18n import LANG_COOKIE, LOCALES

router = APIRouter()

ONE_YEAR = 365 * 24 * 3600


@router.get("/language/{locale}")
async def switch_language(locale: str, next: str = "/console/") -> RedirectResponse:
    """`/console/language/zh_CN?next=/console/users`: the console in that language from now on
    (an unknown language or a `next` outside the console changes nothing it should not)."""
    target = next if next.startswith("/console") and not next.startswith("//") else "/console/"
    response = RedirectResponse(target, status_code=303)
    if locale in LOCALES:
        response.set_cookie(
            LANG_COOKIE, locale, max_age=ONE_YEAR, httponly=True, samesite="lax", path="/"
        )
    return response
