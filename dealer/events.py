"""Publishing desk events to Channels groups from any thread or process.

With Redis (services mode) a publish is one PUBLISH from the calling thread, in the pub/sub
layer's own format, on a long-lived connection. Otherwise (the in-memory layer of the embedded
mode) every publish goes through one long-lived event loop and one sender coroutine, so messages
keep their order (a new loop per message, as `async_to_sync(group_send)` does, costs about
1.5 ms each); the sender runs on the ASGI server's own loop, registered by the consumers, because
that layer's queues belong to the loop their readers wait on.

Publish only after commit: `publish_on_commit`.
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


class _Publisher:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] | None = None
        self.pending = 0
        self.idle = threading.Event()
        self.idle.set()
        self.lock = threading.Lock()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the sender on `loop` (called from inside that loop)."""
        with self.lock:
            if self.loop is loop and not loop.is_closed():
                return
            self.loop = loop
            self.queue = asyncio.Queue()
            loop.create_task(self._drain(self.queue))

    def _ensure_own_loop(self) -> None:
        with self.lock:
            if self.loop is not None and not self.loop.is_closed() and self.loop.is_running():
                return
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                self.loop = loop
                self.queue = asyncio.Queue()
                loop.create_task(self._drain(self.queue))
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=run, name="desk-event-publisher", daemon=True).start()
            ready.wait(5)

    async def _drain(self, queue: asyncio.Queue[tuple[str, dict[str, Any]]]) -> None:
        layer = get_channel_layer()
        while True:
            group, message = await queue.get()
            try:
                if layer is not None:
                    await layer.group_send(group, message)
            except Exception:  # noqa: BLE001 - a lost push is re-synced by REST; never kill the sender
                log.exception("publishing to %s failed", group)
            finally:
                with self.lock:
                    self.pending -= 1
                    if self.pending == 0:
                        self.idle.set()

    def publish(self, group: str, message: dict[str, Any]) -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        if isinstance(layer, InMemoryChannelLayer):
            if self.loop is None or self.loop.is_closed():
                return  # no server loop in this process: nobody can be listening
        else:
            self._ensure_own_loop()
        loop, queue = self.loop, self.queue
        if loop is None or queue is None:
            return
        with self.lock:
            self.pending += 1
            self.idle.clear()
        loop.call_soon_threadsafe(queue.put_nowait, (group, message))

    def flush(self, timeout: float = 5.0) -> bool:
        return self.idle.wait(timeout)


_publisher: _Publisher | None = None


def publisher() -> _Publisher:
    global _publisher
    if _publisher is None or _publisher.pid != os.getpid():
        _publisher = _Publisher()
    return _publisher


def attach_to_running_loop() -> None:
    """Consumers call this on connect so in-memory publishing happens on the server's loop."""
    if isinstance(get_channel_layer(), InMemoryChannelLayer):
        publisher().attach(asyncio.get_running_loop())


_loop_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = weakref.WeakKeyDictionary()


def loop_redis(url: str) -> Any:
    """An asyncio Redis client for `url` on the running loop (one per loop and URL: a client
    belongs to the loop it first ran on)."""
    import redis.asyncio

    clients = _loop_clients.setdefault(asyncio.get_running_loop(), {})
    if url not in clients:
        clients[url] = redis.asyncio.Redis.from_url(url)
    return clients[url]


class _DirectRedisPublisher:
    """Services mode: PUBLISH from the calling thread on one long-lived connection, the bytes the
    Redis pub/sub layer itself would send (its serializer, its group channel
    `<prefix>__group__<group>` on its single host). A round trip of ~0.1 ms in the caller's own
    thread: no hop to the publisher thread, which a busy thread (a pricing run) starves of the GIL."""

    def __init__(self, layer: Any, host: str, prefix: str) -> None:
        import redis

        self.layer = layer
        self.prefix = prefix
        self.host = host
        self.client = redis.Redis.from_url(host)
        self.pid = os.getpid()

    def publish(self, group: str, message: dict[str, Any]) -> None:
        self.publish_many([(group, message)])

    def publish_many(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """In order, in one round trip."""
        try:
            pipe = self.client.pipeline(transaction=False)
            for group, message in messages:
                pipe.publish(f"{self.prefix}__group__{group}", self.layer.serialize(message))
            pipe.execute()
        except Exception:  # noqa: BLE001 - a lost push is re-synced by REST
            log.exception("publishing to %s failed", ", ".join(sorted({g for g, _ in messages})))


_direct: _DirectRedisPublisher | None | bool = False


def _direct_publisher() -> _DirectRedisPublisher | None:
    global _direct
    if _direct is False or (_direct is not None and _direct.pid != os.getpid()):
        from channels_redis.pubsub import RedisPubSubChannelLayer
        from django.conf import settings

        layer = get_channel_layer()
        config = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {})
        hosts = config.get("hosts", [])
        if isinstance(layer, RedisPubSubChannelLayer) and len(hosts) == 1 and isinstance(hosts[0], str):
            _direct = _DirectRedisPublisher(layer, hosts[0], config.get("prefix", "asgi"))
        else:
            _direct = None
    return _direct  # type: ignore[return-value]


def add_publishes(pipe: Any, events: list[tuple[str, dict[str, Any]]]) -> bool:
    """Queue a PUBLISH of each (group, event) on a Redis pipeline (any database of the layer's
    server: pub/sub ignores it); False where the layer is not Redis pub/sub."""
    direct = _direct_publisher()
    if direct is None:
        return False
    for group, event in events:
        pipe.publish(f"{direct.prefix}__group__{group}", direct.layer.serialize({"type": "desk.event", "event": event}))
    return True


class Outbox:
    """Events a served run (`dealer.runflag.serve`) sends with its next wait for the bell: with
    Redis the PUBLISHes and the BLPOP go in one round trip. Only while a run holds it open;
    otherwise `add` publishes at once."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []
        self.open = False

    def add(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        if self.open:
            self.items.extend(events)
        else:
            publish_many(events)

    def drain(self) -> list[tuple[str, dict[str, Any]]]:
        items, self.items = self.items, []
        return items

    def flush(self) -> None:
        if self.items:
            publish_many(self.drain())


def publish_many(events: list[tuple[str, dict[str, Any]]]) -> None:
    """`publish` each (group, event) in order; with Redis in one round trip. Call after commit."""
    direct = _direct_publisher()
    if direct is not None:
        direct.publish_many([(group, {"type": "desk.event", "event": event}) for group, event in events])
        return
    for group, event in events:
        publisher().publish(group, {"type": "desk.event", "event": event})


def publish(group: str, event: dict[str, Any]) -> None:
    """Send `event` (a dict with its own `type`, e.g. `quote`) to every member of `group`."""
    direct = _direct_publisher()
    if direct is not None:
        direct.publish(group, {"type": "desk.event", "event": event})
        return
    publisher().publish(group, {"type": "desk.event", "event": event})


async def apublish_many(events: list[tuple[str, dict[str, Any]]], *, ring: Any = None) -> bool:
    """`apublish` each (group, event) in order from the server's loop and, with `ring` (a
    `RunFlag`), ring its bell: with Redis all of it in one round trip (the intake's hot path:
    three round trips were 20 % of the web process's CPU at 200 RFQs/s). Returns whether the
    flag was clear (the caller enqueues a run). A failed push is logged, not raised."""
    direct = _direct_publisher()
    if direct is None:
        for group, event in events:
            await apublish(group, event)
        return bool(await ring.asignal()) if ring is not None else False
    # PUBLISH reaches subscribers whatever database a connection has selected: the bell's client
    # (the desk's Redis database) carries both.
    client = ring.async_client() if ring is not None else loop_redis(direct.host)
    pipe = client.pipeline(transaction=False)
    for group, event in events:
        pipe.publish(f"{direct.prefix}__group__{group}", direct.layer.serialize({"type": "desk.event", "event": event}))
    if ring is not None:
        ring.ring(pipe)
    try:
        replies = await pipe.execute()
    except Exception:  # noqa: BLE001 - the RFQ is stored; a lost push is re-synced by REST
        log.exception("publishing to %s failed", ", ".join(sorted({g for g, _ in events})))
        return bool(await ring.asignal()) if ring is not None else False
    return bool(replies[-1]) if ring is not None else False


async def apublish(group: str, event: dict[str, Any]) -> None:
    """`publish` from a coroutine on the server's own loop (services mode's channel layer is
    made for any loop): no hop to the publisher thread. A failed push is logged, not raised:
    clients re-sync over REST."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group, {"type": "desk.event", "event": event})
    except Exception:  # noqa: BLE001 - the RFQ is stored; a lost push is re-synced by REST
        log.exception("publishing to %s failed", group)


def publish_on_commit(group: str, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: publish(group, event))


def flush(timeout: float = 5.0) -> bool:
    return publisher().flush(timeout)
