"""`feedback_apply` as it was before reports were applied in batches (commit c381843), one
report, one transaction, about fifteen queries: the reference tests/complaints/
test_feedback_batch.py holds `feedback_apply_batch` to (opens and clicks left out: they are
recorded by campaigns.tracking either way)."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account
from campaigns.models import Campaign, Delivery
from campaigns.refusals import soft_bounce_rule_apply
from complaints.models import FeedbackEvent, FeedbackOutcome
from complaints.services import (
    _DELIVERY_FIELD,
    _ENDS_SUBSCRIPTION,
    _STRENGTH,
    _SUPPRESSION_REASON,
    _TEXT_MAX,
    Feedback,
    K,
    _Match,
    message_ref_data,
)
from lists.models import Subscriber
from lists.services.subscribers import subscriber_unsubscribe
from lists.services.suppression import platform_suppression_add, suppression_add


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


def reference_feedback_apply(feedback: Feedback) -> FeedbackEvent | None:
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
