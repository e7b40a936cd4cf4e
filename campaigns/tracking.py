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
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from campaigns import selectors
from campaigns.engagement import (
    ALL_LINKS,
    CLICK_BURST_SECONDS,
    click_is_machine,
    open_is_machine,
)
from campaigns.models import Delivery, DeliveryStatus, TrackingEvent
from campaigns.tokens import TokenData

USER_AGENT_LENGTH = TrackingEvent._meta.get_field("user_agent").max_length

OPEN = TrackingEvent.Kind.OPEN
CLICK = TrackingEvent.Kind.CLICK
HUMAN = Q(machine_reason="")


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


def _recount(delivery_id: int) -> None:
    """Set the delivery's counters and first open and click from its events (two queries)."""
    totals = TrackingEvent.objects.filter(delivery_id=delivery_id).aggregate(
        opens=Count("id", filter=Q(kind=OPEN) & HUMAN),
        machine_opens=Count("id", filter=Q(kind=OPEN) & ~HUMAN),
        clicks=Count("id", filter=Q(kind=CLICK) & HUMAN),
        machine_clicks=Count("id", filter=Q(kind=CLICK) & ~HUMAN),
        # A person's click means they opened the message, pixel or not.
        opened_at=Min("at", filter=HUMAN),
        clicked_at=Min("at", filter=Q(kind=CLICK) & HUMAN),
    )
    Delivery.objects.filter(pk=delivery_id).update(**totals)
