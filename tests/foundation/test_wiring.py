"""The explicit wiring tables leave no module out: a route, page, command or hook module that is
on disk but not listed would silently never be mounted."""

from __future__ import annotations

import pkgutil
from pathlib import Path
from types import ModuleType

import spectra
from spectra import wiring
from spectra.api import router as api_router
from spectra.api import routes
from spectra.cli import commands
from spectra.cli import main as cli_main
from spectra.console import pages
from spectra.console import router as console_router


def _names(package: ModuleType) -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__))


def _listed(modules: tuple[ModuleType, ...]) -> list[str]:
    return [m.__name__.rsplit(".", 1)[-1] for m in modules]


def test_every_api_route_module_is_mounted() -> None:
    assert sorted(_listed(api_router.ROUTES)) == _names(routes)


def test_every_console_page_module_is_mounted() -> None:
    assert sorted(_listed(console_router.PAGES)) == _names(pages)


def test_every_cli_command_module_is_registered() -> None:
    assert sorted(_listed(cli_main.COMMANDS)) == _names(commands)


def test_every_domain_hook_is_wired() -> None:
    root = Path(spectra.__file__).parent
    installs = sorted(p.parent.name for p in root.glob("*/wiring.py"))
    handlers = sorted(p.parent.name for p in root.glob("*/handlers.py"))
    assert sorted(m.__name__.split(".")[1] for m in wiring.INSTALLS) == installs
    surfaces = {"api", "console"}  # their handlers.py render errors; not unit-of-work handlers
    assert sorted(m.__name__.split(".")[1] for m in wiring.HANDLERS) == sorted(
        set(handlers) - surfaces
    )
