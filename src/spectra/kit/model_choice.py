"""Which models to name to a member: the best of a class first (Opus > Sonnet > Haiku, newest
version first). Claude Code asks for Opus unless told otherwise, so a member whose package holds
only Sonnet and Haiku class models needs their names: in the key's set-up snippet and in the
sentence that refuses Opus."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

TIERS = {"haiku": 1, "mini": 1, "nano": 0, "sonnet": 2, "opus": 3}
_DATE = re.compile(r"^\d{8}$")


def tier(model: str) -> int:
    """Opus 3, Sonnet 2, Haiku (and OpenAI's mini) 1, anything else 2 (a main model)."""
    parts = model.lower().split("-")
    found = [TIERS[p] for p in parts if p in TIERS]
    return found[0] if found else 2


def _version(model: str) -> tuple[int, ...]:
    return tuple(int(p) for p in model.split("-") if p.isdigit() and not _DATE.match(p))


def rank(model: str) -> tuple[int, tuple[int, ...], bool, str]:
    return (tier(model), _version(model), not model.endswith("-latest"), model)


def best(models: Iterable[str], *, top: int = 2) -> list[str]:
    """Up to `top` models to suggest: the best main model, then the best small one."""
    ordered = sorted(set(models), key=rank, reverse=True)
    main = [m for m in ordered if tier(m) >= 2]
    small = [m for m in ordered if tier(m) == 1]
    return ([*main[:1], *small[:1]] or ordered)[:top]


@dataclass(frozen=True, slots=True)
class ClaudeModels:
    """Claude Code's model variables for a member who may not use Opus."""

    main: str
    small: str

    def env(self) -> list[tuple[str, str]]:
        # ANTHROPIC_DEFAULT_*_MODEL: what Claude Code's "opus"/"sonnet"/"haiku" aliases (and its
        # /model menu) resolve to; ANTHROPIC_SMALL_FAST_MODEL: the older name of the haiku one.
        return [
            ("ANTHROPIC_MODEL", self.main),
            ("ANTHROPIC_DEFAULT_OPUS_MODEL", self.main),
            ("ANTHROPIC_DEFAULT_SONNET_MODEL", self.main),
            ("ANTHROPIC_DEFAULT_HAIKU_MODEL", self.small),
            ("ANTHROPIC_SMALL_FAST_MODEL", self.small),
        ]


def claude_models(allowed: Iterable[str]) -> ClaudeModels | None:
    """The models Claude Code should use for a member allowed `allowed`; None when Claude Code's
    own defaults are fine (an Opus class model is allowed) or no Claude model is."""
    claude = [m for m in set(allowed) if m.startswith("claude-")]
    if not claude or any(tier(m) == 3 for m in claude):
        return None
    picks = best(claude)
    return ClaudeModels(main=picks[0], small=picks[-1])
