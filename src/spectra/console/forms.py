"""Form helpers: read a posted form as plain strings, parse amounts and numbers with the field's
name, and turn a pydantic ValidationError or a SpectraError into per-field messages."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from spectra.console.deps import CSRF_FIELD
from spectra.errors import InvalidError, SpectraError
from spectra.kit.money import Micros, parse_amount

_WHOLE = re.compile(r"-?[0-9]{1,18}")


class Form:
    """A posted form: `form["email"]` is the stripped text ('' when absent)."""

    def __init__(self, data: dict[str, str], lists: dict[str, list[str]]) -> None:
        self.data = data
        self.lists = lists

    @classmethod
    async def read(cls, request: Request) -> Form:
        raw = await request.form()
        data: dict[str, str] = {}
        lists: dict[str, list[str]] = {}
        for key, value in raw.multi_items():
            if key == CSRF_FIELD or not isinstance(value, str):
                continue
            lists.setdefault(key, []).append(value)
            data[key] = value.strip() if key not in ("password", "new_password") else value
        return cls(data, lists)

    def __getitem__(self, name: str) -> str:
        return self.data.get(name, "")

    def get(self, name: str) -> str | None:
        value = self.data.get(name, "").strip()
        return value or None

    def flag(self, name: str) -> bool:
        return self.data.get(name, "") in ("on", "true", "1", "yes")

    def all(self, name: str) -> list[str]:
        return [v.strip() for v in self.lists.get(name, []) if v.strip()]

    def words(self, name: str) -> list[str]:
        """A comma- or newline-separated list."""
        text = self.data.get(name, "").replace("\n", ",")
        return [part.strip() for part in text.split(",") if part.strip()]

    def amount(self, name: str, *, label: str | None = None, allow_zero: bool = False) -> Micros:
        """The amount in micros; a refusal names the form field (`details["field"]`)."""
        try:
            return parse_amount(
                self.data.get(name, "") or "", allow_zero=allow_zero, field=label or name
            )
        except SpectraError as exc:
            exc.details["field"] = name
            raise

    def optional_amount(self, name: str, *, label: str | None = None) -> Micros | None:
        if not self.data.get(name, "").strip():
            return None
        return self.amount(name, label=label, allow_zero=True)

    def optional_int(self, name: str, *, label: str | None = None) -> int | None:
        text = self.data.get(name, "").strip()
        if not text:
            return None
        if _WHOLE.fullmatch(text) is None:
            # ASCII digits only, and few enough to stay well inside a 64-bit column: Python's
            # int() also takes "1_000", other scripts' digits and 10**30, which no column holds.
            raise InvalidError(
                f"{label or name} must be a whole number of at most 18 digits.", field=name
            )
        return int(text)

    def integer(self, name: str, default: int, *, label: str | None = None) -> int:
        value = self.optional_int(name, label=label)
        return default if value is None else value


def field_errors(exc: Exception, *, default_field: str = "_form") -> dict[str, str]:
    """Per-field messages: from a pydantic ValidationError, or a SpectraError (its `field`)."""
    if isinstance(exc, ValidationError):
        errors: dict[str, str] = {}
        for error in exc.errors():
            loc = error.get("loc") or (default_field,)
            name = str(loc[0])
            message = str(error.get("msg", "is not valid"))
            errors.setdefault(name, message.removeprefix("Value error, "))
        return errors
    if isinstance(exc, SpectraError):
        field = exc.details.get("field")
        return {str(field) if field else default_field: exc.message}
    raise exc


def problems(exc: Exception) -> str:
    """Every field's message on one line ("chain: ...; model: ..."), for a flash message."""
    return "; ".join(f"{k}: {v}" for k, v in field_errors(exc).items())


def as_dict(form: Form) -> dict[str, Any]:
    return dict(form.data)
