"""MQTT: the engine's events out, operator commands in (aiomqtt).

Topics, with ``P = <mqtt.topic_prefix>/<engine.account>``:

- ``P/online``: retained ``true`` while connected; the broker publishes the retained will
  ``false`` when the engine vanishes.
- ``P/events/<kind>``: one JSON object per event; kinds ``order``, ``fill``, ``position``,
  ``alert``, ``signal``, ``prediction``, ``bar`` (closed bars only), plus whatever
  :meth:`MqttBridge.publish_json` is given.
- ``P/cmd/<name>``: a command (JSON object of arguments, optionally ``"actor"``); the answer
  goes to ``P/cmd/<name>/reply``. Who may publish there is the broker's ACL's business.

Outbound events wait in a bounded deque between the bus (synchronous) and the publisher
task. When it is full the OLDEST event is dropped and counted
(``tradeengine_mqtt_dropped_total``): monitoring wants the freshest picture, and MQTT is
not the system of record (PostgreSQL is). The bus is never blocked.

Connection loss: reconnect with capped exponential backoff and full jitter; events keep
queueing (and dropping when full) meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable
from typing import Any

import aiomqtt
import msgspec
import orjson

from engine.bus import MessageBus
from engine.commands import CommandRouter
from engine.config import MqttConfig
from engine.events import OrderEvent, OrderFilled, PositionChanged
from engine.metrics import MetricsBuilder
from engine.model import RECORD_TYPES, Alert, Bar, Prediction, Signal
from engine.secrets import Redactor
from engine.service import Service

__all__ = ["MqttBridge", "event_json"]

_log = logging.getLogger(__name__)

BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 30.0


def _default(obj: Any) -> Any:
    if isinstance(obj, RECORD_TYPES):  # orders, fills, bars
        return obj.to_dict()
    if isinstance(obj, msgspec.Struct):  # events, positions, ticks, quotes
        return msgspec.structs.asdict(obj)
    return str(obj)  # Decimal, UUID


def event_json(obj: Any) -> bytes:
    """Serialise an event: dataclasses and enums natively, Decimal and UUID as strings."""
    return orjson.dumps(obj, default=_default, option=orjson.OPT_PASSTHROUGH_SUBCLASS)


class MqttBridge(Service):
    """Publishes bus events to the broker and routes incoming commands."""

    name = "mqtt"

    def __init__(
        self,
        config: MqttConfig,
        *,
        bus: MessageBus,
        account: str,
        engine_name: str,
        commands: CommandRouter,
        redactor: Redactor,
    ) -> None:
        self._config = config
        self._commands = commands
        self._redact = redactor
        self.prefix = f"{config.topic_prefix}/{account}"
        self._client_id = config.client_id or f"{engine_name}-{account}"
        self._outbox: deque[tuple[str, bytes]] = deque(maxlen=config.queue_size)
        self._wakeup = asyncio.Event()
        self.connected = False
        self.published = 0
        self.dropped = 0
        self.commands_received = 0
        self.connects = 0
        self.last_error: str | None = None
        self._subscribe(bus)

    def _subscribe(self, bus: MessageBus) -> None:
        bus.subscribe(OrderEvent, self._on_order_event)
        bus.subscribe(PositionChanged, self._topic_handler("position"))
        bus.subscribe(Alert, self._topic_handler("alert"))
        bus.subscribe(Signal, self._topic_handler("signal"))
        bus.subscribe(Prediction, self._topic_handler("prediction"))
        bus.subscribe(Bar, self._on_bar)

    def _topic_handler(self, kind: str) -> Callable[[Any], None]:
        def handler(event: Any) -> None:
            self.publish_json(kind, event)

        handler.__qualname__ = f"MqttBridge.{kind}"
        return handler

    def _on_order_event(self, event: OrderEvent) -> None:
        body = {"kind": event.kind, "seq": event.seq, "ts_ns": event.ts_ns, "order": event.order}
        self.publish_json("order", body)
        if isinstance(event, OrderFilled):
            self.publish_json("fill", event.fill)

    def _on_bar(self, bar: Bar) -> None:
        if bar.closed:
            self.publish_json("bar", bar)

    def publish_json(self, kind: str, obj: Any) -> None:
        """Queue ``obj`` for ``P/events/<kind>``; never blocks, drops the oldest when full."""
        if len(self._outbox) == self._outbox.maxlen:
            self.dropped += 1
        self._outbox.append((f"{self.prefix}/events/{kind}", event_json(obj)))
        self._wakeup.set()

    async def run(self) -> None:
        """Connect, publish, listen; reconnect on failure (a TaskGroup task)."""
        attempt = 0
        while True:
            try:
                await self._session()
                attempt = 0
            except aiomqtt.MqttError as exc:
                self.last_error = self._redact(str(exc))
                if self.connected or attempt == 0:
                    _log.warning("MQTT connection lost or refused: %s", self.last_error)
            self.connected = False
            delay = random.uniform(0, min(BACKOFF_MAX_S, BACKOFF_INITIAL_S * 2**attempt))
            attempt += 1
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        will = aiomqtt.Will(f"{self.prefix}/online", b"false", qos=1, retain=True)
        client = aiomqtt.Client(
            self._config.host,
            self._config.port,
            username=self._config.username or None,
            password=self._config.password.reveal() or None,
            identifier=self._client_id,
            keepalive=self._config.keepalive_s,
            will=will,
            timeout=10,
            tls_params=aiomqtt.TLSParameters() if self._config.tls else None,
            max_queued_incoming_messages=1000,
        )
        try:
            await self._serve(client)
        finally:
            _retrieve_disconnect_error(client)

    async def _serve(self, client: aiomqtt.Client) -> None:
        async with client:
            self.connected = True
            self.connects += 1
            self.last_error = None
            _log.info("MQTT connected", extra={"host": self._config.host,
                                               "port": self._config.port})
            await client.publish(f"{self.prefix}/online", b"true", qos=1, retain=True, timeout=10)
            await client.subscribe(f"{self.prefix}/cmd/+", qos=1, timeout=10)
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._publish_loop(client))
                tg.create_task(self._command_loop(client))

    async def _publish_loop(self, client: aiomqtt.Client) -> None:
        while True:
            if not self._outbox:
                self._wakeup.clear()
                await self._wakeup.wait()
            topic, payload = self._outbox[0]
            await client.publish(topic, payload, qos=0, timeout=10)
            self._outbox.popleft()  # only once the broker took it
            self.published += 1

    async def _command_loop(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = message.topic.value
            name = topic.rsplit("/", 1)[-1]
            self.commands_received += 1
            try:
                raw = message.payload if isinstance(message.payload, bytes | str) else b"{}"
                args = orjson.loads(raw or b"{}")
            except orjson.JSONDecodeError:
                reply: dict[str, Any] = {"ok": False, "command": name,
                                         "error": "payload is not JSON"}
            else:
                actor = "mqtt"
                if isinstance(args, dict):
                    actor = f"mqtt:{args.pop('actor', 'unknown')}"
                reply = self._commands.execute(name, args, actor).to_dict()
            body = self._redact(orjson.dumps(reply, default=_default).decode())
            await client.publish(f"{topic}/reply", body.encode(), qos=1, timeout=10)

    async def stop(self) -> None:
        """Nothing to flush by force: what is queued is best effort by design."""

    def status(self) -> dict[str, Any]:
        """/status section."""
        return {
            "enabled": True,
            "connected": self.connected,
            "broker": f"{self._config.host}:{self._config.port}",
            "queue_depth": len(self._outbox),
            "published": self.published,
            "dropped": self.dropped,
            "commands_received": self.commands_received,
            "last_error": self.last_error,
        }

    def metrics(self, out: MetricsBuilder) -> None:
        """/metrics samples."""
        out.gauge("queue_depth", "Items waiting in a queue", len(self._outbox), {"queue": "mqtt"})
        out.gauge("mqtt_connected", "1 while connected to the broker", float(self.connected))
        out.counter("mqtt_published", "Events published to MQTT", self.published)
        out.counter("mqtt_dropped", "Events dropped because the MQTT queue was full",
                    self.dropped)
        out.counter("mqtt_commands", "Commands received over MQTT", self.commands_received)


def _retrieve_disconnect_error(client: aiomqtt.Client) -> None:
    """Mark an unexpected disconnection's error as seen. aiomqtt (2.5) keeps it in a
    future that its ``__aexit__`` leaves unread when the connection was already lost, and
    asyncio then prints "Future exception was never retrieved" at shutdown; the error
    itself has reached :meth:`MqttBridge.run` through the failing call."""
    future = getattr(client, "_disconnected", None)
    if isinstance(future, asyncio.Future) and future.done() and not future.cancelled():
        future.exception()
