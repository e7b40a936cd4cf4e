"""The tracking queue: opens and clicks handed from the web process to a consumer in batches.

A pixel or a click is answered within a millisecond or two of Python, but recording it
(campaigns.tracking) locks the delivery row, inserts an event and recounts: several database
round trips per hit, on the same cores as the web workers. When TRACKING_QUEUE_URL names a
Redis server, the web process appends the hit to a Redis stream instead (`hit_enqueue`: one
round trip; the answer goes out only after XADD returned, so an answered hit is in Redis) and
`manage.py consume_events` applies them in batches (`tracking.hits_record`: one transaction per
batch, a few set-based statements).

Exactly once: every hit carries its stream id into TrackingEvent.queue_id (unique), and a batch
is acknowledged only after its transaction committed. A consumer killed before its commit
leaves its entries pending in the consumer group; any consumer claims entries idle for
TRACKING_QUEUE_CLAIM_SECONDS (XAUTOCLAIM) and applies them again, and a consumer killed between
commit and acknowledgement sees them again too: hits whose queue id is already recorded are
skipped. Acknowledged entries are deleted, so the stream holds only what is not yet recorded.

Per campaign, a hash counts the hits enqueued and not yet acknowledged (both sides change it in
the same Lua script as XADD and XACK, atomically): the probe's verdict waits until it is zero
(`pending_for`), so it never judges figures the queue has not delivered yet.

Without TRACKING_QUEUE_URL (tests, the local `bin/run` stack: no Redis) hits are recorded at
once, in the request, exactly as before.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from django.conf import settings

logger = logging.getLogger(__name__)

STREAM = "tracking:hits"
GROUP = "tracking"
PENDING = "tracking:pending"  # campaign id -> hits enqueued and not yet acknowledged
ACCEPTED = "tracking:accepted"  # hits ever enqueued (the load run's "events in")

OPEN = "o"
CLICK = "c"

# KEYS: stream, pending hash, accepted counter; ARGV: campaign id, then the entry's fields.
_ENQUEUE = """
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('INCR', KEYS[3])
return id
"""
# KEYS: stream, pending hash; ARGV: group, then (entry id, campaign id) pairs. An entry counts
# down its campaign only when this XACK acknowledged it: two consumers that both applied an
# entry (one was slow, not dead) count it once.
_ACKNOWLEDGE = """
local done = 0
for i = 2, #ARGV, 2 do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    redis.call('XDEL', KEYS[1], ARGV[i])
    if redis.call('HINCRBY', KEYS[2], ARGV[i + 1], -1) <= 0 then
      redis.call('HDEL', KEYS[2], ARGV[i + 1])
    end
    done = done + 1
  end
end
return done
"""


class QueueUnavailable(Exception):
    """Redis did not take the hit (down, unreachable, refusing writes)."""


@dataclass(frozen=True)
class Hit:
    """One pixel fetch or click, as the request showed it."""

    kind: str  # OPEN or CLICK
    campaign_id: int
    subscriber_id: int
    user_agent: str
    method: str
    ip: str
    at: datetime
    link_index: int | None = None
    queue_id: str | None = None

    def fields(self) -> dict[str, str]:
        return {
            "k": self.kind,
            "c": str(self.campaign_id),
            "s": str(self.subscriber_id),
            "l": "" if self.link_index is None else str(self.link_index),
            "ua": self.user_agent,
            "m": self.method,
            "ip": self.ip,
            "t": repr(self.at.timestamp()),
        }

    @classmethod
    def from_entry(cls, queue_id: str, fields: dict[str, str]) -> Hit:
        return cls(
            kind=fields["k"],
            campaign_id=int(fields["c"]),
            subscriber_id=int(fields["s"]),
            link_index=int(fields["l"]) if fields.get("l") else None,
            user_agent=fields.get("ua", ""),
            method=fields.get("m", "GET"),
            ip=fields.get("ip", ""),
            at=datetime.fromtimestamp(float(fields["t"]), UTC),
            queue_id=queue_id,
        )


def queue_enabled() -> bool:
    """Whether hits go through the Redis stream (TRACKING_QUEUE_URL set) or are recorded at once."""
    return bool(settings.TRACKING_QUEUE_URL)


@cache
def _redis(url: str):
    import redis

    # decode_responses: stream fields come back as str. The pool is per process (redis-py
    # notices a fork and opens new connections in the child).
    # Timeouts: a Redis that does not answer must not hold a pixel for long (the hit is then
    # recorded at once); the consumer's blocking read waits at most a second, under them.
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        health_check_interval=30,
        socket_connect_timeout=2,
        socket_timeout=5,
    )


def connection():
    """The Redis client of TRACKING_QUEUE_URL (one per process)."""
    return _redis(settings.TRACKING_QUEUE_URL)


@cache
def _scripts(url: str):
    client = _redis(url)
    return client.register_script(_ENQUEUE), client.register_script(_ACKNOWLEDGE)


def hit_enqueue(hit: Hit) -> str:
    """Append a hit to the stream and count it as pending for its campaign, atomically; returns
    the entry id once Redis has it, or raises QueueUnavailable."""
    import redis

    enqueue, _ = _scripts(settings.TRACKING_QUEUE_URL)
    flat: list[str] = []
    for name, value in hit.fields().items():
        flat += (name, value)
    try:
        return enqueue(keys=[STREAM, PENDING, ACCEPTED], args=[str(hit.campaign_id), *flat])
    except redis.RedisError as exc:
        raise QueueUnavailable(str(exc)) from exc


def pending_for(campaign_id: int) -> int:
    """Hits of the campaign enqueued and not yet recorded (0 when there is no queue)."""
    if not queue_enabled():
        return 0
    return int(connection().hget(PENDING, str(campaign_id)) or 0)


def accepted_total() -> int:
    """Hits ever enqueued on this Redis (the load run compares it with what was recorded)."""
    return int(connection().get(ACCEPTED) or 0)


def ensure_group() -> None:
    """Create the stream and its consumer group if missing (idempotent)."""
    import redis

    try:
        connection().xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def consumer_name() -> str:
    """This process's name in the consumer group (host and pid: a restarted consumer is a new
    one, and claims what the old one left by idle time)."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _acknowledge(hits: Iterable[Hit]) -> int:
    return _acknowledge_entries((hit.queue_id, str(hit.campaign_id)) for hit in hits)


def _acknowledge_entries(entries: Iterable[tuple[str, str]]) -> int:
    """Acknowledge and delete (queue id, campaign id) entries, each lowering its campaign's
    pending count (which the verdict waits on)."""
    _, acknowledge = _scripts(settings.TRACKING_QUEUE_URL)
    args = [GROUP]
    for queue_id, campaign_id in entries:
        args += (queue_id, campaign_id)
    if len(args) == 1:
        return 0
    return acknowledge(keys=[STREAM, PENDING], args=args)


def _parse(entries) -> list[Hit]:
    hits = []
    for queue_id, fields in entries:
        if fields is None:  # deleted while pending (XAUTOCLAIM reports these as None)
            continue
        try:
            hits.append(Hit.from_entry(queue_id, fields))
        except (KeyError, ValueError):
            logger.error("Dropping malformed tracking entry %s: %r", queue_id, fields)
            # Under the campaign it was counted for, or that campaign's verdict waits forever.
            _acknowledge_entries([(queue_id, str(fields.get("c", "0")))])
    return hits


def batch_apply(hits: list[Hit]) -> int:
    """Record a batch (one transaction) and then acknowledge it; returns the hits recorded
    (those already recorded by an earlier attempt are skipped, but acknowledged)."""
    from django.db import close_old_connections, connection

    from campaigns import tracking

    if not hits:
        return 0
    if not connection.in_atomic_block:
        close_old_connections()  # one the database dropped since the last batch
    recorded = tracking.hits_record(hits)
    _acknowledge(hits)
    return recorded


def consume_once(*, consumer: str, batch_size: int, block_ms: int) -> int:
    """Claim what dead consumers left (idle over TRACKING_QUEUE_CLAIM_SECONDS), then read new
    entries (waiting up to `block_ms`), and apply each batch. Returns the hits handled."""
    client = connection()
    handled = 0
    idle_ms = int(settings.TRACKING_QUEUE_CLAIM_SECONDS * 1000)
    cursor = "0-0"
    while True:
        cursor, claimed, *_ = client.xautoclaim(
            STREAM, GROUP, consumer, min_idle_time=idle_ms, start_id=cursor, count=batch_size
        )
        hits = _parse(claimed)
        if hits:
            batch_apply(hits)
            handled += len(hits)
        if cursor == "0-0" or not claimed:
            break
    response = client.xreadgroup(
        GROUP, consumer, {STREAM: ">"}, count=batch_size, block=block_ms or None
    )
    for _stream, entries in response or []:
        hits = _parse(entries)
        batch_apply(hits)
        handled += len(hits)
    return handled


def consume(
    *,
    batch_size: int = 500,
    block_ms: int = 1000,
    stop: threading.Event | None = None,
    until_empty: bool = False,
) -> int:
    """Apply the stream's hits until `stop` is set (or, with `until_empty`, until a read finds
    nothing). Returns the hits handled."""
    ensure_group()
    consumer = consumer_name()
    total = 0
    stop = stop or threading.Event()
    linger = settings.TRACKING_QUEUE_LINGER_SECONDS
    while not stop.is_set():
        handled = consume_once(consumer=consumer, batch_size=batch_size, block_ms=block_ms)
        total += handled
        if until_empty:
            if not handled:
                break
        elif 0 < handled < batch_size and linger:
            # A short batch: let the next one fill a little. Each batch costs a transaction and
            # a few statements whatever its size, so at a thousand hits a second a 0.2 s wait
            # makes batches of a few hundred, and the counters stay well under a second behind.
            stop.wait(linger)
    return total
