"""What a response translation needs to know about the request it answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from spectra.providers.types import WireProtocol

from .common import custom_arguments, custom_input
from .ir import ToolCall


@dataclass(frozen=True, slots=True)
class TranslationContext:
    """Made by `translate_request`; pass it to every translation of the answer."""

    client: WireProtocol
    """The protocol the caller speaks."""
    upstream: WireProtocol
    """The protocol the account speaks."""
    include_usage: bool = False
    """A chat caller asked for the final usage chunk (`stream_options.include_usage`)."""
    namespaces: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    custom_tools: frozenset[str] = frozenset()
    """Tools the caller declared as free-text (custom) tools."""
    degraded: tuple[str, ...] = ()
    """What the request translation dropped or changed, one sentence each."""
    created: int = 0
    """Unix time stamped on answers whose upstream gives none (Anthropic's)."""

    def client_tool(self, name: str) -> tuple[str | None, str, bool]:
        """(namespace, name, is_custom) of an upstream tool name as the caller declared it."""
        namespace, original = self.namespaces.get(name, (None, name))
        return namespace, original, name in self.custom_tools

    def client_call(self, call: ToolCall) -> tuple[str | None, str, bool, str]:
        """`client_tool` of a call, with its arguments (or custom input) in the caller's form."""
        namespace, name, custom = self.client_tool(call.name)
        args = call.arguments
        if custom and not call.custom:
            args = custom_input(args)
        elif call.custom and not custom:
            args = custom_arguments(args)
        return namespace, name, custom, args
