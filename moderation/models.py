"""The moderators' audit log and the accounts flagged for enforcement."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy

from config.coded_text import render_all


class AuditAction(models.TextChoices):
    APPROVED = "approved", gettext_lazy("Approved a campaign")
    REJECTED = "rejected", gettext_lazy("Rejected a campaign")
    RELEASED = "released", gettext_lazy("Released a campaign")
    DECLINED = "declined", gettext_lazy("Declined a campaign")
    VERDICT = "verdict", gettext_lazy("Judged a probe")
    ACCOUNT_FLAGGED = "account_flagged", gettext_lazy("Flagged an account")
    PAUSED = "paused", gettext_lazy("Paused a campaign")
    RESUMED = "resumed", gettext_lazy("Resumed a campaign")
    HEALTH_WARNING = "health_warning", gettext_lazy("Warned an account over its health")
    WARNED = "warned", gettext_lazy("Warned an account")
    FROZEN = "frozen", gettext_lazy("Froze an account")
    UNFROZEN = "unfrozen", gettext_lazy("Unfroze an account")
    APPEALED = "appealed", gettext_lazy("An account appealed")
    APPEAL_REJECTED = "appeal_rejected", gettext_lazy("Rejected an appeal")
    DELETION_SCHEDULED = "deletion_scheduled", gettext_lazy("Scheduled an account for deletion")
    ACCOUNT_DELETED = "account_deleted", gettext_lazy("Deleted an account's data")
    ABUSE_UPHELD = "abuse_upheld", gettext_lazy("Upheld an abuse report")
    ABUSE_DISMISSED = "abuse_dismissed", gettext_lazy("Dismissed an abuse report")
    PURGED = "purged", gettext_lazy("Purged expired data")


class AuditEntry(models.Model):
    """One decision: who (a moderator, or the system when `actor` is empty), when, what, why.
    Entries are never edited; labels keep them readable after an account or campaign is gone."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    account_label = models.CharField(max_length=200, blank=True)
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    campaign_label = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    # A reason the system wrote, as codes and parameters (config.coded_text; one, or a list of
    # sentences): read in the reader's language. `reason` keeps it in English beside; what a
    # person typed is only in `reason`.
    reason_code = models.JSONField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["account", "-at"], name="audit_account_recent")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label or 'system'} {self.action}"

    @property
    def reason_text(self) -> str:
        """The reason in the active language (as typed, when a person wrote it)."""
        return render_all(self.reason_code) if self.reason_code else self.reason


class AccountFlag(models.Model):
    """An account a probe showed over the policy's limits: waits for a moderator (enforcement
    acts on it; see DESIGN.md rule 8)."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="flags")
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField()
    # As on AuditEntry: the system's reason as codes and parameters; `reason` is it in English.
    reason_code = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.reason[:60]}"

    @property
    def reason_text(self) -> str:
        """The reason in the active language."""
        return render_all(self.reason_code) if self.reason_code else self.reason


class AppealStatus(models.TextChoices):
    PENDING = "pending", gettext_lazy("Waiting for a moderator")
    GRANTED = "granted", gettext_lazy("Granted (unfrozen)")
    REJECTED = "rejected", gettext_lazy("Rejected")


class Appeal(models.Model):
    """A frozen account's one appeal, filed within APPEAL_HOURS of the freeze; while it waits
    the account is not scheduled for deletion."""

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="appeals"
    )
    # The freeze it answers: one appeal per freeze.
    frozen_at = models.DateTimeField()
    text = models.TextField()
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    filed_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=16, choices=AppealStatus.choices, default=AppealStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-filed_at"]
        constraints = [
            models.UniqueConstraint(fields=["account", "frozen_at"], name="one_appeal_per_freeze"),
            models.CheckConstraint(
                condition=models.Q(status__in=AppealStatus.values), name="appeal_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"appeal of account {self.account_id} ({self.status})"


class AppealFile(models.Model):
    """A document sent with an appeal (the signed forms a freeze asked for): a PDF or an image,
    checked by its first bytes, stored outside any public URL and served only to moderators, as
    a download (moderation_appeal_file). Deleted with the account's data."""

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="files")
    file = models.FileField(upload_to="appeals/%Y/%m/")
    # The name the sender gave it (cleaned); the stored name carries the type found.
    original_name = models.CharField(max_length=200)
    size = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.original_name
