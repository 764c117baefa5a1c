"""`ListQuery`: how a surface asks a service for one sorted, filtered page of a list (the
console's tables), and `EXPORT_CAP`, the most rows one export of such a list holds."""

from __future__ import annotations

from dataclasses import dataclass

EXPORT_CAP = 10_000
"""The most rows a table's CSV holds; past it the export says it was cut and how to narrow it."""


@dataclass(frozen=True, slots=True)
class ListQuery:
    """One view of a list: `sort` names one of the list's declared sort keys (an unknown name
    falls back to the list's default order, so a URL can never reach SQL), `q` is text that
    any of the list's searchable columns must contain (case-insensitive), and `offset`/`limit`
    select the page. `limit` above the service's own bound is clamped by the query helper."""

    sort: str = ""
    descending: bool = False
    q: str = ""
    offset: int = 0
    limit: int = 50

    @classmethod
    def everything(
        cls, sort: str = "", descending: bool = False, q: str = "", *, cap: int = EXPORT_CAP
    ) -> ListQuery:
        """The whole filtered, sorted set up to `cap` rows, plus one to tell it was cut."""
        return cls(sort=sort, descending=descending, q=q, offset=0, limit=cap + 1)
