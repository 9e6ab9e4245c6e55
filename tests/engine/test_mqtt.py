"""MQTT against a real broker: events out, commands in, overflow drops the oldest."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import aiomqtt
import orjson
import pytest

from engine.bus import MessageBus
from engine.commands import CommandError, CommandRouter
from engine.config import MqttConfig
from engine.ids import StrategyId, Symbol, Venue
from engine.model import Alert, AlertSeverity, Bar
from engine.mqtt import MqttBridge
from engine.secrets import Redactor


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """TEST_MQTT_HOST[:port] when set, else a private mosquitto on a free port."""
    given = os.environ.get("TEST_MQTT_HOST")
    if given:
        host, _, port = given.partition(":")
        yield host, int(port or 1883)
        return
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto"
                                          if Path("/usr/sbin/mosquitto").exists() else None)
    if binary is None:
        pytest.skip("no MQTT broker: install mosquitto or set TEST_MQTT_HOST")
    port = _free_port()
    conf = tmp_path_factory.mktemp("mosquitto") / "m.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield "127.0.0.1", port
    proc.terminate()
    proc.wait(timeout=10)


def make_bridge(host: str, port: int, queue_size: int = 100) -> tuple[MessageBus, MqttBridge]:
    bus = MessageBus()
    commands = CommandRouter()

    def kill(args: dict[str, object], actor: str) -> object:
        if args.get("on") not in (True, False):
            raise CommandError("on: true or false")
        return {"kill_switch": args["on"], "actor": actor}

    commands.register("kill-switch", kill, "test")
    config = MqttConfig(enabled=True, host=host, port=port, queue_size=queue_size,
                        topic_prefix="te-test")
    bridge = MqttBridge(config, bus=bus, account="acct", engine_name="t", commands=commands,
                        redactor=Redactor())
    return bus, bridge


@pytest.fixture
async def running(broker: tuple[str, int]) -> AsyncIterator[tuple[MessageBus, MqttBridge]]:
    bus, bridge = make_bridge(*broker)
    task = asyncio.create_task(bridge.run())
    for _ in range(100):
        if bridge.connected:
            break
        await asyncio.sleep(0.05)
    assert bridge.connected
    yield bus, bridge
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def alert(i: int) -> Alert:
    return Alert(severity=AlertSeverity.WARNING, category="test", title=f"t{i}",
                 message="m", ts_ns=i, strategy_id=StrategyId("s"))


async def test_events_are_published(
    broker: tuple[str, int], running: tuple[MessageBus, MqttBridge]
) -> None:
    bus, _ = running
    async with aiomqtt.Client(*broker) as client:
        await client.subscribe("te-test/acct/events/#")
        await asyncio.sleep(0.2)
        bus.publish(alert(1))
        bus.publish(Bar(Venue("v"), Symbol("BTC/USDT"), "1m", 60, 1.0, 2.0, 0.5, 1.5, 3.0))
        bus.publish(Bar(Venue("v"), Symbol("BTC/USDT"), "1m", 120, 1.0, 2.0, 0.5, 1.5, 3.0,
                        closed=False))  # partial bars stay in-process
        got = []
        async with asyncio.timeout(5):
            async for message in client.messages:
                got.append((message.topic.value, orjson.loads(message.payload)))
                if len(got) == 2:
                    break
    assert got[0][0] == "te-test/acct/events/alert"
    assert got[0][1]["title"] == "t1" and got[0][1]["severity"] == "warning"
    assert got[1][0] == "te-test/acct/events/bar" and got[1][1]["close"] == 1.5


async def test_commands_are_executed_and_answered(
    broker: tuple[str, int], running: tuple[MessageBus, MqttBridge]
) -> None:
    async with aiomqtt.Client(*broker) as client:
        await client.subscribe("te-test/acct/cmd/+/reply")
        await asyncio.sleep(0.2)
        await client.publish("te-test/acct/cmd/kill-switch", b'{"on": true, "actor": "ops"}')
        await client.publish("te-test/acct/cmd/kill-switch", b'{"on": 3}')
        await client.publish("te-test/acct/cmd/nope", b"{}")
        await client.publish("te-test/acct/cmd/kill-switch", b"not json")
        replies = []
        async with asyncio.timeout(5):
            async for message in client.messages:
                replies.append(orjson.loads(message.payload))
                if len(replies) == 4:
                    break
    assert replies[0] == {"ok": True, "command": "kill-switch",
                          "result": {"kill_switch": True, "actor": "mqtt:ops"}}
    assert replies[1]["ok"] is False and "on: true or false" in replies[1]["error"]
    assert replies[2]["ok"] is False and "unknown command" in replies[2]["error"]
    assert replies[3]["ok"] is False and "not JSON" in replies[3]["error"]


def test_full_queue_drops_oldest_and_counts_without_blocking() -> None:
    bus, bridge = make_bridge("127.0.0.1", 1, queue_size=3)  # never connected
    for i in range(10):
        bus.publish(alert(i))
    assert bridge.dropped == 7
    assert bridge.status()["queue_depth"] == 3
    titles = [orjson.loads(p)["title"] for _, p in bridge._outbox]
    assert titles == ["t7", "t8", "t9"]


async def test_reconnects_when_the_broker_comes_back(tmp_path: Path) -> None:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        pytest.skip("needs a mosquitto binary to stop and start")
    port = _free_port()
    conf = tmp_path / "m.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    bus, bridge = make_bridge("127.0.0.1", port)
    task = asyncio.create_task(bridge.run())
    try:
        bus.publish(alert(1))  # queued while no broker runs
        await asyncio.sleep(0.5)
        assert not bridge.connected
        proc = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.DEVNULL)
        try:
            async with asyncio.timeout(30):
                while bridge.published < 1:
                    await asyncio.sleep(0.05)
            assert bridge.connected
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert Decimal(bridge.published) == 1
