"""Recording what the tracking links see: opens (the pixel) and clicks (the redirect).

Every hit on a sent message is kept as a TrackingEvent, machines' too, with the reason they were
set apart (campaigns.engagement). The delivery's counters and its first open and first click are
then recomputed from its events, never incremented: they say what the events say, whatever order
the hits came in and however often one is repeated. The delivery row is locked while that
happens, so two hits on one message queue up instead of miscounting, while hits on different
messages never wait for each other (the campaign row is not locked).

A click also counts as an open: the message was read, even if the pixel was blocked. Scanners
that follow every link of a message are recognised only once the last link is hit; the earlier
clicks of that burst are then set apart too, with the same reason.

Test tokens (previews, test sends) record nothing, nor does a token whose message was not sent.

`hits_record` records a batch of hits from the tracking queue (campaigns.tracking_queue) with
the same rules, in one transaction and a few set-based statements: the batch's deliveries are
locked together (in id order, so two consumers never deadlock, and a hit recorded at once
waits for them as it waits for another hit), each hit is judged as `record_open` or
`record_click` would have judged it at the time it came in, the events are inserted in one
statement, and the counters of every delivery the batch touched are recounted in one query and
written in one. A hit whose queue id is already recorded (a batch applied again after a crash)
is skipped, so every hit is recorded exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from campaigns import selectors, tracking_queue
from campaigns.engagement import (
    ALL_LINKS,
    CLICK_BURST_SECONDS,
    click_is_machine,
    open_is_machine,
)
from campaigns.models import Campaign, Delivery, DeliveryStatus, TrackingEvent
from campaigns.tokens import TokenData
from campaigns.tracking_queue import CLICK as QUEUED_CLICK
from campaigns.tracking_queue import Hit

logger = logging.getLogger(__name__)

USER_AGENT_LENGTH = TrackingEvent._meta.get_field("user_agent").max_length

OPEN = TrackingEvent.Kind.OPEN
CLICK = TrackingEvent.Kind.CLICK
HUMAN = Q(machine_reason="")


def hit_accept(
    *,
    kind: str,
    token_data: TokenData,
    user_agent: str,
    method: str,
    ip: str,
    link_index: int | None = None,
) -> None:
    """Take a hit from the pixel ("open") or the redirect ("click"): onto the tracking queue
    when there is one (returns once Redis has it), else, or when Redis cannot take it, recorded
    at once (record_open or record_click): either way it is kept before the answer goes out.
    Nothing for a test token."""
    if token_data.is_test:
        return
    if tracking_queue.queue_enabled():
        try:
            tracking_queue.hit_enqueue(
                Hit(
                    kind=QUEUED_CLICK if kind == "click" else tracking_queue.OPEN,
                    campaign_id=token_data.campaign_id,
                    subscriber_id=token_data.subscriber_id,
                    link_index=link_index if kind == "click" else None,
                    user_agent=user_agent,
                    method=method,
                    ip=ip,
                    at=timezone.now(),
                )
            )
            return
        except tracking_queue.QueueUnavailable:
            logger.warning("Tracking queue unavailable; recording the %s at once", kind)
    if kind == "click":
        assert link_index is not None  # a click names its link
        record_click(
            token_data=token_data,
            link_index=link_index,
            user_agent=user_agent,
            method=method,
            ip=ip,
        )
    else:
        record_open(token_data=token_data, user_agent=user_agent, method=method, ip=ip)


def record_open(*, token_data: TokenData, user_agent: str, method: str, ip: str) -> None:
    """Record an open of the message the token names and recount its delivery (locks the
    delivery row). Nothing for a test token or a message that was not sent."""
    if token_data.is_test:
        return
    with transaction.atomic():
        delivery = _locked_delivery(token_data, with_campaign=False)
        if delivery is None:
            return
        now = timezone.now()
        reason = open_is_machine(
            user_agent=user_agent,
            method=method,
            ip=ip,
            seconds_since_sent=_seconds_since_sent(delivery, now),
        )
        _add_event(delivery, kind=OPEN, reason=reason, user_agent=user_agent, at=now)
        _recount(delivery.pk)


def record_click(
    *, token_data: TokenData, link_index: int, user_agent: str, method: str, ip: str
) -> None:
    """Record a click on the message's `link_index`-th link and recount its delivery (locks the
    delivery row); when the click completes a burst over every link, the burst's earlier clicks
    are set apart as a scanner's too. Nothing for a test token or a message that was not sent."""
    if token_data.is_test:
        return
    with transaction.atomic():
        delivery = _locked_delivery(token_data, with_campaign=True)
        if delivery is None:
            return
        now = timezone.now()
        burst = TrackingEvent.objects.filter(
            delivery_id=delivery.pk,
            kind=CLICK,
            at__gte=now - timedelta(seconds=CLICK_BURST_SECONDS),
        )
        links_in_burst = set(burst.values_list("link_index", flat=True).distinct())
        links_in_burst.add(link_index)
        reason = click_is_machine(
            user_agent=user_agent,
            method=method,
            ip=ip,
            seconds_since_sent=_seconds_since_sent(delivery, now),
            links_clicked_recently=len(links_in_burst),
            links_in_message=len(selectors.approved_links(delivery.campaign)),
        )
        if reason == ALL_LINKS:
            # Each earlier click of the sweep looked like a person's on its own.
            burst.filter(HUMAN).update(machine_reason=ALL_LINKS)
        _add_event(
            delivery,
            kind=CLICK,
            reason=reason,
            user_agent=user_agent,
            at=now,
            link_index=link_index,
        )
        _recount(delivery.pk)


def _locked_delivery(token_data: TokenData, *, with_campaign: bool) -> Delivery | None:
    queryset = Delivery.objects.filter(
        campaign_id=token_data.campaign_id,
        subscriber_id=token_data.subscriber_id,
        status=DeliveryStatus.SENT,
    )
    if with_campaign:
        queryset = queryset.select_related("campaign__approved_version")
    # Only the delivery's row: locking the campaign would queue every click of a campaign
    # behind one another, and behind the send's own transitions.
    return queryset.select_for_update(of=("self",)).first()


def _seconds_since_sent(delivery: Delivery, now: datetime) -> float | None:
    if delivery.sent_at is None:
        return None
    return (now - delivery.sent_at).total_seconds()


def _add_event(
    delivery: Delivery,
    *,
    kind: str,
    reason: str,
    user_agent: str,
    at: datetime,
    link_index: int | None = None,
) -> None:
    TrackingEvent.objects.create(
        delivery=delivery,
        kind=kind,
        link_index=link_index,
        machine_reason=reason,
        user_agent=(user_agent or "")[:USER_AGENT_LENGTH],
        at=at,
    )


def hits_record(hits: Sequence[Hit]) -> int:
    """Record a batch of queued hits exactly once each (see the module docstring): one
    transaction, the batch's deliveries locked in id order. Hits on a message that was not sent,
    and hits already recorded, are skipped. Returns the number of events inserted."""
    if not hits:
        return 0
    by_campaign: dict[int, set[int]] = {}
    for hit in hits:
        by_campaign.setdefault(hit.campaign_id, set()).add(hit.subscriber_id)
    with transaction.atomic():
        wanted = reduce(
            or_,
            (Q(campaign_id=c, subscriber_id__in=sorted(s)) for c, s in by_campaign.items()),
        )
        locked = (
            Delivery.objects.filter(wanted, status=DeliveryStatus.SENT)
            .order_by("pk")
            .select_for_update(of=("self",))
            .values_list("pk", "campaign_id", "subscriber_id", "sent_at")
        )
        deliveries = {(c, s): (pk, sent_at) for pk, c, s, sent_at in locked}
        done = set(
            TrackingEvent.objects.filter(
                queue_id__in=[h.queue_id for h in hits if h.queue_id]
            ).values_list("queue_id", flat=True)
        )
        fresh = sorted(
            (
                h
                for h in hits
                if (h.campaign_id, h.subscriber_id) in deliveries and h.queue_id not in done
            ),
            key=lambda h: (h.at, h.queue_id or ""),
        )
        if not fresh:
            return 0
        rows, swept = _judge_batch(fresh, deliveries)
        if swept:
            TrackingEvent.objects.filter(pk__in=swept, machine_reason="").update(
                machine_reason=ALL_LINKS
            )
        _insert_events(rows)
        _recount_many({row[0] for row in rows})
    return len(rows)


# An event as the batch builds it: the columns of _INSERT_COLUMNS, in order.
_INSERT_COLUMNS = ("delivery_id", "kind", "link_index", "machine_reason", "user_agent", "at")


def _judge_batch(
    hits: list[Hit], deliveries: dict[tuple[int, int], tuple[int, datetime | None]]
) -> tuple[list[list], set[int]]:
    """The events of `hits` (in time order) as rows (_INSERT_COLUMNS and the queue id), judged
    as record_open and record_click judge one hit, and the ids of recorded clicks that a
    scanner's sweep in this batch sets apart."""
    clicking = {
        deliveries[(h.campaign_id, h.subscriber_id)][0] for h in hits if h.kind == QUEUED_CLICK
    }
    # The clicks each delivery already has in the burst window of the batch's first click:
    # [at, link, reason, recorded id or None, the batch's row or None].
    recent: dict[int, list[list]] = {pk: [] for pk in clicking}
    link_counts: dict[int, int] = {}
    if clicking:
        since = min(h.at for h in hits) - timedelta(seconds=CLICK_BURST_SECONDS)
        for pk, delivery_id, link, at, reason in TrackingEvent.objects.filter(
            delivery_id__in=clicking, kind=CLICK, at__gte=since
        ).values_list("pk", "delivery_id", "link_index", "at", "machine_reason"):
            recent[delivery_id].append([at, link, reason, pk, None])
        link_counts = {
            pk: len(links or [])
            for pk, links in Campaign.objects.filter(
                pk__in={h.campaign_id for h in hits if h.kind == QUEUED_CLICK}
            ).values_list("pk", "approved_version__links")
        }
    rows: list[list] = []
    swept: set[int] = set()
    for hit in hits:
        delivery_id, sent_at = deliveries[(hit.campaign_id, hit.subscriber_id)]
        since_sent = None if sent_at is None else (hit.at - sent_at).total_seconds()
        user_agent = (hit.user_agent or "")[:USER_AGENT_LENGTH]
        if hit.kind != QUEUED_CLICK:
            reason = open_is_machine(
                user_agent=hit.user_agent,
                method=hit.method,
                ip=hit.ip,
                seconds_since_sent=since_sent,
            )
            rows.append([delivery_id, OPEN, None, reason, user_agent, hit.at, hit.queue_id])
            continue
        window = hit.at - timedelta(seconds=CLICK_BURST_SECONDS)
        burst = [click for click in recent[delivery_id] if click[0] >= window]
        links = {click[1] for click in burst} | {hit.link_index}
        reason = click_is_machine(
            user_agent=hit.user_agent,
            method=hit.method,
            ip=hit.ip,
            seconds_since_sent=since_sent,
            links_clicked_recently=len(links),
            links_in_message=link_counts.get(hit.campaign_id, 0),
        )
        if reason == ALL_LINKS:
            # Each earlier click of the sweep looked like a person's on its own.
            for click in burst:
                if click[2] == "":
                    click[2] = ALL_LINKS
                    if click[3] is not None:
                        swept.add(click[3])
                    else:
                        click[4][3] = ALL_LINKS
        row = [delivery_id, CLICK, hit.link_index, reason, user_agent, hit.at, hit.queue_id]
        recent[delivery_id].append([hit.at, hit.link_index, reason, None, row])
        rows.append(row)
    return rows, swept


def _insert_events(rows: list[list]) -> None:
    """One INSERT of many rows (the ORM's bulk_create builds a model instance per row, which
    costs more than the insert at a thousand events a second)."""
    table = connection.ops.quote_name(TrackingEvent._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in (*_INSERT_COLUMNS, "queue_id"))
    adapt = connection.ops.adapt_datetimefield_value
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
        params: list[Any] = []
        for row in chunk:
            params += (*row[:5], adapt(row[5]), row[6])
        with connection.cursor() as cursor:
            # Names from the models' metadata, values as parameters.
            sql = f"INSERT INTO {table} ({columns}) VALUES {values} ON CONFLICT DO NOTHING"  # noqa: S608
            cursor.execute(sql, params)


def _recount_many(delivery_ids: set[int]) -> None:
    """Set each delivery's counters and first open and click from its events, in one statement
    (PostgreSQL and SQLite both take UPDATE ... FROM). A person's click means they opened the
    message, pixel or not: the first open is the first human event of either kind."""
    q = connection.ops.quote_name
    delivery = q(Delivery._meta.db_table)
    event = q(TrackingEvent._meta.db_table)
    ids = sorted(delivery_ids)
    human = "machine_reason = ''"
    # Names from the models' metadata, values as parameters.
    sql = f"""
        UPDATE {delivery} SET
            opens = t.opens, machine_opens = t.machine_opens,
            clicks = t.clicks, machine_clicks = t.machine_clicks,
            opened_at = t.opened_at, clicked_at = t.clicked_at
        FROM (
            SELECT delivery_id,
                COUNT(*) FILTER (WHERE kind = %s AND {human}) AS opens,
                COUNT(*) FILTER (WHERE kind = %s AND NOT {human}) AS machine_opens,
                COUNT(*) FILTER (WHERE kind = %s AND {human}) AS clicks,
                COUNT(*) FILTER (WHERE kind = %s AND NOT {human}) AS machine_clicks,
                MIN(at) FILTER (WHERE {human}) AS opened_at,
                MIN(at) FILTER (WHERE kind = %s AND {human}) AS clicked_at
            FROM {event}
            WHERE delivery_id IN ({", ".join(["%s"] * len(ids))})
            GROUP BY delivery_id
        ) AS t
        WHERE {delivery}.id = t.delivery_id
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [OPEN, OPEN, CLICK, CLICK, CLICK, *ids])


def _recount(delivery_id: int) -> None:
    """Set the delivery's counters and first open and click from its events (one statement:
    the rule is _recount_many's)."""
    _recount_many({delivery_id})
