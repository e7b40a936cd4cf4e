"""From django-anymail's normalised tracking events to our `Feedback`.

Every ESP webhook view (complaints/webhook_views.py) sends anymail's `tracking` signal once per
event; `handle_tracking_event` turns each into at most one `feedback_apply` call. What counts as
a hard bounce is decided here, from the strongest evidence the event carries:

1. the ESP's own classification (SES bounceType, Mailgun severity/reason, SendGrid type,
   Postmark Type);
2. else an SMTP status in the MTA response: enhanced 5.x.x is hard and 4.x.x soft, except the
   5.x.x that say nothing about the address (5.2.2 mailbox full, 5.3.4 message too big, 5.7.x
   policy and reputation blocks of our message); a bare 550/551/553 is hard, any other reply
   code soft;
3. else anymail's `reject_reason` ("bounced" is hard, anything else soft).

A hard bounce suppresses the address platform-wide, so doubt means soft. "deferred" (a
temporary failure the ESP is still retrying) is ignored: the message may yet be delivered, and
a real give-up arrives as "bounced".
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import re
from collections.abc import Iterable, Mapping

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason

from complaints.models import FeedbackKind, FeedbackSource
from complaints.services import Feedback, feedback_apply, message_ref_data, status_is_hard_bounce

logger = logging.getLogger(__name__)

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
_ENHANCED_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_REPLY_CODE = re.compile(r"(?:^|[\s;:(\[])([245]\d\d)(?=[\s\-;:)\]]|$)")
# Bare reply codes (no enhanced status) that refuse the address itself: mailbox unavailable,
# user not local, mailbox name not allowed. Enhanced statuses go by status_is_hard_bounce.
_HARD_REPLY_CODES = {"550", "551", "553"}


def handle_tracking_event(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    """anymail's `tracking` signal receiver: apply the event once (feedback_apply dedups on
    the event id). Events we do not act on (queued, sent, deferred, rejected...) are ignored."""
    feedback = feedback_from_event(event, esp_name=esp_name)
    if feedback is None:
        logger.debug("Ignoring %s %s event %s", esp_name, event.event_type, event.event_id)
        return
    applied = feedback_apply(feedback)
    if applied is None:
        logger.info("%s event %s was already applied", esp_name, feedback.event_id)


def feedback_from_event(event: AnymailTrackingEvent, *, esp_name: str) -> Feedback | None:
    """The `Feedback` an anymail tracking event reports, or None for one we ignore."""
    kind = feedback_kind(event, esp_name=esp_name)
    if kind is None:
        return None
    source = SOURCES.get(esp_name, FeedbackSource.ESP)
    esp_event = _as_mapping(event.esp_event)
    mta_response = _text(event.mta_response)
    description = _text(event.description)
    code = ""
    if kind in (K.HARD_BOUNCE, K.SOFT_BOUNCE):
        code = _smtp_status(_bounce_texts(event, esp_name, esp_event)) or _esp_bounce_label(
            esp_name, esp_event
        )
    elif kind == K.COMPLAINED:
        code = description  # the complaint's feedback type, e.g. "abuse"
    return Feedback(
        source=source,
        event_id=event_key(event, esp_name=esp_name, source=source),
        kind=kind,
        message_ref=message_ref_for(event, esp_event),
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
    if event.event_type == EventType.BOUNCED:
        hard = is_hard_bounce(event, esp_name=esp_name)
        return K.HARD_BOUNCE if hard else K.SOFT_BOUNCE
    return _KINDS.get(event.event_type)


def is_hard_bounce(event: AnymailTrackingEvent, *, esp_name: str) -> bool:
    """Whether a "bounced" event is permanent for this address (see the module docstring)."""
    esp_event = _as_mapping(event.esp_event)
    verdict = _esp_bounce_verdict(esp_name, esp_event)
    if verdict is None:
        verdict = _smtp_verdict(_bounce_texts(event, esp_name, esp_event))
    if verdict is None:
        verdict = event.reject_reason == RejectReason.BOUNCED
    return verdict


def _esp_bounce_verdict(esp_name: str, esp_event: Mapping) -> bool | None:
    """The ESP's own hard/soft call, or None when it made none."""
    if esp_name == "Amazon SES":
        bounce_type = _as_mapping(esp_event.get("bounce")).get("bounceType")
        return {"Permanent": True, "Transient": False}.get(bounce_type)
    if esp_name == "Mailgun":
        data = _as_mapping(esp_event.get("event-data"))
        if data.get("severity") == "temporary":
            return False
        if data.get("severity") == "permanent" and data.get("reason") in (
            "bounce",
            "suppress-bounce",
        ):
            return True
        # Other permanent reasons ("old": retries exhausted, "generic", "espblock") say
        # nothing certain about the address: let the SMTP status decide.
        return None
    if esp_name == "SendGrid":
        # "bounce" is a rejected address, "blocked" a rejected message (content, reputation).
        return {"bounce": True, "blocked": False}.get(esp_event.get("type"))
    if esp_name == "Postmark":
        # A bounce names its Type; a SubscriptionChange that stops sending, its reason.
        bounce_type = esp_event.get("Type") or esp_event.get("SuppressionReason")
        return None if not bounce_type else bounce_type == "HardBounce"
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


def _bounce_texts(event: AnymailTrackingEvent, esp_name: str, esp_event: Mapping) -> list[str]:
    """Where an SMTP status may be, most specific first."""
    texts = [_text(event.mta_response)]
    if esp_name == "Amazon SES":
        for recipient in _as_list(_as_mapping(esp_event.get("bounce")).get("bouncedRecipients")):
            recipient = _as_mapping(recipient)
            if _text(recipient.get("emailAddress")).lower() == _text(event.recipient).lower():
                texts += [_text(recipient.get("status")), _text(recipient.get("diagnosticCode"))]
    elif esp_name == "Mailgun":
        status = _as_mapping(_as_mapping(esp_event.get("event-data")).get("delivery-status"))
        texts += [
            _text(status.get("enhanced-code")),
            _text(status.get("message")),
            _text(status.get("code")),
        ]
        if hasattr(esp_event, "getlist"):  # a legacy form post
            texts += [_text(esp_event.get("code")), _text(esp_event.get("error"))]
    elif esp_name == "SendGrid":
        texts += [_text(esp_event.get("status")), _text(esp_event.get("reason"))]
    texts.append(_text(event.description))
    return [text for text in texts if text]


def _smtp_status(texts: Iterable[str]) -> str:
    """The first SMTP status found: an enhanced one ("5.1.1") before a bare reply code."""
    texts = list(texts)
    for text in texts:
        if match := _ENHANCED_STATUS.search(text):
            return ".".join(match.groups())
    for text in texts:
        if match := _REPLY_CODE.search(text):
            return match.group(1)
    return ""


def _smtp_verdict(texts: Iterable[str]) -> bool | None:
    status = _smtp_status(texts)
    if not status:
        return None
    if "." in status:
        klass = status[:1]
        if klass != "5":
            return False if klass == "4" else None
        return status_is_hard_bounce(status)
    if status.startswith("2"):
        return None
    return status in _HARD_REPLY_CODES


def message_ref_for(event: AnymailTrackingEvent, esp_event: Mapping) -> str:
    """Our signed per-message reference: the anymail metadata we send, else the X-Message-Ref
    header or the Message-ID local part when the ESP echoes headers. Only a reference that
    verifies is returned (an unsigned claim must not match), else ""."""
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
        if ref and len(ref) <= 512 and message_ref_data(ref) is not None:
            return ref
    return ""


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
    return value if isinstance(value, Mapping) or hasattr(value, "getlist") else {}


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else []


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)
