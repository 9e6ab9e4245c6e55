"""sd_notify messages arrive on a real unix datagram socket."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.systemd import Notifier


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    yield sock, path
    sock.close()


def test_messages_reach_the_socket(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000"})
    assert notifier.enabled
    assert notifier.watchdog_interval_s() == 2.0
    notifier.ready("running")
    notifier.status("busy")
    notifier.watchdog()
    notifier.stopping()
    received = [sock.recv(4096).decode() for _ in range(4)]
    notifier.close()
    assert received == ["READY=1\nSTATUS=running", "STATUS=busy", "WATCHDOG=1", "STOPPING=1"]


def test_abstract_namespace_socket() -> None:
    name = f"te-test-{id(object())}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(2)
    try:
        Notifier({"NOTIFY_SOCKET": "@" + name}).ready()
        assert sock.recv(100) == b"READY=1"
    finally:
        sock.close()


def test_no_socket_is_a_noop_and_watchdog_for_another_pid_is_off(tmp_path: Path) -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    notifier.ready()  # nothing to send to, nothing raised
    assert notifier.watchdog_interval_s() is None
    other_pid = Notifier({"NOTIFY_SOCKET": str(tmp_path / "x"), "WATCHDOG_USEC": "1000",
                          "WATCHDOG_PID": "1"})
    assert other_pid.watchdog_interval_s() is None


def test_vanished_socket_is_not_fatal(tmp_path: Path) -> None:
    Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}).ready()
