"""Campaigns, the record of every status change, and the log of test sends."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import pgettext_lazy

from accounts.models import Account
from campaigns.states import DELETABLE, EDITABLE, CampaignStatus
from config.coded_text import in_english, render_all
from lists.models import MailingList, Subscriber


class CampaignKind(models.TextChoices):
    REGULAR = "regular", pgettext_lazy("campaign kind", "Campaign")
    # One fixed, moderated message to a list's candidates (campaigns.consent_requests).
    CONSENT_REQUEST = "consent_request", pgettext_lazy("campaign kind", "Consent request")
    # A list's welcome message, sent to each new subscriber on confirmation (campaigns.welcome).
    WELCOME = "welcome", pgettext_lazy("campaign kind", "Welcome message")


def note_shown(note: str, verdict: dict | None) -> str:
    """`note` as the reader should see it: an amber verdict's reasons (the note is their English
    copy) rendered in the active language; any other note (a moderator's) as written."""
    reasons = (verdict or {}).get("reasons") or []
    if note and reasons and note == in_english(reasons):
        return render_all(reasons)
    return note


# What a recipient's message is made of: the fields a moderator approves (with the audience) and
# a version freezes, which campaigns.versions hashes and the API and forms edit.
MESSAGE_FIELDS = (
    "subject",
    "from_name",
    "from_email",
    "reply_to",
    "html_body",
    "text_body",
)


class Campaign(models.Model):
    """One message to the subscribers of one or more of the account's lists. Only
    campaigns.services writes `status`, one checked transition at a time."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    lists = models.ManyToManyField(MailingList, related_name="campaigns")
    # Saved segments (campaigns.segments) whose matches join the audience too; the submitted
    # version records their conditions as they were (CampaignVersion.segments).
    segments: models.ManyToManyField[Segment, Any] = models.ManyToManyField(
        "Segment", related_name="campaigns", blank=True
    )
    subject = models.CharField(max_length=300)
    from_name = models.CharField(max_length=100)
    from_email = models.CharField(max_length=254)
    reply_to = models.CharField(max_length=254, blank=True)
    kind = models.CharField(
        max_length=16,
        choices=CampaignKind.choices,
        default=CampaignKind.REGULAR,
        db_default=CampaignKind.REGULAR,
    )
    # A consent request's only free text: one short line above the fixed template.
    consent_intro = models.CharField(max_length=300, blank=True, default="", db_default="")
    html_body = models.TextField()
    # Generated from the HTML when left empty.
    text_body = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # The content analyser's findings when last submitted, as moderators see them.
    findings = models.JSONField(default=list, blank=True)
    # What moderators last told the sender (a rejection or decline reason, a probe warning).
    moderation_note = models.TextField(blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    # When the sender asked the probe to start (UTC), and the IANA time zone they chose it in
    # (the page and the API show it there). Blank: as soon as a moderator approves. The probe
    # starts at this time or at approval, whichever is later (campaigns.sending).
    scheduled_at = models.DateTimeField(null=True, blank=True)
    schedule_timezone = models.CharField(max_length=64, blank=True, default="", db_default="")
    # The send, as decided when the probe was chosen: how many recipients, the probe's size,
    # seed and provider mix (reproducible), and when the hold ends.
    recipients_at_approval = models.PositiveIntegerField(null=True, blank=True)
    probe_size = models.PositiveIntegerField(null=True, blank=True)
    probe_seed = models.BigIntegerField(null=True, blank=True)
    probe_plan = models.JSONField(default=dict, blank=True)
    probe_sent_at = models.DateTimeField(null=True, blank=True)
    hold_until = models.DateTimeField(null=True, blank=True)
    # The probe's judgement (campaigns.verdict.Verdict.as_dict) and when it was made.
    verdict = models.JSONField(default=dict, blank=True)
    judged_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When send tasks were last queued (the sweeper does not queue more while they may still
    # be waiting for a worker).
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # Where a paused campaign picks up again once its account may send.
    resume_status = models.CharField(max_length=16, blank=True)
    # The frozen content waiting for moderation (set on submit), and the one a moderator
    # approved: everything sent renders from `approved_version`, never from the fields above.
    submitted_version = models.ForeignKey(
        "CampaignVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_version = models.ForeignKey(
        "CampaignVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=CampaignStatus.values),
                name="campaign_status_valid",
            )
        ]
        indexes = [
            models.Index(fields=["account", "status"], name="campaign_account_status"),
            # Beat's check for approved campaigns whose time has come reads only these.
            models.Index(
                fields=["scheduled_at"],
                name="campaign_scheduled_waiting",
                condition=models.Q(status=CampaignStatus.APPROVED, scheduled_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def moderation_note_shown(self) -> str:
        """The last note to the sender, in the reader's language when it is an amber verdict's
        reasons (stored as their English copy; the verdict keeps them as codes)."""
        return note_shown(self.moderation_note, self.verdict)

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE

    @property
    def is_deletable(self) -> bool:
        # A welcome message's campaigns stay with its list (campaigns.welcome).
        return self.status in DELETABLE and self.kind != CampaignKind.WELCOME


class CampaignVersion(models.Model):
    """What a submission froze: the content, the sender, the audience's lists and the company
    identity every message shows, with a hash of all of it. Immutable once written; moderators
    approve one version, and sending renders from it."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    subject = models.CharField(max_length=300)
    from_name = models.CharField(max_length=100)
    from_email = models.CharField(max_length=254)
    reply_to = models.CharField(max_length=254, blank=True)
    html_body = models.TextField()
    text_body = models.TextField(blank=True)
    # [{"id": 3, "name": "Newsletter"}, ...] as they were at submission.
    lists = models.JSONField(default=list)
    # The segments of the audience as they were at submission: [{"id", "name", "match",
    # "conditions", "lists": [{"id", "name"}]}]. The audience is evaluated from this copy, so
    # editing a segment after approval cannot change who gets the approved campaign.
    segments = models.JSONField(default=list, blank=True)
    company_name = models.CharField(max_length=200)
    postal_address = models.TextField(blank=True)
    # The tracked links, in the click tracker's order: the only places /c/ redirects to.
    links = models.JSONField(default=list)
    # The merge tags the content uses, as written.
    merge_tags = models.JSONField(default=list)
    content_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["campaign", "number"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "number"], name="version_unique_number")
        ]

    def __str__(self) -> str:
        return f"campaign {self.campaign_id} v{self.number} ({self.content_hash[:12]})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("A campaign version is immutable once written.")
        super().save(*args, **kwargs)


class CampaignStatusChange(models.Model):
    """One status change of a campaign: from what, to what, by whom, why and when."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="changes")
    old_status = models.CharField(max_length=16, choices=CampaignStatus.choices)
    new_status = models.CharField(max_length=16, choices=CampaignStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.TextField(blank=True)
    # A reason the system wrote, as a code and parameters (config.coded_text), read in the
    # reader's language; `reason` keeps it in English (webhooks carry that).
    reason_code = models.JSONField(null=True, blank=True)

    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.old_status} -> {self.new_status}"

    @property
    def reason_text(self) -> str:
        """The reason in the active language (as typed, when a person wrote it)."""
        return render_all(self.reason_code) if self.reason_code else self.reason


class CampaignScheduleChange(models.Model):
    """One change of a campaign's schedule: from when to when (UTC, with the zones chosen), by
    whom, in which status and when. The schedule is not content, so it may change after
    approval (until the probe starts) without new moderation; this row is its trail."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="schedule_changes"
    )
    status = models.CharField(max_length=16, choices=CampaignStatus.choices)
    old_scheduled_at = models.DateTimeField(null=True, blank=True)
    old_timezone = models.CharField(max_length=64, blank=True)
    new_scheduled_at = models.DateTimeField(null=True, blank=True)
    new_timezone = models.CharField(max_length=64, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.old_scheduled_at} -> {self.new_scheduled_at}"

    # The campaign's history lists these among its status changes.
    is_schedule_change = True


class CampaignTestSend(models.Model):
    """A test of a campaign sent to the account's own verified address (also its rate limit)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="test_sends")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_email = models.CharField(max_length=254)
    message_id = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sent_at"]
        indexes = [models.Index(fields=["account", "sent_at"], name="testsend_account_recent")]

    def __str__(self) -> str:
        return f"Test of {self.campaign_id} to {self.to_email}"


class DeliveryStatus(models.TextChoices):
    # Fixed at approval, waiting for the release (the probe's rows start pending).
    WAITING = "waiting", pgettext_lazy("delivery status", "Waiting for the release")
    PENDING = "pending", pgettext_lazy("delivery status", "Waiting to be sent")
    # Claimed by a worker's batch; handed to the backend one by one.
    SENDING = "sending", pgettext_lazy("delivery status", "Sending")
    SENT = "sent", pgettext_lazy("delivery status", "Sent")
    FAILED = "failed", pgettext_lazy("delivery status", "Failed")
    # Unsubscribed, bounced or complained between being chosen and being sent.
    SKIPPED = "skipped", pgettext_lazy("delivery status", "Skipped")


class SendBatch(models.Model):
    """One worker's claim on a set of deliveries. Its heartbeat tells the sweeper whether the
    worker is alive; a dead batch's unsent rows go back to pending."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        DEAD = "dead", "Worker died"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="batches")
    worker = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    claimed = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    deferred = models.PositiveIntegerField(default=0)
    # Messages that were being handed over when the worker died: they may arrive twice.
    in_flight_at_death = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="sendbatch_live")]

    def __str__(self) -> str:
        return f"batch {self.pk} of campaign {self.campaign_id} ({self.status})"


class Delivery(models.Model):
    """One recipient of one campaign: created when the probe is chosen or the rest released,
    then claimed, sent and followed (opens, clicks, bounces, complaints)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="deliveries")
    # No database constraint: erasing a subscriber (a set-based DELETE) must not be held up by
    # the delivery log, which keeps the figures after the address is gone.
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    is_probe = models.BooleanField(default=False)
    provider = models.CharField(max_length=16)
    # The address and merge data as they were at approval: messages render from these, so a
    # subscriber edited after approval cannot change what goes out.
    email = models.CharField(max_length=254, blank=True)
    merge_data = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    batch = models.ForeignKey(
        SendBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    error = models.CharField(max_length=300, blank=True)
    # Handed to the backend when its worker died, then sent again: may have arrived twice.
    possibly_duplicated = models.BooleanField(default=False)
    # What happened after sending (tracking here, bounces and complaints from feedback).
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    opens = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    machine_opens = models.PositiveIntegerField(default=0)
    machine_clicks = models.PositiveIntegerField(default=0)
    hard_bounced_at = models.DateTimeField(null=True, blank=True)
    soft_bounced_at = models.DateTimeField(null=True, blank=True)
    # A provider refused the content or the sender (a spam filter's block): never the
    # recipient's fault, counted against the campaign.
    blocked_at = models.DateTimeField(null=True, blank=True)
    complained_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "subscriber"], name="delivery_unique_per_subscriber"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=DeliveryStatus.values),
                name="delivery_status_valid",
            ),
        ]
        indexes = [
            # Workers claim a campaign's pending rows in id order.
            models.Index(fields=["campaign", "status", "id"], name="delivery_claim"),
            # Segments' "opened/clicked in the last N days" and "never opened" look up an
            # address's engaged deliveries (campaigns.segments); only engaged rows are indexed.
            models.Index(
                fields=["email", "opened_at"],
                name="delivery_opened_by_address",
                condition=models.Q(opened_at__isnull=False),
            ),
            models.Index(
                fields=["email", "clicked_at"],
                name="delivery_clicked_by_address",
                condition=models.Q(clicked_at__isnull=False),
            ),
            # ESP events that lost our metadata are matched on the provider's message id.
            models.Index(
                fields=["provider_message_id"],
                name="delivery_provider_message",
                condition=~models.Q(provider_message_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"campaign {self.campaign_id} -> subscriber {self.subscriber_id} ({self.status})"


class TrackingEvent(models.Model):
    """An open or a click as it came in, people and machines alike (machines are set apart with
    the reason, and never count as engagement)."""

    class Kind(models.TextChoices):
        OPEN = "open", "Open"
        CLICK = "click", "Click"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    link_index = models.PositiveSmallIntegerField(null=True, blank=True)
    machine_reason = models.CharField(max_length=32, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=timezone.now)
    # The tracking queue's id of the hit (campaigns.tracking_queue), unique so that a batch
    # applied again after a consumer's crash adds nothing; null for hits recorded at once.
    queue_id = models.CharField(max_length=40, null=True, blank=True, unique=True)

    class Meta:
        indexes = [models.Index(fields=["delivery", "kind", "at"], name="tracking_delivery")]

    def __str__(self) -> str:
        return f"{self.kind} of delivery {self.delivery_id}"


class CandidateStatus(models.TextChoices):
    WAITING = "waiting", pgettext_lazy("candidate status", "Not answered")
    CONFIRMED = "confirmed", pgettext_lazy("candidate status", "Confirmed")


class ConsentCandidate(models.Model):
    """An existing client a consent request asks (campaigns.consent_requests). Its subscriber
    is an `unconfirmed` row of the list, which nothing but this request mails; the "Yes"
    button subscribes it. Links are signed (campaign, subscriber), no token is stored."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="consent_candidates"
    )
    mailing_list = models.ForeignKey(MailingList, on_delete=models.CASCADE, related_name="+")
    # No database constraint, as on Delivery: subscribers are erased by set-based DELETEs.
    subscriber = models.ForeignKey(
        Subscriber,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    email = models.CharField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=12, choices=CandidateStatus.choices, default=CandidateStatus.WAITING
    )
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "email"], name="candidate_unique_email"),
            models.CheckConstraint(
                condition=models.Q(status__in=CandidateStatus.values),
                name="candidate_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["subscriber"], name="candidate_subscriber")]

    def __str__(self) -> str:
        return f"{self.email} ({self.status}) for campaign {self.campaign_id}"


class EmailTemplate(models.Model):
    """A design the account keeps to start campaigns from: a subject and bodies, written like a
    campaign's (sanitised and given our footer when a campaign made from it renders). Never
    sent itself; a campaign copies it, so changing a template changes no campaign."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="email_templates")
    name = models.CharField(max_length=200)
    subject = models.CharField(max_length=300, blank=True)
    html_body = models.TextField()
    text_body = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["account", "name"], name="emailtemplate_account_name")]

    def __str__(self) -> str:
        return self.name


class SegmentMatch(models.TextChoices):
    ALL = "all", pgettext_lazy("segment match", "all of the conditions")
    ANY = "any", pgettext_lazy("segment match", "any of the conditions")


class Segment(models.Model):
    """A saved selection of the subscribed, non-suppressed subscribers of one or more of the
    account's lists that meet all (or any) of its conditions. The conditions are validated JSON
    (campaigns.segments.conditions_clean) compiled to one SQL query."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(max_length=200)
    lists = models.ManyToManyField(MailingList, related_name="segments")
    match = models.CharField(max_length=3, choices=SegmentMatch.choices, default=SegmentMatch.ALL)
    # [{"field": "tag", "op": "has", "value": "vip"}, ...]
    conditions = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="segment_name_unique"),
            models.CheckConstraint(
                condition=models.Q(match__in=SegmentMatch.values), name="segment_match_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WelcomeMessage(models.Model):
    """A list's welcome message (campaigns.welcome): sent once to each person whose
    subscription is confirmed. Its content lives in campaigns of kind "welcome", moderated like
    any: `campaign` is the one the sender edits and submits, `live` the approved one being
    sent, kept until a newer one is approved. Each approved campaign has one approved version
    for ever, so a message's tracked links always resolve against what it was sent from."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    mailing_list = models.OneToOneField(
        MailingList, on_delete=models.CASCADE, related_name="welcome_message"
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    live = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["account"], name="welcome_account")]

    def __str__(self) -> str:
        return f"welcome of list {self.mailing_list_id}"
