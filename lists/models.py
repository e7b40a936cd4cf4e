"""Mailing lists, subscribers, their consent history, account-wide suppression and imports."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import Account

# Mailbox names that reach a role or a team, not a person who subscribed (rule 6: lists dominated
# by them are flagged for moderators).
ROLE_LOCAL_PARTS = frozenset(
    {
        "abuse",
        "accounting",
        "accounts",
        "admin",
        "administrator",
        "billing",
        "contact",
        "enquiries",
        "enquiry",
        "feedback",
        "finance",
        "help",
        "helpdesk",
        "hello",
        "hostmaster",
        "hr",
        "info",
        "jobs",
        "mail",
        "mailer-daemon",
        "marketing",
        "media",
        "newsletter",
        "no-reply",
        "noreply",
        "do-not-reply",
        "donotreply",
        "office",
        "orders",
        "postmaster",
        "press",
        "privacy",
        "reception",
        "root",
        "sales",
        "security",
        "service",
        "support",
        "team",
        "webmaster",
    }
)


def is_role_address(email: str) -> bool:
    """True for info@, sales@, noreply@ and the like (plus-tags ignored)."""
    local = email.rpartition("@")[0].lower().split("+", 1)[0]
    return local in ROLE_LOCAL_PARTS


def _new_public_id() -> str:
    return secrets.token_urlsafe(9)


class MailingList(models.Model):
    """A list of one account; its purpose is shown on its subscription form (rule 2)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="lists")
    name = models.CharField(max_length=200)
    purpose = models.TextField(help_text="What subscribers will receive; shown on the form.")
    adult_content = models.BooleanField(default=False)
    double_opt_in = models.BooleanField(default=True)
    # The id in the hosted form's URL: unguessable, unlike the primary key.
    public_id = models.CharField(max_length=24, unique=True, default=_new_public_id)
    # Privacy: a list owner may turn off open and click tracking for the list.
    track_opens = models.BooleanField(default=True)
    track_clicks = models.BooleanField(default=True)
    # The hosted and embedded form.
    form_collect_name = models.BooleanField(default=True)
    form_collect_phone = models.BooleanField(default=False)
    form_intro = models.TextField(blank=True)
    form_thank_you = models.TextField(blank=True)
    # Linked from the hosted and embedded form (informed consent). Every list has a hosted form,
    # so creating or editing a list requires it; lists made before it existed show a notice
    # on their form instead of the link until the sender adds it.
    privacy_policy_url = models.URLField(max_length=500, blank=True, default="", db_default="")
    # What recipients read in (settings.LANGUAGES): the footer of every message, the
    # confirmation e-mail and every recipient page, unless the recipient's browser asks for
    # another language the service has (config.i18n.recipient_language).
    language = models.CharField(
        max_length=8,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
        db_default=settings.LANGUAGE_CODE,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="list_name_unique_per_account")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def form_url(self) -> str:
        """The hosted subscription form, absolute (it goes into snippets and the API)."""
        return settings.SITE_URL + reverse("subscribe", kwargs={"public_id": self.public_id})


class SubscriberStatus(models.TextChoices):
    UNCONFIRMED = "unconfirmed", _("Unconfirmed")
    SUBSCRIBED = "subscribed", _("Subscribed")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    BOUNCED = "bounced", _("Bounced")
    COMPLAINED = "complained", _("Complained")


class Subscriber(models.Model):
    # No index of its own: the (list, email) unique index serves lookups by list.
    mailing_list = models.ForeignKey(
        MailingList, on_delete=models.CASCADE, related_name="subscribers", db_index=False
    )
    email = models.CharField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=SubscriberStatus.choices, default=SubscriberStatus.UNCONFIRMED
    )
    is_role_address = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    subscribed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    # Limits how often one address gets a confirmation e-mail, however often the form is sent.
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    # The language of the page the person signed up on (settings.LANGUAGES): their double opt-in
    # e-mail is written in it. Blank when unknown (added by the sender, imported, the API).
    language = models.CharField(max_length=8, blank=True, default="", db_default="")

    class Meta:
        constraints = [
            # With the pattern operator class the one index serves uniqueness, lookups by
            # address and the prefix search (LIKE 'abc%') on PostgreSQL; elsewhere it is plain.
            models.UniqueConstraint(
                fields=["mailing_list", "email"],
                name="subscriber_email_unique_per_list",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=SubscriberStatus.values),
                name="subscriber_status_valid",
            ),
        ]
        indexes = [
            # The list page filters by status and pages by id, newest first.
            models.Index(fields=["mailing_list", "status", "-id"], name="subscriber_list_status"),
            # The dashboard's growth chart counts a list's subscriptions per day of the last 90
            # (bench/dashboard_bench.py: 694 -> 254 ms on a million subscribers).
            models.Index(fields=["mailing_list", "subscribed_at"], name="subscriber_list_growth"),
        ]

    def __str__(self) -> str:
        return self.email


class SubscriberChange(models.Model):
    """Who changed a subscriber's name, phone or attributes, when, and from what to what.
    Append-only; deleted with the subscriber (an erasure leaves nothing of the person)."""

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="changes")
    # {"name": ["old", "new"], "attributes": [{...}, {...}]}: only the fields that changed.
    changes = models.JSONField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # "browser" or "api": where the change came from.
    channel = models.CharField(max_length=16, blank=True)
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        fields = ", ".join(self.changes)
        return f"{self.subscriber_id}: {fields} at {self.changed_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("Subscriber changes are append-only.")
        super().save(*args, **kwargs)


# Each list's counters are split over this many rows per status (by subscriber id), so that
# concurrent status changes (one-click unsubscribes, bounce webhooks) rarely wait for one another.
SUBSCRIBER_COUNT_SHARDS = 16


class SubscriberCount(models.Model):
    """How many subscribers a list has per status (and how many of them are role addresses).

    Kept by database triggers on the subscriber table (migrations 0002 and 0005), so every write,
    bulk COPY and raw DELETE included, keeps it exact; pages read it instead of counting
    millions of rows. Never written by Python code. A count is the sum over its `shard` rows:
    a subscriber is counted in shard id % SUBSCRIBER_COUNT_SHARDS, because a single row per
    status would be locked by every unsubscribe of the list until it commits, one at a time.
    """

    mailing_list = models.ForeignKey(
        MailingList, on_delete=models.CASCADE, related_name="counts", db_index=False
    )
    status = models.CharField(max_length=16, choices=SubscriberStatus.choices)
    is_role_address = models.BooleanField()
    shard = models.PositiveSmallIntegerField(default=0)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["mailing_list", "status", "is_role_address", "shard"],
                name="subscriber_count_shard_key",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.mailing_list_id} {self.status} role={self.is_role_address} "
            f"shard={self.shard}: {self.n}"
        )


class ConsentSource(models.TextChoices):
    """The sources of consent the policy accepts (rule 1)."""

    WEB_FORM = "web_form", _("Web form (our hosted or embedded form)")
    FORM_CHECKBOX = "form_checkbox", _("Another form with a separate consent checkbox")
    PAPER_FORM = "paper_form", _("Hand-filled paper form with a consent checkbox")
    CLIENT_RECONFIRMED = "client_reconfirmed", _("Existing client who answered a consent request")
    API = "api", _("Submitted through the API, with proof")


class ConsentEvent(models.TextChoices):
    GRANTED = "granted", _("Consent given")
    CONFIRMED = "confirmed", _("Confirmed by e-mail (double opt-in)")
    WITHDRAWN = "withdrawn", _("Withdrawn (unsubscribed)")


class ConsentRecord(models.Model):
    """One entry of a subscriber's consent history. Append-only: never updated."""

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="consent_records"
    )
    event = models.CharField(max_length=16, choices=ConsentEvent.choices)
    # The consent source for GRANTED; for the other events, where it came from in words.
    source = models.CharField(max_length=32, blank=True)
    obtained_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    purpose_text = models.TextField(blank=True)
    # Where it came from: the hosted/embedded form page, or an import.
    form_url = models.CharField(max_length=500, blank=True)
    # Indexed, like recorded_by, though never searched by: deleting an import or a user makes
    # the database find the records pointing at it, a scan of every consent record without one.
    import_job = models.ForeignKey(
        "ImportJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    proof = models.TextField(blank=True)
    proof_file = models.FileField(upload_to="consent-proof/%Y/%m/", blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["obtained_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(event__in=ConsentEvent.values), name="consent_event_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(event=ConsentEvent.GRANTED)
                | models.Q(source__in=ConsentSource.values),
                name="consent_granted_has_allowed_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} ({self.source}) at {self.obtained_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("Consent records are append-only.")
        super().save(*args, **kwargs)


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    HARD_BOUNCE = "hard_bounce", _("Hard bounce")
    COMPLAINED = "complained", _("Spam complaint")
    ERASED = "erased", _("Erased on request")
    # Three soft bounces over at least a week (complaints.services applies the rule).
    SOFT_BOUNCES = "soft_bounces", _("Repeated soft bounces")


class Suppression(models.Model):
    """An address this account must never mail again (rule 4). Matched by `email_hash`, so it
    keeps working after the address itself is erased."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="suppressions")
    email_hash = models.CharField(max_length=64)
    email = models.CharField(max_length=254, blank=True)
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "email_hash"], name="suppression_unique_per_account"
            )
        ]
        # A long import re-reads the suppressions added since its last batch.
        indexes = [models.Index(fields=["account", "created_at"], name="suppression_recent")]

    def __str__(self) -> str:
        return self.email or f"(erased) {self.email_hash[:12]}…"


class PlatformSuppression(models.Model):
    """An address that hard-bounced for some account: skipped for every account, since a mailbox
    that does not exist does not exist for anyone. Only a keyed hash is kept (no account, no
    address), so it outlives the account and reveals nothing. Complaints and unsubscribes stay
    per account (`Suppression`)."""

    email_hash = models.CharField(max_length=64, unique=True)
    reason = models.CharField(
        max_length=16, choices=SuppressionReason.choices, default=SuppressionReason.HARD_BOUNCE
    )
    # What reported it (an ESP name, "dsn"): for operators investigating a wrong suppression.
    source = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.email_hash[:12]}… ({self.reason})"


class ImportStatus(models.TextChoices):
    # Uploaded in the browser, waiting for the sender to map the columns.
    PENDING = "pending", _("Waiting for column mapping")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportJob(models.Model):
    """A file of subscribers being imported into a list by a worker, with its progress."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="imports")
    mailing_list = models.ForeignKey(MailingList, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(upload_to="imports/%Y/%m/", blank=True)
    original_filename = models.CharField(max_length=255)
    file_format = models.CharField(max_length=8)
    file_size = models.BigIntegerField(default=0)
    consent_source = models.CharField(max_length=32, choices=ConsentSource.choices)
    consent_obtained_at = models.DateTimeField(null=True, blank=True)
    proof = models.TextField(blank=True)
    # Evidence for every row of the import: kept, unlike the imported file itself.
    proof_file = models.FileField(upload_to="consent-proof/%Y/%m/", blank=True)
    # {"email": 0, "name": 1, "phone": 2, "attributes": {"city": 3}}: target -> column index.
    column_map = models.JSONField(default=dict)
    header_in_file = models.BooleanField(default=True)
    status = models.CharField(
        max_length=8, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    # The file is read once: while it runs, total_rows is estimated from the file's size (for
    # the progress bar); the count is exact once the last row is read.
    total_rows_estimated = models.BooleanField(default=False, db_default=False)
    processed = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    # Rows the file itself marks as unsubscribed, bounced or complained in the service it was
    # exported from: not subscribed, their addresses added to the account's suppressions.
    suppressed = models.PositiveIntegerField(default=0, db_default=0)
    # Coded text (config.coded_text; lists/texts.py), rendered in the reader's language; rows
    # from before codes hold the sentence, shown as it is.
    failure_reason = models.JSONField(default=str, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # When a worker last showed life on it (claimed it, counted its rows, wrote a batch).
    progress_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ImportStatus.values), name="import_status_valid"
            )
        ]

    def __str__(self) -> str:
        return f"Import of {self.original_filename} ({self.status})"

    @property
    def progress(self) -> float:
        if self.status == ImportStatus.DONE:
            return 1.0
        if not self.total_rows:
            return 0.0
        # An estimate never shows the import done: the last row read does.
        ceiling = 0.99 if self.total_rows_estimated else 1.0
        return min(ceiling, self.processed / self.total_rows)

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)


class ImportRowIssue(models.Model):
    """A row an import did not take as it was: invalid, duplicate, suppressed, a role address."""

    import_job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="issues")
    row = models.PositiveIntegerField()
    email = models.CharField(max_length=254, blank=True)
    # Coded text (lists/texts.py), rendered in the reader's language (old rows: the sentence).
    reason = models.JSONField()
    # A role address is imported but reported; everything else was skipped.
    skipped = models.BooleanField(default=True)
    # Skipped because the file marks the row as opted out: its address is now suppressed.
    suppressed = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["row", "id"]

    def __str__(self) -> str:
        from config.coded_text import render

        return f"Row {self.row}: {render(self.reason)}"


# Tag names are short labels; compared case-insensitively within an account.
TAG_NAME_MAX = 64


class Tag(models.Model):
    """A label of the account's own that subscribers of any of its lists may carry (segments
    select on it). The name is unique per account, whatever its case."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=TAG_NAME_MAX)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint("account", Lower("name"), name="tag_name_unique_per_account")
        ]

    def __str__(self) -> str:
        return self.name


class SubscriberTag(models.Model):
    """One subscriber carrying one tag. Deleted with the subscriber by set-based DELETEs
    (lists.services.subscribers.subscribers_delete)."""

    # No index of its own: the (subscriber, tag) unique index serves lookups by subscriber,
    # which is how a segment's "has tag" asks (an EXISTS per subscriber).
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="tag_links", db_index=False
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="subscriber_links")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "tag"], name="subscriber_tag_unique")
        ]

    def __str__(self) -> str:
        return f"{self.subscriber_id} #{self.tag_id}"


class ExportStorage(FileSystemStorage):
    """Where export files go: settings.EXPORTS_ROOT, a folder of their own outside MEDIA_ROOT,
    with no URL (a file is sent only by the download views, to the signed-in requester). The
    folder is read from the settings on every use, so a changed setting (a test's) applies."""

    def __init__(self):
        super().__init__(base_url=None)

    @property
    def base_location(self):
        return settings.EXPORTS_ROOT

    @property
    def location(self):
        import os

        return os.path.abspath(self.base_location)

    def deconstruct(self):
        return ("lists.models.ExportStorage", (), {})


def export_storage() -> ExportStorage:
    return ExportStorage()


class ExportSource(models.TextChoices):
    LIST = "list", _("List")
    SEGMENT = "segment", _("Segment")
    ACCOUNT = "account", _("All lists (ZIP)")


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"
    ZIP = "zip", "ZIP"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ExportJob(models.Model):
    """A file of subscribers with their consent being written by a worker (a list, a segment or
    every list of the account), its progress, and the file until it expires."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="exports")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=8, choices=ExportSource.choices)
    # The list's or segment's id (a segment is the campaigns app's, above this one: no foreign
    # key); None for the account's ZIP. Resolved by lists.export_sources when the job runs.
    object_id = models.BigIntegerField(null=True, blank=True)
    # The list's or segment's name when asked for: the page still says what it was.
    label = models.CharField(max_length=200)
    file_format = models.CharField(max_length=4, choices=ExportFormat.choices)
    status = models.CharField(
        max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    file = models.FileField(storage=export_storage, upload_to="%Y/%m/", blank=True)
    filename = models.CharField(max_length=200)
    file_size = models.BigIntegerField(default=0)
    # Coded text (lists/texts.py), rendered in the reader's language.
    failure_reason = models.JSONField(default=str, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the file is deleted (finished_at + EXPORT_KEEP_SECONDS); the row goes with it.
    expires_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["account", "requested_by", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ExportStatus.values), name="export_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(source__in=ExportSource.values), name="export_source_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Export of {self.label} ({self.file_format}, {self.status})"

    @property
    def progress(self) -> float:
        if self.status == ExportStatus.DONE:
            return 1.0
        if not self.rows_total:
            return 0.0
        # Rows may be added while it runs: never "done" before the file is.
        return min(0.99, self.rows_done / self.rows_total)

    @property
    def is_finished(self) -> bool:
        return self.status in (ExportStatus.DONE, ExportStatus.FAILED)

    @property
    def is_downloadable(self) -> bool:
        return self.status == ExportStatus.DONE and bool(self.file)
