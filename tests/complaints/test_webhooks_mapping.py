"""complaints.esp: what an anymail tracking event means for us (hard or soft bounce, which
events are ignored), its stable id and our message reference, and applying a post's events."""

from __future__ import annotations

import pytest
from anymail.signals import AnymailTrackingEvent, EventType, RejectReason

from complaints.esp import (
    event_key,
    feedback_from_event,
    feedback_kind,
    handle_tracking_events,
    message_ref_for,
)
from complaints.models import FeedbackEvent, FeedbackKind

HARD, SOFT = FeedbackKind.HARD_BOUNCE, FeedbackKind.SOFT_BOUNCE
BLOCKED = FeedbackKind.BLOCKED


def bounced(*, mta_response=None, reject_reason=RejectReason.BOUNCED, esp_event=None, **kw):
    return AnymailTrackingEvent(
        event_type=EventType.BOUNCED,
        event_id="evt-1",
        recipient="ann.lee@example.org",
        mta_response=mta_response,
        reject_reason=reject_reason,
        esp_event=esp_event or {},
        **kw,
    )


def ses(bounce_type, diagnostic=""):
    return {
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {"emailAddress": "ann.lee@example.org", "diagnosticCode": diagnostic}
            ],
        }
    }


def mailgun(severity, reason, message="", code=None):
    status = {"message": message, "code": code}
    return {"event-data": {"severity": severity, "reason": reason, "delivery-status": status}}


@pytest.mark.parametrize(
    ("esp_name", "event", "expected"),
    [
        # The ESP's own classification comes first.
        ("Amazon SES", bounced(esp_event=ses("Permanent")), HARD),
        ("Amazon SES", bounced(esp_event=ses("Transient", "smtp; 550 5.1.1 unknown")), SOFT),
        # SES "Undetermined": the SMTP status decides.
        ("Amazon SES", bounced(esp_event=ses("Undetermined", "smtp; 550 5.1.1 unknown")), HARD),
        ("Amazon SES", bounced(esp_event=ses("Undetermined", "smtp; 554 5.7.1 spam")), BLOCKED),
        ("Mailgun", bounced(esp_event=mailgun("permanent", "bounce")), HARD),
        ("Mailgun", bounced(esp_event=mailgun("permanent", "suppress-bounce")), HARD),
        ("Mailgun", bounced(esp_event=mailgun("permanent", "old", "4.4.7 expired", 421)), SOFT),
        ("Mailgun", bounced(esp_event=mailgun("permanent", "generic", "5.1.1 no such user")), HARD),
        ("Mailgun", bounced(esp_event=mailgun("permanent", "generic", "5.7.1 blocked")), BLOCKED),
        ("Mailgun", bounced(esp_event=mailgun("permanent", "generic", "", 550)), HARD),
        ("SendGrid", bounced(esp_event={"type": "bounce"}), HARD),
        # The SMTP status says more than the ESP's word; a hard status against the ESP's
        # "temporary" or "blocked" is doubt, and doubt is never hard.
        ("SendGrid", bounced(esp_event={"type": "bounce", "status": "4.0.0"}), SOFT),
        ("SendGrid", bounced(esp_event={"type": "blocked", "status": "5.1.1"}), BLOCKED),
        ("SendGrid", bounced(esp_event={"status": "5.1.1"}), HARD),
        ("Postmark", bounced(esp_event={"Type": "HardBounce"}), HARD),
        ("Postmark", bounced(esp_event={"Type": "SoftBounce", "Details": "5.1.1"}), SOFT),
        ("Postmark", bounced(esp_event={"SuppressionReason": "HardBounce"}), HARD),
        # Any other ESP: the SMTP status, then anymail's reject_reason.
        ("Brevo", bounced(mta_response="550 5.1.1 <ann.lee@example.org> unknown"), HARD),
        ("Brevo", bounced(mta_response="552 5.2.2 mailbox full"), SOFT),
        ("Brevo", bounced(mta_response="554 5.3.4 message too big"), BLOCKED),
        ("Brevo", bounced(mta_response="451 4.7.1 greylisted"), SOFT),
        ("Brevo", bounced(mta_response="550 User unknown"), HARD),
        ("Brevo", bounced(mta_response="552 Requested mail action aborted"), SOFT),
        ("Brevo", bounced(mta_response="554 Transaction failed"), SOFT),
        ("Brevo", bounced(), HARD),
        ("Brevo", bounced(reject_reason=RejectReason.TIMED_OUT), SOFT),
        ("Brevo", bounced(reject_reason=RejectReason.OTHER), SOFT),
        ("Brevo", bounced(reject_reason=None), SOFT),
    ],
)
def test_a_bounce_is_hard_or_soft(esp_name, event, expected):
    assert feedback_kind(event, esp_name=esp_name) == expected


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        (EventType.COMPLAINED, FeedbackKind.COMPLAINED),
        (EventType.UNSUBSCRIBED, FeedbackKind.UNSUBSCRIBED),
        (EventType.DELIVERED, FeedbackKind.DELIVERED),
        (EventType.OPENED, FeedbackKind.OPENED),
        (EventType.CLICKED, FeedbackKind.CLICKED),
        (EventType.DEFERRED, None),
        (EventType.QUEUED, None),
        (EventType.SENT, None),
        (EventType.REJECTED, None),  # a dropped send without a reason we know
        (EventType.FAILED, None),
        (EventType.SUBSCRIBED, None),
        (EventType.AUTORESPONDED, None),
        (EventType.UNKNOWN, None),
    ],
)
def test_which_events_are_applied(event_type, expected):
    event = AnymailTrackingEvent(event_type=event_type, event_id="e", esp_event={})

    assert feedback_kind(event, esp_name="Mailgun") == expected


def test_an_event_without_an_id_gets_a_stable_hash_of_the_raw_event():
    def delivered(raw):
        return AnymailTrackingEvent(
            event_type=EventType.DELIVERED, recipient="Ann.Lee@example.org", esp_event=raw
        )

    first = event_key(delivered({"b": 2, "a": 1}), esp_name="Postmark", source="postmark")
    again = event_key(delivered({"a": 1, "b": 2}), esp_name="Postmark", source="postmark")
    other = event_key(delivered({"a": 1, "b": 3}), esp_name="Postmark", source="postmark")

    assert first == again != other
    assert first.startswith("sha256:") and first.endswith("/ann.lee@example.org")


def test_another_esps_event_ids_are_kept_apart_under_the_generic_source():
    event = AnymailTrackingEvent(event_type=EventType.DELIVERED, event_id="42", esp_event={})

    assert event_key(event, esp_name="Brevo", source="esp") == "Brevo:42"
    assert event_key(event, esp_name="Mailgun", source="mailgun") == "42"


@pytest.mark.django_db
def test_the_message_reference_must_verify(tokens):
    ref = tokens.message_ref()

    def with_metadata(value, **kw):
        return AnymailTrackingEvent(
            event_type=EventType.DELIVERED, metadata={"message_ref": value}, **kw
        )

    assert message_ref_for(with_metadata(ref), {}) == ref
    assert message_ref_for(with_metadata(ref[:-2] + "xx"), {}) == ""
    # Without metadata: the X-Message-Ref header SES echoes, or a Message-ID of ours.
    ses_mail = {"mail": {"headers": [{"name": "X-Message-Ref", "value": ref}]}}
    assert message_ref_for(with_metadata(None), ses_mail) == ref
    mailgun = with_metadata(None, message_id=f"<{ref}@news.acme.example>")
    assert message_ref_for(mailgun, {}) == ref


@pytest.mark.django_db
def test_the_report_carries_what_its_verified_reference_names(tokens, delivery):
    def complaint(ref):
        return AnymailTrackingEvent(
            event_type=EventType.COMPLAINED, event_id="c-1", metadata={"message_ref": ref}
        )

    feedback = feedback_from_event(complaint(tokens.message_ref()), esp_name="Mailgun")
    forged = feedback_from_event(complaint(tokens.message_ref()[:-2] + "xx"), esp_name="Mailgun")

    # The reference is checked once, here; the batch matches by what it names.
    assert feedback.token is not None
    assert (feedback.token.campaign_id, feedback.token.subscriber_id) == (
        delivery.campaign_id,
        delivery.subscriber_id,
    )
    assert (forged.message_ref, forged.token) == ("", None)


@pytest.mark.django_db
def test_a_posts_event_is_applied_once(tokens, delivery, subscriber):
    """What every webhook view (and the tracking queue's consumer) hands its events to."""
    event = AnymailTrackingEvent(
        event_type=EventType.COMPLAINED,
        event_id="tok-1",
        recipient="ann.lee@example.org",
        metadata={"message_ref": tokens.message_ref()},
        description="abuse",
        esp_event={},
    )

    handle_tracking_events([event], esp_name="Mailgun")
    handle_tracking_events([event], esp_name="Mailgun")

    feedback = FeedbackEvent.objects.get()
    assert (feedback.source, feedback.kind, feedback.code) == ("mailgun", "complained", "abuse")
    subscriber.refresh_from_db()
    assert subscriber.status == "complained"


def test_an_open_carries_the_user_agent_and_a_valid_ip_only():
    def opened(ip):
        return AnymailTrackingEvent(
            event_type=EventType.OPENED,
            event_id="o",
            user_agent="Mozilla/5.0",
            esp_event={"event-data": {"ip": ip}},
        )

    good = feedback_from_event(opened("198.51.100.23"), esp_name="Mailgun")
    bad = feedback_from_event(opened("198.51.100.23; DROP TABLE"), esp_name="Mailgun")

    assert (good.kind, good.user_agent, good.ip) == ("opened", "Mozilla/5.0", "198.51.100.23")
    assert bad.ip == ""


# --- Dropped and rejected sends, normalised by anymail's own webhook code (payload shapes as in
# django-anymail's tests) --------------------------------------------------------------------


def sendgrid_event(raw):
    from anymail.webhooks.sendgrid import SendGridTrackingWebhookView

    view = SendGridTrackingWebhookView.__new__(SendGridTrackingWebhookView)
    return view.esp_to_anymail_event(raw)


def mailgun_event(event_data):
    from anymail.webhooks.mailgun import MailgunTrackingWebhookView

    view = MailgunTrackingWebhookView.__new__(MailgunTrackingWebhookView)
    raw = {"signature": {"token": "tok"}, "event-data": {"timestamp": 1534109600, **event_data}}
    return view.esp_to_anymail_event(raw)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("Bounced Address", HARD),
        ("Invalid", HARD),
        ("Unsubscribed Address", FeedbackKind.UNSUBSCRIBED),
        ("Spam Reporting Address", FeedbackKind.COMPLAINED),
        ("Invalid SMTPAPI header", None),  # ours, not the recipient's
    ],
)
def test_a_sendgrid_dropped_event_maps_by_its_reason(reason, expected):
    event = sendgrid_event(
        {
            "email": "ann.lee@example.org",
            "timestamp": 1461095250,
            "smtp-id": "<wrfRRvF7Q0GgwUo2CvDmEA@example.webhook>",
            "event": "dropped",
            "sg_event_id": "dropped-event-id",
            "sg_message_id": "wrfRRvF7Q0GgwUo2CvDmEA.filter0425p1mdw1.13037.57168B4A1D.0",
            "reason": reason,
            "status": "5.0.0",
        }
    )

    assert event.event_type == EventType.REJECTED
    assert feedback_kind(event, esp_name="SendGrid") == expected


@pytest.mark.parametrize(
    ("event_data", "expected"),
    [
        (
            {
                "event": "failed",
                "severity": "permanent",
                "reason": "suppress-bounce",
                "delivery-status": {
                    "code": 605,
                    "message": "",
                    "description": "Not delivering to previously bounced address",
                },
            },
            HARD,
        ),
        (
            {
                "event": "failed",
                "severity": "permanent",
                "reason": "suppress-complaint",
                "delivery-status": {
                    "code": 607,
                    "message": "",
                    "description": "Not delivering to a user who marked your messages as spam",
                },
            },
            FeedbackKind.COMPLAINED,
        ),
        (
            {"event": "failed", "severity": "permanent", "reason": "suppress-unsubscribe"},
            FeedbackKind.UNSUBSCRIBED,
        ),
        (
            {"event": "rejected", "reason": "spam", "reject": {"reason": "", "description": ""}},
            FeedbackKind.COMPLAINED,
        ),
        (
            {
                "event": "rejected",
                "reject": {"reason": "Sandbox subdomains are for test purposes only"},
            },
            None,
        ),
    ],
)
def test_a_mailgun_suppressed_or_rejected_send_maps_by_its_reason(event_data, expected):
    event = mailgun_event({"recipient": "ann.lee@example.org", **event_data})

    assert feedback_kind(event, esp_name="Mailgun") == expected


def test_an_ses_reject_is_a_block():
    event = AnymailTrackingEvent(
        event_type=EventType.REJECTED,
        event_id="ses-1",
        recipient="ann.lee@example.org",
        reject_reason=RejectReason.BLOCKED,
        description="Bad content",
        esp_event={"eventType": "Reject", "reject": {"reason": "Bad content"}},
    )

    assert feedback_kind(event, esp_name="Amazon SES") == BLOCKED


@pytest.mark.parametrize(
    ("esp_event", "expected"),
    [
        ({"RecordType": "Bounce", "Type": "BadEmailAddress"}, HARD),
        ({"RecordType": "Bounce", "Type": "Blocked"}, BLOCKED),
        ({"RecordType": "Bounce", "Type": "DMARCPolicy"}, BLOCKED),
        ({"RecordType": "Bounce", "Type": "ManuallyDeactivated"}, None),
    ],
)
def test_a_postmark_rejection_maps_by_its_type(esp_event, expected):
    event = AnymailTrackingEvent(
        event_type=EventType.REJECTED, event_id="pm-1", esp_event=esp_event
    )

    assert feedback_kind(event, esp_name="Postmark") == expected


def test_a_postmark_virus_notification_is_a_block():
    event = bounced(esp_event={"Type": "VirusNotification"}, reject_reason=RejectReason.OTHER)

    assert feedback_kind(event, esp_name="Postmark") == BLOCKED
