"""From django-anymail's normalised tracking events to our `Feedback`.

Every ESP webhook view (complaints/webhook_views.py) hands a post's events to
`handle_tracking_events`, which turns each into at most one report and applies them in batches
(`feedback_apply_batch`). With the tracking queue, the hot front (config.hot_paths) verifies the
post and queues it, and the consumer hands it to `posts_apply`, which parses it with the same
view's parser and applies it the same way.

A "bounced" event is read by the one classifier every path uses (campaigns.bounces): hard, soft
or blocked (a provider refused our content or sender). The evidence, strongest first:

1. what the ESP knows for certain (SES NoEmail/Suppressed: hard; MailboxFull: soft;
   ContentRejected, AttachmentRejected, MessageTooLarge: blocked; Mailgun suppress-bounce: hard;
   Postmark's Blocked, DMARCPolicy, VirusNotification: blocked);
2. the SMTP reply the ESP passes on (status, diagnostic, description), read by
   `classify_bounce`; where it says hard but the ESP called the bounce temporary or a block,
   the ESP's call stands (a hard bounce suppresses the address platform-wide: doubt is never
   hard);
3. the ESP's own coarse call (SES Permanent/Transient, Mailgun permanent bounce, SendGrid
   bounce/blocked, Postmark HardBounce/SoftBounce);
4. anymail's `reject_reason` ("bounced" is hard, anything else soft).

A "rejected" (dropped) event maps by its reason: a previously bounced or invalid address is a
hard bounce, an unsubscribed one an unsubscribe, a spam-reporting one a complaint, a content or
policy refusal (SES Reject) a block. "deferred" (a temporary failure the ESP is still retrying)
is ignored: the message may yet be delivered, and a real give-up arrives as "bounced".
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
from collections.abc import Mapping, Sequence
from typing import TypeVar, cast

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason

from campaigns.bounces import BounceClass, BounceVerdict, classify_bounce
from campaigns.tokens import TokenData
from campaigns.tracking_queue import Post
from complaints.models import FeedbackKind, FeedbackSource
from complaints.services import (
    FEEDBACK_BATCH_SIZE,
    Feedback,
    bounce_feedback_kind,
    feedback_apply_batch,
    message_ref_data,
)

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

K = FeedbackKind

# anymail's `esp_name` of each view we mount -> our source.
SOURCES: dict[str, str] = {
    "Amazon SES": FeedbackSource.AMAZON_SES,
    "Mailgun": FeedbackSource.MAILGUN,
    "SendGrid": FeedbackSource.SENDGRID,
    "Postmark": FeedbackSource.POSTMARK,
}

_KINDS: dict[str, FeedbackKind] = {
    EventType.COMPLAINED: K.COMPLAINED,
    EventType.UNSUBSCRIBED: K.UNSUBSCRIBED,
    EventType.DELIVERED: K.DELIVERED,
    EventType.OPENED: K.OPENED,
    EventType.CLICKED: K.CLICKED,
}

_EVENT_ID_MAX = 200
_BOUNCE_KINDS = {K.HARD_BOUNCE, K.SOFT_BOUNCE, K.BLOCKED}


def handle_tracking_events(events: list[AnymailTrackingEvent], *, esp_name: str) -> None:
    """Apply one post's events in batches of FEEDBACK_BATCH_SIZE (feedback_apply_batch), in
    the order the ESP sent them, each once. Events we do not act on (queued, sent, deferred,
    rejected...) are ignored. A batch that fails raises (the ESP retries the post, and what
    was applied before is not applied again)."""
    reports_apply(reports_of(events, esp_name=esp_name), esp_name=esp_name)


def reports_of(events: list[AnymailTrackingEvent], *, esp_name: str) -> list[Feedback]:
    """The reports of a post's events, in order (events we do not act on left out)."""
    reports = []
    for event in events:
        feedback = feedback_from_event(event, esp_name=esp_name)
        if feedback is None:
            logger.debug("Ignoring %s %s event %s", esp_name, event.event_type, event.event_id)
        else:
            reports.append(feedback)
    return reports


def reports_apply(reports: list[Feedback], *, esp_name: str = "ESP") -> None:
    """Apply reports in order, FEEDBACK_BATCH_SIZE to a transaction, each once."""
    for start in range(0, len(reports), FEEDBACK_BATCH_SIZE):
        batch = reports[start : start + FEEDBACK_BATCH_SIZE]
        already = [
            feedback.event_id
            for feedback, applied in zip(batch, feedback_apply_batch(batch), strict=True)
            if applied is None
        ]
        if already:
            # One line a batch: a retried post or a redelivered stream brings them by the
            # thousand.
            logger.info(
                "%s: %s event(s) already applied: %s%s",
                esp_name,
                len(already),
                ", ".join(already[:3]),
                ", ..." if len(already) > 3 else "",
            )


def posts_apply(posts: Sequence[Post]) -> int:
    """Apply the webhook posts the tracking queue holds (verified by the web process,
    config.hot_paths), in the order they came: each parsed by its webhook view's own parser,
    their reports applied together in batches. Returns the reports applied or skipped as
    already applied. A post that no longer parses is dropped with an error logged: the web
    process parsed it before answering, so only a change of code between the two can do that,
    and it would fail again on every attempt."""
    from complaints.webhook_views import queued_post_events

    reports: list[Feedback] = []
    for post in posts:
        try:
            events, esp_name = queued_post_events(post)
            reports += reports_of(events, esp_name=esp_name)
        except Exception:
            logger.exception("Dropping queued %s webhook post %s", post.esp, post.queue_id)
    reports_apply(reports)
    return len(reports)


def feedback_from_event(event: AnymailTrackingEvent, *, esp_name: str) -> Feedback | None:
    """The `Feedback` an anymail tracking event reports, or None for one we ignore."""
    kind, verdict = _kind_and_verdict(event, esp_name=esp_name)
    if kind is None:
        return None
    source = SOURCES.get(esp_name, FeedbackSource.ESP)
    esp_event = _as_mapping(event.esp_event)
    mta_response = _text(event.mta_response)
    description = _text(event.description)
    code = ""
    if verdict is not None and kind in _BOUNCE_KINDS:
        code = verdict.code or _esp_bounce_label(esp_name, esp_event)
    elif event.event_type == EventType.REJECTED:
        code = _esp_bounce_label(esp_name, esp_event) or _text(esp_event.get("reason"))
    elif kind == K.COMPLAINED:
        code = description  # the complaint's feedback type, e.g. "abuse"
    message_ref, token = _verified_message_ref(event, esp_event)
    return Feedback(
        source=source,
        event_id=event_key(event, esp_name=esp_name, source=source),
        kind=kind,
        message_ref=message_ref,
        token=token,
        provider_message_id=_text(event.message_id)[:255],
        recipient=_text(event.recipient),
        occurred_at=event.timestamp,
        code=code[:64],
        detail="\n".join(part for part in (description, mta_response) if part),
        user_agent=_text(event.user_agent)[:500],
        ip=_client_ip(esp_name, esp_event),
    )


def feedback_kind(event: AnymailTrackingEvent, *, esp_name: str) -> FeedbackKind | None:
    """What the event means for us; None for events we ignore."""
    return _kind_and_verdict(event, esp_name=esp_name)[0]


def _kind_and_verdict(
    event: AnymailTrackingEvent, *, esp_name: str
) -> tuple[FeedbackKind | None, BounceVerdict | None]:
    """feedback_kind, and the bounce_verdict it read the kind of a bounced event from (kept
    for the report's code: classifying a bounce is most of the CPU of reading its event)."""
    if event.event_type == EventType.BOUNCED:
        esp_event = _as_mapping(event.esp_event)
        # Mailgun reports sends it suppressed as permanent failures with the list's reason.
        redirected = _one_of(
            _MAILGUN_SUPPRESSIONS, _as_mapping(esp_event.get("event-data")).get("reason")
        )
        if esp_name == "Mailgun" and redirected is not None:
            return redirected, None
        verdict = bounce_verdict(event, esp_name=esp_name)
        return bounce_feedback_kind(verdict), verdict
    if event.event_type == EventType.REJECTED:
        return _rejected_kind(event, esp_name), None
    return _KINDS.get(event.event_type), None


def bounce_verdict(event: AnymailTrackingEvent, *, esp_name: str) -> BounceVerdict:
    """A "bounced" event read as hard, soft or blocked (see the module docstring)."""
    esp_event = _as_mapping(event.esp_event)
    label = _esp_bounce_label(esp_name, esp_event)
    status, diagnostic, text = _bounce_texts(event, esp_name, esp_event)
    smtp = classify_bounce(status=status, diagnostic=diagnostic, text=text, action="failed")
    certain = _ESP_CERTAIN.get((esp_name, _last_word(label)))
    if certain is not None:
        return BounceVerdict(certain, smtp.code or label, f"{esp_name}: {label}")
    coarse = _esp_coarse_class(esp_name, esp_event)
    if smtp.certain:
        if smtp.kind == BounceClass.HARD and coarse not in (None, BounceClass.HARD):
            return BounceVerdict(coarse, smtp.code, f"{esp_name} called it {coarse}")
        return smtp
    if coarse is not None:
        return BounceVerdict(coarse, smtp.code or label, f"{esp_name}: {label}")
    if event.reject_reason == RejectReason.BOUNCED:
        return BounceVerdict(BounceClass.HARD, smtp.code, "reject reason: bounced")
    return BounceVerdict(BounceClass.SOFT, smtp.code, "no telling reason")


# (ESP, the last word of its bounce label) -> the class the ESP's word settles.
_ESP_CERTAIN: dict[tuple[str, str], BounceClass] = {
    ("Amazon SES", "NoEmail"): BounceClass.HARD,
    ("Amazon SES", "Suppressed"): BounceClass.HARD,
    ("Amazon SES", "OnAccountSuppressionList"): BounceClass.HARD,
    ("Amazon SES", "MailboxFull"): BounceClass.SOFT,
    ("Amazon SES", "MessageTooLarge"): BounceClass.BLOCKED,
    ("Amazon SES", "ContentRejected"): BounceClass.BLOCKED,
    ("Amazon SES", "AttachmentRejected"): BounceClass.BLOCKED,
    ("Mailgun", "suppress-bounce"): BounceClass.HARD,
    ("Mailgun", "espblock"): BounceClass.BLOCKED,
    ("Postmark", "VirusNotification"): BounceClass.BLOCKED,
    ("Postmark", "Blocked"): BounceClass.BLOCKED,
    ("Postmark", "DMARCPolicy"): BounceClass.BLOCKED,
    ("Postmark", "BadEmailAddress"): BounceClass.HARD,
}
_MAILGUN_SUPPRESSIONS = {
    "suppress-complaint": K.COMPLAINED,
    "suppress-unsubscribe": K.UNSUBSCRIBED,
}
# A dropped or rejected send, by the ESP's reason (lower-cased).
_SENDGRID_DROPPED = {
    "bounced address": K.HARD_BOUNCE,
    "invalid": K.HARD_BOUNCE,
    "unsubscribed address": K.UNSUBSCRIBED,
    "spam reporting address": K.COMPLAINED,
    "spam content (if spam checker app enabled)": K.BLOCKED,
}
_MAILGUN_REJECTED = {
    "bounce": K.HARD_BOUNCE,
    "suppress-bounce": K.HARD_BOUNCE,
    "suppress-complaint": K.COMPLAINED,
    "spam": K.COMPLAINED,
    "suppress-unsubscribe": K.UNSUBSCRIBED,
    "espblock": K.BLOCKED,
}
# Mailgun's legacy webhook codes for a dropped send.
_MAILGUN_LEGACY_DROPPED = {"605": K.HARD_BOUNCE, "607": K.COMPLAINED}
_REJECT_REASONS = {
    RejectReason.INVALID: K.HARD_BOUNCE,
    RejectReason.BOUNCED: K.HARD_BOUNCE,
    RejectReason.UNSUBSCRIBED: K.UNSUBSCRIBED,
    RejectReason.SPAM: K.COMPLAINED,
    RejectReason.BLOCKED: K.BLOCKED,
}


def _rejected_kind(event: AnymailTrackingEvent, esp_name: str) -> FeedbackKind | None:
    """A send the ESP dropped (never attempted) by its reason; None for reasons that are ours
    (a bad API header, a rendering failure) or unknown."""
    esp_event = _as_mapping(event.esp_event)
    if esp_name == "SendGrid":
        return _SENDGRID_DROPPED.get(_text(esp_event.get("reason")).strip().lower())
    if esp_name == "Mailgun":
        if hasattr(esp_event, "getlist"):  # a legacy form post
            return _MAILGUN_LEGACY_DROPPED.get(_text(esp_event.get("code")).strip())
        data = _as_mapping(esp_event.get("event-data"))
        return _MAILGUN_REJECTED.get(_text(data.get("reason")).strip().lower())
    if esp_name == "Amazon SES":
        return K.BLOCKED  # SES Reject: the message carried a virus
    if esp_name == "Postmark":
        return {
            "BadEmailAddress": K.HARD_BOUNCE,
            "Blocked": K.BLOCKED,
            "DMARCPolicy": K.BLOCKED,
        }.get(_text(esp_event.get("Type")))
    return _REJECT_REASONS.get(event.reject_reason)


def _last_word(label: str) -> str:
    return label.rsplit("/", 1)[-1]


def _esp_coarse_class(esp_name: str, esp_event: Mapping) -> BounceClass | None:
    """The ESP's own hard/soft call, or None when it made none."""
    if esp_name == "Amazon SES":
        bounce_type = _as_mapping(esp_event.get("bounce")).get("bounceType")
        return _one_of({"Permanent": BounceClass.HARD, "Transient": BounceClass.SOFT}, bounce_type)
    if esp_name == "Mailgun":
        data = _as_mapping(esp_event.get("event-data"))
        if data.get("severity") == "temporary":
            return BounceClass.SOFT
        if data.get("severity") == "permanent" and data.get("reason") == "bounce":
            return BounceClass.HARD
        # Other permanent reasons ("old": retries exhausted, "generic") say nothing certain
        # about the address: the SMTP reply decides.
        return None
    if esp_name == "SendGrid":
        # "bounce" is a refused address, "blocked" a refused message (content, reputation).
        return _one_of(
            {"bounce": BounceClass.HARD, "blocked": BounceClass.BLOCKED}, esp_event.get("type")
        )
    if esp_name == "Postmark":
        # A bounce names its Type; a SubscriptionChange that stops sending, its reason.
        bounce_type = esp_event.get("Type") or esp_event.get("SuppressionReason")
        return _one_of(
            {"HardBounce": BounceClass.HARD, "SoftBounce": BounceClass.SOFT}, bounce_type
        )
    return None


def _esp_bounce_label(esp_name: str, esp_event: Mapping) -> str:
    if esp_name == "Amazon SES":
        bounce = _as_mapping(esp_event.get("bounce"))
        return "/".join(
            _text(bounce.get(k)) for k in ("bounceType", "bounceSubType") if bounce.get(k)
        )
    if esp_name == "Mailgun":
        data = _as_mapping(esp_event.get("event-data"))
        return "/".join(_text(data.get(k)) for k in ("severity", "reason") if data.get(k))
    if esp_name == "SendGrid":
        return _text(esp_event.get("type"))
    if esp_name == "Postmark":
        return _text(esp_event.get("Type") or esp_event.get("SuppressionReason"))
    return ""


def _bounce_texts(
    event: AnymailTrackingEvent, esp_name: str, esp_event: Mapping
) -> tuple[str, str, str]:
    """(status, diagnostic, other text) of the SMTP reply the ESP passes on."""
    statuses, diagnostics = [], [_text(event.mta_response)]
    if esp_name == "Amazon SES":
        for recipient in _as_list(_as_mapping(esp_event.get("bounce")).get("bouncedRecipients")):
            recipient = _as_mapping(recipient)
            if _text(recipient.get("emailAddress")).lower() == _text(event.recipient).lower():
                statuses.append(_text(recipient.get("status")))
                diagnostics.append(_text(recipient.get("diagnosticCode")))
    elif esp_name == "Mailgun":
        status = _as_mapping(_as_mapping(esp_event.get("event-data")).get("delivery-status"))
        statuses.append(_text(status.get("enhanced-code")))
        diagnostics += [_text(status.get("message")), _text(status.get("code"))]
        if hasattr(esp_event, "getlist"):  # a legacy form post
            diagnostics += [_text(esp_event.get("code")), _text(esp_event.get("error"))]
    elif esp_name == "SendGrid":
        statuses.append(_text(esp_event.get("status")))
        diagnostics.append(_text(esp_event.get("reason")))
    elif esp_name == "Postmark":
        diagnostics.append(_text(esp_event.get("Details")))
    return (
        " ".join(text for text in statuses if text),
        "\n".join(text for text in diagnostics if text),
        _text(event.description),
    )


def message_ref_for(event: AnymailTrackingEvent, esp_event: Mapping) -> str:
    """Our signed per-message reference: the anymail metadata we send, else the X-Message-Ref
    header or the Message-ID local part when the ESP echoes headers. Only a reference that
    verifies is returned (an unsigned claim must not match), else ""."""
    return _verified_message_ref(event, esp_event)[0]


def _verified_message_ref(
    event: AnymailTrackingEvent, esp_event: Mapping
) -> tuple[str, TokenData | None]:
    """message_ref_for's reference and what it names (checked once: the batch matches the
    report by this, not by checking the reference again)."""
    candidates: list[object] = [_as_mapping(event.metadata).get("message_ref")]
    mail = _as_mapping(esp_event.get("mail"))  # SES
    for header in _as_list(mail.get("headers")):
        header = _as_mapping(header)
        if _text(header.get("name")).lower() == "x-message-ref":
            candidates.append(header.get("value"))
    candidates.append(_as_mapping(mail.get("commonHeaders")).get("messageId"))
    candidates.append(event.message_id)  # Mailgun: the Message-ID header itself
    for candidate in candidates:
        ref = _text(candidate).strip().strip("<>").split("@", 1)[0]
        if ref and len(ref) <= 512 and (data := message_ref_data(ref)) is not None:
            return ref, data
    return "", None


def event_key(event: AnymailTrackingEvent, *, esp_name: str, source: str) -> str:
    """A stable id for the event, unique within `source`: anymail's event id (SES: the SNS
    MessageId, Mailgun: the signature token, SendGrid: sg_event_id, Postmark: the bounce ID),
    else a hash of the raw event. One SES notification can name several recipients, so the
    recipient is part of the key."""
    event_id = _text(event.event_id)
    if not event_id:
        event_id = "sha256:" + hashlib.sha256(_canonical(event.esp_event).encode()).hexdigest()
    recipient = _text(event.recipient).strip().lower()
    if recipient:
        event_id = f"{event_id}/{recipient}"
    if source == FeedbackSource.ESP:
        event_id = f"{esp_name}:{event_id}"
    if len(event_id) > _EVENT_ID_MAX:
        event_id = "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()
    return event_id


def _canonical(raw: object) -> str:
    if hasattr(raw, "lists"):  # a QueryDict (Mailgun's legacy form posts)
        raw = {key: values for key, values in raw.lists()}
    return json.dumps(raw, sort_keys=True, default=str, separators=(",", ":"))


def _client_ip(esp_name: str, esp_event: Mapping) -> str:
    """The opener's or clicker's address, where the ESP reports it."""
    if esp_name == "Amazon SES":
        found = _as_mapping(esp_event.get("open") or esp_event.get("click")).get("ipAddress")
    elif esp_name == "Mailgun":
        found = _as_mapping(esp_event.get("event-data")).get("ip") or esp_event.get("ip")
    elif esp_name == "Postmark":
        found = _as_mapping(esp_event.get("Geo")).get("IP")
    else:
        found = esp_event.get("ip")
    try:
        return str(ipaddress.ip_address(_text(found).strip()))
    except ValueError:
        return ""


def _as_mapping(value: object) -> Mapping:
    if isinstance(value, Mapping) or hasattr(value, "getlist"):
        return cast(Mapping, value)  # a QueryDict-like object of the ESP's form post
    return {}


def _one_of(table: Mapping[str, _T], key: object) -> _T | None:
    """`table`'s value for a string key it has; None for anything else an ESP sent (missing,
    null, a number, a list)."""
    return table.get(key) if isinstance(key, str) else None


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else []


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)
