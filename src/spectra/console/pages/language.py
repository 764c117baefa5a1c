"""The header's language switch: remembers the choice in a cookie and goes back to the page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse

from spectra.console.i18n import LANG_COOKIE, LOCALES
from spectra.console.render import back_url

router = APIRouter()

ONE_YEAR = 365 * 24 * 3600


@router.get("/language/{locale}")
async def switch_language(
    request: Request, locale: str, next: str | None = None
) -> RedirectResponse:
    """`/console/language/zh_CN`: the console in that language from now on, back on the page
    the switch was clicked on (the Referer, same-origin; or `next`). An unknown language
    changes nothing, and neither can send anyone outside the console."""
    if next is None:
        target = back_url(request)
    else:
        target = next if next.startswith("/console") and not next.startswith("//") else "/console/"
    response = RedirectResponse(target, status_code=303)
    if locale in LOCALES:
        response.set_cookie(
            LANG_COOKIE, locale, max_age=ONE_YEAR, httponly=True, samesite="lax", path="/"
        )
    return response
