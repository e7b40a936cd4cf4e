"""Campaigns API: authoring, preview, test send, submission, cancelling and figures."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.schema import error_responses
from accounts.api.views import ACCOUNT_PERMISSIONS
from campaigns import scheduling, selectors, sending, services, stats
from campaigns.api import serializers as s
from config.api import PageNumberPagination, paginated_response
from config.errors import NotFound


def _campaign_or_404(request, campaign_id: int):
    campaign = selectors.campaign_get(account=request.user.account, campaign_id=campaign_id)
    if campaign is None:
        raise NotFound("No such campaign.")
    return campaign


def _output(request, campaign_id: int) -> dict:
    return s.CampaignOutput(_campaign_or_404(request, campaign_id)).data


CREATE_EXAMPLE = OpenApiExample(
    "Create",
    value={
        "name": "November news",
        "lists": [1],
        "subject": "What's new in November, {{ subscriber.first_name | default('friend') }}",
        "from_name": "Acme News",
        "from_email": "news@acme.example",
        "reply_to": "hello@acme.example",
        "html_body": "<h1>Hello {{ subscriber.name }}</h1><p>Our <a "
        'href="https://acme.example/new">new products</a>.</p>',
        "text_body": "",
        "scheduled_at": "2026-11-05T09:00:00",
        "schedule_timezone": "Europe/Berlin",
    },
    request_only=True,
)
CAMPAIGN_EXAMPLE = OpenApiExample(
    "Campaign",
    value={
        "id": 42,
        "name": "November news",
        "lists": [1],
        "segments": [],
        "subject": "What's new in November, {{ subscriber.first_name | default('friend') }}",
        "from_name": "Acme News",
        "from_email": "news@acme.example",
        "reply_to": "hello@acme.example",
        "html_body": '<h1>Hello {{ subscriber.name }}</h1><p>Our <a href="https://acme.example/new">'
        "new products</a>.</p>",
        "text_body": "",
        "status": "draft",
        "findings": [],
        "created_at": "2026-11-02T09:30:00Z",
        "updated_at": "2026-11-02T09:30:00Z",
        "submitted_at": None,
        "scheduled_at": "2026-11-05T09:00:00+01:00",
        "schedule_timezone": "Europe/Berlin",
    },
    response_only=True,
)
# A list view: drf-spectacular wraps the value in the page envelope (count, next, previous,
# results), so the example is one item.
CAMPAIGN_PAGE_EXAMPLE = OpenApiExample(
    "A page of campaigns", value=CAMPAIGN_EXAMPLE.value, response_only=True
)
SUBMITTED_EXAMPLE = OpenApiExample(
    "Submitted",
    value={
        **CAMPAIGN_EXAMPLE.value,
        "status": "submitted",
        "updated_at": "2026-11-02T09:50:00Z",
        "submitted_at": "2026-11-02T09:50:00Z",
    },
    response_only=True,
)

PATCH_EXAMPLE = OpenApiExample(
    "Change the subject",
    value={"subject": "Our November news, {{ subscriber.first_name | default('friend') }}"},
    request_only=True,
)
RECIPIENT_EXAMPLE = OpenApiExample("As a subscriber", value={"subscriber_id": 7}, request_only=True)
PREVIEW_EXAMPLE = OpenApiExample(
    "Preview",
    value={
        "subject": "What's new in November, Ann",
        "from_header": "Acme News <news@acme.example>",
        "html": '<html><body><h1>Hello Ann Lee</h1><p>Our <a href="https://consentmail.example/c/'
        '...">new products</a>.</p><div>You receive this because you subscribed to '
        "\u201cMonthly news\u201d of Acme Ltd via a web form on 2026-10-01. "
        '<a href="https://consentmail.example/u/.../">Unsubscribe</a> ...</div></body></html>',
        "text": "Hello Ann Lee\n\nOur new products [1].\n\n--\nYou receive this because you "
        "subscribed to \u201cMonthly news\u201d of Acme Ltd ...\nUnsubscribe: "
        "https://consentmail.example/u/.../",
        "headers": {
            "List-Unsubscribe": "<https://consentmail.example/u/.../>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Message-Ref": "t1a2b3c4d5e6",
        },
        "recipient": {
            "email": "ann.lee@example.org",
            "name": "Ann Lee",
            "subscriber_id": 7,
            "is_sample": False,
        },
    },
    response_only=True,
)
TEST_SEND_EXAMPLE = OpenApiExample(
    "Test sent",
    value={
        "id": 3,
        "to_email": "pat@acme.example",
        "message_id": "<t1a2b3c4d5e6@acme.example>",
        "sent_at": "2026-11-02T09:45:00Z",
    },
    response_only=True,
)
BLOCKED_EXAMPLE = OpenApiExample(
    "Blocked by the analyser",
    value={
        "detail": "The campaign cannot be submitted: Links go through a URL shortener (bit.ly); "
        "link to the full address so recipients can see the real destination.",
        "findings": [
            {
                "code": "link.shortener",
                "severity": "block",
                "reason": "Links go through a URL shortener (bit.ly); link to the full address "
                "so recipients can see the real destination.",
                "where": "links",
                "excerpt": "https://bit.ly/3abcd",
            }
        ],
    },
    response_only=True,
    status_codes=["400"],
)
SCHEDULE_EXAMPLE = OpenApiExample(
    "Move to 9:00 in Berlin",
    value={"scheduled_at": "2026-11-05T09:00:00", "schedule_timezone": "Europe/Berlin"},
    request_only=True,
)
UNSCHEDULE_EXAMPLE = OpenApiExample(
    "As soon as approved", value={"scheduled_at": None}, request_only=True
)
CANCEL_EXAMPLE = OpenApiExample(
    "Cancel", value={"reason": "The offer was withdrawn."}, request_only=True
)
_FIGURES = {
    "recipients": 12000,
    "probe_size": 1000,
    "sent": 1000,
    "delivered": 988,
    "opened": 310,
    "clicked": 64,
    "hard_bounced": 9,
    "soft_bounced": 3,
    "unsubscribed": 4,
    "complained": 0,
    "failed": 0,
    "pending": 0,
    "possibly_duplicated": 0,
    "machine_opened": 41,
    "machine_clicked": 2,
}
STATS_EXAMPLE = OpenApiExample(
    "Holding after the probe",
    value={
        **_FIGURES,
        "probe": {**_FIGURES, "recipients": 1000},
        "rates": {
            "basis": "live",
            "complaint_rate": 0.0,
            "hard_bounce_rate": 0.009,
            "soft_bounce_rate": 0.003,
            "unsubscribe_rate": 0.004,
            "open_rate": 0.31,
            "click_rate": 0.064,
            "inactive_rate": 0.69,
            "intervals": {
                "complaint_rate": [0.0, 0.0038],
                "hard_bounce_rate": [0.0047, 0.017],
            },
        },
        "verdict": None,
        "hold_until": "2026-11-02T16:00:00Z",
        "status": "holding",
        "timeline": [
            {
                "start": "2026-11-02T10:00:00Z",
                "end": "2026-11-02T11:00:00Z",
                "sent": 1000,
                "opened": 250,
                "clicked": 50,
                "bounced": 12,
                "complained": 0,
            }
        ],
        "providers": [
            {"provider": "gmail", "recipients": 5400, "probe": 450},
            {"provider": "other", "recipients": 6600, "probe": 550},
        ],
    },
    response_only=True,
)


class CampaignListView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    # Documents the {"count", "next", "previous", "results"} envelope and the page parameters.
    pagination_class = PageNumberPagination

    @extend_schema(
        parameters=[s.CampaignFilter],
        responses={200: s.CampaignOutput(many=True), **error_responses(400, 404)},
        examples=[CAMPAIGN_PAGE_EXAMPLE],
        summary="The account's campaigns (filter by status)",
    )
    def get(self, request):
        query = s.CampaignFilter(data=request.query_params)
        query.is_valid(raise_exception=True)
        campaigns = selectors.campaigns_for(
            account=request.user.account, status=query.validated_data.get("status", "")
        )
        return paginated_response(request, self, campaigns, s.CampaignOutput)

    @extend_schema(
        request=s.CampaignInput,
        responses={201: s.CampaignOutput, **error_responses(400)},
        examples=[CREATE_EXAMPLE, CAMPAIGN_EXAMPLE],
        summary="Create a draft campaign",
    )
    def post(self, request):
        data = s.CampaignInput(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = services.campaign_create(
            account=request.user.account, created_by=request.user, **data.validated_data
        )
        return Response(_output(request, campaign.pk), status=status.HTTP_201_CREATED)


class CampaignDetailView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        responses={200: s.CampaignOutput, **error_responses(404)},
        examples=[CAMPAIGN_EXAMPLE],
        summary="One campaign",
    )
    def get(self, request, campaign_id: int):
        return Response(_output(request, campaign_id))

    @extend_schema(
        request=s.CampaignInput(partial=True),
        responses={200: s.CampaignOutput, **error_responses(400, 404, 409)},
        examples=[PATCH_EXAMPLE, CAMPAIGN_EXAMPLE],
        summary="Change a campaign (only in draft or rejected; 409 otherwise)",
    )
    def patch(self, request, campaign_id: int):
        _campaign_or_404(request, campaign_id)
        data = s.CampaignInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.campaign_update(
            account=request.user.account,
            campaign_id=campaign_id,
            actor=request.user,
            **data.validated_data,
        )
        return Response(_output(request, campaign_id))

    @extend_schema(
        responses={204: None, **error_responses(404, 409)},
        summary="Delete a draft, rejected or cancelled campaign (409 otherwise)",
    )
    def delete(self, request, campaign_id: int):
        services.campaign_delete(account=request.user.account, campaign_id=campaign_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CampaignPreviewView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        request=s.RecipientChoice,
        responses={200: s.PreviewOutput, **error_responses(400, 404)},
        examples=[RECIPIENT_EXAMPLE, PREVIEW_EXAMPLE],
        summary="What a subscriber (or a sample recipient) would get: subject, HTML, text and "
        "headers, footer included; its links are test links that change nothing",
    )
    def post(self, request, campaign_id: int):
        campaign = _campaign_or_404(request, campaign_id)
        data = s.RecipientChoice(data=request.data)
        data.is_valid(raise_exception=True)
        preview = selectors.campaign_preview(
            account=request.user.account,
            campaign=campaign,
            subscriber_id=data.validated_data.get("subscriber_id"),
        )
        if preview is None:
            raise NotFound("No such subscriber on the campaign's lists.")
        message, recipient = preview.message, preview.recipient
        return Response(
            {
                "subject": message.subject,
                "from_header": message.from_header,
                "html": message.html,
                "text": message.text,
                "headers": message.headers,
                "recipient": {
                    "email": recipient.email,
                    "name": recipient.name,
                    "subscriber_id": recipient.subscriber_id or None,
                    "is_sample": preview.is_sample,
                },
            }
        )


class CampaignTestView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        request=s.RecipientChoice,
        responses={201: s.TestSendOutput, **error_responses(400, 404, 429)},
        examples=[RECIPIENT_EXAMPLE, TEST_SEND_EXAMPLE],
        summary="Send a test to your own verified address (as a subscriber or a sample)",
    )
    def post(self, request, campaign_id: int):
        _campaign_or_404(request, campaign_id)
        data = s.RecipientChoice(data=request.data)
        data.is_valid(raise_exception=True)
        sent = services.campaign_send_test(
            account=request.user.account,
            campaign_id=campaign_id,
            user=request.user,
            subscriber_id=data.validated_data.get("subscriber_id"),
        )
        return Response(s.TestSendOutput(sent).data, status=status.HTTP_201_CREATED)


class CampaignSubmitView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        request=None,
        responses={200: s.CampaignOutput, **error_responses(400, 404, 409)},
        examples=[SUBMITTED_EXAMPLE, BLOCKED_EXAMPLE],
        summary="Submit to moderation (status submitted); 400 with `findings` when the "
        "content analyser blocks it",
    )
    def post(self, request, campaign_id: int):
        _campaign_or_404(request, campaign_id)
        sending.campaign_submit(
            account=request.user.account, campaign_id=campaign_id, actor=request.user
        )
        return Response(_output(request, campaign_id))


class CampaignScheduleView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        request=s.ScheduleInput,
        responses={200: s.CampaignOutput, **error_responses(400, 404, 409)},
        examples=[SCHEDULE_EXAMPLE, UNSCHEDULE_EXAMPLE, CAMPAIGN_EXAMPLE],
        summary="Set, move or clear when the probe starts, in any status until it starts "
        "(approved included: no new moderation; each change is recorded); 409 after",
    )
    def patch(self, request, campaign_id: int):
        _campaign_or_404(request, campaign_id)
        data = s.ScheduleInput(data=request.data)
        data.is_valid(raise_exception=True)
        scheduling.campaign_schedule(
            account=request.user.account,
            campaign_id=campaign_id,
            actor=request.user,
            scheduled_at=data.validated_data["scheduled_at"],
            timezone_name=data.validated_data.get("schedule_timezone") or None,
        )
        return Response(_output(request, campaign_id))


class CampaignCancelView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        request=s.CancelInput,
        responses={200: s.CampaignOutput, **error_responses(400, 404, 409)},
        examples=[CANCEL_EXAMPLE],
        summary="Cancel before or during sending (409 once it is sent, declined or cancelled)",
    )
    def post(self, request, campaign_id: int):
        _campaign_or_404(request, campaign_id)
        data = s.CancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        sending.campaign_cancel(
            account=request.user.account,
            campaign_id=campaign_id,
            actor=request.user,
            reason=data.validated_data.get("reason", ""),
        )
        return Response(_output(request, campaign_id))


class CampaignStatsView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        responses={200: s.CampaignStatsOutput, **error_responses(404)},
        examples=[STATS_EXAMPLE],
        summary="The campaign's figures: the whole send and the probe alone, the rates the "
        "verdict uses with their intervals, the verdict, the hold, a timeline and the probe's "
        "provider mix",
    )
    def get(self, request, campaign_id: int):
        campaign = _campaign_or_404(request, campaign_id)
        return Response(s.CampaignStatsOutput(stats.campaign_stats(campaign=campaign)).data)
