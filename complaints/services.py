"""Applying what recipients and mailbox providers report about a message we sent.

Every channel (the unsubscribe and report-spam links, ESP webhooks, DSN bounces and ARF
complaints read from a mailbox) turns what it received into a `Feedback` and calls
`feedback_apply`, the one place that updates the delivery (its counters feed the probe's verdict
and the stats), the subscriber and the suppression lists.

A report is matched to our message by the signed per-message reference (Message-ID, VERP return
path, X-Message-Ref, ESP metadata) or by the ids in one of our link tokens; failing that, by the
provider's message id. An unmatched report changes nothing: the bounce mailbox is an address
anyone can write to, so an unsigned claim must not suppress anybody. A test message's reports
are recorded as such and change nothing either.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account
from campaigns import tracking
from campaigns.bounces import BounceClass, BounceVerdict
from campaigns.models import Campaign, Delivery
from campaigns.refusals import soft_bounce_rule_apply
from campaigns.tokens import BadToken, TokenData, TokenKind, unpack
from complaints.models import FeedbackEvent, FeedbackKind, FeedbackOutcome, FeedbackSource
from lists.models import Subscriber, SubscriberStatus, SuppressionReason
from lists.services.subscribers import subscriber_unsubscribe
from lists.services.suppression import platform_suppression_add, suppression_add

logger = logging.getLogger(__name__)

K = FeedbackKind

# A subscriber's status only moves towards the stronger signal: a late "unsubscribed" from an ESP
# must not turn a complaint back into a plain unsubscribe.
_STRENGTH = {
    SubscriberStatus.UNCONFIRMED: 0,
    SubscriberStatus.SUBSCRIBED: 0,
    SubscriberStatus.UNSUBSCRIBED: 1,
    SubscriberStatus.BOUNCED: 2,
    SubscriberStatus.COMPLAINED: 3,
}
_ENDS_SUBSCRIPTION = {
    K.UNSUBSCRIBED: SubscriberStatus.UNSUBSCRIBED,
    K.HARD_BOUNCE: SubscriberStatus.BOUNCED,
    K.COMPLAINED: SubscriberStatus.COMPLAINED,
}
_SUPPRESSION_REASON = {
    K.UNSUBSCRIBED: SuppressionReason.UNSUBSCRIBED,
    K.HARD_BOUNCE: SuppressionReason.HARD_BOUNCE,
    K.COMPLAINED: SuppressionReason.COMPLAINED,
}
# The delivery's first-seen timestamp each kind sets.
_DELIVERY_FIELD = {
    K.DELIVERED: "delivered_at",
    K.SOFT_BOUNCE: "soft_bounced_at",
    K.HARD_BOUNCE: "hard_bounced_at",
    K.BLOCKED: "blocked_at",
    K.COMPLAINED: "complained_at",
    K.UNSUBSCRIBED: "unsubscribed_at",
}
_TEXT_MAX = 4000


# What each class of bounce (campaigns.bounces, the one reading for every path) is reported as.
_BOUNCE_KINDS = {
    BounceClass.HARD: K.HARD_BOUNCE,
    BounceClass.SOFT: K.SOFT_BOUNCE,
    BounceClass.BLOCKED: K.BLOCKED,
}


def bounce_feedback_kind(verdict: BounceVerdict) -> FeedbackKind | None:
    """The feedback kind a classified failure is reported as (None: not a bounce)."""
    return _BOUNCE_KINDS.get(verdict.kind)


@dataclass(frozen=True)
class Feedback:
    """One report about one message, as a channel received it.

    `event_id` is unique per `source` (the ESP's event id, a DSN's Message-ID, or for our own
    links the message itself, so that the second click of a link changes nothing). Give
    `message_ref` (our per-message token) or `token` (a link token's data), else
    `provider_message_id`.
    """

    source: str
    event_id: str
    kind: FeedbackKind
    message_ref: str = ""
    token: TokenData | None = None
    provider_message_id: str = ""
    recipient: str = ""
    occurred_at: datetime | None = None
    code: str = ""
    detail: str = ""
    comment: str = ""
    # For opens and clicks reported by an ESP.
    user_agent: str = ""
    ip: str = ""


@dataclass(frozen=True)
class _Match:
    campaign_id: int | None
    subscriber_id: int | None
    is_test: bool = False


def message_ref_data(message_ref: str) -> TokenData | None:
    """The (campaign, subscriber) a per-message reference names, or None if it is not ours."""
    try:
        return unpack(message_ref.strip(), kind=TokenKind.MESSAGE)
    except BadToken:
        return None


def _match(feedback: Feedback) -> _Match | None:
    data = feedback.token
    if data is None and feedback.message_ref:
        data = message_ref_data(feedback.message_ref)
    if data is not None:
        return _Match(data.campaign_id, data.subscriber_id, data.is_test)
    if feedback.provider_message_id:
        row = (
            Delivery.objects.filter(provider_message_id=feedback.provider_message_id)
            .values_list("campaign_id", "subscriber_id")
            .first()
        )
        if row:
            return _Match(*row)
    return None


def feedback_apply(feedback: Feedback) -> FeedbackEvent | None:
    """Apply one report: record it, then update the delivery, end the subscription and suppress
    the address as its kind requires (a hard bounce also platform-wide). Idempotent: a report
    already applied (same source and event id) returns None and changes nothing; the same
    message's unsubscribe, bounce or complaint reported again (another channel, another report)
    is recorded as a `duplicate`, which the sender's listings do not show. Locks the delivery and
    the subscriber rows."""
    received = timezone.now()
    match = _match(feedback)
    outcome = FeedbackOutcome.APPLIED
    if match is None:
        outcome = FeedbackOutcome.UNMATCHED
    elif match.is_test:
        outcome = FeedbackOutcome.TEST
    try:
        with transaction.atomic():
            event = _record(feedback, match, outcome, received)
            if outcome == FeedbackOutcome.APPLIED:
                _apply(event, feedback, match)
    except IntegrityError:
        # The same report again (a webhook retried, a mailbox read twice).
        return None
    if outcome == FeedbackOutcome.APPLIED and feedback.kind in (K.OPENED, K.CLICKED):
        _track(feedback, match)
    return event


def _record(
    feedback: Feedback, match: _Match | None, outcome: str, received: datetime
) -> FeedbackEvent:
    campaign = None
    if match is not None and match.campaign_id is not None:
        campaign = Campaign.objects.filter(pk=match.campaign_id).only("pk", "account_id").first()
    return FeedbackEvent.objects.create(
        source=feedback.source,
        event_id=feedback.event_id[:200],
        kind=feedback.kind,
        outcome=outcome,
        account_id=campaign.account_id if campaign else None,
        campaign=campaign,
        recipient=feedback.recipient.strip()[:254],
        code=feedback.code[:64],
        detail=feedback.detail[:_TEXT_MAX],
        comment=feedback.comment.strip()[:_TEXT_MAX],
        occurred_at=min(feedback.occurred_at or received, received),
        received_at=received,
    )


def _apply(event: FeedbackEvent, feedback: Feedback, match: _Match) -> None:
    delivery = (
        Delivery.objects.select_for_update()
        .filter(campaign_id=match.campaign_id, subscriber_id=match.subscriber_id)
        .first()
    )
    subscriber = (
        Subscriber.objects.select_related("mailing_list").filter(pk=match.subscriber_id).first()
    )
    if event.account_id is None and subscriber is not None:
        event.account_id = subscriber.mailing_list.account_id
    if delivery is not None:
        event.delivery = delivery
        event.is_probe = delivery.is_probe
        field = _DELIVERY_FIELD.get(feedback.kind)
        if field and getattr(delivery, field) is None:
            setattr(delivery, field, event.occurred_at)
            delivery.save(update_fields=[field])
            # This message's first soft bounce: three messages over a week suppress the
            # address for the account.
            soft = feedback.kind == K.SOFT_BOUNCE and subscriber is not None
            if soft and soft_bounce_rule_apply(subscriber=subscriber):
                event.suppressed_at = timezone.now()
        elif field and feedback.kind in _ENDS_SUBSCRIPTION:
            # The same message's unsubscribe (bounce, complaint) was reported before, through
            # another channel or in another report; the delivery's row lock orders two at once.
            event.outcome = FeedbackOutcome.DUPLICATE
    if subscriber is not None:
        if event.recipient and event.recipient.lower() != subscriber.email.lower():
            # A report naming someone else than the message's recipient: one genuine reference
            # must not let a forged bounce suppress a stranger platform-wide.
            note = f"reported recipient {event.recipient} is not the address the message went to"
            event.detail = (f"{event.detail}; {note}" if event.detail else note)[:_TEXT_MAX]
        event.recipient = subscriber.email
    status = _ENDS_SUBSCRIPTION.get(feedback.kind)
    if status is not None:
        if subscriber is not None and _STRENGTH[status] > _STRENGTH[subscriber.status]:
            subscriber_unsubscribe(subscriber=subscriber, status=status, channel=feedback.source)
        elif event.account_id is not None and event.recipient:
            # Already off the list (or erased): the account-wide suppression must hold all the
            # same. Idempotent; the first reason recorded stays.
            suppression_add(
                account=Account(pk=event.account_id),
                email=event.recipient.lower(),
                reason=_SUPPRESSION_REASON[feedback.kind],
                keep_address=subscriber is not None,
            )
        if feedback.kind == K.HARD_BOUNCE and event.recipient:
            platform_suppression_add(email=event.recipient.lower(), source=feedback.source)
        event.suppressed_at = timezone.now()
    event.save()


def _track(feedback: Feedback, match: _Match) -> None:
    """An ESP's open or click, recorded like our own pixel's and redirect's (machines set
    apart the same way)."""
    kind = TokenKind.OPEN if feedback.kind == K.OPENED else TokenKind.CLICK
    data = TokenData(kind=kind, campaign_id=match.campaign_id, subscriber_id=match.subscriber_id)
    try:
        # Both record nothing for a message that was not sent.
        if kind == TokenKind.OPEN:
            tracking.record_open(
                token_data=data, user_agent=feedback.user_agent, method="GET", ip=feedback.ip
            )
        else:
            tracking.record_click(
                token_data=data,
                link_index=None,
                user_agent=feedback.user_agent,
                method="GET",
                ip=feedback.ip,
            )
    except Exception:  # an engagement count must never undo the report that was recorded
        logger.exception("Could not record the ESP's %s", feedback.kind)


@dataclass(frozen=True)
class LinkOutcome:
    """What a recipient's click on an unsubscribe or report link did."""

    event: FeedbackEvent | None
    # Already off the list before this request (a second click, a scanner's POST).
    already: bool = False


def _link_feedback(
    *, token: TokenData, kind: FeedbackKind, source: str, comment: str = ""
) -> LinkOutcome:
    subscriber_status = (
        Subscriber.objects.filter(pk=token.subscriber_id).values_list("status", flat=True).first()
    )
    strength = _STRENGTH.get(subscriber_status, 0) if subscriber_status else 0
    # Gone (erased: only a hashed suppression is left) or already as far off the list.
    done = subscriber_status is None or strength >= _STRENGTH[_ENDS_SUBSCRIPTION[kind]]
    if done and not token.is_test:
        return LinkOutcome(event=None, already=True)
    event = feedback_apply(
        Feedback(
            source=source,
            # One per message and channel: a second click changes nothing.
            event_id=f"{token.campaign_id}:{token.subscriber_id}",
            kind=kind,
            token=token,
            comment=comment,
        )
    )
    return LinkOutcome(event=event, already=event is None)


def unsubscribe_link_apply(*, token: TokenData, one_click: bool) -> LinkOutcome:
    """Unsubscribe the recipient an unsubscribe link names, at once: the subscription ends, the
    address is suppressed account-wide, a consent record is written. Idempotent; a test
    message's link changes nothing."""
    source = FeedbackSource.ONE_CLICK if one_click else FeedbackSource.UNSUBSCRIBE_PAGE
    return _link_feedback(token=token, kind=K.UNSUBSCRIBED, source=source)


def report_link_apply(*, token: TokenData, comment: str = "") -> LinkOutcome:
    """Record a spam report from the message's report link: a complaint against the campaign
    (counted in the probe's figures) and the account; the address is unsubscribed and
    suppressed. Idempotent; a test message's link changes nothing."""
    return _link_feedback(
        token=token, kind=K.COMPLAINED, source=FeedbackSource.REPORT_PAGE, comment=comment
    )
