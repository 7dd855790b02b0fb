"""A served run (`dealer.runflag.serve`) sends what its steps held in an outbox with its next
wait for the bell: the events leave before the next step, in order, and none stays held."""
from __future__ import annotations

import time
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.conf import settings

from dealer.events import Outbox
from dealer.runflag import RunFlag, serve

pytestmark = pytest.mark.skipif(not settings.SERVICES_MODE, reason="the outbox rides on the Redis round trip of the wait")


def _received(sub: Any, wait: float = 1.0) -> list[str]:
    layer = get_channel_layer()
    out: list[str] = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        message = sub.get_message(ignore_subscribe_messages=True, timeout=0.05)
        if message is None:
            if out:
                break
            continue
        out.append(layer.deserialize(message["data"])["event"]["type"])
    return out


def test_held_events_leave_with_the_next_wait_in_order_and_none_stays_held() -> None:
    import redis

    flag = RunFlag("test:outbox")
    flag.clear()
    outbox = Outbox()
    sub = redis.Redis.from_url(settings.REDIS_URL).pubsub()
    sub.subscribe("asgi__group__test-outbox")
    _received(sub, 0.2)
    seen_at_second_step: list[str] = []
    steps = 0

    def step() -> int:
        nonlocal steps
        steps += 1
        if steps == 1:
            outbox.add([("test-outbox", {"type": "one"}), ("test-outbox", {"type": "two"})])
            assert outbox.items, "a run holds its steps' events"
            flag.signal()  # more work: the wait returns at once
            return 2
        if steps == 2:
            seen_at_second_step.extend(_received(sub))
            outbox.add([("test-outbox", {"type": "three"})])
            return 1
        return 0

    done = serve(flag, step, batch_limit=10, successor=lambda: None, outbox=outbox)
    assert done == 3
    assert seen_at_second_step == ["one", "two"]  # sent with the wait, before the next step
    assert _received(sub) == ["three"]  # the last step's, sent before the run returned
    assert outbox.items == [] and not outbox.open
    outbox.add([("test-outbox", {"type": "four"})])  # no run holds it open: out at once
    assert _received(sub) == ["four"]
    sub.close()
