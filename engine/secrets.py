"""Secrets: values that must never reach a log line, a repr or an HTTP answer.

A :class:`Secret` holds the value and shows ``'***'`` everywhere except through
:meth:`Secret.reveal`. :func:`redact_url` hides the password of a URL and keeps the rest,
so an operator still sees which host a DSN points at. :class:`Redactor` scrubs every known
secret out of text that leaves the process (log records, /status), a second line of
defence for a value that escaped its wrapper (e.g. inside an exception message).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = ["REDACTED", "Redactor", "Secret", "read_credential", "redact_url"]

REDACTED = "***"


class Secret:
    """A secret string. ``str()``, ``repr()`` and formatting all give ``***``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself: call only where it is handed to the library that needs it."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})" if self._value else "Secret('')"

    def __str__(self) -> str:
        return REDACTED if self._value else ""

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


def redact_url(url: str) -> str:
    """``postgresql://u:pw@h/db`` -> ``postgresql://u:***@h/db``; other text unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{userinfo}:{REDACTED}@{netloc[1]}"))


def url_password(url: str) -> str | None:
    """The password inside a URL, if any."""
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def read_credential(name: str) -> str | None:
    """Read a systemd credential (``LoadCredential=``) by name, if the unit passed one."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return None
    path = Path(directory) / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None


class Redactor:
    """Replaces every registered secret value in a text with ``***``."""

    MIN_LENGTH = 4  # shorter values would scrub ordinary words

    def __init__(self) -> None:
        self._values: tuple[str, ...] = ()

    def register(self, *values: str | Secret | None) -> None:
        """Add values to scrub (longest first, so a value inside another goes too)."""
        known = set(self._values)
        for value in values:
            text = value.reveal() if isinstance(value, Secret) else value
            if text and len(text) >= self.MIN_LENGTH:
                known.add(text)
                password = url_password(text)
                if password and len(password) >= self.MIN_LENGTH:
                    known.add(password)
        self._values = tuple(sorted(known, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        return text
