"""Complaints API: the account's spam complaints and the abuse reports that name it."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.views import APIView

from accounts.api.schema import error_responses
from accounts.api.views import ACCOUNT_PERMISSIONS
from complaints import selectors
from complaints.api import serializers as s
from config.api import PageNumberPagination, paginated_response

COMPLAINT_EXAMPLE = OpenApiExample(
    "A complaint",
    value={
        "type": "complaint",
        "id": 311,
        "campaign": 42,
        "campaign_name": "November news",
        "email": "ann.lee@example.org",
        "source": "report_page",
        "comment": "I never signed up for this.",
        "status": "recorded",
        "resolution_note": "",
        "created_at": "2026-11-02T11:12:00Z",
    },
    response_only=True,
)
ABUSE_REPORT_EXAMPLE = OpenApiExample(
    "An abuse report",
    value={
        "type": "abuse_report",
        "id": 17,
        "campaign": 42,
        "campaign_name": "November news",
        "email": None,
        "source": "abuse_form",
        "comment": None,
        "status": "dismissed",
        "resolution_note": "The recipient's consent record (web form, 2026-10-01) is in order.",
        "created_at": "2026-11-02T10:40:00Z",
    },
    response_only=True,
)


class ComplaintListView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    # Documents the {"count", "next", "previous", "results"} envelope and the page parameters.
    pagination_class = PageNumberPagination

    @extend_schema(
        parameters=[s.ComplaintFilter],
        responses={200: s.ComplaintItemOutput(many=True), **error_responses(400, 404)},
        examples=[COMPLAINT_EXAMPLE, ABUSE_REPORT_EXAMPLE],
        summary="The account's spam complaints and abuse reports, newest first",
        description="Spam complaints from every channel (report-spam link, feedback loops, "
        "ESP webhooks), each already applied (the address is suppressed), and the abuse "
        "reports matched to the account with their moderation status. Filter by `type`, "
        "`campaign` and `since`. The reporter of an abuse report is never shown.",
    )
    def get(self, request):
        query = s.ComplaintFilter(data=request.query_params)
        query.is_valid(raise_exception=True)
        items = selectors.complaint_items_for(
            account=request.user.account,
            item_type=query.validated_data.get("type", ""),
            campaign_id=query.validated_data.get("campaign"),
            since=query.validated_data.get("since"),
        )
        return paginated_response(request, self, items, s.ComplaintItemOutput)
