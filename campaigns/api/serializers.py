from __future__ import annotations

from rest_framework import serializers

from campaigns.models import Campaign, CampaignTestSend
from campaigns.states import CampaignStatus


class CampaignInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    lists = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        min_length=1,
        max_length=100,
        help_text="Ids of the account's lists; a subscriber on several gets one message.",
    )
    subject = serializers.CharField(max_length=300, help_text="Merge tags allowed.")
    from_name = serializers.CharField(max_length=100)
    from_email = serializers.CharField(
        max_length=254, help_text="Must be on one of the account's verified sender domains."
    )
    reply_to = serializers.CharField(max_length=254, required=False, allow_blank=True)
    html_body = serializers.CharField(
        trim_whitespace=False,
        help_text="HTML; sanitised, CSS inlined. Merge tags such as {{ subscriber.name }} or "
        '{{ subscriber.attributes.city | default("there") }}.',
    )
    text_body = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Plain text; generated from the HTML when empty.",
    )


class FindingOutput(serializers.Serializer):
    code = serializers.CharField()
    severity = serializers.ChoiceField(choices=["block", "review", "info"])
    reason = serializers.CharField()
    where = serializers.CharField()
    excerpt = serializers.CharField()


class CampaignOutput(serializers.ModelSerializer):
    lists = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    status = serializers.ChoiceField(choices=CampaignStatus.choices, read_only=True)
    findings = FindingOutput(many=True, read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "lists",
            "subject",
            "from_name",
            "from_email",
            "reply_to",
            "html_body",
            "text_body",
            "status",
            "findings",
            "created_at",
            "updated_at",
            "submitted_at",
        ]


class CampaignFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=CampaignStatus.choices, required=False)


class RecipientChoice(serializers.Serializer):
    subscriber_id = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="A subscriber on the campaign's lists; a sample recipient when omitted.",
    )


class PreviewRecipientOutput(serializers.Serializer):
    email = serializers.CharField()
    name = serializers.CharField()
    subscriber_id = serializers.IntegerField(allow_null=True)
    is_sample = serializers.BooleanField()


class PreviewOutput(serializers.Serializer):
    subject = serializers.CharField()
    from_header = serializers.CharField()
    html = serializers.CharField()
    text = serializers.CharField()
    headers = serializers.DictField(child=serializers.CharField())
    recipient = PreviewRecipientOutput()


class TestSendOutput(serializers.ModelSerializer):
    class Meta:
        model = CampaignTestSend
        fields = ["id", "to_email", "message_id", "sent_at"]


class CancelInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)
