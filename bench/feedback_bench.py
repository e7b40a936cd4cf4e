"""How fast reports about sent mail are applied, against plain SQL doing the least the same
reports must write; and how long an unsubscribe takes to suppress.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cm_feedback_bench \\
        .venv/bin/python bench/feedback_bench.py [--reports 20000] [--batch 500]
        [--arf-complaints 2000] [--redis-url redis://HOST:PORT/DB] [--consumers 1] [--profile]

The database named in DATABASE_URL is dropped and created again. One account, one list and two
sent campaigns to the same subscribers: the first receives the reports through
`feedback_apply_batch`, in batches of --batch as the ESP webhooks and process_feedback call it;
the second receives the same reports from the ceiling (batch after batch, ours then the ceiling's,
so that both meet the same noise), plain SQL in one transaction per batch doing the minimal
equivalent writes (one INSERT ... ON CONFLICT DO NOTHING of the events, one
UPDATE of the deliveries' timestamps), with no matching, locking, subscriber, consent,
suppression or webhook work. Scenarios, each on its own subscribers:

- hard bounces: --reports, one per message (each ends a subscription, suppresses the address
  for the account and platform-wide, writes a consent record);
- duplicates: the same hard bounces posted again (an ESP retrying): nothing may change;
- complaints: --reports, one per message;
- mixed storm: --reports over a third as many messages: delivered, soft and hard bounces,
  blocks, complaints, unsubscribes, some delivered after their bounce (out of order), some the
  same event twice, some the same complaint through a second channel; shuffled;
- webhook posts: --reports real-format ESP posts, one event each as Mailgun and Postmark send
  them (bench/load_run.py's `_mailgun` and `_postmark`: half each; hard bounces and complaints,
  each for a message of its own), first checked to pass the webhook's own verification
  (`verified_post_reports`, as the hot front checks them), then put on the tracking queue's
  Redis stream (`post_enqueue`) and drained in this process with `consume_once` (batches of
  TRACKING_QUEUE_BATCH entries: anymail's parser, then `feedback_apply_batch`) until it is
  empty. Beside it, batch after batch: the same reports, parsed before the clock starts, of as
  many other messages through `feedback_apply_batch` directly (what the drain adds is parsing
  and Redis), and the plain-SQL ceiling. Every report must be applied exactly once, nothing
  dead-lettered, the stream and its pending set empty; then the same posts are queued and
  drained again (an ESP retrying each): nothing new may be applied. With --consumers N, N
  consumers of the group drain the stream together (threads of this process, each with its own
  connection and consumer name, as N consume_events processes would), and the direct and
  ceiling batches come after the drain;
- mailbox: --reports RFC 3464 DSN hard bounces (a Postfix bounce of our VERP return path with
  the message's headers, tests/complaints/data) and --arf-complaints ARF complaints (Yahoo's
  feedback loop), each for a message of its own, shuffled into a Maildir and read by one
  `mailbox_process` (what `manage.py process_feedback` and beat's read_feedback_mailbox run).
  Right after it (one call cannot be cut into batches): parsing alone (`parse_report`) and
  `feedback_apply_batch` on the same reports of as many other messages, and the plain-SQL
  ceiling. Each report applied once, every message moved to cur/ and marked seen, and a second
  read finds nothing unread;
- one by one: --one-by-one hard bounces through `feedback_apply` (a batch of one, one
  transaction each), the path every report took before batches;

then --unsubscribes RFC 8058 one-click POSTs to /u/<token>/ through Django's full request stack:
round trip and the recorded time from request to suppression; then --front-unsubscribes through
what the hot front does when the tracking queue's consumer runs (complaints.services.
one_click_unsubscribe_accept: the address suppressed and the rest queued, one write), and the
consumer's drain of them (one_clicks_pending_apply), each rate printed. After each scenario the
campaign's counters (what the campaign page, the verdict and the stats API read) are checked
against what was applied, right after the last batch commits.

The tracking queue is the Redis database of --redis-url (default: database 14 of
CELERY_BROKER_URL's Redis server, else of 127.0.0.1:6379), flushed by the bench. --profile runs
the drain and the mailbox read under cProfile and prints where their time goes (their rates are
then cProfile's, slower; the mailbox read's parsing processes are not profiled, their CPU is
counted apart). The consumer logs the reports already applied at INFO, a line a batch, as in
production (LOG_LEVEL): those lines go to stderr, the figures to stdout. Run it from this
checkout's directory: Celery puts the working directory first on sys.path, so run from another
checkout it measures that checkout's apps.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import os
import pstats
import random
import re
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cm_feedback_bench"


def prepare_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def seed(recipients: int):
    """(our campaign, the ceiling's campaign, subscriber ids, {subscriber id: (our delivery id,
    the ceiling's delivery id)})."""
    from django.utils import timezone

    from accounts.models import Account
    from campaigns.models import Campaign, Delivery
    from lists.models import MailingList, Subscriber

    account = Account.objects.create(
        company_name="Bench Ltd", contact_name="B", phone="1", postal_address="1 Bench Rd, Leeds"
    )
    mailing_list = MailingList.objects.create(account=account, name="Bench", purpose="News")
    campaigns = []
    for name in ("Bench", "Ceiling"):
        campaign = Campaign.objects.create(
            account=account,
            name=name,
            subject="News",
            from_name="Bench",
            from_email="news@news.bench.example",
            html_body="<p>Hi</p>",
            status="sent",
        )
        campaign.lists.set([mailing_list])
        campaigns.append(campaign)
    now = timezone.now() - timedelta(days=1)
    subscribers = Subscriber.objects.bulk_create(
        (
            Subscriber(
                mailing_list=mailing_list,
                email=f"r{n}@example.org",
                status="subscribed",
                subscribed_at=now,
            )
            for n in range(recipients)
        ),
        batch_size=5000,
    )
    ids = [s.pk for s in subscribers]
    deliveries: dict[int, list[int]] = {sid: [] for sid in ids}
    for campaign in campaigns:
        for start in range(0, len(ids), 5000):
            rows = Delivery.objects.bulk_create(
                Delivery(
                    campaign=campaign,
                    subscriber_id=sid,
                    email=f"r{sid}@example.org",
                    provider="other",
                    status="sent",
                    sent_at=now,
                    provider_message_id=f"{campaign.pk}-{sid}",
                )
                for sid in ids[start : start + 5000]
            )
            for row in rows:
                deliveries[row.subscriber_id].append(row.pk)
    return campaigns[0], campaigns[1], ids, deliveries


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Report:
    """One report of a scenario, for both paths: (subscriber, kind, event id, source, when)."""

    __slots__ = ("subscriber_id", "kind", "event_id", "source", "occurred_at")

    def __init__(self, subscriber_id, kind, event_id, source, occurred_at):
        self.subscriber_id = subscriber_id
        self.kind = kind
        self.event_id = event_id
        self.source = source
        self.occurred_at = occurred_at


def one_kind(ids: list[int], kind: str, source: str, now) -> list[Report]:
    return [Report(sid, kind, f"{kind}-{sid}", source, now) for sid in ids]


def mixed_storm(ids: list[int], count: int, now, rng: random.Random) -> list[Report]:
    """About `count` reports over `ids`: what a day of ESP webhooks and a feedback mailbox bring
    (see the module docstring)."""
    reports: list[Report] = []
    weights = [
        ("delivered", 0.55),
        ("soft_bounce", 0.12),
        ("hard_bounce", 0.08),
        ("blocked", 0.05),
        ("complained", 0.05),
        ("unsubscribed", 0.05),
    ]
    kinds, shares = zip(*weights, strict=True)
    while len(reports) < count:
        sid = rng.choice(ids)
        kind = rng.choices(kinds, shares)[0]
        at = now - timedelta(minutes=rng.uniform(0, 600))
        report = Report(sid, kind, f"m{len(reports)}", "sendgrid", at)
        reports.append(report)
        roll = rng.random()
        if roll < 0.08:  # the ESP retried its post
            reports.append(report)
        elif roll < 0.12 and kind in ("complained", "unsubscribed", "hard_bounce"):
            # The same message reported again through another channel (a feedback loop).
            reports.append(Report(sid, kind, f"m{len(reports)}-fbl", "arf", at))
        elif roll < 0.16 and kind == "hard_bounce":
            # The "delivered" of a bounced message, arriving after the bounce.
            reports.append(Report(sid, "delivered", f"m{len(reports)}-late", "sendgrid", at))
    rng.shuffle(reports)
    return reports[:count]


def ours(reports: list[Report], campaign_id: int) -> list:
    from campaigns.tokens import MessageTokens
    from complaints.services import Feedback

    refs: dict[int, str] = {}
    feedback = []
    for r in reports:
        if r.subscriber_id not in refs:
            tokens = MessageTokens(campaign_id=campaign_id, subscriber_id=r.subscriber_id)
            refs[r.subscriber_id] = tokens.message_ref()
        feedback.append(
            Feedback(
                source=r.source,
                event_id=r.event_id,
                kind=r.kind,
                message_ref=refs[r.subscriber_id],
                recipient=f"r{r.subscriber_id}@example.org",
                occurred_at=r.occurred_at,
                code="5.1.1" if r.kind == "hard_bounce" else "",
            )
        )
    return feedback


def run_scenario(
    reports: list[Report], campaign, ceiling_campaign, deliveries: dict, batch: int
) -> tuple[float, float, Counter]:
    """(our seconds, the ceiling's seconds, our outcomes): batch after batch, ours then the
    ceiling's on the same reports, so that both meet the same noise of a shared machine."""
    feedback = ours(reports, campaign.pk)
    outcomes: Counter = Counter()
    ours_seconds = ceiling_seconds = 0.0
    for start in range(0, len(reports), batch):
        ours_seconds += apply_counted(feedback[start : start + batch], outcomes)
        ceiling_seconds += run_ceiling(reports[start : start + batch], ceiling_campaign, deliveries)
    return ours_seconds, ceiling_seconds, outcomes


def apply_counted(feedback: list, outcomes: Counter) -> float:
    """Seconds feedback_apply_batch took on `feedback` (one batch); its outcomes are counted in
    `outcomes`."""
    from complaints.services import feedback_apply_batch

    started = time.perf_counter()
    for event in feedback_apply_batch(feedback):
        outcomes[event.outcome if event is not None else "already applied"] += 1
    return time.perf_counter() - started


_CEILING_EVENTS = """
INSERT INTO {events} (source, event_id, kind, outcome, account_id, campaign_id, delivery_id,
    is_probe, recipient, code, detail, comment, occurred_at, received_at)
SELECT u.source, u.event_id, u.kind, 'applied', %s, %s, u.delivery_id, false, u.recipient,
    u.code, '', '', u.occurred_at, now()
FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[], %s::text[],
    %s::timestamptz[]) AS u(source, event_id, kind, delivery_id, recipient, code, occurred_at)
ON CONFLICT (source, event_id) DO NOTHING
"""
_CEILING_DELIVERIES = """
UPDATE {deliveries} AS d SET
    delivered_at = COALESCE(d.delivered_at, v.delivered_at),
    soft_bounced_at = COALESCE(d.soft_bounced_at, v.soft_bounced_at),
    hard_bounced_at = COALESCE(d.hard_bounced_at, v.hard_bounced_at),
    blocked_at = COALESCE(d.blocked_at, v.blocked_at),
    complained_at = COALESCE(d.complained_at, v.complained_at),
    unsubscribed_at = COALESCE(d.unsubscribed_at, v.unsubscribed_at)
FROM (
    SELECT id,
        min(at) FILTER (WHERE kind = 'delivered') AS delivered_at,
        min(at) FILTER (WHERE kind = 'soft_bounce') AS soft_bounced_at,
        min(at) FILTER (WHERE kind = 'hard_bounce') AS hard_bounced_at,
        min(at) FILTER (WHERE kind = 'blocked') AS blocked_at,
        min(at) FILTER (WHERE kind = 'complained') AS complained_at,
        min(at) FILTER (WHERE kind = 'unsubscribed') AS unsubscribed_at
    FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[]) AS u(id, kind, at)
    GROUP BY id
) AS v
WHERE d.id = v.id
"""


def run_ceiling(part: list[Report], campaign, deliveries: dict[int, list[int]]) -> float:
    """One batch of the same reports, to the ceiling's campaign, as the least SQL that records
    them: one transaction, two statements."""
    from django.db import connection, transaction

    from campaigns.models import Delivery
    from complaints.models import FeedbackEvent

    events_sql = _CEILING_EVENTS.format(events=FeedbackEvent._meta.db_table)
    deliveries_sql = _CEILING_DELIVERIES.format(deliveries=Delivery._meta.db_table)
    started = time.perf_counter()
    delivery_ids = [deliveries[r.subscriber_id][1] for r in part]
    kinds = [r.kind for r in part]
    times = [r.occurred_at for r in part]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            events_sql,
            [
                campaign.account_id,
                campaign.pk,
                [r.source for r in part],
                [f"ceiling-{r.event_id}" for r in part],
                kinds,
                delivery_ids,
                [f"r{r.subscriber_id}@example.org" for r in part],
                ["5.1.1" if r.kind == "hard_bounce" else "" for r in part],
                times,
            ],
        )
        cursor.execute(deliveries_sql, [delivery_ids, kinds, times])
    return time.perf_counter() - started


def check_counters(campaign, expected: Counter) -> str:
    """What the campaign page, the verdict and the stats API read, right after the commits."""
    from campaigns.selectors import delivery_figures

    figures = delivery_figures(campaign=campaign, probe_only=False)
    found = {
        "hard_bounce": figures.hard_bounces,
        "complained": figures.complaints,
        "unsubscribed": figures.unsubscribes,
        "blocked": figures.blocks,
    }
    wrong = {k: (found[k], expected[k]) for k in found if found[k] != expected[k]}
    if wrong:
        return f"counters WRONG (found, expected): {wrong}"
    return "counters up to date: " + ", ".join(f"{k} {v:,}" for k, v in found.items())


def messages_with(reports: list[Report]) -> Counter:
    """How many messages got at least one report of each kind (what the counters count)."""
    seen = {(r.subscriber_id, r.kind) for r in reports}
    return Counter(kind for _, kind in seen)


class Clock:
    """Seconds spent in the timed blocks, and our CPU seconds in them (what a shared machine's
    load changes least; PostgreSQL's and Redis's CPU is not in it): this process's, and
    `children_cpu_seconds`, that of the worker processes they started and ended (the mailbox
    read's parsing processes); with --profile, a cProfile of this process too."""

    def __init__(self, profile: bool):
        self.seconds = self.cpu_seconds = self.children_cpu_seconds = 0.0
        self.profiler = cProfile.Profile() if profile else None

    @contextmanager
    def running(self):
        if self.profiler is not None:
            self.profiler.enable()
        started, cpu_started = time.perf_counter(), time.process_time()
        children_started = _children_cpu()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - started
            self.cpu_seconds += time.process_time() - cpu_started
            self.children_cpu_seconds += _children_cpu() - children_started
            if self.profiler is not None:
                self.profiler.disable()

    def print_profile(self, title: str) -> None:
        if self.profiler is None:
            return
        out = io.StringIO()
        stats = pstats.Stats(self.profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(35)
        stats.sort_stats("tottime").print_stats(20)
        print(f"--- cProfile of {title} ---")
        print(out.getvalue())


def _children_cpu() -> float:
    """CPU seconds of this process's ended (waited-for) children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ceiling_batches(reports: list[Report], campaign, deliveries: dict, batch: int) -> float:
    return sum(
        run_ceiling(reports[start : start + batch], campaign, deliveries)
        for start in range(0, len(reports), batch)
    )


def applied_once(delivery_ids: list[int], expected: int) -> str:
    """Whether each of these deliveries has exactly one FeedbackEvent, applied, and nothing was
    dead-lettered (a failed report is swallowed there, not raised)."""
    from django.db.models import Count

    from complaints.models import FeedbackDeadLetter, FeedbackEvent

    events = FeedbackEvent.objects.filter(delivery_id__in=delivery_ids)
    outcomes = Counter(events.values_list("outcome", flat=True))
    twice = events.values("delivery_id").annotate(n=Count("id")).filter(n__gt=1).count()
    dead = FeedbackDeadLetter.objects.count()
    ok = outcomes == Counter({"applied": expected}) and not twice and not dead
    return (
        f"{'each applied once' if ok else 'NOT APPLIED ONCE'}: events "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items()))
        + f"; messages with more than one {twice:,}; dead letters {dead:,}"
    )


def esp_posts(ids: list[int], campaign_id: int, *, serial_from: int, now) -> tuple[list, list]:
    """(tracking-queue Posts, their Reports): one event per post, as Mailgun and Postmark post
    them (bench/load_run.py's builders, signed as the views verify), half each; hard bounces
    and complaints, one message each."""
    import load_run  # bench/load_run.py, on the path as this script's directory

    from campaigns.tokens import MessageTokens
    from campaigns.tracking_queue import Post

    posts, reports = [], []
    for index, sid in enumerate(ids):
        serial = serial_from + index + 1
        event = "bounced" if index % 4 < 2 else "complained"
        tokens = MessageTokens(campaign_id=campaign_id, subscriber_id=sid)
        email = f"r{sid}@example.org"
        if index % 2:
            esp, body = "mailgun", load_run._mailgun(event, tokens, email, serial)
        else:
            esp, body = "postmark", load_run._postmark(event, tokens, email, serial)
        posts.append(Post(esp=esp, content_type="application/json", body=body.decode(), at=now))
        kind = "hard_bounce" if event == "bounced" else "complained"
        reports.append(Report(sid, kind, f"hook-{serial}", esp, now))
    return posts, reports


def verified(post) -> bool:
    """Whether the webhook's own checks pass the post (basic auth, Mailgun's HMAC and
    timestamp, a body that parses), as the hot front checks it before queueing."""
    import load_run

    from complaints.webhook_views import post_request, verified_post_reports

    auth = "Basic " + base64.b64encode(load_run.WEBHOOK_AUTH.encode()).decode()
    request = post_request(post, HTTP_AUTHORIZATION=auth)
    return bool(verified_post_reports(post.esp, request))


def drain_posts(
    posts, reports, direct, ceiling_campaign, deliveries, batch, clock: Clock, consumers: int = 1
):
    """Queue `posts` (post_enqueue), then drain the stream with consume_once until it is empty;
    after each batch the consumer read, the same number of `direct` reports through
    feedback_apply_batch and of `reports` through the plain-SQL ceiling; with several
    `consumers`, they drain it together first, and the direct and ceiling batches follow.
    (enqueue seconds, drain seconds, direct seconds, ceiling seconds, direct outcomes)."""
    from django.conf import settings

    from campaigns import tracking_queue

    started = time.perf_counter()
    for post in posts:
        tracking_queue.post_enqueue(post)
    enqueued = time.perf_counter() - started
    consumer = tracking_queue.consumer_name()
    direct_seconds = ceiling_seconds = 0.0
    outcomes: Counter = Counter()
    done = 0
    if consumers > 1:
        with clock.running():
            _drain_together(consumer, consumers)
        for start in range(0, len(direct), batch):
            direct_seconds += apply_counted(direct[start : start + batch], outcomes)
        ceiling_seconds = run_ceiling_batches(reports, ceiling_campaign, deliveries, batch)
        return enqueued, clock.seconds, direct_seconds, ceiling_seconds, outcomes
    while True:
        with clock.running():
            handled = tracking_queue.consume_once(
                consumer=consumer, batch_size=settings.TRACKING_QUEUE_BATCH, block_ms=0
            )
        if not handled:
            break
        for start in range(done, done + handled, batch):
            part = direct[start : min(start + batch, done + handled)]
            direct_seconds += apply_counted(part, outcomes)
        ceiling_seconds += run_ceiling_batches(
            reports[done : done + handled], ceiling_campaign, deliveries, batch
        )
        done += handled
    return enqueued, clock.seconds, direct_seconds, ceiling_seconds, outcomes


def _drain_together(consumer: str, consumers: int) -> None:
    """Drain the stream with `consumers` consumers of the group at once, each a thread with its
    own database connection and consumer name (as so many consume_events processes, but
    sharing one interpreter: their parsing takes turns), until each finds it empty."""
    import threading

    from django.conf import settings
    from django.db import connections

    from campaigns import tracking_queue

    errors: list[BaseException] = []

    def drain(name: str) -> None:
        try:
            while tracking_queue.consume_once(
                consumer=name, batch_size=settings.TRACKING_QUEUE_BATCH, block_ms=0
            ):
                pass
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=drain, args=(f"{consumer}-{index}",)) for index in range(consumers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def webhook_scenario(
    ids, twin_ids, campaign, ceiling_campaign, deliveries, batch, now, profile: bool, consumers=1
) -> list[Report]:
    """The "webhook posts" scenario (module docstring); returns the reports applied to our
    campaign (the posts' and their twins')."""
    from campaigns import tracking_queue
    from complaints.esp import reports_of
    from complaints.models import FeedbackEvent
    from complaints.webhook_views import queued_post_events

    posts, reports = esp_posts(ids, campaign.pk, serial_from=0, now=now)
    twin_posts, twin_reports = esp_posts(twin_ids, campaign.pk, serial_from=len(ids), now=now)
    refused = sum(not verified(post) for post in posts + twin_posts)
    assert not refused, f"{refused} posts refused by the webhook's own checks"
    # The twins' reports as the consumer's parser makes them, parsed before the clock starts.
    direct = []
    for post in twin_posts:
        events, esp_name = queued_post_events(post)
        direct += reports_of(events, esp_name=esp_name)
    assert len(direct) == len(twin_posts), (len(direct), len(twin_posts))
    tracking_queue.ensure_group()
    redis = tracking_queue.connection()
    ours = [deliveries[sid][0] for sid in ids]
    n = len(posts)

    for name in ("webhook posts", "webhook again"):
        clock = Clock(profile and name == "webhook posts")
        events_before = FeedbackEvent.objects.count()
        enqueued, drained, direct_s, ceiling_s, outcomes = drain_posts(
            posts, reports, direct, ceiling_campaign, deliveries, batch, clock, consumers
        )
        new_events = FeedbackEvent.objects.count() - events_before
        left = redis.xlen(tracking_queue.STREAM) + redis.zcard(
            tracking_queue.PENDING_PREFIX + tracking_queue.POSTS
        )
        rate, ceiling_rate = n / drained, n / ceiling_s
        print(
            f"{name:<14}{n:>9,}{rate:>10,.0f}{ceiling_rate:>11,.0f}{rate / ceiling_rate:>8.0%}  "
            f"drain {drained:.2f} s: {n / drained:,.0f} posts/s, {rate:,.0f} reports/s, "
            f"{clock.cpu_seconds / n * 1000:.2f} ms of our CPU each"
            + (f"; {consumers} consumers at once" if consumers > 1 else "")
        )
        print(
            f"{'':<14}direct feedback_apply_batch {n / direct_s:,.0f}/s (the drain "
            f"{direct_s / drained:.0%} of it: "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items()))
            + f"); post_enqueue {n / enqueued:,.0f} posts/s; "
            f"left on the stream or pending {left:,}"
        )
        print(f"{'':<14}{applied_once(ours, n)}; new events this round {new_events:,}")
        clock.print_profile("the drain (consume_once)")
    return reports + twin_reports


def mailbox_scenario(
    ids, twin_ids, complaints, campaign, ceiling_campaign, deliveries, batch, now, rng, profile
) -> list[Report]:
    """The "mailbox" scenario (module docstring); returns the reports applied to our campaign
    (the messages' and their twins')."""
    from campaigns.tokens import MessageTokens
    from complaints.feedback_reports import parse_report
    from complaints.mailboxes import mailbox_process
    from complaints.services import feedback_apply_batch
    from tests.complaints.data import render, write_maildir

    def messages(group: list[int], tag: str) -> tuple[list[bytes], list[Report]]:
        raws, reports = [], []
        for index, sid in enumerate(group):
            name, kind, source = (
                ("arf_yahoo", "complained", "arf")
                if index >= len(group) - complaints
                else ("dsn_postfix_hard", "hard_bounce", "dsn")
            )
            tokens = MessageTokens(campaign_id=campaign.pk, subscriber_id=sid)
            raw = render(name, tokens=tokens, recipient=f"r{sid}@example.org")
            # Each report its own Message-ID, as mail servers write them (an ARF's is its id).
            raw, changed = _MESSAGE_ID.subn(rb"\g<1>bench-" + f"{tag}{index}".encode(), raw, 1)
            assert changed, name
            raws.append(raw)
            reports.append(Report(sid, kind, f"mbox-{sid}", source, now))
        order = list(range(len(raws)))
        rng.shuffle(order)
        return [raws[i] for i in order], [reports[i] for i in order]

    raws, reports = messages(ids, "m")
    twin_raws, twin_reports = messages(twin_ids, "t")
    n = len(raws)
    started = time.perf_counter()
    direct = [f for raw in twin_raws for f in parse_report(raw).feedback]
    parsing = time.perf_counter() - started
    assert len(direct) == len(twin_raws), (len(direct), len(twin_raws))
    with tempfile.TemporaryDirectory(prefix="feedback-bench-") as work:
        started = time.perf_counter()
        maildir = write_maildir(Path(work) / "Maildir", raws)
        written = time.perf_counter() - started
        clock = Clock(profile)
        with clock.running():
            run = mailbox_process(location=str(maildir))
        again = mailbox_process(location=str(maildir))
        unread = len(os.listdir(maildir / "new"))
        seen = sum(name.endswith(":2,S") for name in os.listdir(maildir / "cur"))
    started = time.perf_counter()
    for start in range(0, n, batch):
        feedback_apply_batch(direct[start : start + batch])
    direct_s = time.perf_counter() - started
    ceiling_s = run_ceiling_batches(reports, ceiling_campaign, deliveries, batch)
    rate, ceiling_rate = n / clock.seconds, n / ceiling_s
    expected = {"hard_bounce": n - complaints, "complained": complaints}
    print(
        f"{'mailbox':<14}{n:>9,}{rate:>10,.0f}{ceiling_rate:>11,.0f}{rate / ceiling_rate:>8.0%}  "
        f"mailbox_process {clock.seconds:.2f} s: read {run.read:,}, applied {run.applied:,}, "
        f"duplicates {run.duplicates:,}, unmatched {run.unmatched:,}, unparsed {run.unparsed:,}, "
        f"ignored {run.ignored:,}; by kind "
        + ("as sent" if dict(run.by_kind) == expected else f"WRONG {dict(run.by_kind)}")
        + f"; {(clock.cpu_seconds + clock.children_cpu_seconds) / n * 1000:.2f} ms of our CPU "
        f"each ({clock.cpu_seconds / n * 1000:.2f} in this process, "
        f"{clock.children_cpu_seconds / n * 1000:.2f} in its parsing processes)"
    )
    print(
        f"{'':<14}parse_report alone {n / parsing:,.0f}/s; direct feedback_apply_batch "
        f"{n / direct_s:,.0f}/s (mailbox_process {direct_s / clock.seconds:.0%} of it); "
        f"Maildir written at {n / written:,.0f} messages/s"
    )
    print(
        f"{'':<14}{applied_once([deliveries[sid][0] for sid in ids], n)}; "
        f"marked seen {seen:,}, left unread {unread:,}, a second read read {again.read:,}"
    )
    clock.print_profile("mailbox_process")
    return reports + twin_reports


# The report's own Message-ID (its first: the returned message's comes later), up to the "@".
_MESSAGE_ID = re.compile(rb"^(Message-I[Dd]: <)[^@>]*", re.MULTILINE)


def default_redis_url() -> str:
    """Database 14 of CELERY_BROKER_URL's Redis server (flushed by the bench), else of
    127.0.0.1:6379 (bench/load_run.py takes 15)."""
    broker = os.environ.get("CELERY_BROKER_URL", "")
    server = broker.rsplit("/", 1)[0] if broker.startswith("redis://") else "redis://127.0.0.1:6379"
    return f"{server}/14"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=20_000, help="reports per scenario")
    parser.add_argument("--batch", type=int, default=None, help="reports per batch")
    parser.add_argument("--one-by-one", type=int, default=1_000, help="reports applied singly")
    parser.add_argument("--unsubscribes", type=int, default=2_000, help="one-click POSTs")
    parser.add_argument(
        "--front-unsubscribes",
        type=int,
        default=2_000,
        help="one-clicks through the hot front's write and the consumer's drain",
    )
    parser.add_argument(
        "--arf-complaints",
        type=int,
        default=None,
        help="ARF complaints among the mailbox's messages (default: a tenth of --reports)",
    )
    parser.add_argument(
        "--redis-url",
        default=default_redis_url(),
        help="the tracking queue's Redis database, flushed (default: %(default)s)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the drain and the mailbox read"
    )
    parser.add_argument(
        "--consumers",
        type=int,
        default=1,
        help="consumers draining the webhook posts at once (threads, each its own connection)",
    )
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        sys.exit("The bench needs PostgreSQL: set DATABASE_URL=postgres://...")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    # Database connections kept as the production compose keeps them (CONN_MAX_AGE 60, as
    # bench/load_run.py runs): with local's 0, the drain's consumer connected again for every
    # batch (tracking_queue.batch_apply closes an obsolete connection first), which production's
    # consume_events does not.
    os.environ.setdefault("CONN_MAX_AGE", "60")
    # Subscriber webhooks would be queued on the broker; none are configured here.
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    # The webhook posts: queued on this Redis, authenticated as bench/load_run.py signs them.
    import load_run

    os.environ["TRACKING_QUEUE_URL"] = args.redis_url
    os.environ["ANYMAIL"] = json.dumps(
        {
            "MAILGUN_WEBHOOK_SIGNING_KEY": load_run.MAILGUN_SIGNING_KEY,
            "WEBHOOK_SECRET": load_run.WEBHOOK_AUTH,
        }
    )
    prepare_database(url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from campaigns import tracking_queue
    from campaigns.tokens import MessageTokens
    from complaints.models import FeedbackEvent, FeedbackKind
    from complaints.services import FEEDBACK_BATCH_SIZE, feedback_apply
    from lists.models import PlatformSuppression, Suppression

    batch = args.batch or FEEDBACK_BATCH_SIZE
    rng = random.Random(args.seed)
    n = args.reports
    storm_messages = max(1, n // 3)
    arf = n // 10 if args.arf_complaints is None else args.arf_complaints
    mailbox = n + arf
    sizes = [
        *(n, n, storm_messages, args.one_by_one, args.unsubscribes, args.front_unsubscribes),
        *(n, n, mailbox, mailbox),  # webhook posts and their twins, the mailbox and its twins
    ]
    tracking_queue.connection().flushdb()
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    campaign, ceiling_campaign, ids, deliveries = seed(sum(sizes))
    print(
        f"seeded {len(ids):,} subscribers, {2 * len(ids):,} deliveries in "
        f"{time.perf_counter() - started:.1f} s; batches of {batch}"
    )
    from django.db import connection

    with connection.cursor() as cursor:
        # Statistics, as a database in service has them (autovacuum may be off, or late).
        cursor.execute("ANALYZE")
    groups, start = [], 0
    for size in sizes:
        groups.append(ids[start : start + size])
        start += size
    bounced_ids, complained_ids, storm_ids, single_ids, unsubscribe_ids, front_ids = groups[:6]
    webhook_ids, webhook_twin_ids, mailbox_ids, mailbox_twin_ids = groups[6:]
    now = timezone.now() - timedelta(minutes=5)

    scenarios = [
        ("hard bounces", one_kind(bounced_ids, "hard_bounce", "sendgrid", now)),
        ("duplicates", None),  # the hard bounces again
        ("complaints", one_kind(complained_ids, "complained", "arf", now)),
        ("mixed storm", mixed_storm(storm_ids, n, now, rng)),
    ]
    applied_so_far: list[Report] = []
    print(f"{'scenario':<14}{'reports':>9}{'ours/s':>10}{'ceiling/s':>11}{'share':>8}  outcomes")
    for name, reports in scenarios:
        if reports is None:
            reports = scenarios[0][1]
        elapsed, ceiling, outcomes = run_scenario(
            reports, campaign, ceiling_campaign, deliveries, batch
        )
        rate, ceiling_rate = len(reports) / elapsed, len(reports) / ceiling
        print(
            f"{name:<14}{len(reports):>9,}{rate:>10,.0f}{ceiling_rate:>11,.0f}"
            f"{rate / ceiling_rate:>8.0%}  "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items()))
        )
        applied_so_far += reports
        print(f"{'':<14}{check_counters(campaign, messages_with(applied_so_far))}")

    applied_so_far += webhook_scenario(
        webhook_ids,
        webhook_twin_ids,
        campaign,
        ceiling_campaign,
        deliveries,
        batch,
        now,
        args.profile,
        args.consumers,
    )
    print(f"{'':<14}{check_counters(campaign, messages_with(applied_so_far))}")
    applied_so_far += mailbox_scenario(
        mailbox_ids,
        mailbox_twin_ids,
        arf,
        campaign,
        ceiling_campaign,
        deliveries,
        batch,
        now,
        rng,
        args.profile,
    )
    print(f"{'':<14}{check_counters(campaign, messages_with(applied_so_far))}")

    singles = ours(one_kind(single_ids, "hard_bounce", "dsn", now), campaign.pk)
    started = time.perf_counter()
    applied = sum(feedback_apply(f) is not None for f in singles)
    elapsed = time.perf_counter() - started
    print(
        f"one by one (feedback_apply, a transaction each): {applied:,} hard bounces in "
        f"{elapsed:.2f} s = {applied / elapsed:,.0f}/s"
    )

    client = Client(HTTP_HOST="127.0.0.1")
    round_trips = []
    for sid in unsubscribe_ids:
        token = MessageTokens(campaign_id=campaign.pk, subscriber_id=sid).unsubscribe()
        started = time.perf_counter()
        response = client.post(
            f"/u/{token}/",
            "List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        round_trips.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    if round_trips:
        total = sum(round_trips)
        p50, p99 = statistics.median(round_trips) * 1000, percentile(round_trips, 0.99) * 1000
        print(
            f"one-click unsubscribes: {len(round_trips):,} in {total:.2f} s = "
            f"{len(round_trips) / total:,.0f}/s; round trip p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        )
        latencies = [
            event.suppression_seconds
            for event in FeedbackEvent.objects.filter(
                kind=FeedbackKind.UNSUBSCRIBED, source="one_click"
            ).only("occurred_at", "suppressed_at")
        ]
        print(
            f"request to suppression: median {statistics.median(latencies) * 1000:.1f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
            f"worst {max(latencies) * 1000:.1f} ms"
        )
    if front_ids:
        front_one_clicks(campaign.pk, front_ids)
    print(
        f"suppressions: {Suppression.objects.count():,} for the account, "
        f"{PlatformSuppression.objects.count():,} platform-wide"
    )


def front_one_clicks(campaign_id: int, subscriber_ids: list[int]) -> None:
    """What the hot front does for a one-click POST when the consumer runs (the address
    suppressed and the rest queued, one write in autocommit: one_click_unsubscribe_accept), one
    request after another; then the consumer's drain of them (one_clicks_pending_apply)."""
    from campaigns.tokens import TokenData, TokenKind
    from complaints.models import FeedbackEvent, PendingOneClick
    from complaints.services import one_click_unsubscribe_accept, one_clicks_pending_apply

    round_trips = []
    for sid in subscriber_ids:
        token = TokenData(kind=TokenKind.UNSUBSCRIBE, campaign_id=campaign_id, subscriber_id=sid)
        started = time.perf_counter()
        accepted = one_click_unsubscribe_accept(token)
        round_trips.append(time.perf_counter() - started)
        assert accepted
    total = sum(round_trips)
    p50, p99 = statistics.median(round_trips) * 1000, percentile(round_trips, 0.99) * 1000
    print(
        f"one-click front (suppress + queue): {len(round_trips):,} in {total:.2f} s = "
        f"{len(round_trips) / total:,.0f}/s; p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )
    started = time.perf_counter()
    drained = 0
    while handled := one_clicks_pending_apply():
        drained += handled
    elapsed = time.perf_counter() - started
    applied = FeedbackEvent.objects.filter(
        source="one_click", event_id__in=[f"{campaign_id}:{sid}" for sid in subscriber_ids]
    ).count()
    left = PendingOneClick.objects.count()
    print(
        f"consumer drain: {drained:,} in {elapsed:.2f} s = {drained / elapsed:,.0f}/s; "
        f"applied {applied:,}, left pending {left:,}"
    )


if __name__ == "__main__":
    main()
