"""The console's languages: English (the source strings) and Simplified Chinese (Babel catalogue).

The request's locale is chosen once per console request (`use_locale`, a router dependency, and
`render` again from the request): the `spectra_lang` cookie the header's language switch sets,
else the browser's Accept-Language (zh, zh-CN, zh-Hans… → zh_CN), else English. It lives in a
context variable, so templates (`_()` / `{% trans %}` through jinja2.ext.i18n), navigation labels,
page titles and flash messages all read the same one without passing it around.

Catalogues: `locale/messages.pot` (extracted by `make messages`, see GUIDE.md) and
`locale/zh_CN/LC_MESSAGES/messages.po`, compiled in memory with Babel the first time a locale is
used (no binary .mo in the tree; a fuzzy or empty entry stays English).

API error sentences and the CLI stay English: the console shows a service error's sentence as the
service wrote it unless the page maps its code (`error_sentence`).
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from functools import cache
from gettext import GNUTranslations, NullTranslations
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from fastapi import Request

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT = "en"
LOCALES = ("en", "zh_CN")
LANG_COOKIE = "spectra_lang"
# The language switch's names, each in its own language (with the `lang` attribute to match).
LANGUAGE_NAMES = {"en": "English", "zh_CN": "简体中文"}
HTML_LANG = {"en": "en", "zh_CN": "zh-CN"}

_current: ContextVar[str] = ContextVar("spectra_console_locale", default=DEFAULT)


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue of `locale` (English: the source strings as they are)."""
    path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT or not path.exists():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return GNUTranslations(buffer)


@cache
def babel_locale(locale: str) -> Locale:
    return Locale.parse(locale)


def _from_accept_language(header: str) -> str | None:
    """The first supported language of an Accept-Language header, by quality then order."""
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            choices.append((-quality, index, tag.strip().lower().replace("_", "-")))
    for _quality, _index, tag in sorted(choices):
        if tag == "zh" or tag.startswith(("zh-cn", "zh-hans", "zh-sg")):
            return "zh_CN"
        if tag == "en" or tag.startswith("en-") or tag == "*":
            return "en"
    return None


def locale_for(request: Request) -> str:
    """The locale the request asks for: the language switch's cookie, else Accept-Language."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LOCALES:
        return chosen
    return _from_accept_language(request.headers.get("accept-language") or "") or DEFAULT


def activate(locale: str) -> None:
    _current.set(locale if locale in LOCALES else DEFAULT)


async def use_locale(request: Request) -> None:
    """Router dependency: the request's locale for everything the page writes."""
    activate(locale_for(request))


def current_locale() -> str:
    return _current.get()


def gettext(message: str) -> str:
    # "" would answer the catalogue's header: an empty label stays empty.
    return translations(_current.get()).gettext(message) if message else message


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def _(message: str, **values: object) -> str:
    """The message in the request's language, `%(name)s` placeholders filled from `values`."""
    text = gettext(message)
    return text % values if values else text


def n_(singular: str, plural: str, n: int, **values: object) -> str:
    """Singular or plural by `n` in the request's language; `%(num)s` is `n`."""
    return ngettext(singular, plural, n) % {"num": n, **values}


def N_(message: str) -> str:  # noqa: N802 (the gettext convention Babel extracts)
    """Marks a string for extraction that is translated later (navigation labels, tables)."""
    return message


# Stored values the console shows as words (roles, states, ledger kinds): in the catalogue so
# `_(value)` in a template (the state badge, select options, the role badge) translates them.
VALUE_LABELS = (
    N_("owner"),
    N_("admin"),
    N_("billing"),
    N_("auditor"),
    N_("member"),
    N_("active"),
    N_("invited"),
    N_("suspended"),
    N_("removed"),
    N_("disabled"),
    N_("cooling"),
    N_("failing"),
    N_("pending"),
    N_("approved"),
    N_("rejected"),
    N_("expired"),
    N_("unused"),
    N_("redeemed"),
    N_("revoked"),
    N_("recharge"),
    N_("redeem"),
    N_("usage"),
    N_("refund"),
    N_("adjustment"),
    N_("transfer"),
    N_("grant"),
    N_("expire"),
    N_("reversal"),
    N_("draft"),
    N_("published"),
    N_("discarded"),
    N_("running"),
    N_("paused"),
    N_("completed"),
    N_("rolled back"),
    N_("soft"),
    N_("hard"),
    N_("monthly"),
    N_("weekly"),
    N_("daily"),
    N_("none"),
    N_("partial"),
    N_("error"),
    N_("refused"),
    N_("archived"),
    N_("scheduled"),
    N_("cancelled"),
    N_("ended"),
    N_("created"),
    N_("degraded"),
    N_("healthy"),
    N_("system"),
    N_("funding"),
    N_("gateway"),
    N_("credit"),
    N_("debit"),
    N_("added"),
    N_("group"),
    N_("user"),
    N_("model"),
    N_("client"),
    N_("account"),
    N_("key"),
    N_("project"),
)
