"""Operator commands: one registry served by MQTT and the local HTTP endpoint alike.

A command is a name and a JSON object of arguments; its handler returns a JSON-able
result or raises :class:`CommandError` with a reason the operator reads. Every command is
logged with who sent it (``actor``) so the audit trail shows operator actions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["CommandError", "CommandResult", "CommandRouter"]

_log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], str], Any]


class CommandError(Exception):
    """A command was refused; the message says why."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The answer to a command."""

    ok: bool
    command: str
    result: Any = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        body: dict[str, Any] = {"ok": self.ok, "command": self.command}
        if self.ok:
            body["result"] = self.result
        else:
            body["error"] = self.error
        return body


class CommandRouter:
    """Maps command names to handlers."""

    def __init__(self) -> None:
        self._handlers: dict[str, tuple[Handler, str]] = {}

    def register(self, name: str, handler: Handler, doc: str) -> None:
        """Add a command; ``handler(args, actor)`` returns the result."""
        if name in self._handlers:
            raise ValueError(f"command {name!r} registered twice")
        self._handlers[name] = (handler, doc)

    def names(self) -> dict[str, str]:
        """Command names with their one-line descriptions."""
        return {name: doc for name, (_, doc) in sorted(self._handlers.items())}

    def execute(self, name: str, args: Any, actor: str) -> CommandResult:
        """Run a command; unknown names, bad arguments and refusals become error results."""
        entry = self._handlers.get(name)
        if entry is None:
            return CommandResult(False, name, error=f"unknown command {name!r}; known: "
                                 f"{', '.join(self._handlers) or 'none'}")
        if args is None:
            args = {}
        if not isinstance(args, dict):
            return CommandResult(False, name, error="arguments must be a JSON object")
        _log.info("operator command", extra={"command": name, "command_args": args, "actor": actor})
        try:
            return CommandResult(True, name, result=entry[0](args, actor))
        except CommandError as exc:
            _log.warning("command %s refused: %s", name, exc)
            return CommandResult(False, name, error=str(exc))
        except Exception as exc:
            _log.exception("command %s failed", name)
            return CommandResult(False, name, error=f"internal error: {exc.__class__.__name__}")
