"""Recognising a device at sign-in, pure: the long-lived device cookie (a random id with a MAC,
so a forged or altered value counts as no cookie) and the user-agent family it is paired with."""

from __future__ import annotations

import re

from spectra.db.serverkey import get_server_keys
from spectra.kit.crypto import constant_time_equal, keyed_hash, random_token

DEVICE_COOKIE = "spectra_device"
DEVICE_COOKIE_DAYS = 400
"""Browsers cap a cookie's lifetime at about 400 days; each sign-in sets it again."""
_MAC_CHARS = 32

_BROWSERS = (
    ("Edge", re.compile(r"\bEdg(e|A|iOS)?/")),
    ("Opera", re.compile(r"\bOPR/")),
    ("Firefox", re.compile(r"\b(Firefox|FxiOS)/")),
    ("Chrome", re.compile(r"\b(Chrome|CriOS|Chromium)/")),
    ("Safari", re.compile(r"\bVersion/[\d.]+.*Safari/")),
    ("curl", re.compile(r"^curl/")),
    ("python-httpx", re.compile(r"^python-httpx/")),
    ("Python", re.compile(r"^python-requests/|^Python")),
    ("spectra CLI", re.compile(r"^spectra-cli/|^spectra/")),
)
_SYSTEMS = (
    ("Android", re.compile(r"Android")),
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux|X11")),
)


def user_agent_family(user_agent: str | None) -> str:
    """`Browser on System` from a User-Agent header (versions dropped: an update is no new
    device); `Unknown browser` when nothing is recognised."""
    text = (user_agent or "").strip()[:500]
    browser = next((name for name, found in _BROWSERS if found.search(text)), None)
    system = next((name for name, found in _SYSTEMS if found.search(text)), None)
    if browser is None:
        browser = "Unknown browser" if text else "No user agent"
    return f"{browser} on {system}" if system else browser


def _mac(device_id: str) -> str:
    return keyed_hash(get_server_keys().session_key, f"device-cookie:{device_id}")[:_MAC_CHARS]


def new_device_cookie() -> tuple[str, str]:
    """A new device id and the signed cookie value that carries it."""
    device_id = random_token(24)
    return device_id, f"{device_id}.{_mac(device_id)}"


def device_id_of(cookie: str | None) -> str | None:
    """The device id in a cookie value, when its MAC is ours; else None."""
    device_id, sep, mac = (cookie or "").strip().rpartition(".")
    if not sep or not device_id or len(device_id) > 64 or not mac:
        return None
    return device_id if constant_time_equal(mac, _mac(device_id)) else None


def device_hash(user_id: object, device_id: str, family: str) -> str:
    """What is stored of a device: a keyed hash of the user, the device id and the family."""
    return keyed_hash(get_server_keys().session_key, f"device:{user_id}:{device_id}:{family}")
