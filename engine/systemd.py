"""sd_notify: tell systemd we are ready, alive, what we do, and that we are stopping.

The protocol is one datagram per message to the unix socket named by ``NOTIFY_SOCKET``
(an ``@`` prefix means the abstract namespace). Without ``NOTIFY_SOCKET`` every call is a
no-op, so the engine runs the same outside systemd.

The watchdog is only fed while the loop is healthy: :meth:`Notifier.watchdog_interval_s`
gives half of ``WATCHDOG_USEC`` and the engine pings from a task that checks loop lag
first, so a wedged loop stops the pings and systemd restarts the unit.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["Notifier"]

_log = logging.getLogger(__name__)


class Notifier:
    """Sends sd_notify messages; a no-op when not run by systemd with Type=notify."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = _socket_address(env.get("NOTIFY_SOCKET", ""))
        watchdog_usec = env.get("WATCHDOG_USEC", "")
        watchdog_pid = env.get("WATCHDOG_PID", "")
        self._watchdog_usec = 0
        if watchdog_usec.isdigit() and (not watchdog_pid or watchdog_pid == str(os.getpid())):
            self._watchdog_usec = int(watchdog_usec)
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        """True when a notify socket is configured."""
        return self._address is not None

    def watchdog_interval_s(self) -> float | None:
        """How often to send WATCHDOG=1 (half the watchdog timeout), or None when off."""
        if not self.enabled or not self._watchdog_usec:
            return None
        return self._watchdog_usec / 2 / 1_000_000

    def ready(self, status: str = "") -> None:
        """READY=1, with an optional STATUS."""
        self._send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> None:
        """STATUS=<text>, shown by ``systemctl status``."""
        self._send(f"STATUS={text}")

    def watchdog(self) -> None:
        """WATCHDOG=1."""
        self._send("WATCHDOG=1")

    def reloading(self) -> None:
        """RELOADING=1 (on SIGHUP); follow with :meth:`ready`."""
        self._send("RELOADING=1")

    def stopping(self, status: str = "") -> None:
        """STOPPING=1."""
        self._send("STOPPING=1" + (f"\nSTATUS={status}" if status else ""))

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _send(self, message: str) -> None:
        if self._address is None:
            return
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto(message.encode(), self._address)
        except OSError as exc:  # systemd gone or socket full: never fatal
            _log.warning("sd_notify failed: %s", exc)


def _socket_address(value: str) -> str | bytes | None:
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    _log.warning("ignoring NOTIFY_SOCKET=%r (not a unix socket path)", value)
    return None
