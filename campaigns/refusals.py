"""A refusal at hand-over is a bounce like any other.

When the SMTP server (or the ESP) refuses a message for good, the delivery worker records the
delivery as failed with the class of the refusal (campaigns.bounces) in the same UPDATE; this
module then does what a bounce report would: a hard refusal ends the subscription and suppresses
the address for the account and platform-wide, a soft one counts towards the soft-bounce rule.
The rule itself is here (complaints.services applies it to reported soft bounces too), since
campaigns may not import complaints.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Max, Min
from django.utils import timezone

from campaigns.bounces import BounceClass, BounceVerdict
from campaigns.models import Delivery
from lists.models import Subscriber, SubscriberStatus, SuppressionReason
from lists.services.subscribers import subscriber_unsubscribe
from lists.services.suppression import platform_suppression_add, suppression_add

logger = logging.getLogger(__name__)

# The delivery's timestamp each class of refusal sets.
BOUNCE_FIELDS = {
    BounceClass.HARD: "hard_bounced_at",
    BounceClass.SOFT: "soft_bounced_at",
    BounceClass.BLOCKED: "blocked_at",
}
REFUSAL_SOURCE = "smtp_refusal"
# Soft bounces older than this say nothing about the mailbox today.
SOFT_BOUNCE_LOOKBACK_DAYS = 90


def soft_bounce_limits() -> tuple[int, timedelta]:
    """(how many soft bounces, over at least how long) suppress an address for the account."""
    return settings.SOFT_BOUNCE_SUPPRESS_COUNT, timedelta(days=settings.SOFT_BOUNCE_SUPPRESS_DAYS)


def refusal_apply(
    *, subscriber_id: int, email: str, verdict: BounceVerdict, source: str = REFUSAL_SOURCE
) -> bool:
    """What a hand-over refusal does beyond its delivery row (which the worker has marked):
    a hard one ends the subscription (bounced) and suppresses the address account-wide and
    platform-wide; a soft one may complete the soft-bounce rule; a block changes nothing about
    the address. Returns whether the address was suppressed. Idempotent."""
    if verdict.kind == BounceClass.HARD:
        subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
        # A complaint is the stronger end; bounced already is done.
        if subscriber is not None and subscriber.status not in (
            SubscriberStatus.BOUNCED,
            SubscriberStatus.COMPLAINED,
        ):
            subscriber_unsubscribe(
                subscriber=subscriber, status=SubscriberStatus.BOUNCED, channel=source
            )
        if email:
            platform_suppression_add(email=email.lower(), source=source)
        return True
    if verdict.kind == BounceClass.SOFT:
        subscriber = (
            Subscriber.objects.select_related("mailing_list").filter(pk=subscriber_id).first()
        )
        if subscriber is not None:
            return soft_bounce_rule_apply(subscriber=subscriber)
    return False


def soft_bounce_rule_apply(*, subscriber: Subscriber) -> bool:
    """Three soft bounces (SOFT_BOUNCE_SUPPRESS_COUNT) of this address's messages from the
    account, the first and the last at least a week apart (SOFT_BOUNCE_SUPPRESS_DAYS), within
    the last 90 days: suppress the address for the account (reason soft bounces; not
    platform-wide, and the subscription is not ended, so lifting the suppression is enough).
    Counts messages, not reports: one message's repeated delay warnings are one soft bounce.
    Returns whether the address is now suppressed. Idempotent."""
    count, span = soft_bounce_limits()
    account_id = subscriber.mailing_list.account_id
    same_address = Subscriber.objects.filter(
        mailing_list__account_id=account_id, email__iexact=subscriber.email
    ).values("pk")
    since = timezone.now() - timedelta(days=SOFT_BOUNCE_LOOKBACK_DAYS)
    found = Delivery.objects.filter(
        campaign__account_id=account_id,
        subscriber_id__in=same_address,
        soft_bounced_at__gte=since,
    ).aggregate(soft_bounces=Count("pk"), first=Min("soft_bounced_at"), last=Max("soft_bounced_at"))
    soft_bounces = found["soft_bounces"]
    if soft_bounces < count or found["last"] - found["first"] < span:
        return False
    suppression_add(
        account=subscriber.mailing_list.account,
        email=subscriber.email.lower(),
        reason=SuppressionReason.SOFT_BOUNCES,
    )
    logger.info(
        "address of subscriber %s suppressed for account %s after %s soft bounces",
        subscriber.pk,
        account_id,
        soft_bounces,
    )
    return True
