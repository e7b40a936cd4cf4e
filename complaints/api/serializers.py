"""The complaints API's input filters and its one output shape (complaints and abuse reports
in one listing)."""

from __future__ import annotations

from rest_framework import serializers

from complaints.models import AbuseStatus, FeedbackSource
from complaints.selectors import ABUSE_FORM_SOURCE, ComplaintItemType

# An id filter above this could not be a row of ours, and would overflow a 64-bit parameter.
_MAX_ID = 2**63 - 1


class ComplaintFilter(serializers.Serializer):
    # An empty `?type=` is the same as no filter, as a form with "both" sends it.
    type = serializers.ChoiceField(
        choices=ComplaintItemType.CHOICES,
        required=False,
        allow_blank=True,
        help_text="Only spam complaints (`complaint`) or only abuse reports (`abuse_report`).",
    )
    campaign = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=_MAX_ID,
        help_text="Only items about this campaign of the account (another account's campaign "
        "matches nothing).",
    )
    since = serializers.DateTimeField(
        required=False, help_text="Only items from this time on (ISO 8601)."
    )


class ComplaintItemOutput(serializers.Serializer):
    """A spam complaint or an abuse report; read from the merged listing's columns."""

    type = serializers.ChoiceField(choices=ComplaintItemType.CHOICES, source="item_type")
    id = serializers.IntegerField(
        source="item_id", help_text="The complaint's or the abuse report's id (each its own)."
    )
    campaign = serializers.IntegerField(
        source="item_campaign", allow_null=True, help_text="The campaign's id, when matched."
    )
    campaign_name = serializers.CharField(source="item_campaign_name", allow_null=True)
    email = serializers.CharField(
        source="item_email",
        allow_null=True,
        help_text="The recipient who complained (null once their data is erased); null for an "
        "abuse report (the reporter's privacy).",
    )
    # A declared field (the metaclass takes it off the class), not Field.source.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=[*FeedbackSource.choices, (ABUSE_FORM_SOURCE, "Public abuse report form")],
        source="item_source",
        help_text="The channel: the report-spam link, a feedback loop (ARF), an ESP, or "
        "`abuse_form` for an abuse report.",
    )
    comment = serializers.CharField(
        source="item_comment",
        allow_null=True,
        help_text="The recipient's own words with a complaint; null for an abuse report (the "
        "reporter's words may say who they are).",
    )
    status = serializers.ChoiceField(
        choices=[("recorded", "Recorded"), *AbuseStatus.choices],
        source="item_status",
        help_text="`recorded` for a complaint (applied at once: the address is suppressed); "
        "`open`, `upheld` or `dismissed` for an abuse report.",
    )
    resolution_note = serializers.CharField(
        source="item_resolution_note", help_text="The moderator's note on an abuse report."
    )
    created_at = serializers.DateTimeField(source="item_created_at")
