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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models.functions import Upper
from django.utils import timezone

from accounts.models import Account
from campaigns import tracking
from campaigns.bounces import BounceClass, BounceVerdict
from campaigns.delivery_updates import deliveries_feedback_record
from campaigns.models import Campaign, Delivery
from campaigns.refusals import SOFT_BOUNCE_LOOKBACK_DAYS, soft_bounce_limits
from campaigns.tokens import BadToken, TokenData, TokenKind, unpack
from campaigns.tracking_queue import CLICK as QUEUED_CLICK
from campaigns.tracking_queue import OPEN as QUEUED_OPEN
from campaigns.tracking_queue import Hit
from complaints.models import (
    AbuseReport,
    BlocklistListing,
    FeedbackDeadLetter,
    FeedbackEvent,
    FeedbackKind,
    FeedbackOutcome,
    FeedbackSource,
    PendingOneClick,
)
from config.account_data import AccountDataStep, deleted
from config.bulk import column_of, insert_new_rows, insert_rows
from lists.addresses import address_hash
from lists.models import (
    PlatformSuppression,
    Subscriber,
    SubscriberStatus,
    Suppression,
    SuppressionReason,
)
from lists.services.subscribers import (
    SubscriptionEnded,
    subscriber_unsubscribe,
    subscriptions_ended_write,
)
from lists.services.suppression import platform_address_hash

logger = logging.getLogger(__name__)

K = FeedbackKind

# A subscriber's status only moves towards the stronger signal: a late "unsubscribed" from an ESP
# must not turn a complaint back into a plain unsubscribe.
_STRENGTH: dict[str, int] = {
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
    # When the channel itself already suppressed the address (the one-click front:
    # one_click_unsubscribe_accept): the event's suppressed_at, instead of the batch's time.
    suppressed_at: datetime | None = None


@dataclass(frozen=True)
class _Match:
    campaign_id: int
    subscriber_id: int
    is_test: bool = False


def message_ref_data(message_ref: str) -> TokenData | None:
    """The (campaign, subscriber) a per-message reference names, or None if it is not ours."""
    try:
        return unpack(message_ref.strip(), kind=TokenKind.MESSAGE)
    except BadToken:
        return None


def _token_match(feedback: Feedback) -> _Match | None:
    data = feedback.token
    if data is None and feedback.message_ref:
        data = message_ref_data(feedback.message_ref)
    if data is not None:
        return _Match(data.campaign_id, data.subscriber_id, data.is_test)
    return None


# Reports applied per transaction by the channels that receive many at once (an ESP's post, a
# mailbox run): a few statements each, whatever the size (bench/feedback_bench.py).
FEEDBACK_BATCH_SIZE = 500
# A batch that meets a report committed meanwhile by another (an ESP retrying while the first
# post is still being applied) is applied again, seeing it this time.
_RACE_ATTEMPTS = 3


def feedback_apply(feedback: Feedback) -> FeedbackEvent | None:
    """Apply one report: record it, then update the delivery, end the subscription and suppress
    the address as its kind requires (a hard bounce also platform-wide). Idempotent: a report
    already applied (same source and event id) returns None and changes nothing; the same
    message's unsubscribe, bounce or complaint reported again (another channel, another report)
    is recorded as a `duplicate`, which the sender's listings do not show. Locks the delivery and
    the subscriber rows. A batch of one: `feedback_apply_batch` holds the rules. A report that
    cannot be applied raises (the caller answers for it; nothing is kept as a dead letter)."""
    return feedback_apply_batch([feedback], dead_letter=False)[0]


# Faults of the database itself (connection lost, deadlock, serialisation failure): no report's
# own, so the whole batch is raised for its caller to retry, never kept as a dead letter.
_TRANSIENT = (OperationalError, InterfaceError)


def feedback_apply_batch(
    reports: Sequence[Feedback], *, dead_letter: bool = True
) -> list[FeedbackEvent | None]:
    """Apply many reports in one transaction and a few set-based statements, with the very
    result of applying them one by one in this order (`feedback_apply`): one result per report,
    None for a report already applied (before, or earlier in this batch). Exactly once: the
    (source, event id) unique constraint decides, and a batch that meets a report committed
    meanwhile is rolled back and applied again. Locks the deliveries (in id order), then the
    subscribers whose subscription a report ends (in id order). An ESP's opens and clicks are
    recorded as our own pixel's and redirect's, together (tracking.hits_record) and in the same
    transaction as their reports, so that they too are recorded once.

    A batch that fails for another reason than the database's own fault is applied one report
    at a time, so that one bad report cannot hold back the others: with `dead_letter` (what a
    queue's or a mailbox's consumer wants: it acknowledges the batch after this returns) a report
    that fails alone is logged and kept as a `FeedbackDeadLetter`, and its result is None;
    without, its error is raised."""
    reports = list(reports)
    if not reports:
        return []
    try:
        return _apply_with_retries(reports)
    except _TRANSIENT:
        raise
    except Exception:
        if len(reports) > 1:
            logger.warning(
                "A batch of %s reports failed; applying them one at a time", len(reports)
            )
        elif not dead_letter:
            raise
    return [_apply_alone(report, dead_letter=dead_letter) for report in reports]


def _apply_with_retries(reports: list[Feedback]) -> list[FeedbackEvent | None]:
    """One transaction for the batch, applied again (up to _RACE_ATTEMPTS) when it meets a
    report committed meanwhile."""
    for attempt in range(_RACE_ATTEMPTS):
        try:
            with transaction.atomic():
                results, matches = _apply_batch(reports)
                _track(reports, results, matches)
            return results
        except IntegrityError:
            if attempt < _RACE_ATTEMPTS - 1:
                continue
            if len(reports) == 1 and _already_applied(reports[0]):
                return [None]  # the same report again (a webhook retried, a mailbox read twice)
            raise  # not this report's row: a real fault, which must not pass for "already"
    raise AssertionError("unreachable")  # pragma: no cover


def _already_applied(report: Feedback) -> bool:
    return FeedbackEvent.objects.filter(
        source=report.source, event_id=report.event_id[:200]
    ).exists()


def _apply_alone(report: Feedback, *, dead_letter: bool) -> FeedbackEvent | None:
    try:
        return _apply_with_retries([report])[0]
    except _TRANSIENT:
        raise
    except Exception as exc:
        if not dead_letter:
            raise
        logger.exception(
            "Report %s from %s could not be applied; kept as a dead letter",
            report.event_id,
            report.source,
        )
        _dead_letter_keep(report, exc)
        return None


def _dead_letter_keep(report: Feedback, exc: Exception) -> None:
    """Keep a report that fails alone (the first failure of a (source, event id) stays)."""
    fields = {
        name: getattr(report, name) for name in report.__dataclass_fields__ if name != "token"
    }
    fields["kind"] = str(report.kind)
    for name, value in fields.items():
        if isinstance(value, datetime):
            fields[name] = value.isoformat()
    if report.token is not None:
        fields["token"] = {
            "campaign_id": report.token.campaign_id,
            "subscriber_id": report.token.subscriber_id,
            "link": report.token.link,
            "is_test": report.token.is_test,
        }
    FeedbackDeadLetter.objects.bulk_create(
        [
            FeedbackDeadLetter(
                source=report.source[:32],
                event_id=report.event_id[:200],
                kind=str(report.kind)[:16],
                report=fields,
                error=f"{type(exc).__name__}: {exc}"[:_TEXT_MAX],
            )
        ],
        ignore_conflicts=True,
    )


class _Batch:
    """The rows one batch reads (locked where it writes them) and what it will write, kept in
    memory while the reports are applied one by one in order."""

    def __init__(self, now: datetime):
        self.now = now
        self.deliveries: dict[tuple[int, int], _DeliveryRow] = {}
        self.subscribers: dict[int, _SubscriberRow] = {}
        self.changed_deliveries: dict[int, _DeliveryRow] = {}
        self.delivery_fields: set[str] = set()
        self.ended: list[SubscriptionEnded] = []
        # (account id, address, reason, keep the address): the first of an address stays.
        self.suppressions: list[tuple[int, str, str, bool]] = []
        self.platform: list[tuple[str, str]] = []
        # (account id, upper-cased address) -> {delivery id: soft_bounced_at} within the window.
        self.soft_bounces: dict[tuple[int, str], dict[int, datetime]] = {}
        # Events whose address their channel suppressed before the batch: id(event) -> when.
        self.suppressed_before: dict[int, datetime] = {}


def _apply_batch(
    reports: list[Feedback],
) -> tuple[list[FeedbackEvent | None], list[_Match | None]]:
    """One transaction's work: (the result, the message matched) per report."""
    now = timezone.now()
    keys = [(report.source, report.event_id[:200]) for report in reports]
    seen = set(
        FeedbackEvent.objects.filter(
            source__in={source for source, _ in keys}, event_id__in={eid for _, eid in keys}
        ).values_list("source", "event_id")
    )
    fresh: list[int] = []
    for index, key in enumerate(keys):
        if key not in seen:
            seen.add(key)
            fresh.append(index)
    matches = _matches([reports[i] for i in fresh])
    campaign_ids = {m.campaign_id for m in matches if m is not None and m.campaign_id}
    campaign_accounts = dict(
        Campaign.objects.filter(pk__in=campaign_ids).values_list("pk", "account_id")
    )
    batch = _Batch(now)
    applied = [(reports[i], m) for i, m in zip(fresh, matches, strict=True) if m and not m.is_test]
    _load(batch, applied)

    results: list[FeedbackEvent | None] = [None] * len(reports)
    matched: list[_Match | None] = [None] * len(reports)
    events = []
    for index, match in zip(fresh, matches, strict=True):
        report = reports[index]
        outcome = FeedbackOutcome.APPLIED
        if match is None:
            outcome = FeedbackOutcome.UNMATCHED
        elif match.is_test:
            outcome = FeedbackOutcome.TEST
        campaign_id = match.campaign_id if match is not None else None
        account_id = campaign_accounts.get(campaign_id) if campaign_id is not None else None
        event = FeedbackEvent(
            source=report.source,
            event_id=report.event_id[:200],
            kind=report.kind,
            outcome=outcome,
            account_id=account_id,
            campaign_id=campaign_id if account_id is not None else None,
            recipient=report.recipient.strip()[:254],
            code=report.code[:64],
            detail=report.detail[:_TEXT_MAX],
            comment=report.comment.strip()[:_TEXT_MAX],
            occurred_at=min(report.occurred_at or now, now),
            received_at=now,
        )
        if outcome == FeedbackOutcome.APPLIED and match is not None:
            _apply(batch, event, report, match)
        results[index] = event
        matched[index] = match
        events.append(event)
    _write(batch, events)
    return results, matched


def _matches(reports: list[Feedback]) -> list[_Match | None]:
    """Each report's message: by our signed reference, else by the provider's message id (one
    query for the batch)."""
    matches = [_token_match(report) for report in reports]
    wanted = {
        report.provider_message_id
        for report, match in zip(reports, matches, strict=True)
        if match is None and report.provider_message_id
    }
    by_provider_id: dict[str, _Match] = {}
    if wanted:
        rows = (
            Delivery.objects.filter(provider_message_id__in=wanted)
            .order_by("pk")
            .values_list("provider_message_id", "campaign_id", "subscriber_id")
        )
        for provider_id, campaign_id, subscriber_id in rows:
            by_provider_id.setdefault(provider_id, _Match(campaign_id, subscriber_id))
    return [
        match if match is not None else by_provider_id.get(report.provider_message_id)
        for report, match in zip(reports, matches, strict=True)
    ]


class _DeliveryRow:
    """What a batch reads and writes of a delivery (a model instance each costs more than the
    rest of a report's work)."""

    __slots__ = ("pk", "campaign_id", "subscriber_id", "is_probe", *_DELIVERY_FIELD.values())
    pk: int
    campaign_id: int
    subscriber_id: int
    is_probe: bool
    delivered_at: datetime | None
    soft_bounced_at: datetime | None
    hard_bounced_at: datetime | None
    blocked_at: datetime | None
    complained_at: datetime | None
    unsubscribed_at: datetime | None

    def __init__(self, values: tuple):
        for name, value in zip(self.__slots__, values, strict=True):
            setattr(self, name, value)


class _SubscriberRow:
    """What a batch reads and writes of a subscriber, with its list's account."""

    __slots__ = (
        "pk",
        "email",
        "status",
        "unsubscribed_at",
        "mailing_list_id",
        "account_id",
        "updated_at",
    )
    pk: int
    email: str
    status: str
    unsubscribed_at: datetime | None
    mailing_list_id: int
    account_id: int
    updated_at: datetime | None

    def __init__(self, values: tuple):
        for name, value in zip(self.__slots__, values, strict=False):
            setattr(self, name, value)
        self.updated_at = None


def _load(batch: _Batch, applied: list[tuple[Feedback, _Match]]) -> None:
    """Read (and lock) the deliveries and subscribers the applied reports name, and the soft
    bounces already counted against their addresses."""
    if not applied:
        return
    pairs = {(m.campaign_id, m.subscriber_id) for _, m in applied}
    for values in _deliveries_locked(sorted(pairs)):
        delivery = _DeliveryRow(values)
        if (delivery.campaign_id, delivery.subscriber_id) in pairs:
            batch.deliveries[(delivery.campaign_id, delivery.subscriber_id)] = delivery
    ending = {m.subscriber_id for report, m in applied if report.kind in _ENDS_SUBSCRIPTION}
    subscribers = Subscriber.objects.values_list(
        *_SubscriberRow.__slots__[:-2], "mailing_list__account_id"
    )
    if ending:
        locked = subscribers.select_for_update(of=("self",)).filter(pk__in=ending).order_by("pk")
        batch.subscribers.update({row[0]: _SubscriberRow(row) for row in locked})
    rest = {m.subscriber_id for _, m in applied} - ending
    if rest:
        batch.subscribers.update(
            {row[0]: _SubscriberRow(row) for row in subscribers.filter(pk__in=rest)}
        )
    _load_soft_bounces(batch, applied)


def _deliveries_locked(pairs: list[tuple[int, int]]) -> list[tuple]:
    """The deliveries of these (campaign, subscriber) pairs, locked in id order (two batches at
    once never wait for each other in a circle), as `_DeliveryRow` values."""
    if connection.vendor != "postgresql":
        # Campaigns x subscribers may name a few more rows than the pairs: locked all the same.
        return list(
            Delivery.objects.select_for_update()
            .filter(campaign_id__in={c for c, _ in pairs}, subscriber_id__in={s for _, s in pairs})
            .order_by("pk")
            .values_list(*_DeliveryRow.__slots__)
        )
    # Joined to the pairs, so that the (campaign, subscriber) unique index finds each row:
    # `campaign IN (..) AND subscriber IN (..)` can read a whole campaign's rows instead.
    columns = ", ".join(
        "d." + connection.ops.quote_name(column_of(Delivery._meta.get_field(name)))
        for name in ("id", *_DeliveryRow.__slots__[1:])
    )
    table = connection.ops.quote_name(Delivery._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            # Only quoted names from the model's meta are formatted in.
            f"SELECT {columns} FROM {table} AS d "  # noqa: S608
            "JOIN unnest(%s::bigint[], %s::bigint[]) AS p(campaign_id, subscriber_id) "
            "ON d.campaign_id = p.campaign_id AND d.subscriber_id = p.subscriber_id "
            "ORDER BY d.id FOR UPDATE OF d",
            [[c for c, _ in pairs], [s for _, s in pairs]],
        )
        return cursor.fetchall()


def _load_soft_bounces(batch: _Batch, applied: list[tuple[Feedback, _Match]]) -> None:
    """The soft bounces within the rule's window of the addresses this batch may soft-bounce
    for the first time (`soft_bounce_rule_apply`'s count, read once for the batch)."""
    addresses: dict[int, set[str]] = {}
    for report, match in applied:
        if report.kind != K.SOFT_BOUNCE:
            continue
        delivery = batch.deliveries.get((match.campaign_id, match.subscriber_id))
        subscriber = batch.subscribers.get(match.subscriber_id)
        if delivery is None or subscriber is None or delivery.soft_bounced_at is not None:
            continue
        addresses.setdefault(subscriber.account_id, set()).add(subscriber.email.upper())
    since = batch.now - timedelta(days=SOFT_BOUNCE_LOOKBACK_DAYS)
    for account_id, emails in addresses.items():
        for email in emails:
            batch.soft_bounces[(account_id, email)] = {}
        same_address = (
            Subscriber.objects.annotate(upper_email=Upper("email"))
            .filter(mailing_list__account_id=account_id, upper_email__in=emails)
            .values("pk")
        )
        rows = (
            Delivery.objects.filter(
                campaign__account_id=account_id,
                subscriber_id__in=same_address,
                soft_bounced_at__gte=since,
            )
            .annotate(upper_email=Upper("subscriber__email"))
            .values_list("pk", "upper_email", "soft_bounced_at")
        )
        for pk, email, soft_bounced_at in rows:
            if soft_bounced_at is not None:  # always, by the filter: the column is nullable
                batch.soft_bounces[(account_id, email)][pk] = soft_bounced_at


def _soft_bounce_rule(batch: _Batch, subscriber: _SubscriberRow, delivery: _DeliveryRow) -> bool:
    """`campaigns.refusals.soft_bounce_rule_apply` on the batch's own count: this message's
    first soft bounce was just set; is the address now suppressed for the account?"""
    count, span = soft_bounce_limits()
    account_id = subscriber.account_id
    found = batch.soft_bounces.setdefault((account_id, subscriber.email.upper()), {})
    bounced_at = delivery.soft_bounced_at
    assert bounced_at is not None  # the caller has just set it
    if bounced_at >= batch.now - timedelta(days=SOFT_BOUNCE_LOOKBACK_DAYS):
        found[delivery.pk] = bounced_at
    if len(found) < count or max(found.values()) - min(found.values()) < span:
        return False
    batch.suppressions.append(
        (account_id, subscriber.email.lower(), SuppressionReason.SOFT_BOUNCES, True)
    )
    logger.info(
        "address of subscriber %s suppressed for account %s after %s soft bounces",
        subscriber.pk,
        account_id,
        len(found),
    )
    return True


def _apply(batch: _Batch, event: FeedbackEvent, feedback: Feedback, match: _Match) -> None:
    """One report's effects on the batch's rows, in memory (the rule of feedback_apply)."""
    delivery = batch.deliveries.get((match.campaign_id, match.subscriber_id))
    subscriber = batch.subscribers.get(match.subscriber_id)
    if event.account_id is None and subscriber is not None:
        event.account_id = subscriber.account_id
    if delivery is not None:
        event.delivery_id = delivery.pk
        event.is_probe = delivery.is_probe
        field = _DELIVERY_FIELD.get(feedback.kind)
        if field and getattr(delivery, field) is None:
            setattr(delivery, field, event.occurred_at)
            batch.changed_deliveries[delivery.pk] = delivery
            batch.delivery_fields.add(field)
            # This message's first soft bounce: three messages over a week suppress the
            # address for the account.
            soft = feedback.kind == K.SOFT_BOUNCE
            if soft and subscriber is not None and _soft_bounce_rule(batch, subscriber, delivery):
                event.suppressed_at = batch.now
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
            _end_subscription(batch, subscriber, feedback.kind, channel=feedback.source)
        elif event.account_id is not None and event.recipient:
            # Already off the list (or erased): the account-wide suppression must hold all the
            # same. Idempotent; the first reason recorded stays.
            batch.suppressions.append(
                (
                    event.account_id,
                    event.recipient.lower(),
                    _SUPPRESSION_REASON[feedback.kind],
                    subscriber is not None,
                )
            )
        if feedback.kind == K.HARD_BOUNCE and event.recipient:
            batch.platform.append((event.recipient.lower(), feedback.source))
        event.suppressed_at = batch.now
        if feedback.suppressed_at is not None:
            batch.suppressed_before[id(event)] = feedback.suppressed_at


def _end_subscription(
    batch: _Batch, subscriber: _SubscriberRow, kind: FeedbackKind, *, channel: str
) -> None:
    """`lists.services.subscribers.subscriber_unsubscribe` on the locked row in memory."""
    status = _ENDS_SUBSCRIPTION[kind]
    previous = subscriber.status
    subscriber.status = status
    if previous in (SubscriberStatus.SUBSCRIBED, SubscriberStatus.UNCONFIRMED):
        subscriber.unsubscribed_at = batch.now
    batch.ended.append(
        SubscriptionEnded(
            subscriber=subscriber,
            account_id=subscriber.account_id,
            status=status,
            previous_status=previous,
            channel=channel,
        )
    )
    batch.suppressions.append(
        (subscriber.account_id, subscriber.email, _SUPPRESSION_REASON[kind], True)
    )


def _write(batch: _Batch, events: list[FeedbackEvent]) -> None:
    """Every write of the batch, one statement per table."""
    if batch.changed_deliveries:
        deliveries_feedback_record(
            deliveries=list(batch.changed_deliveries.values()), fields=batch.delivery_fields
        )
    subscriptions_ended_write(ended=batch.ended, now=batch.now)
    # The first reason recorded for an address stays (suppression_add's get_or_create).
    suppressions: dict[tuple[int, str], tuple] = {}
    for account_id, email, reason, keep_address in batch.suppressions:
        digest = address_hash(account_id, email)
        row = (account_id, digest, email if keep_address else "", reason)
        suppressions.setdefault((account_id, digest), row)
    insert_new_rows(
        Suppression, ["account_id", "email_hash", "email", "reason"], list(suppressions.values())
    )
    platform: dict[str, tuple] = {}
    for email, source in batch.platform:
        digest = platform_address_hash(email)
        platform.setdefault(digest, (digest, SuppressionReason.HARD_BOUNCE, source[:32]))
    insert_new_rows(
        PlatformSuppression, ["email_hash", "reason", "source"], list(platform.values())
    )
    # The addresses are suppressed now (the rows above), not when the batch began: what the
    # unsubscribe page reports and mailbox providers bound is from the report to this.
    suppressed_at = timezone.now()
    for event in events:
        if event.suppressed_at is not None:
            event.suppressed_at = batch.suppressed_before.get(id(event), suppressed_at)
    ids = insert_rows(
        FeedbackEvent,
        _EVENT_COLUMNS,
        [tuple(getattr(event, name) for name in _EVENT_COLUMNS) for event in events],
    )
    for event, pk in zip(events, ids, strict=True):
        event.pk = pk
        event._state.adding, event._state.db = False, "default"


_EVENT_COLUMNS = [
    "source",
    "event_id",
    "kind",
    "outcome",
    "account_id",
    "campaign_id",
    "delivery_id",
    "is_probe",
    "recipient",
    "code",
    "detail",
    "comment",
    "occurred_at",
    "received_at",
    "suppressed_at",
]


def _track(
    reports: list[Feedback], results: list[FeedbackEvent | None], matches: list[_Match | None]
) -> None:
    """The batch's applied ESP opens and clicks, recorded like our own pixel's and redirect's
    (machines set apart the same way) in one go, each under its report's id (so never twice)."""
    hits = [
        Hit(
            kind=QUEUED_OPEN if report.kind == K.OPENED else QUEUED_CLICK,
            campaign_id=match.campaign_id,
            subscriber_id=match.subscriber_id,
            user_agent=report.user_agent,
            method="GET",
            ip=report.ip,
            at=event.received_at,  # as our pixel: when we heard of it (as before)
            queue_id=f"feedback:{event.pk}",
        )
        for report, event, match in zip(reports, results, matches, strict=True)
        if report.kind in (K.OPENED, K.CLICKED)
        and event is not None
        and event.outcome == FeedbackOutcome.APPLIED
        and match is not None
    ]
    if not hits:
        return
    try:
        # Records nothing for a message that was not sent.
        with transaction.atomic():
            tracking.hits_record(hits)
    except Exception:  # an engagement count must never undo the reports that were recorded
        logger.exception("Could not record the ESP's opens and clicks")


@dataclass(frozen=True)
class LinkOutcome:
    """What a recipient's click on an unsubscribe or report link did."""

    event: FeedbackEvent | None
    # Already off the list before this request (a second click, a scanner's POST).
    already: bool = False


def _links_feedback(
    tokens: Sequence[TokenData], *, kind: FeedbackKind, source: str, comment: str = ""
) -> list[LinkOutcome]:
    """What `tokens` (each a recipient's link) did, applied as one batch."""
    statuses = dict(
        Subscriber.objects.filter(pk__in={token.subscriber_id for token in tokens}).values_list(
            "pk", "status"
        )
    )
    outcomes: list[LinkOutcome | None] = [None] * len(tokens)
    reports: list[tuple[int, Feedback]] = []
    for index, token in enumerate(tokens):
        subscriber_status = statuses.get(token.subscriber_id)
        strength = _STRENGTH.get(subscriber_status, 0) if subscriber_status else 0
        # Gone (erased: only a hashed suppression is left) or already as far off the list.
        done = subscriber_status is None or strength >= _STRENGTH[_ENDS_SUBSCRIPTION[kind]]
        if done and not token.is_test:
            outcomes[index] = LinkOutcome(event=None, already=True)
            continue
        feedback = Feedback(
            source=source,
            # One per message and channel: a second click changes nothing.
            event_id=f"{token.campaign_id}:{token.subscriber_id}",
            kind=kind,
            token=token,
            comment=comment,
        )
        reports.append((index, feedback))
    if reports:
        # Interactive: a report that cannot be applied raises (the page or the hot path's
        # fallback answers for it), never passes for "already".
        events = feedback_apply_batch([feedback for _, feedback in reports], dead_letter=False)
        for (index, _), event in zip(reports, events, strict=True):
            outcomes[index] = LinkOutcome(event=event, already=event is None)
    return outcomes  # type: ignore[return-value]


def _link_feedback(
    *, token: TokenData, kind: FeedbackKind, source: str, comment: str = ""
) -> LinkOutcome:
    return _links_feedback([token], kind=kind, source=source, comment=comment)[0]


def unsubscribe_link_apply(*, token: TokenData, one_click: bool) -> LinkOutcome:
    """Unsubscribe the recipient an unsubscribe link names, at once: the subscription ends, the
    address is suppressed account-wide, a consent record is written. Idempotent; a test
    message's link changes nothing."""
    source = FeedbackSource.ONE_CLICK if one_click else FeedbackSource.UNSUBSCRIBE_PAGE
    return _link_feedback(token=token, kind=K.UNSUBSCRIBED, source=source)


def one_click_unsubscribes_apply(tokens: Sequence[TokenData]) -> list[LinkOutcome]:
    """`unsubscribe_link_apply(one_click=True)` for many links in one transaction (committed
    before it returns): what the one-click POSTs of concurrent requests share
    (config.group_commit). Two links of one message: the first unsubscribes, the second finds
    it done (already)."""
    return _links_feedback(tokens, kind=K.UNSUBSCRIBED, source=FeedbackSource.ONE_CLICK)


# --- one-click unsubscribes at the rate we send (with the tracking queue's consumer) ---------

_ONE_CLICK_READ: str | None = None
_ONE_CLICK_WRITE: str | None = None


def _one_click_sql() -> tuple[str, str]:
    """The two statements of `one_click_unsubscribe_accept`, built once from the models' meta
    (only quoted table and column names are formatted in; every value is a parameter)."""
    global _ONE_CLICK_READ, _ONE_CLICK_WRITE
    if _ONE_CLICK_READ is None or _ONE_CLICK_WRITE is None:
        quote = connection.ops.quote_name
        subscriber = quote(Subscriber._meta.db_table)
        lists = quote(Subscriber._meta.get_field("mailing_list").related_model._meta.db_table)
        suppression = quote(Suppression._meta.db_table)
        pending = quote(PendingOneClick._meta.db_table)
        _ONE_CLICK_READ = (
            f"SELECT s.email, s.status, l.account_id FROM {subscriber} s "  # noqa: S608
            f"JOIN {lists} l ON l.id = s.mailing_list_id WHERE s.id = %s"
        )
        # One statement, one transaction: the suppression and the row the consumer applies.
        _ONE_CLICK_WRITE = (
            f"WITH suppressed AS (INSERT INTO {suppression} "  # noqa: S608
            "(account_id, email_hash, email, reason, created_at) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING) "
            f"INSERT INTO {pending} (campaign_id, subscriber_id, received_at) "
            "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
        )
    return _ONE_CLICK_READ, _ONE_CLICK_WRITE


def one_click_unsubscribe_accept(token: TokenData) -> bool:
    """What the one-click POST's answer promises, and nothing more: the address suppressed for
    the account (what every send checks before it hands a message over:
    campaigns.selectors.suppressed_addresses) and a `PendingOneClick` for the consumer to apply
    the rest (`one_clicks_pending_apply`), written by one statement in autocommit, so both are
    durable before this returns. Two round trips, no lock. False (nothing written): the
    subscriber is gone or already off the list, which the caller answers as the page does.
    Only for when the tracking queue's consumer runs (it drains the pending rows); call it in
    autocommit (the hot path does), where its one write is its own transaction."""
    read, write = _one_click_sql()
    with connection.cursor() as cursor:
        cursor.execute(read, [token.subscriber_id])
        row = cursor.fetchone()
        if row is None:
            return False
        email, status, account_id = row
        if _STRENGTH.get(status, 0) >= _STRENGTH[SubscriberStatus.UNSUBSCRIBED]:
            return False
        now = timezone.now()
        cursor.execute(
            write,
            [
                account_id,
                address_hash(account_id, email),
                email,
                SuppressionReason.UNSUBSCRIBED,
                now,
                token.campaign_id,
                token.subscriber_id,
                now,
            ],
        )
    return True


def one_clicks_pending_apply(*, limit: int = FEEDBACK_BATCH_SIZE) -> int:
    """Apply up to `limit` pending one-click unsubscribes (oldest first) as the page would have
    (`one_click_unsubscribes_apply`: the subscription ended with its consent record and the
    sender's webhooks, the delivery's and campaign's figures) in one transaction that also
    deletes them: each applied once. Rows another consumer holds are skipped. A report that
    cannot be applied is kept as a dead letter (its address stays suppressed). Returns the rows
    handled."""
    with transaction.atomic():
        rows = list(
            PendingOneClick.objects.select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", "campaign_id", "subscriber_id", "received_at")[:limit]
        )
        if not rows:
            return 0
        reports = [
            Feedback(
                source=FeedbackSource.ONE_CLICK,
                # As _links_feedback: one per message and channel.
                event_id=f"{campaign_id}:{subscriber_id}",
                kind=K.UNSUBSCRIBED,
                token=TokenData(
                    kind=TokenKind.UNSUBSCRIBE,
                    campaign_id=campaign_id,
                    subscriber_id=subscriber_id,
                ),
                occurred_at=received_at,
                suppressed_at=received_at,
            )
            for _, campaign_id, subscriber_id, received_at in rows
        ]
        feedback_apply_batch(reports)
        PendingOneClick.objects.filter(pk__in=[row[0] for row in rows]).delete()
    return len(rows)


def one_clicks_pending_for(campaign_id: int, before: datetime | None = None) -> int:
    """The campaign's one-click unsubscribes answered (before `before`) and not yet applied:
    what its figures may still be missing (campaigns.tracking_queue.pending_for)."""
    pending = PendingOneClick.objects.filter(campaign_id=campaign_id)
    if before is not None:
        pending = pending.filter(received_at__lt=before)
    return pending.count()


def report_link_apply(*, token: TokenData, comment: str = "") -> LinkOutcome:
    """Record a spam report from the message's report link: a complaint against the campaign
    (counted in the probe's figures) and the account; the address is unsubscribed and
    suppressed. Idempotent; a test message's link changes nothing."""
    return _link_feedback(
        token=token, kind=K.COMPLAINED, source=FeedbackSource.REPORT_PAGE, comment=comment
    )


# --- deleting an account's data (config.account_data) ------------------------------------------


def account_data_delete(*, account: Account) -> dict[str, int]:
    """The complaints app's step of deleting an account's data: its feedback events and the
    blocklist listings of its sender domains go; feedback of another account that points at
    this one's campaigns or deliveries lets go of them. Abuse reports stay (the moderators'
    record). Runs first, inside the caller's transaction: its rows point at deliveries."""
    counts = {"feedback_events": deleted(FeedbackEvent.objects.filter(account=account))}
    campaign_ids = Campaign.objects.filter(account=account).values("pk")
    FeedbackEvent.objects.filter(campaign_id__in=campaign_ids).update(campaign=None)
    deliveries = Delivery.objects.filter(campaign_id__in=campaign_ids).values("pk")
    FeedbackEvent.objects.filter(delivery_id__in=deliveries).update(delivery=None)
    deleted(BlocklistListing.objects.filter(sender_domain__account=account))
    # Answered one-clicks not yet applied: their addresses' suppressions go with the account's.
    deleted(PendingOneClick.objects.filter(campaign__account=account))
    return counts


ACCOUNT_DATA = AccountDataStep(
    app="complaints",
    run=account_data_delete,
    deletes=(FeedbackEvent, BlocklistListing, PendingOneClick),
    keeps={AbuseReport: "the moderators' record of what was reported and decided"},
)
# --- preferences: leaving every list of the sender ------------------------------------------


# The consent records' word for a subscription ended from the unsubscribe page's "every list".
ALL_LISTS_CHANNEL = "unsubscribe_page_all_lists"


def unsubscribe_everywhere_apply(
    *, token: TokenData, ip: str | None = None, user_agent: str = ""
) -> int:
    """Take the recipient an unsubscribe link names off every list of that sender: the link's
    own list as `unsubscribe_link_apply` does, then each other subscribed or unconfirmed row of
    the same address in the same account (never another account's), one consent record
    (withdrawn) per row changed, the address suppressed account-wide as today. Returns how
    many other lists were left. Idempotent; a test message's link changes nothing."""
    if token.is_test:
        return 0
    unsubscribe_link_apply(token=token, one_click=False)
    origin = (
        Subscriber.objects.select_related("mailing_list")
        .filter(pk=token.subscriber_id)
        .values_list("email", "mailing_list__account_id")
        .first()
    )
    if origin is None:
        return 0
    email, account_id = origin
    with transaction.atomic():
        # Locked in id order with their status checked in the same read: a row that bounced
        # or complained meanwhile keeps that status (a stronger end than this one).
        rows = list(
            Subscriber.objects.select_for_update(of=("self",))
            .filter(
                mailing_list__account_id=account_id,
                email=email,
                status__in=(SubscriberStatus.SUBSCRIBED, SubscriberStatus.UNCONFIRMED),
            )
            .exclude(pk=token.subscriber_id)
            .order_by("pk")
        )
        for subscriber in rows:
            subscriber_unsubscribe(
                subscriber=subscriber, channel=ALL_LISTS_CHANNEL, ip=ip, user_agent=user_agent
            )
    return len(rows)
