"""Second-factor tests reuse the console's signed-in browsers (and their cheap argon2)."""

from tests.console.conftest import browser, cheap_argon2, fresh_throttle

__all__ = ["browser", "cheap_argon2", "fresh_throttle"]
