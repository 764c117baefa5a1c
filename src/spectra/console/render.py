"""Render console pages: the Jinja2 environment, filters, flash messages and redirects.

A page calls `render(request, viewer, "users/list.html", title=..., **context)`; the base layout
reads the viewer (navigation by role, the CSRF token for forms) and the one-shot flash message.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.responses import HTMLResponse, RedirectResponse, Response

from spectra import __version__
from spectra.console.deps import CSRF_FIELD, Viewer
from spectra.console.formats import FILTERS
from spectra.console.i18n import (
    HTML_LANG,
    LANGUAGE_NAMES,
    LOCALES,
    activate,
    current_locale,
    gettext,
    locale_for,
    ngettext,
)
from spectra.console.navigation import crumbs, current, navigation
from spectra.kit.money import format_amount

TEMPLATES_DIR = Path(__file__).parent / "templates"
FLASH_COOKIE = "spectra_flash"


def _amount(micros: int | None) -> str:
    return "" if micros is None else format_amount(int(micros))


def _when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(fmt) + (" UTC" if "%H" in fmt else "")


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


def _json_script(data: Any, element_id: str) -> Markup:
    """Data for page scripts: JSON in a non-executing script element (safe against `</script>`)."""
    text = json.dumps(data, default=str).replace("<", "\\u003c").replace(">", "\\u003e")
    text = text.replace("&", "\\u0026")
    return Markup(f'<script type="application/json" id="{element_id}">{text}</script>')


def _query(request: Request, **changes: Any) -> str:
    """The current URL's query string with `changes` applied (None removes a parameter)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + urlencode(params) if params else "?"


environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
    enable_async=False,
    extensions=["jinja2.ext.i18n"],
)
# New-style gettext (`_("… %(name)s", name=x)` escapes `x`); the callables read the request's
# locale from a context variable, so one environment serves every language at once.
environment.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
environment.filters.update(FILTERS)
environment.filters["amount"] = _amount
environment.filters["when"] = _when
environment.filters["iso"] = _iso
environment.globals["json_script"] = _json_script
environment.globals.update(navigation=navigation, current_nav=current, breadcrumbs=crumbs)
environment.globals["query"] = _query
environment.globals["version"] = __version__
environment.globals["csrf_field"] = CSRF_FIELD
# `tr(value)`: a label held in a variable (navigation, table columns, stored values such as a
# role), translated when the catalogue has it and never used as a format string.
environment.globals["tr"] = gettext
environment.globals["locales"] = LOCALES
environment.globals["language_names"] = LANGUAGE_NAMES
environment.globals["html_lang"] = HTML_LANG
environment.globals["current_locale"] = current_locale


def take_flash(request: Request) -> tuple[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    kind, _, message = unquote(raw).partition("|")
    if kind not in ("ok", "error") or not message:
        return None
    return kind, message


def render(
    request: Request,
    viewer: Viewer | None,
    template: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    flash = take_flash(request)
    activate(locale_for(request))
    page = environment.get_template(template).render(
        request=request, viewer=viewer, flash=flash, **context
    )
    response = HTMLResponse(page, status_code=status_code)
    response.headers["cache-control"] = "no-store"
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def set_flash(response: Response, kind: str, message: str) -> None:
    response.set_cookie(
        FLASH_COOKIE, quote(f"{kind}|{message}"), max_age=60, httponly=True, samesite="lax"
    )


def redirect(url: str, *, ok: str | None = None, error: str | None = None) -> RedirectResponse:
    """303 to `url` (after a form post), with an optional one-shot flash message."""
    response = RedirectResponse(url, status_code=303)
    if ok:
        set_flash(response, "ok", ok)
    if error:
        set_flash(response, "error", error)
    return response


def back_url(request: Request, default: str = "/console/") -> str:
    """Where a failed form returns: the page it came from when that is a console page."""
    referer = request.headers.get("referer") or ""
    host = request.headers.get("host") or ""
    for prefix in (f"http://{host}", f"https://{host}"):
        if referer.startswith(prefix):
            referer = referer[len(prefix) :]
    return referer if referer.startswith("/console") else default
