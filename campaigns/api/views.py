"""Campaigns API: authoring, preview, test send, submission, cancelling and figures."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.views import ACCOUNT_PERMISSIONS
from campaigns import selectors, services, stats
from campaigns.api import serializers as s
from config.api import paginated_response
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
    },
    request_only=True,
)


class CampaignListView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        parameters=[s.CampaignFilter],
        responses=s.CampaignOutput(many=True),
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
        responses={201: s.CampaignOutput},
        examples=[CREATE_EXAMPLE],
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

    @extend_schema(responses=s.CampaignOutput, summary="One campaign")
    def get(self, request, campaign_id: int):
        return Response(_output(request, campaign_id))

    @extend_schema(
        request=s.CampaignInput(partial=True),
        responses=s.CampaignOutput,
        summary="Change a campaign (only in draft or rejected; 409 otherwise)",
    )
    def patch(self, request, campaign_id: int):
        _campaign_or_404(request, campaign_id)
        data = s.CampaignInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.campaign_update(
            account=request.user.account, campaign_id=campaign_id, **data.validated_data
        )
        return Response(_output(request, campaign_id))

    @extend_schema(
        responses={204: None},
        summary="Delete a draft, rejected or cancelled campaign (409 otherwise)",
    )
    def delete(self, request, campaign_id: int):
        services.campaign_delete(account=request.user.account, campaign_id=campaign_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CampaignPreviewView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        request=s.RecipientChoice,
        responses=s.PreviewOutput,
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
        responses={201: s.TestSendOutput},
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
        responses=s.CampaignOutput,
        summary="Submit to moderation (status submitted); 400 with `findings` when the "
        "content analyser blocks it",
    )
    def post(self, request, campaign_id: int):
        _campaign_or_404(request, campaign_id)
        services.campaign_submit(
            account=request.user.account, campaign_id=campaign_id, actor=request.user
        )
        return Response(_output(request, campaign_id))


class CampaignCancelView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        request=s.CancelInput,
        responses=s.CampaignOutput,
        summary="Cancel before or during sending (409 once it is sent, declined or cancelled)",
    )
    def post(self, request, campaign_id: int):
        _campaign_or_404(request, campaign_id)
        data = s.CancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.campaign_cancel(
            account=request.user.account,
            campaign_id=campaign_id,
            actor=request.user,
            reason=data.validated_data.get("reason", ""),
        )
        return Response(_output(request, campaign_id))


class CampaignStatsView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        responses=s.CampaignStatsOutput,
        summary="The campaign's figures: the whole send and the probe alone, the rates the "
        "verdict uses with their intervals, the verdict, the hold, a timeline and the probe's "
        "provider mix",
    )
    def get(self, request, campaign_id: int):
        campaign = _campaign_or_404(request, campaign_id)
        return Response(s.CampaignStatsOutput(stats.campaign_stats(campaign=campaign)).data)
