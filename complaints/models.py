"""What recipients and mailbox providers tell us about the mail we sent: unsubscribes, spam
complaints, bounces and deliveries (one `FeedbackEvent` each, whatever channel brought it), and
the public abuse reports that moderators resolve."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class FeedbackKind(models.TextChoices):
    DELIVERED = "delivered", _("Delivered")
    OPENED = "opened", _("Opened")
    CLICKED = "clicked", _("Clicked")
    SOFT_BOUNCE = "soft_bounce", _("Soft bounce")
    HARD_BOUNCE = "hard_bounce", _("Hard bounce")
    # A provider refused our content or our sender (spam filter, policy, reputation): counted
    # against the campaign, never against the address.
    BLOCKED = "blocked", _("Blocked by the provider")
    COMPLAINED = "complained", _("Spam complaint")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")


class FeedbackSource(models.TextChoices):
    UNSUBSCRIBE_PAGE = "unsubscribe_page", _("Unsubscribe page")
    ONE_CLICK = "one_click", _("One-click unsubscribe (RFC 8058)")
    REPORT_PAGE = "report_page", _("Report-spam link")
    DSN = "dsn", _("Bounce report (DSN)")
    ARF = "arf", _("Feedback loop (ARF)")
    AMAZON_SES = "amazon_ses", "Amazon SES"
    MAILGUN = "mailgun", "Mailgun"
    SENDGRID = "sendgrid", "SendGrid"
    POSTMARK = "postmark", "Postmark"
    ESP = "esp", _("Other ESP")


class FeedbackOutcome(models.TextChoices):
    APPLIED = "applied", "Applied"
    # A test send's links and reports: shown, never acted on.
    TEST = "test", "Test message (ignored)"
    # No delivery of ours matched the message reference or provider id.
    UNMATCHED = "unmatched", "Not matched to a message"
    # The message's unsubscribe, hard bounce or complaint had already been reported (through
    # another channel: the one-click header and the ESP, a feedback loop and the ESP's webhook;
    # or in a second report): kept as evidence, not listed or counted a second time.
    DUPLICATE = "duplicate", "Already reported for this message"


class FeedbackEvent(models.Model):
    """One event about one message we sent, applied once: (`source`, `event_id`) is unique, so a
    webhook delivered twice or a mailbox read again changes nothing the second time."""

    source = models.CharField(max_length=32, choices=FeedbackSource.choices)
    event_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=FeedbackKind.choices)
    outcome = models.CharField(
        max_length=16, choices=FeedbackOutcome.choices, default=FeedbackOutcome.APPLIED
    )
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    delivery = models.ForeignKey(
        "campaigns.Delivery", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_probe = models.BooleanField(default=False)
    # The address as it was at the time; blanked when the subscriber is erased or data expires.
    recipient = models.CharField(max_length=254, blank=True)
    # SMTP status ("5.1.1"), the provider's bounce type, the complaint's feedback type.
    code = models.CharField(max_length=64, blank=True)
    detail = models.TextField(blank=True)
    # The recipient's own words (report-spam comment).
    comment = models.TextField(blank=True)
    # When it happened (as the report says), when it reached us, and when the address was
    # suppressed: for unsubscribes, suppressed_at - occurred_at is what mailbox providers bound.
    occurred_at = models.DateTimeField(default=timezone.now)
    received_at = models.DateTimeField(default=timezone.now)
    suppressed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="feedback_event_once"),
            models.CheckConstraint(
                condition=models.Q(kind__in=FeedbackKind.values), name="feedback_kind_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "kind", "-occurred_at"], name="feedback_account_kind"),
            models.Index(fields=["received_at"], name="feedback_received"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} via {self.source} ({self.outcome})"

    @property
    def suppression_seconds(self) -> float | None:
        """How long from the event to the address being suppressed (None: not suppressing)."""
        if self.suppressed_at is None:
            return None
        return max(0.0, (self.suppressed_at - self.occurred_at).total_seconds())


class AbuseStatus(models.TextChoices):
    OPEN = "open", _("Open")
    UPHELD = "upheld", _("Upheld")
    DISMISSED = "dismissed", _("Dismissed")


class AbuseReport(models.Model):
    """A report from the public /abuse/ form: anyone may say spam came through us. Matched to an
    account and campaign when the pasted headers allow; a moderator upholds or dismisses it."""

    reporter_email = models.EmailField(max_length=254)
    message_text = models.TextField(blank=True)
    comment = models.TextField(blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    account = models.ForeignKey(
        "accounts.Account",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="abuse_reports",
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Which header matched it: "message_ref", "feedback_id", "message_id", or "" (unmatched).
    matched_by = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=16, choices=AbuseStatus.choices, default=AbuseStatus.OPEN)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=AbuseStatus.values), name="abuse_status_valid"
            )
        ]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="abuse_queue"),
            models.Index(fields=["account", "status"], name="abuse_account"),
        ]

    def __str__(self) -> str:
        return f"abuse report {self.pk} ({self.status})"


class ListingKind(models.TextChoices):
    IP = "ip", _("Sending IP")
    DOMAIN = "domain", _("Sender domain")


class BlocklistListing(models.Model):
    """One stretch of time a DNSBL zone listed one of the service's sending IPs or a verified
    sender domain: opened when the watch first sees it, `last_seen_at` moved on every check that
    still sees it, `cleared_at` set by the first check that no longer does. At most one open
    listing per (IP, zone) and per (sender domain, zone)."""

    kind = models.CharField(max_length=8, choices=ListingKind.choices)
    # The IP address or the domain name asked about.
    subject = models.CharField(max_length=253)
    zone = models.CharField(max_length=253)
    sender_domain = models.ForeignKey(
        "accounts.SenderDomain",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="blocklist_listings",
    )
    # The zone's A answers (return codes such as 127.0.0.2) and its TXT reason.
    codes = models.JSONField(default=list, blank=True)
    reason = models.TextField(blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-first_seen_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=ListingKind.values), name="blocklist_kind_valid"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind=ListingKind.IP, sender_domain__isnull=True)
                    | models.Q(kind=ListingKind.DOMAIN, sender_domain__isnull=False)
                ),
                name="blocklist_domain_has_sender_domain",
            ),
            models.UniqueConstraint(
                fields=["subject", "zone"],
                condition=models.Q(kind=ListingKind.IP, cleared_at__isnull=True),
                name="blocklist_ip_open_once",
            ),
            models.UniqueConstraint(
                fields=["sender_domain", "zone"],
                condition=models.Q(kind=ListingKind.DOMAIN, cleared_at__isnull=True),
                name="blocklist_domain_open_once",
            ),
        ]
        indexes = [models.Index(fields=["kind", "cleared_at"], name="blocklist_kind_open")]

    def __str__(self) -> str:
        return f"{self.subject} in {self.zone}"

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None


class PendingOneClick(models.Model):
    """A one-click unsubscribe (RFC 8058) answered and not yet applied in full.

    With the tracking queue's consumer running, the web process does only what the answer
    promises: the address is suppressed for the account (the row every send checks before it
    hands a message over) and this row is written, both in one statement, so both are durable
    before the answer. The consumer applies the rest in batches (the subscription ended, the
    consent record, the delivery's and campaign's figures, the sender's webhooks:
    complaints.services.one_clicks_pending_apply) and deletes the rows in the same transaction,
    so each is applied once. One row per message: a second POST of the same link adds nothing.
    """

    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="+")
    subscriber = models.ForeignKey("lists.Subscriber", on_delete=models.CASCADE, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "subscriber"], name="pending_one_click_once"
            )
        ]
        # The verdict asks what one campaign still has pending from before its hold ended.
        indexes = [models.Index(fields=["campaign", "received_at"], name="pending_one_click_age")]

    def __str__(self) -> str:
        return f"one-click of subscriber {self.subscriber_id} (campaign {self.campaign_id})"


class FeedbackDeadLetter(models.Model):
    """A report that could not be applied for a reason of its own (a constraint it breaks, a
    value it carries): kept here, with the error, so that the reports around it in its batch
    are applied and acknowledged and a retry of the batch does not meet it again. Staff read
    them in the admin; one row per (source, event id)."""

    source = models.CharField(max_length=32)
    event_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=16)
    # The report as the channel gave it (complaints.services.Feedback's fields).
    report = models.JSONField()
    error = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="feedback_dead_letter_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} via {self.source} ({self.event_id})"
