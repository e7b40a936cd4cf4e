from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from campaigns.api.serializers import FindingOutput
from campaigns.models import Campaign
from campaigns.states import CampaignStatus
from moderation.models import AuditAction, AuditEntry
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
    reasons = serializers.ListField(child=serializers.CharField())
    rates = serializers.DictField(child=serializers.FloatField())
    intervals = serializers.DictField(child=serializers.ListField(child=serializers.FloatField()))


class ModerationCampaignOutput(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=CampaignStatus.choices, read_only=True)
    account = AccountSummary(read_only=True)
    lists = ListSummary(many=True, read_only=True)
    findings = FindingOutput(many=True, read_only=True)
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
        return campaign.verdict or None


class AuditEntryOutput(serializers.ModelSerializer):
    action = serializers.ChoiceField(choices=AuditAction.choices)
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
