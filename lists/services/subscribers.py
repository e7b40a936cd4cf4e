"""Adding, changing and unsubscribing subscribers, one at a time (imports have their own module)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.addresses import normalise_address
from accounts.models import User, WebhookEvent
from accounts.webhooks import emit_event, emit_events
from config.account_data import rows_delete
from config.bulk import insert_rows, update_rows
from config.coded_text import render
from config.errors import ApplicationError
from lists.models import (
    ConsentEvent,
    ConsentRecord,
    MailingList,
    Subscriber,
    SubscriberChange,
    SubscriberStatus,
    SubscriberTag,
    SuppressionReason,
    is_role_address,
)
from lists.services.consent import (
    AgeConfirmedBy,
    age_confirmation_check,
    consent_proof_check,
    consent_record_add,
    consent_source_check,
    proof_with_age_confirmation,
)
from lists.services.suppression import suppression_add, suppression_message, suppression_reason

# Statuses that suppress the address account-wide, with the suppression they imply.
_SUPPRESSING = {
    SubscriberStatus.UNSUBSCRIBED: SuppressionReason.UNSUBSCRIBED,
    SubscriberStatus.BOUNCED: SuppressionReason.HARD_BOUNCE,
    SubscriberStatus.COMPLAINED: SuppressionReason.COMPLAINED,
}
_WEBHOOK_EVENTS: dict[str, WebhookEvent] = {
    SubscriberStatus.UNSUBSCRIBED: WebhookEvent.SUBSCRIBER_UNSUBSCRIBED,
    SubscriberStatus.BOUNCED: WebhookEvent.SUBSCRIBER_BOUNCED,
    SubscriberStatus.COMPLAINED: WebhookEvent.SUBSCRIBER_COMPLAINED,
}


# PostgreSQL stores neither a NUL (in text or jsonb) nor a lone surrogate (not UTF-8 at all):
# either one in a value would be a database error, not a message.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored, in DRF's words, or None when it can."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "Null characters are not allowed."
    return f"Surrogate characters are not allowed: U+{ord(found.group()):X}."


def attribute_values_problem(attributes: dict) -> str | None:
    """Why the text in `attributes` (values and nested names, at any depth) cannot be stored, or
    None. Iterative: a deeply nested value must not exhaust the stack."""
    pending: list[object] = [attributes]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and (problem := text_problem(value)):
            return problem
    return None


def subscriber_create(
    *,
    mailing_list: MailingList,
    email: str,
    confirmed: bool,
    name: str = "",
    phone: str = "",
    attributes: dict | None = None,
    language: str = "",
) -> Subscriber:
    """Insert one subscriber row (a normalised address), `subscribed` if `confirmed`, else
    `unconfirmed`. The callers record the consent; IntegrityError if the address is there.
    A subscribed one is announced to the account's webhooks (after commit)."""
    subscriber = Subscriber.objects.create(
        mailing_list=mailing_list,
        email=email,
        name=(name or "").strip()[:200],
        phone=(phone or "").strip()[:40],
        attributes=attributes or {},
        language=language,
        is_role_address=is_role_address(email),
        status=SubscriberStatus.SUBSCRIBED if confirmed else SubscriberStatus.UNCONFIRMED,
        subscribed_at=timezone.now() if confirmed else None,
    )
    if confirmed:
        subscriber_emit_event(subscriber, WebhookEvent.SUBSCRIBER_SUBSCRIBED, previous_status="")
    return subscriber


def subscriber_emit_event(
    subscriber: Subscriber, event: str, *, previous_status: str, channel: str = ""
) -> None:
    """Tell the account's webhooks that one subscriber's status changed (not used by imports:
    a whole import is announced once, as `import.finished`)."""
    emit_event(
        subscriber.mailing_list.account_id,
        event,
        subscriber_event_data(subscriber, previous_status=previous_status, channel=channel),
    )


class SubscriberRow(Protocol):
    """A Subscriber, or a row of one read for a batch (complaints.services): what a
    subscription's end reads and writes of it."""

    @property
    def pk(self) -> Any: ...
    @property
    def email(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def unsubscribed_at(self) -> datetime | None: ...
    @property
    def mailing_list_id(self) -> int: ...
    @property
    def updated_at(self) -> datetime | None: ...
    @updated_at.setter
    def updated_at(self, value: datetime) -> None: ...


def subscriber_event_data(
    subscriber: SubscriberRow, *, previous_status: str, channel: str, status: str | None = None
) -> dict:
    """The `data` of a subscriber.* webhook event (`status`: the subscriber's, unless given)."""
    return {
        "subscriber_id": subscriber.pk,
        "list_id": subscriber.mailing_list_id,
        "email": subscriber.email,
        "status": str(status or subscriber.status),
        "previous_status": str(previous_status),
        "channel": channel,
    }


@dataclass(frozen=True)
class SubscriptionEnded:
    """One subscription a caller ended in memory, as `subscriber_unsubscribe` would have: the
    locked row (a Subscriber, or any object with its pk, email, status, unsubscribed_at and
    mailing_list_id) holds the final status and `unsubscribed_at`; `account_id` is its list's.
    One subscriber may end twice in a batch (unsubscribed, then complained): one entry each."""

    subscriber: SubscriberRow
    account_id: int
    status: str
    previous_status: str
    channel: str


def subscriptions_ended_write(*, ended: list[SubscriptionEnded], now: datetime) -> None:
    """What `subscriber_unsubscribe` writes, for many subscribers at once: one UPDATE of the
    rows, one INSERT of their consent records (withdrawn), their webhook events (enqueued after
    commit). The caller holds the rows' locks and writes the suppressions (it knows which
    reason came first)."""
    if not ended:
        return
    rows = {}
    for change in ended:
        change.subscriber.updated_at = now
        rows[change.subscriber.pk] = change.subscriber
    update_rows(Subscriber, list(rows.values()), ["status", "unsubscribed_at", "updated_at"])
    insert_rows(
        ConsentRecord,
        ["subscriber_id", "event", "source", "obtained_at"],
        [
            (change.subscriber.pk, ConsentEvent.WITHDRAWN, change.channel or change.status, now)
            for change in ended
        ],
        return_ids=False,
    )
    emit_events(
        [
            (
                change.account_id,
                _WEBHOOK_EVENTS[change.status],
                subscriber_event_data(
                    change.subscriber,
                    status=change.status,
                    previous_status=change.previous_status,
                    channel=change.channel,
                ),
            )
            for change in ended
        ]
    )


def subscriber_add(
    *,
    mailing_list: MailingList,
    email: str,
    consent: dict,
    name: str = "",
    phone: str = "",
    attributes: dict | None = None,
    double_opt_in: bool | None = None,
    recorded_by: User | None = None,
    age_confirmed: bool = False,
    age_confirmed_by: str = AgeConfirmedBy.API,
) -> Subscriber:
    """Add one subscriber with the consent the sender declares (API and the browser).

    `consent` holds `source`, `obtained_at`, `ip`, `user_agent`, `proof`, `proof_file` (an
    upload), `form_url`. On an adult-content list `age_confirmed` must be true (refused naming
    the field otherwise); the proof then records how the age was confirmed. A forbidden
    source, missing proof, a suppressed address or one already on the list is refused and nothing
    is written. With double opt-in (the list's setting unless given) the subscriber stays
    `unconfirmed` and a confirmation e-mail is enqueued after commit.
    """
    from lists.services.optin import subscriber_request_confirmation

    source = consent_source_check(consent.get("source", ""))
    age_confirmation_check(mailing_list=mailing_list, age_confirmed=age_confirmed)
    consent_proof_check(
        source=source,
        proof=consent.get("proof", ""),
        ip=consent.get("ip"),
        proof_file=consent.get("proof_file"),
    )
    email = normalise_address(email)
    # the same rules as editing the subscriber later (subscriber_update): added by hand either way
    phone = phone_check(phone)
    attributes = attributes_check(attributes)
    account = mailing_list.account
    reason = suppression_reason(account=account, email=email)
    if reason:
        raise ApplicationError(render(suppression_message(reason)), field="email")
    obtained_at: datetime = consent.get("obtained_at") or timezone.now()
    if obtained_at > timezone.now():
        raise ApplicationError(_("Consent cannot be obtained in the future."), field="obtained_at")
    confirm = mailing_list.double_opt_in if double_opt_in is None else double_opt_in
    try:
        with transaction.atomic():
            subscriber = subscriber_create(
                mailing_list=mailing_list,
                email=email,
                name=name,
                phone=phone,
                attributes=attributes,
                confirmed=not confirm,
            )
            consent_record_add(
                subscriber=subscriber,
                event=ConsentEvent.GRANTED,
                source=source,
                obtained_at=obtained_at,
                ip=consent.get("ip"),
                user_agent=consent.get("user_agent", ""),
                purpose_text=mailing_list.purpose,
                form_url=consent.get("form_url", ""),
                proof=proof_with_age_confirmation(
                    mailing_list=mailing_list,
                    proof=consent.get("proof", ""),
                    how=age_confirmed_by,
                ),
                proof_file=consent.get("proof_file"),
                recorded_by=recorded_by,
            )
            if confirm:
                subscriber_request_confirmation(subscriber=subscriber)
    except IntegrityError as exc:
        raise ApplicationError(_("This address is already on the list."), field="email") from exc
    return subscriber


# What a sender may put in a subscriber's details by hand (the browser and the API). The
# phone is loose on purpose (people write "+44 (0)113 496 0000", "8-800-555-35-35") but must be a
# phone: digits with the usual separators, an optional leading +, 5 to 20 digits.
_PHONE = re.compile(r"\+?[0-9 ()./-]+")
PHONE_DIGITS = (5, 20)
# An attribute name is a merge tag: a letter or underscore, then letters, digits, underscores.
_ATTRIBUTE_NAME = re.compile(r"[^\W\d]\w*")
ATTRIBUTE_NAME_MAX = 64
ATTRIBUTE_VALUE_MAX = 1000
ATTRIBUTES_MAX = 50
# The whole object as JSON: bounded, since it is read for every message of every campaign.
ATTRIBUTES_MAX_BYTES = 16 * 1024


def phone_check(phone: str) -> str:
    """The phone stripped, or refuse (ApplicationError on "phone") one that is not a phone."""
    phone = (phone or "").strip()
    if not phone:
        return ""
    digits = sum(char.isdigit() for char in phone)
    if (
        len(phone) > 40
        or not _PHONE.fullmatch(phone)
        or not PHONE_DIGITS[0] <= digits <= PHONE_DIGITS[1]
    ):
        raise ApplicationError(
            _(
                "Enter a phone number: digits with spaces, dashes, dots or brackets, an optional "
                "leading +, from %(min)s to %(max)s digits."
            )
            % {"min": PHONE_DIGITS[0], "max": PHONE_DIGITS[1]},
            field="phone",
        )
    return phone


def attributes_check(attributes: object) -> dict:
    """The attributes as they may be stored by hand, or refuse (ApplicationError on
    "attributes"): names are merge tags (at most 64 characters), text values at most 1,000
    characters, at most 50 attributes and 16 KB in all."""
    import json

    if attributes in (None, ""):
        attributes = {}
    if not isinstance(attributes, dict):
        raise ApplicationError(
            _("Attributes must be an object of names and values."), field="attributes"
        )
    if len(attributes) > ATTRIBUTES_MAX:
        raise ApplicationError(
            _("A subscriber can have at most %(max)s attributes.") % {"max": ATTRIBUTES_MAX},
            field="attributes",
        )
    for key, value in attributes.items():
        if (
            not isinstance(key, str)
            or not _ATTRIBUTE_NAME.fullmatch(key)
            or len(key) > ATTRIBUTE_NAME_MAX
        ):
            raise ApplicationError(
                _(
                    "Attribute name “%(name)s”: use letters, digits and underscores, not starting "
                    "with a digit, at most %(max)s characters (it is used as a merge tag)."
                )
                % {"name": str(key)[:80], "max": ATTRIBUTE_NAME_MAX},
                field="attributes",
            )
        if isinstance(value, str) and len(value) > ATTRIBUTE_VALUE_MAX:
            raise ApplicationError(
                _("The value of “%(name)s” is longer than %(max)s characters.")
                % {"name": key, "max": ATTRIBUTE_VALUE_MAX},
                field="attributes",
            )
    if problem := attribute_values_problem(attributes):
        raise ApplicationError(problem, field="attributes")
    size = len(json.dumps(attributes, ensure_ascii=False).encode())
    if size > ATTRIBUTES_MAX_BYTES:
        raise ApplicationError(
            _("The attributes take %(size)s bytes; the limit is %(max)s.")
            % {"size": size, "max": ATTRIBUTES_MAX_BYTES},
            field="attributes",
        )
    return attributes


def subscriber_update(
    *,
    subscriber: Subscriber,
    name: str | None = None,
    phone: str | None = None,
    attributes: dict | None = None,
    changed_by: User | None = None,
    channel: str = "",
) -> Subscriber:
    """Change a subscriber's name, phone or attributes (never the address, the status or the
    consent: consent is tied to the address). Everything is checked before anything is
    written; what changed is recorded (SubscriberChange: who, when, old and new values); an
    edit that changes nothing writes nothing. Locks the subscriber row."""
    wanted: dict[str, object] = {}
    if name is not None:
        if problem := text_problem(name):
            raise ApplicationError(problem, field="name")
        name = name.strip()
        if len(name) > 200:
            raise ApplicationError(
                _("A name can be at most %(max)s characters.") % {"max": 200}, field="name"
            )
        wanted["name"] = name
    if phone is not None:
        wanted["phone"] = phone_check(phone)
    if attributes is not None:
        wanted["attributes"] = attributes_check(attributes)
    with transaction.atomic():
        locked = Subscriber.objects.select_for_update(of=("self",)).get(pk=subscriber.pk)
        changes = {
            field: [getattr(locked, field), value]
            for field, value in wanted.items()
            if getattr(locked, field) != value
        }
        if changes:
            for field, (_old, value) in changes.items():
                setattr(locked, field, value)
            locked.save(update_fields=[*changes, "updated_at"])
            SubscriberChange.objects.create(
                subscriber=locked, changes=changes, changed_by=changed_by, channel=channel
            )
    for field in ("name", "phone", "attributes", "updated_at"):
        setattr(subscriber, field, getattr(locked, field))
    return subscriber


# The consent record's source when a sender takes someone off one list (lists.selectors names it).
REMOVED_BY_SENDER = "removed_by_sender"


def subscriber_remove_from_list(
    *, subscriber: Subscriber, recorded_by: User | None = None
) -> Subscriber:
    """Take the subscriber off this one list, and only this one: status unsubscribed, a
    withdrawn consent record with source "removed_by_sender", the list's counters follow (the
    database triggers). Unlike `subscriber_unsubscribe` the address is not suppressed: the
    person may still be on, or join, the account's other lists. The row and its consent history
    stay (the proof of what was, and of the removal). Idempotent: a subscriber no longer on the
    list (unsubscribed, bounced, complained) is left as it is. Locks the subscriber row."""
    with transaction.atomic():
        locked = (
            Subscriber.objects.select_for_update(of=("self",))
            .select_related("mailing_list__account")
            .get(pk=subscriber.pk)
        )
        previous = locked.status
        if previous in (SubscriberStatus.SUBSCRIBED, SubscriberStatus.UNCONFIRMED):
            locked.status = SubscriberStatus.UNSUBSCRIBED
            locked.unsubscribed_at = timezone.now()
            locked.save(update_fields=["status", "unsubscribed_at", "updated_at"])
            consent_record_add(
                subscriber=locked,
                event=ConsentEvent.WITHDRAWN,
                source=REMOVED_BY_SENDER,
                recorded_by=recorded_by,
            )
            subscriber_emit_event(
                locked,
                WebhookEvent.SUBSCRIBER_UNSUBSCRIBED,
                previous_status=previous,
                channel=REMOVED_BY_SENDER,
            )
    return locked


def subscriber_unsubscribe(
    *,
    subscriber: Subscriber,
    status: SubscriberStatus = SubscriberStatus.UNSUBSCRIBED,
    channel: str = "",
    ip: str | None = None,
    user_agent: str = "",
    recorded_by: User | None = None,
) -> Subscriber:
    """Take the subscriber off the list at once and suppress the address account-wide.

    `status` is unsubscribed, bounced or complained. Idempotent: a subscriber already in that
    status gets no second consent record. Locks the subscriber row.
    """
    if status not in _SUPPRESSING:
        raise ValueError(f"{status} does not end a subscription")
    with transaction.atomic():
        locked = (
            Subscriber.objects.select_for_update(of=("self",))
            .select_related("mailing_list__account")
            .get(pk=subscriber.pk)
        )
        if locked.status != status:
            previous = locked.status
            locked.status = status
            if previous in (SubscriberStatus.SUBSCRIBED, SubscriberStatus.UNCONFIRMED):
                locked.unsubscribed_at = timezone.now()
            locked.save(update_fields=["status", "unsubscribed_at", "updated_at"])
            consent_record_add(
                subscriber=locked,
                event=ConsentEvent.WITHDRAWN,
                source=channel or status,
                ip=ip,
                user_agent=user_agent,
                recorded_by=recorded_by,
            )
            subscriber_emit_event(
                locked, _WEBHOOK_EVENTS[status], previous_status=previous, channel=channel
            )
        suppression_add(
            account=locked.mailing_list.account, email=locked.email, reason=_SUPPRESSING[status]
        )
    return locked


def subscribers_delete(subscribers: QuerySet[Subscriber]) -> int:
    """Delete subscribers with their consent history, recorded edits and tag links in four
    set-based DELETEs (config.account_data.rows_delete), and (after commit) the proof files
    uploaded for them one by one. Returns the number of subscribers deleted.

    QuerySet.delete() would load every subscriber of a million-subscriber list into memory and
    delete them a hundred at a time. Each DELETE reads `subscribers` again, so it must not
    filter on the rows deleted here. Call inside a transaction to make it all-or-nothing. An
    import's proof file is the import's and stays with it.
    """
    keys = subscribers.values("pk")
    storage = ConsentRecord._meta.get_field("proof_file").storage
    names = list(
        ConsentRecord.objects.filter(subscriber__in=keys, import_job__isnull=True)
        .exclude(proof_file="")
        .values_list("proof_file", flat=True)
    )
    # What refers to the subscribers goes first (nothing refers to those rows in turn), so the
    # subscribers' own DELETE, which cascades nowhere, leaves nothing dangling.
    for model in (ConsentRecord, SubscriberChange, SubscriberTag):
        rows_delete(model, field="subscriber", keys=keys)
    # id IN (SELECT id FROM the same table): unlike the deliveries rows_delete speaks of, as
    # fast as the plain DELETE ... WHERE it replaced (bench/subscribers_delete_bench.py).
    deleted = rows_delete(Subscriber, field="id", keys=keys)

    def delete_files() -> None:
        for name in names:
            storage.delete(name)

    transaction.on_commit(delete_files)
    return deleted
