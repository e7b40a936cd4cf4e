"""Campaigns, the record of every status change, and the log of test sends."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Account
from campaigns.states import DELETABLE, EDITABLE, CampaignStatus
from lists.models import MailingList


class Campaign(models.Model):
    """One message to the subscribers of one or more of the account's lists. Only
    campaigns.services writes `status`, one checked transition at a time."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    lists = models.ManyToManyField(MailingList, related_name="campaigns")
    subject = models.CharField(max_length=300)
    from_name = models.CharField(max_length=100)
    from_email = models.CharField(max_length=254)
    reply_to = models.CharField(max_length=254, blank=True)
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

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=CampaignStatus.values),
                name="campaign_status_valid",
            )
        ]
        indexes = [models.Index(fields=["account", "status"], name="campaign_account_status")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE

    @property
    def is_deletable(self) -> bool:
        return self.status in DELETABLE


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
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.old_status} -> {self.new_status}"


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
