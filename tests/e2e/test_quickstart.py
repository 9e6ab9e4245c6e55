"""The README's run command, as a user runs it: start, become ready, serve, stop clean.

Runs ``scripts/run`` (the quick start's first command) as a subprocess on a private state
directory and a free health port, with no database configured: the engine starts its own
private PostgreSQL. Then SIGTERM must make it exit 0 and leave no postgres behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def postgres_processes_for(data_dir: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and str(data_dir).encode() in cmdline and b"postgres" in cmdline:
            pids.append(int(entry.name))
    return pids


def wait_ready(proc: subprocess.Popen[str], port: int, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"engine exited early with {proc.returncode}")
        try:
            if fetch(port, "/readyz")[0] == 200:
                return time.monotonic() - start
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"/readyz not 200 within {timeout}s")


def start_engine(state: Path, port: int, log: Any, **env: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TRADEENGINE_")}
    environ.update({
        "TRADEENGINE_ENGINE__STATE_DIR": str(state),
        "TRADEENGINE_HEALTH__PORT": str(port),
        **env,
    })
    environ.pop("NOTIFY_SOCKET", None)
    return subprocess.Popen([str(REPO / "scripts" / "run")], cwd=REPO, env=environ,
                            stdout=log, stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=20)


def test_quick_start_runs_serves_and_stops_clean(tmp_path: Path) -> None:
    state = tmp_path / "state"
    port = free_port()
    log_path = tmp_path / "engine.log"
    with log_path.open("w") as log:
        proc = start_engine(state, port, log)
        try:
            first = wait_ready(proc, port, timeout=60)
            status, metrics = fetch(port, "/metrics")
            assert status == 200 and "tradeengine_loop_lag_seconds" in metrics
            status, body = fetch(port, "/status")
            assert status == 200
            summary = json.loads(body)
            assert summary["state"] == "running" and summary["database"]["embedded"] is True
            assert [s["id"] for s in summary["strategies"]["strategies"]] == ["btc_ema",
                                                                               "eth_ema"]
            assert postgres_processes_for(state), "the private PostgreSQL should be running"
        finally:
            code = stop(proc)
        assert code == 0, log_path.read_text()[-3000:]
        assert postgres_processes_for(state) == []

        # A second run reuses the cluster and is faster.
        proc = start_engine(state, port, log)
        try:
            second = wait_ready(proc, port, timeout=30)
        finally:
            code = stop(proc)
        assert code == 0, log_path.read_text()[-3000:]
        assert postgres_processes_for(state) == []
    print(f"ready after {first:.1f}s (first run), {second:.1f}s (second run)")
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert any(entry["msg"] == "engine ready" for entry in lines)


def test_crashed_run_is_recovered(tmp_path: Path) -> None:
    """SIGKILL leaves the private server running with its postmaster.pid; the next run
    adopts it (or recovers the stale pid file) instead of failing."""
    state = tmp_path / "state"
    port = free_port()
    with (tmp_path / "engine.log").open("w") as log:
        proc = start_engine(state, port, log)
        wait_ready(proc, port, timeout=60)
        proc.kill()
        proc.wait(timeout=10)
        proc = start_engine(state, port, log)
        try:
            wait_ready(proc, port, timeout=30)
        finally:
            assert stop(proc) == 0
    assert postgres_processes_for(state) == []


def test_sighup_reloads_log_level(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[engine]\nlog_level = "info"\n[marketdata]\nsource = "none"\n')
    state, port = tmp_path / "state", free_port()
    log_path = tmp_path / "engine.log"
    with log_path.open("w") as log:
        proc = start_engine(state, port, log, TRADEENGINE_CONFIG=str(config))
        try:
            wait_ready(proc, port, timeout=60)
            config.write_text('[engine]\nlog_level = "debug"\n[marketdata]\nsource = "none"\n'
                              '[health]\nhost = "127.0.0.2"\n')
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while "config reloaded" not in log_path.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            assert stop(proc) == 0
    entries = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
    reload = next(e for e in entries if "config reloaded" in e["msg"])
    assert reload["applied"] == ["engine.log_level"]
    assert reload["need_restart"] == ["health.host"]


def test_systemd_notify_ready_watchdog_and_stopping(tmp_path: Path) -> None:
    """Run as systemd would with Type=notify and WatchdogSec: READY=1 once ready,
    WATCHDOG=1 pings, STOPPING=1 on SIGTERM, all on a real datagram socket."""
    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(60)
    state, port = tmp_path / "state", free_port()
    messages: list[str] = []
    try:
        with (tmp_path / "engine.log").open("w") as log:
            environ = {k: v for k, v in os.environ.items() if not k.startswith("TRADEENGINE_")}
            environ.update({"TRADEENGINE_ENGINE__STATE_DIR": str(state),
                            "TRADEENGINE_HEALTH__PORT": str(port),
                            "TRADEENGINE_MARKETDATA__SOURCE": "none",
                            "NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "1000000"})
            environ.pop("WATCHDOG_PID", None)
            proc = subprocess.Popen(
                [str(REPO / "scripts" / "run"), "--config", str(REPO / "config" / "default.toml")],
                cwd=REPO, env=environ, stdout=log, stderr=subprocess.STDOUT, text=True)
            try:
                while not any(m.startswith("READY=1") for m in messages):
                    messages.append(sock.recv(4096).decode())
                assert fetch(port, "/readyz")[0] == 200  # READY means ready
                while messages.count("WATCHDOG=1") < 2:
                    messages.append(sock.recv(4096).decode())
            finally:
                code = stop(proc)
            sock.settimeout(5)
            while not any(m.startswith("STOPPING=1") for m in messages):
                messages.append(sock.recv(4096).decode())
    finally:
        sock.close()
    assert code == 0
    assert any(m.startswith("STATUS=") or "\nSTATUS=" in m for m in messages)
