"""Anchors: the chain's signed head, kept outside the database, so deleting the newest events or
rewriting the chain is caught by `verify`.

An anchor is one JSON line `{"v", "seq", "hash", "at", "legacy_until", "sig"}` appended to the
anchor log (a file in the data directory, mode 0600, never rewritten); `sig` is HMAC-SHA256 under
the server's audit-anchor subkey over the canonical JSON of the other fields. Each anchor is also
logged and handed to the registered sinks (the webhook, event `audit.anchor`); a chain found
broken when anchoring is sent to them too (event `audit.broken`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from spectra.audit.chain import canonical

log = logging.getLogger(__name__)

ANCHOR_EVENT = "audit.anchor"
BROKEN_EVENT = "audit.broken"
_VERSION = 1

Sink = Callable[[str, dict[str, Any]], Awaitable[None]]
"""Receives (event, body): `audit.anchor` with the anchor, `audit.broken` with the problem."""


@dataclass(frozen=True, slots=True)
class Anchor:
    seq: int
    """The chain's head (newest event id) when anchored."""
    hash: str
    """That event's hash."""
    at: datetime
    """When the head was anchored (UTC)."""
    legacy_until: int
    """Events 1..legacy_until were written before the chain was keyed (plain SHA-256)."""
    sig: str = ""

    def signed_fields(self) -> dict[str, Any]:
        return {
            "v": _VERSION,
            "seq": self.seq,
            "hash": self.hash,
            "at": self.at.isoformat(timespec="microseconds"),
            "legacy_until": self.legacy_until,
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.signed_fields(), "sig": self.sig}

    @property
    def label(self) -> str:
        """How a sentence names it: `the anchor of 2026-12-07 08:00`."""
        return f"the anchor of {self.at:%Y-%m-%d %H:%M} UTC"


def _signature(key: bytes, fields: dict[str, Any]) -> str:
    return hmac.new(key, canonical(fields).encode(), hashlib.sha256).hexdigest()


def sign(key: bytes, *, seq: int, hash: str, at: datetime, legacy_until: int) -> Anchor:
    unsigned = Anchor(seq=seq, hash=hash, at=at, legacy_until=legacy_until)
    return Anchor(
        seq=seq,
        hash=hash,
        at=at,
        legacy_until=legacy_until,
        sig=_signature(key, unsigned.signed_fields()),
    )


@dataclass(frozen=True, slots=True)
class AnchorRead:
    """What the anchor log holds: its valid anchors (in file order) and the lines that are not."""

    anchors: list[Anchor]
    bad_lines: list[tuple[int, str]]
    """(line number, why) for each line that does not parse or whose signature does not match."""

    @property
    def latest(self) -> Anchor | None:
        """The anchor that saw the longest chain (deletion from the end is measured against it)."""
        return latest(self.anchors)


def latest(anchors: list[Anchor]) -> Anchor | None:
    return max(anchors, key=lambda a: (a.seq, a.at)) if anchors else None


def _parse(key: bytes, line: str) -> Anchor | str:
    try:
        raw = json.loads(line)
        anchor = Anchor(
            seq=int(raw["seq"]),
            hash=str(raw["hash"]),
            at=datetime.fromisoformat(raw["at"]),
            legacy_until=int(raw["legacy_until"]),
            sig=str(raw["sig"]),
        )
    except (ValueError, KeyError, TypeError):
        return "it is not an anchor Spectra wrote"
    if raw.get("v") != _VERSION or not hmac.compare_digest(
        _signature(key, anchor.signed_fields()), anchor.sig
    ):
        return "its signature does not match this server's key: forged or altered"
    return anchor


@dataclass
class AnchorLog:
    """The append-only anchor file and where else each new anchor goes."""

    path: Path
    key: bytes
    sinks: dict[str, Sink] = field(default_factory=dict)
    _alerted: str | None = None

    def read(self) -> AnchorRead:
        """The anchors; a file that cannot be read is one bad line 0 (verify must not pass)."""
        anchors: list[Anchor] = []
        bad: list[tuple[int, str]] = []
        try:
            with self.path.open(encoding="utf-8", errors="replace") as fh:
                for number, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    parsed = _parse(self.key, line)
                    if isinstance(parsed, Anchor):
                        anchors.append(parsed)
                    else:
                        bad.append((number, parsed))
        except FileNotFoundError:
            pass
        except OSError as exc:
            bad.append((0, f"it cannot be read ({exc.strerror or exc}); run as the server's user"))
        return AnchorRead(anchors=anchors, bad_lines=bad)

    async def append(self, anchor: Anchor) -> None:
        """Append `anchor` (created 0600, fsynced), log it, and hand it to every sink. A file
        that cannot be written is logged; the log line and the sinks still get the anchor."""
        line = json.dumps(anchor.as_dict(), sort_keys=True, separators=(",", ":")) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            log.exception("cannot append the audit anchor to %s", self.path)
        log.info(
            "audit anchor: head %d hash %s at %s (signature %s)",
            anchor.seq,
            anchor.hash,
            anchor.at.isoformat(),
            anchor.sig,
        )
        self._alerted = None
        await self._notify(ANCHOR_EVENT, anchor.as_dict())

    async def alert(self, event_id: int, problem: str) -> None:
        """Report a broken chain: logged each time, sent to the sinks once per distinct problem."""
        log.error("the audit chain is broken at event %d: %s; not anchored", event_id, problem)
        if problem == self._alerted:
            return
        self._alerted = problem
        await self._notify(BROKEN_EVENT, {"event_id": event_id, "problem": problem})

    async def _notify(self, event: str, body: dict[str, Any]) -> None:
        for name, sink in list(self.sinks.items()):
            try:
                await sink(event, body)
            except Exception:
                log.exception("audit anchor sink %s failed", name)


_log: AnchorLog | None = None


def use(anchor_log: AnchorLog | None) -> None:
    """Install this process's anchor log (the audit wiring does; None in plain service use)."""
    global _log
    _log = anchor_log


def current() -> AnchorLog | None:
    return _log


def add_sink(name: str, sink: Sink) -> None:
    """Also send each new anchor, and each broken chain, to `sink` (a higher domain's channel,
    e.g. the webhook)."""
    if _log is not None:
        _log.sinks[name] = sink
