"""Unit-of-work events: a lower domain publishes, a higher domain's handler runs in the same
transaction. Handlers are registered at start-up (`spectra.wiring`), so no upward import.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from spectra.db.session import Session

E = TypeVar("E")
Handler = Callable[[Session, Any], Awaitable[None]]

_handlers: dict[type[Any], list[Handler]] = defaultdict(list)


def subscribe(event_type: type[E], handler: Callable[[Session, E], Awaitable[None]]) -> None:
    """Register `handler` for `event_type` (idempotent)."""
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def clear() -> None:
    _handlers.clear()


async def publish(session: Session, event: object) -> None:
    """Run every handler of the event's type now, inside the caller's transaction.

    A handler's exception propagates, so the whole unit of work rolls back.
    """
    for handler in list(_handlers.get(type(event), ())):
        await handler(session, event)
