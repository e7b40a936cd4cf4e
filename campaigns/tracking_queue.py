"""The tracking queue: opens and clicks handed from the web process to a consumer in batches.

A pixel or a click is answered within a millisecond or two of Python, but recording it
(campaigns.tracking) locks the delivery row, inserts an event and recounts: several database
round trips per hit, on the same cores as the web workers. When TRACKING_QUEUE_URL names a
Redis server, the web process appends the hit to a Redis stream instead (`hit_enqueue`: one
round trip, shared by the hits of concurrent requests; the answer goes out only after XADD
returned, so an answered hit is in Redis) and `manage.py consume_events` applies them in batches
(`tracking.hits_record`: one transaction per batch, a few set-based statements).

Exactly once: every hit carries its stream id into TrackingEvent.queue_id (unique), and a batch
is acknowledged only after its transaction committed. A consumer killed before its commit
leaves its entries pending in the consumer group; any consumer claims entries idle for
TRACKING_QUEUE_CLAIM_SECONDS (XAUTOCLAIM) and applies them again, and a consumer killed between
commit and acknowledgement sees them again too: hits whose queue id is already recorded are
skipped. Acknowledged entries are deleted, so the stream holds only what is not yet recorded.

ESP webhook posts take the same way (`post_enqueue`): the web process verifies a post's
authentication and answers only after XADD; the consumer parses the raw body with the webhook
view's own parser and applies its reports with `feedback_apply_batch` (complaints.esp.posts_apply):
exactly once rests on the (source, event id) unique constraint there, and an ESP's opens and
clicks are recorded in the same transaction as their reports.

Per campaign, a sorted set holds the hits enqueued and not yet acknowledged, by the time they
came in, and one more holds the webhook posts (both sides change them in the same Lua script as
XADD and XACK, atomically): the probe's verdict waits until nothing that came in before the
hold's end is left (`pending_for`), so it never judges figures the queue has not delivered yet,
and steady traffic after the hold cannot postpone it.

One-click unsubscribes take a way of their own (complaints.services.one_click_unsubscribe_accept):
the web process suppresses the address and writes a pending row in PostgreSQL in one statement
(the answer promises that any later send skips the address, and sends read PostgreSQL), and the
consumer applies the rest each round (`drainer_register`).

Without TRACKING_QUEUE_URL (tests, the local `bin/run` stack: no Redis) hits are recorded at
once, in the request, exactly as before.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from django.conf import settings

from config.group_commit import GroupCommit

logger = logging.getLogger(__name__)

STREAM = "tracking:hits"
GROUP = "tracking"
# One sorted set per campaign: its hits enqueued and not yet acknowledged (entry id, scored by
# the hit's time); and one for the ESP webhook posts (their campaigns are known only once they
# are parsed). The verdict waits on what arrived before the hold's end (`pending_for`).
PENDING_PREFIX = "tracking:pending:"
POSTS = "posts"
ACCEPTED = "tracking:accepted"  # hits ever enqueued (the load run's "events in")
POSTS_ACCEPTED = "tracking:accepted-posts"  # webhook posts ever enqueued

OPEN = "o"
CLICK = "c"
POST = "w"  # a verified ESP webhook post, its raw body applied by the consumer

# KEYS: stream, pending set, accepted counter; ARGV: score (the entry's time), then the entry's
# fields.
_ENQUEUE = """
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
redis.call('ZADD', KEYS[2], ARGV[1], id)
redis.call('INCR', KEYS[3])
return id
"""
# KEYS: stream; ARGV: group, the pending sets' prefix, then (entry id, pending set) pairs. An
# acknowledged entry leaves its pending set (ZREM: two consumers that both applied an entry,
# one slow, not dead, take it out once all the same).
_ACKNOWLEDGE = """
local done = 0
for i = 3, #ARGV, 2 do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    redis.call('XDEL', KEYS[1], ARGV[i])
    done = done + 1
  end
  redis.call('ZREM', ARGV[2] .. ARGV[i + 1], ARGV[i])
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


@dataclass(frozen=True)
class Post:
    """An ESP's webhook post whose authentication the web process verified (config.hot_paths):
    its raw body, parsed by the consumer with the webhook view's own parser."""

    esp: str  # the webhook's URL name: amazon_ses, mailgun, postmark, sendgrid
    content_type: str
    body: str
    at: datetime
    queue_id: str | None = None

    def fields(self) -> dict[str, str]:
        return {
            "k": POST,
            "e": self.esp,
            "ct": self.content_type,
            "b": self.body,
            "t": repr(self.at.timestamp()),
        }

    @classmethod
    def from_entry(cls, queue_id: str, fields: dict[str, str]) -> Post:
        return cls(
            esp=fields["e"],
            content_type=fields.get("ct", ""),
            body=fields["b"],
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
    return _enqueue(hit.fields(), pending=str(hit.campaign_id), at=hit.at, accepted=ACCEPTED)


def post_enqueue(post: Post) -> str:
    """Append a verified webhook post to the stream and count it as pending, atomically;
    returns the entry id once Redis has it, or raises QueueUnavailable."""
    return _enqueue(post.fields(), pending=POSTS, at=post.at, accepted=POSTS_ACCEPTED)


def _enqueue(fields: dict[str, str], *, pending: str, at: datetime, accepted: str) -> str:
    flat: list[str] = []
    for name, value in fields.items():
        flat += (name, value)
    keys = (STREAM, PENDING_PREFIX + pending, accepted)
    result = _ENQUEUES.submit((keys, (repr(at.timestamp()), *flat)))
    if isinstance(result, Exception):
        raise QueueUnavailable(str(result)) from result
    return result


_Entry = tuple[tuple[str, ...], tuple[str, ...]]  # (KEYS, ARGV) of one _ENQUEUE


def _enqueue_many(entries: Sequence[_Entry]) -> list[str | Exception]:
    """Each entry's _ENQUEUE (atomic on its own), all in one round trip: the entry id, or the
    error Redis gave that entry. Raises QueueUnavailable when Redis cannot be reached."""
    import redis

    enqueue, _ = _scripts(settings.TRACKING_QUEUE_URL)
    client = connection()
    try:
        results = _evalsha_all(client, enqueue.sha, entries)
        no_script = redis.exceptions.NoScriptError
        unknown = [i for i, r in enumerate(results) if isinstance(r, no_script)]
        if unknown:
            # Redis restarted (its script cache is empty); those entries did not run.
            client.script_load(_ENQUEUE)
            again = _evalsha_all(client, enqueue.sha, [entries[i] for i in unknown])
            for index, result in zip(unknown, again, strict=True):
                results[index] = result
    except redis.RedisError as exc:
        raise QueueUnavailable(str(exc)) from exc
    return results


def _evalsha_all(client, sha: str, entries: Sequence[_Entry]) -> list:
    pipe = client.pipeline(transaction=False)
    for keys, args in entries:
        pipe.evalsha(sha, len(keys), *keys, *args)
    return pipe.execute(raise_on_error=False)


# Concurrent requests of one web process share a round trip to Redis (config.group_commit):
# the first to find nobody sending sends every entry waiting, each still answered only once
# Redis has its own. Alone, a request sends its own at once, as before; under load a round trip
# (most of a hit's CPU is the socket's) carries several.
_ENQUEUES: GroupCommit[_Entry, str | Exception] = GroupCommit(_enqueue_many, max_batch=64)


# What else the consumer applies each round, and what else a campaign's figures may still be
# missing: complaints registers its pending one-click unsubscribes (complaints.apps), which live
# in PostgreSQL, not in the stream.
_drainers: list[Callable[[], int]] = []
_pending_counters: list[Callable[[int, datetime | None], int]] = []


def drainer_register(
    drain: Callable[[], int], *, pending: Callable[[int, datetime | None], int]
) -> None:
    """Have the consumer call `drain` (which applies a batch and returns how many it handled)
    every round, and count `pending(campaign_id, before)` in `pending_for`."""
    if drain not in _drainers:
        _drainers.append(drain)
        _pending_counters.append(pending)


def _drain() -> int:
    from django.db import close_old_connections, connection

    if not _drainers:
        return 0
    if not connection.in_atomic_block:
        close_old_connections()  # one the database dropped since the last round
    return sum(drain() for drain in _drainers)


def pending_for(campaign_id: int, *, before: datetime | None = None) -> int:
    """What the campaign's figures may still be missing (0 when there is no queue): its hits
    enqueued and not yet recorded, and the webhook posts not yet applied (any of them may
    report on it). With `before`, only those that came in before it: the verdict waits for
    what arrived during the hold, never for the traffic that keeps coming after it."""
    if not queue_enabled():
        return 0
    until = "+inf" if before is None else repr(before.timestamp())
    client = connection()
    queued = sum(
        client.zcount(PENDING_PREFIX + key, "-inf", until) for key in (str(campaign_id), POSTS)
    )
    return queued + sum(count(campaign_id, before) for count in _pending_counters)


def accepted_total() -> int:
    """Hits ever enqueued on this Redis (the load run compares it with what was recorded)."""
    return int(connection().get(ACCEPTED) or 0)


def posts_accepted_total() -> int:
    """Webhook posts ever enqueued on this Redis."""
    return int(connection().get(POSTS_ACCEPTED) or 0)


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


def _pending_key(entry: Hit | Post) -> str:
    return POSTS if isinstance(entry, Post) else str(entry.campaign_id)


def _acknowledge(entries: Iterable[Hit | Post]) -> int:
    # Entries read back from the stream, each with its id (one without has nothing to ack).
    return _acknowledge_entries(
        (entry.queue_id, _pending_key(entry)) for entry in entries if entry.queue_id is not None
    )


def _acknowledge_entries(entries: Iterable[tuple[str, str]]) -> int:
    """Acknowledge and delete (queue id, pending set) entries, each leaving its pending set
    (which the verdict waits on)."""
    _, acknowledge = _scripts(settings.TRACKING_QUEUE_URL)
    args = [GROUP, PENDING_PREFIX]
    for queue_id, pending in entries:
        args += (queue_id, pending)
    if len(args) == 2:
        return 0
    return acknowledge(keys=[STREAM], args=args)


def _parse(entries) -> list[Hit | Post]:
    parsed: list[Hit | Post] = []
    for queue_id, fields in entries:
        if fields is None:  # deleted while pending (XAUTOCLAIM reports these as None)
            continue
        try:
            if fields.get("k") == POST:
                parsed.append(Post.from_entry(queue_id, fields))
            else:
                parsed.append(Hit.from_entry(queue_id, fields))
        except (KeyError, ValueError):
            logger.error("Dropping malformed tracking entry %s: %r", queue_id, fields)
            # Out of the pending set it was counted in, or a verdict waits forever.
            pending = POSTS if fields.get("k") == POST else str(fields.get("c", "0"))
            _acknowledge_entries([(queue_id, pending)])
    return parsed


# Who applies queued ESP webhook posts: complaints (complaints.apps registers
# complaints.esp.posts_apply when Django starts). Campaigns sits below complaints in the layers,
# so the queue carries the posts without knowing what they mean.
_posts_applier: Callable[[list[Post]], object] | None = None


def posts_applier_register(applier: Callable[[list[Post]], object]) -> None:
    """Make `applier` the one that applies queued webhook posts (called once, at start-up)."""
    global _posts_applier
    _posts_applier = applier


def batch_apply(entries: list[Hit | Post]) -> int:
    """Record a batch and then acknowledge it; returns the entries handled. Hits are recorded
    in one transaction (those already recorded by an earlier attempt are skipped, but
    acknowledged); webhook posts are parsed and their reports applied in batches
    (the registered applier, complaints.esp.posts_apply: each report once, whatever attempt
    applied it first)."""
    from django.db import close_old_connections, connection

    from campaigns import tracking

    if not entries:
        return 0
    if not connection.in_atomic_block:
        close_old_connections()  # one the database dropped since the last batch
    hits = [entry for entry in entries if isinstance(entry, Hit)]
    posts = [entry for entry in entries if isinstance(entry, Post)]
    tracking.hits_record(hits)
    if posts:
        if _posts_applier is None:
            # Left pending, not acknowledged: a consumer with the applier claims them later.
            raise RuntimeError("no webhook post applier registered (complaints not installed?)")
        _posts_applier(posts)
    _acknowledge(entries)
    return len(entries)


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
        parsed = _parse(claimed)
        if parsed:
            batch_apply(parsed)
            handled += len(parsed)
        if cursor == "0-0" or not claimed:
            break
    response = client.xreadgroup(
        GROUP, consumer, {STREAM: ">"}, count=batch_size, block=block_ms or None
    )
    for _stream, entries in response or []:
        parsed = _parse(entries)
        batch_apply(parsed)
        handled += len(parsed)
    return handled + _drain()


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
