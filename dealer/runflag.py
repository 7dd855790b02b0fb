"""One running task serving a stream of work: a 'queued or running' flag, a bell, and the run loop.

Every new piece of work (an RFQ to price, a trade to decide) rings the bell and sets the flag if
it is clear; whoever set it enqueues a run. A run works batch after batch and, when nothing is
left, waits a moment for the bell before it lets go, so under a steady flow one run serves the
work as it comes, without a Celery task per item (a task costs about a millisecond on each side
and a hop through the broker). In services mode the flag is a Redis key (expiring after two
seconds unless the run keeps it up, so a lost task never blocks the stream) and the bell a
one-element Redis list the run waits on (BLPOP); in the embedded mode both live in the process.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

FLAG_MS = 2000
IDLE_SECONDS = 0.005
LINGER_SECONDS = 0.05
KEEP_FLAG_SECONDS = 0.5
RUN_SECONDS = 5.0
EMBEDDED_RUN_SECONDS = 0.2  # the embedded worker is one thread for every queue: let the others in


class RunFlag:
    def __init__(self, name: str) -> None:
        self.queued_key = f"{name}:queued"
        self.wake_key = f"{name}:wake"
        self.lock = threading.Lock()
        self.local_until = 0.0
        self.bell = threading.Event()
        self.client: Any = None

    @staticmethod
    def _services() -> bool:
        from django.conf import settings

        return bool(settings.REDIS_URL)

    def _redis(self) -> Any:
        if self.client is None:
            import redis
            from django.conf import settings

            self.client = redis.Redis.from_url(settings.REDIS_URL)
        return self.client

    def async_client(self) -> Any:
        """The asyncio Redis client of the running loop."""
        from django.conf import settings

        from dealer.events import loop_redis

        return loop_redis(settings.REDIS_URL)

    def ring(self, pipe: Any) -> Any:
        """Queue the bell's and the flag's commands on a Redis pipeline (its last reply says
        whether the flag was clear)."""
        pipe.rpush(self.wake_key, 1)
        pipe.ltrim(self.wake_key, -1, -1)
        pipe.set(self.queued_key, 1, nx=True, px=FLAG_MS)
        return pipe

    def signal(self) -> bool:
        """Ring the bell; True when the flag was clear (the caller enqueues a run)."""
        if self._services():
            return bool(self.ring(self._redis().pipeline(transaction=False)).execute()[2])
        self.bell.set()
        with self.lock:
            now = time.monotonic()
            if now < self.local_until:
                return False
            self.local_until = now + FLAG_MS / 1000
            return True

    async def asignal(self) -> bool:
        """`signal` on an event loop (services mode): an async Redis client per loop."""
        return bool((await self.ring(self.async_client().pipeline(transaction=False)).execute())[2])

    def wait(self, timeout: float, outbox: Any = None) -> bool:
        """A running run waits up to `timeout` seconds for the bell; True if it rang. The events
        held in `outbox` (an `events.Outbox`) go out first, with Redis in the same round trip."""
        if self._services():
            from dealer.events import add_publishes

            held = outbox.drain() if outbox is not None else []
            if held:
                pipe = self._redis().pipeline(transaction=False)
                if add_publishes(pipe, held):
                    pipe.blpop([self.wake_key], timeout=timeout)
                    return pipe.execute()[-1] is not None
                outbox.items[:0] = held
                outbox.flush()
            return self._redis().blpop([self.wake_key], timeout=timeout) is not None
        if outbox is not None:
            outbox.flush()
        rang = self.bell.wait(timeout)
        self.bell.clear()
        return rang

    def keep(self) -> None:
        """A run that is still busy holds the flag up for another FLAG_MS (it lapses on its own
        if the run dies, and the next piece of work enqueues a new run)."""
        if self._services():
            self._redis().set(self.queued_key, 1, px=FLAG_MS)
            return
        with self.lock:
            self.local_until = time.monotonic() + FLAG_MS / 1000

    def clear(self) -> None:
        if self._services():
            self._redis().delete(self.queued_key)
        else:
            with self.lock:
                self.local_until = 0.0


def serve(flag: RunFlag, step: Callable[[], int], *, batch_limit: int, successor: Callable[[], Any], idle: Callable[[], None] | None = None,
          chores: Callable[[], None] | None = None, chores_every: float = 0.1,
          idle_every: float = 0.1, outbox: Any = None) -> int:
    """Call `step` (one batch; returns how many it took) while work keeps coming; returns the total.

    After a batch the run waits for the bell (already ringing if work came meanwhile) and steps
    again; with no bell for LINGER_SECONDS it stops. `chores` run every `chores_every` seconds
    between batches, `idle` in a quiet moment at most every `idle_every` seconds. A run still busy
    after RUN_SECONDS (EMBEDDED_RUN_SECONDS in the embedded mode) calls `successor` (enqueues the next run) before it returns, the flag left
    up: the next run is already queued when this one is acknowledged, so a steady flow never
    waits for someone to notice that nobody is serving it. A run that stops for want of work
    clears the flag and steps once more: work stored before the clear saw the flag up and
    enqueued nothing, but was committed before this last step; work stored after it enqueues a
    new run.

    With an `outbox` (an `events.Outbox`) the steps' events are held while the run goes and sent
    with the next wait for the bell (one round trip with Redis), or before anything else the run
    does; none is left held when it returns.
    """
    from django.conf import settings

    now = time.monotonic()
    until = now + (RUN_SECONDS if settings.SERVICES_MODE else EMBEDDED_RUN_SECONDS)
    keep_at = now + KEEP_FLAG_SECONDS
    chores_at = now
    idle_at = now + idle_every
    handed_over = False
    if outbox is not None:
        outbox.open = True
    try:
        n = done = step()
        while True:
            now = time.monotonic()
            if now >= until:
                if outbox is not None:
                    outbox.flush()
                flag.keep()
                successor()
                handed_over = True
                break
            if now >= keep_at:
                flag.keep()
                keep_at = now + KEEP_FLAG_SECONDS
            if chores is not None and now >= chores_at:
                if outbox is not None:
                    outbox.flush()
                chores()
                chores_at = now + chores_every
            if n < batch_limit:
                if not flag.wait(IDLE_SECONDS, outbox):
                    if idle is not None and now >= idle_at:
                        idle()
                        idle_at = time.monotonic() + idle_every
                    if not flag.wait(LINGER_SECONDS):
                        break
            elif outbox is not None:
                outbox.flush()
            n = step()
            done += n
    finally:
        if outbox is not None:
            outbox.open = False
            outbox.flush()
        if not handed_over:
            flag.clear()
    if handed_over:
        return done
    return done + step()
