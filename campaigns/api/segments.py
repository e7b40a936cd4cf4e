"""Segments API: saved selections of subscribers (campaigns.segments), and their counts."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.schema import error_responses
from accounts.api.views import ACCOUNT_PERMISSIONS
from campaigns import segment_selectors, segment_services
from campaigns.models import Segment, SegmentMatch
from campaigns.segments import OPERATORS
from config.api import PageNumberPagination, paginated_response
from config.errors import NotFound
from lists.api.serializers import ExportFormatQuery
from lists.api.views import EXPORT_ACCEPTED, AnyFormatNegotiation, export_api_answer
from lists.exports import XLSX_TYPE, export_filename
from lists.models import MailingList

_CONDITIONS_HELP = (
    "A list of {field, op, value} (and key for an attribute). Fields and operators: "
    + "; ".join(f"{field}: {', '.join(ops)}" for field, ops in OPERATORS.items())
    + ". Values: text for attribute and tag, a consent source, a date YYYY-MM-DD for "
    "subscribed, a language code, a number of days for within_days; none for is_set and never."
)


class ConditionField(serializers.JSONField):
    """Checked by campaigns.segments.conditions_clean, which names the bad condition."""


class SegmentInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    lists = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        min_length=1,
        max_length=100,
        help_text="Ids of the account's lists the segment selects from.",
    )
    match = serializers.ChoiceField(
        choices=SegmentMatch.choices,
        required=False,
        default=SegmentMatch.ALL,
        help_text="Whether a subscriber must meet all of the conditions or any of them.",
    )
    conditions = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        default=list,
        max_length=20,
        help_text=_CONDITIONS_HELP,
    )


class SegmentOutput(serializers.ModelSerializer):
    lists: "serializers.PrimaryKeyRelatedField[MailingList]" = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )
    match = serializers.ChoiceField(choices=SegmentMatch.choices, read_only=True)
    conditions = serializers.ListField(child=serializers.DictField(), read_only=True)

    class Meta:
        model = Segment
        fields = ["id", "name", "lists", "match", "conditions", "created_at", "updated_at"]


class SegmentCountOutput(serializers.Serializer):
    count = serializers.IntegerField(
        help_text="Subscribed addresses the segment selects now, each once, without those the "
        "account suppressed (the platform's hard bounces are left out when the audience is "
        "fixed at approval)."
    )


SEGMENT_INPUT_EXAMPLE = OpenApiExample(
    "Engaged VIPs in Leeds",
    value={
        "name": "Engaged VIPs in Leeds",
        "lists": [1, 2],
        "match": "all",
        "conditions": [
            {"field": "tag", "op": "has", "value": "vip"},
            {"field": "attribute", "key": "city", "op": "equals", "value": "Leeds"},
            {"field": "opened", "op": "within_days", "value": 90},
        ],
    },
    request_only=True,
)


def _segment_or_404(request, segment_id: int) -> Segment:
    segment = segment_selectors.segment_get(account=request.user.account, segment_id=segment_id)
    if segment is None:
        raise NotFound("No such segment.")
    return segment


def _output(request, segment_id: int) -> dict:
    return SegmentOutput(_segment_or_404(request, segment_id)).data


class SegmentListView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    pagination_class = PageNumberPagination

    @extend_schema(
        responses={200: SegmentOutput(many=True), **error_responses(404)},
        summary="The account's segments",
    )
    def get(self, request):
        segments = segment_selectors.segments_for(account=request.user.account)
        return paginated_response(request, self, segments, SegmentOutput)

    @extend_schema(
        request=SegmentInput,
        responses={201: SegmentOutput, **error_responses(400)},
        examples=[SEGMENT_INPUT_EXAMPLE],
        summary="Create a segment",
    )
    def post(self, request):
        data = SegmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        segment = segment_services.segment_create(
            account=request.user.account, **data.validated_data
        )
        return Response(_output(request, segment.pk), status=status.HTTP_201_CREATED)


class SegmentDetailView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(responses={200: SegmentOutput, **error_responses(404)}, summary="One segment")
    def get(self, request, segment_id: int):
        return Response(_output(request, segment_id))

    @extend_schema(
        request=SegmentInput(partial=True),
        responses={200: SegmentOutput, **error_responses(400, 404)},
        summary="Change a segment (campaigns already submitted keep the copy they froze)",
    )
    def patch(self, request, segment_id: int):
        _segment_or_404(request, segment_id)
        data = SegmentInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        segment_services.segment_update(
            account=request.user.account, segment_id=segment_id, **data.validated_data
        )
        return Response(_output(request, segment_id))

    @extend_schema(responses={204: None, **error_responses(404)}, summary="Delete a segment")
    def delete(self, request, segment_id: int):
        segment_services.segment_delete(account=request.user.account, segment_id=segment_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SegmentCountView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        responses={200: SegmentCountOutput, **error_responses(404)},
        summary="How many addresses the segment selects now",
    )
    def get(self, request, segment_id: int):
        segment = _segment_or_404(request, segment_id)
        return Response({"count": segment_selectors.segment_count(segment=segment)})


class SegmentExportView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    content_negotiation_class = AnyFormatNegotiation

    @extend_schema(
        parameters=[ExportFormatQuery],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, XLSX_TYPE): OpenApiTypes.BINARY,
            (202, "application/json"): EXPORT_ACCEPTED,
            **error_responses(400, 404),
        },
        summary="The segment's subscribers with their consent, as CSV (streamed) or XLSX; "
        "a large export answers 202 and is prepared in the background",
        description="The list export's columns, over the addresses the segment's count counts: "
        "subscribed, meeting its conditions, not suppressed, each address once (an address on "
        "two of its lists is exported from the row it was subscribed by first, the lowest "
        "subscriber id).",
    )
    def get(self, request, segment_id: int):
        segment = _segment_or_404(request, segment_id)
        query = ExportFormatQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return export_api_answer(
            request,
            source="segment",
            object_id=segment.pk,
            file_format=query.validated_data["format"],
            subscribers=segment_selectors.segment_subscribers(segment=segment),
            filename=export_filename(segment, kind="segment"),
        )


class CampaignAudienceView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        responses={200: SegmentCountOutput, **error_responses(404)},
        summary="How many addresses the campaign's lists and segments reach now",
    )
    def get(self, request, campaign_id: int):
        from campaigns import selectors

        campaign = selectors.campaign_get(account=request.user.account, campaign_id=campaign_id)
        if campaign is None:
            raise NotFound("No such campaign.")
        return Response({"count": segment_selectors.campaign_audience_count(campaign=campaign)})
