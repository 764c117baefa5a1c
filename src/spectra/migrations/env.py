"""Alembic environment. The one place that imports every domain's models."""

from __future__ import annotations

import importlib
import pkgutil

from alembic import context
from sqlalchemy import Connection

import spectra
from spectra.db import models as _base_models  # noqa: F401
from spectra.db.base import Base


def _import_all_models() -> None:
    for module in pkgutil.iter_modules(spectra.__path__):
        if not module.ispkg:
            continue
        try:
            importlib.import_module(f"spectra.{module.name}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"spectra.{module.name}.models":
                raise


_import_all_models()
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through `spectra migrate` (spectra.db.migrate).")
_run(connection)
