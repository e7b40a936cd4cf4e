from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Account, AccountState
from campaigns.api.serializers import FindingOutput
from campaigns.models import Campaign
from campaigns.states import CampaignStatus
from complaints.models import AbuseReport, AbuseStatus
from complaints.selectors import account_health
from config.api import CodedTextField
from config.coded_text import render
from moderation.enforcement.appeals import APPEAL_TEXT_MAX
from moderation.models import Appeal, AppealStatus, AuditAction, AuditEntry
from moderation.selectors import account_current_appeal, appeal_deadline
from moderation.services import REASON_MAX


class QueueFilter(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=CampaignStatus.choices,
        required=False,
        allow_blank=True,
        help_text="Only campaigns of this status; by default (or empty) every campaign still "
        "under way, submitted first, then in review, each oldest submission first.",
    )


class AuditFilter(serializers.Serializer):
    account = serializers.IntegerField(required=False, min_value=1, help_text="An account id.")
    campaign = serializers.IntegerField(required=False, min_value=1, help_text="A campaign id.")
    action = serializers.ChoiceField(choices=AuditAction.choices, required=False)


class ApproveInput(serializers.Serializer):
    version = serializers.IntegerField(
        source="version_id",
        min_value=1,
        help_text="The id of the version you reviewed (`submitted_version.id`). If the sender "
        "withdrew and resubmitted since, another version is waiting: 409.",
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=REASON_MAX,
        help_text="Optional, recorded in the audit log.",
    )


class OptionalReasonInput(serializers.Serializer):
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=REASON_MAX,
        help_text="Optional; the sender sees it.",
    )


class RequiredReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=REASON_MAX, help_text="Required; the sender sees it.")


class RejectInput(RequiredReasonInput):
    version = serializers.IntegerField(
        source="version_id",
        min_value=1,
        required=False,
        help_text="Optional: reject only if this version is still the one waiting (else 409).",
    )


class VersionSummary(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    content_hash = serializers.CharField()
    created_at = serializers.DateTimeField()


class AccountSummary(serializers.Serializer):
    id = serializers.IntegerField()
    company_name = serializers.CharField()
    state = serializers.CharField()


class ListSummary(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class VerdictOutput(serializers.Serializer):
    tier = serializers.ChoiceField(choices=["green", "amber", "review"])
    flag_account = serializers.BooleanField()
    rule = serializers.CharField()
    reasons = serializers.ListField(
        child=CodedTextField(), help_text="Why, in the request's language."
    )
    rates = serializers.DictField(child=serializers.FloatField())
    intervals = serializers.DictField(child=serializers.ListField(child=serializers.FloatField()))


class ModerationCampaignOutput(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=CampaignStatus.choices, read_only=True)
    account = AccountSummary(read_only=True)
    lists = ListSummary(many=True, read_only=True)
    findings = FindingOutput(many=True, read_only=True)
    submitted_version = VersionSummary(
        read_only=True,
        allow_null=True,
        help_text="The frozen version waiting for a decision (approve names its id).",
    )
    approved_version = VersionSummary(
        read_only=True, allow_null=True, help_text="The version that was approved and is sent."
    )
    verdict = serializers.SerializerMethodField(
        help_text="The probe's verdict once judged, else null."
    )

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "status",
            "account",
            "lists",
            "subject",
            "from_name",
            "from_email",
            "findings",
            "submitted_version",
            "approved_version",
            "moderation_note",
            "created_at",
            "submitted_at",
            "approved_at",
            "recipients_at_approval",
            "probe_size",
            "probe_sent_at",
            "hold_until",
            "verdict",
            "judged_at",
        ]

    @extend_schema_field(VerdictOutput(allow_null=True))
    def get_verdict(self, campaign: Campaign) -> dict | None:
        if not campaign.verdict:
            return None
        # The reasons are stored as codes and parameters: given in the request's language.
        reasons = [render(reason) for reason in campaign.verdict.get("reasons", [])]
        return {**campaign.verdict, "reasons": reasons}


class AuditEntryOutput(serializers.ModelSerializer):
    action = serializers.ChoiceField(choices=AuditAction.choices)
    reason = serializers.CharField(
        source="reason_text",
        help_text="As the moderator typed it; the system's reasons in the request's language.",
    )
    actor = serializers.IntegerField(source="actor_id", allow_null=True)
    account = serializers.IntegerField(source="account_id", allow_null=True)
    campaign = serializers.IntegerField(source="campaign_id", allow_null=True)
    details = serializers.DictField()

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "at",
            "action",
            "actor",
            "actor_label",
            "account",
            "account_label",
            "campaign",
            "campaign_label",
            "reason",
            "details",
        ]
        read_only_fields = fields


# --- accounts: enforcement ------------------------------------------------------------------------


class AccountFilter(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=AccountState.choices,
        required=False,
        allow_blank=True,
        help_text="Only accounts in this state.",
    )
    flagged = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Only accounts waiting for a moderator: an open flag or a pending appeal.",
    )


class HealthOutput(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["good", "not_enough_data", "warning", "over_limit"],
        help_text="over_limit: at or over the policy's limits (the account is warned and "
        "flagged); warning: over the stricter levels mailbox providers apply.",
    )
    reasons = serializers.ListField(
        child=CodedTextField(), help_text="Why, in the request's language."
    )
    window_days = serializers.IntegerField()
    since = serializers.DateTimeField()
    sent = serializers.IntegerField()
    hard_bounces = serializers.IntegerField()
    complaints = serializers.IntegerField()
    unsubscribes = serializers.IntegerField()
    hard_bounce_rate = serializers.FloatField()
    complaint_rate = serializers.FloatField()
    upheld_abuse_reports = serializers.IntegerField()
    open_abuse_reports = serializers.IntegerField()
    hard_bounce_limit = serializers.FloatField()
    complaint_limit = serializers.FloatField()


class AppealOutput(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=AppealStatus.choices)

    class Meta:
        model = Appeal
        fields = ["id", "status", "text", "frozen_at", "filed_at", "decided_at", "decision_note"]
        read_only_fields = fields


class ModerationAccountOutput(serializers.Serializer):
    """An account as moderators list it (from moderation.selectors.accounts_for_moderation)."""

    id = serializers.IntegerField()
    company_name = serializers.CharField()
    state = serializers.ChoiceField(choices=AccountState.choices)
    state_reason = serializers.CharField(
        source="state_reason_shown",
        help_text="The reason its users were given, in the request's language where the system "
        "wrote it.",
    )
    state_changed_at = serializers.DateTimeField(allow_null=True)
    appeal_deadline = serializers.SerializerMethodField(
        help_text="Frozen accounts: until when they may appeal; else null."
    )
    deletion_due_at = serializers.DateTimeField(
        allow_null=True, help_text="Scheduled for deletion: when its data is deleted."
    )
    open_flags = serializers.SerializerMethodField(help_text="Flags no moderator answered yet.")
    pending_appeal = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_appeal_deadline(self, account: Account) -> str | None:
        deadline = appeal_deadline(account)
        return serializers.DateTimeField().to_representation(deadline) if deadline else None

    @extend_schema_field(serializers.IntegerField())
    def get_open_flags(self, account: Account) -> int:
        return getattr(account, "open_flag_count", None) or 0

    @extend_schema_field(serializers.BooleanField())
    def get_pending_appeal(self, account: Account) -> bool:
        return bool(getattr(account, "has_pending_appeal", False))


class AccountEnforcementOutput(ModerationAccountOutput):
    """One account's enforcement view: the above, its health and its appeal."""

    health = serializers.SerializerMethodField(
        help_text="Rolling figures across the account's campaigns."
    )
    appeal = serializers.SerializerMethodField(
        help_text="The appeal of the current freeze (or the latest one), else null."
    )

    @extend_schema_field(HealthOutput)
    def get_health(self, account: Account) -> dict:
        health = account_health(account=account)
        return HealthOutput(
            {
                **vars(health),
                "hard_bounce_rate": health.hard_bounce_rate,
                "complaint_rate": health.complaint_rate,
                "hard_bounce_limit": settings.HARD_BOUNCE_LIMIT,
                "complaint_limit": settings.COMPLAINT_LIMIT,
            }
        ).data

    @extend_schema_field(AppealOutput(allow_null=True))
    def get_appeal(self, account: Account) -> dict | None:
        appeal = account_current_appeal(account=account)
        return AppealOutput(appeal).data if appeal else None


class AccountReasonInput(serializers.Serializer):
    reason = serializers.CharField(
        max_length=REASON_MAX, help_text="Required; the account's users see it."
    )


# --- abuse reports --------------------------------------------------------------------------------


class AbuseFilter(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=AbuseStatus.choices,
        required=False,
        allow_blank=True,
        help_text="Only reports of this status; by default all, open ones first.",
    )


class CampaignSummary(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AbuseReportOutput(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=AbuseStatus.choices)
    account = AccountSummary(allow_null=True, help_text="The matched account, if any.")
    campaign = CampaignSummary(allow_null=True, help_text="The matched campaign, if any.")
    resolved_by = serializers.IntegerField(source="resolved_by_id", allow_null=True)

    class Meta:
        model = AbuseReport
        fields = [
            "id",
            "created_at",
            "status",
            "reporter_email",
            "message_text",
            "comment",
            "ip",
            "account",
            "campaign",
            "matched_by",
            "resolved_at",
            "resolved_by",
            "resolution_note",
        ]
        read_only_fields = fields


class AbuseResolveInput(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=[AbuseStatus.UPHELD, AbuseStatus.DISMISSED],
        help_text="upheld: the account sent unwanted mail (counts towards a warning); "
        "dismissed: it did not.",
    )
    note = serializers.CharField(
        max_length=REASON_MAX, help_text="Required; kept with the report, the sender sees it."
    )


# --- the sender's appeal --------------------------------------------------------------------------


class AppealInput(serializers.Serializer):
    text = serializers.CharField(
        max_length=APPEAL_TEXT_MAX,
        help_text="Why the account should be unfrozen: what went wrong and what changed.",
    )


class AppealStateOutput(serializers.Serializer):
    state = serializers.ChoiceField(choices=AccountState.choices)
    state_reason = serializers.CharField()
    appeal_deadline = serializers.DateTimeField(allow_null=True)
    can_appeal = serializers.BooleanField()
    window_passed = serializers.BooleanField()
    deletion_due_at = serializers.DateTimeField(allow_null=True)
    appeal = AppealOutput(allow_null=True)
