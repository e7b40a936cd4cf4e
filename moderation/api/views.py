"""Moderation API, for staff: the queue, the decisions on a campaign and the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Campaign
from config.api import paginated_response
from config.errors import NotFound
from moderation import selectors, services
from moderation.api import serializers as s
from moderation.permissions import MODERATOR_PERMISSIONS


def _campaign_or_404(campaign_id: int) -> Campaign:
    campaign = selectors.campaign_for_moderation(campaign_id=campaign_id)
    if campaign is None:
        raise NotFound("No such campaign.")
    return campaign


def _output(campaign_id: int) -> dict:
    return s.ModerationCampaignOutput(_campaign_or_404(campaign_id)).data


class ModerationQueueView(APIView):
    permission_classes = MODERATOR_PERMISSIONS

    @extend_schema(
        parameters=[s.QueueFilter],
        responses=s.ModerationCampaignOutput(many=True),
        summary="Staff: the moderation queue, with the content analyser's findings",
    )
    def get(self, request):
        query = s.QueueFilter(data=request.query_params)
        query.is_valid(raise_exception=True)
        campaigns = selectors.campaigns_for_moderation(
            status=query.validated_data.get("status", "")
        )
        return paginated_response(request, self, campaigns, s.ModerationCampaignOutput)


@contextmanager
def _gone_is_404() -> Iterator[None]:
    """A campaign deleted between the look-up and the decision is a 404, not a 500."""
    try:
        yield
    except Campaign.DoesNotExist as exc:
        raise NotFound("No such campaign.") from exc


REASON_EXAMPLE = OpenApiExample(
    "Reason",
    value={"reason": "The list was bought: its consent records name a list broker."},
    request_only=True,
)


class CampaignApproveView(APIView):
    permission_classes = MODERATOR_PERMISSIONS

    @extend_schema(
        request=s.ApproveInput,
        responses=s.ModerationCampaignOutput,
        summary="Staff: approve a submitted campaign; its probe is chosen and sent next "
        "(409 unless submitted)",
    )
    def post(self, request, campaign_id: int):
        _campaign_or_404(campaign_id)
        data = s.ApproveInput(data=request.data)
        data.is_valid(raise_exception=True)
        with _gone_is_404():
            services.campaign_approve(
                campaign_id=campaign_id,
                moderator=request.user,
                note=data.validated_data.get("note", ""),
            )
        return Response(_output(campaign_id))


class CampaignRejectView(APIView):
    permission_classes = MODERATOR_PERMISSIONS

    @extend_schema(
        request=s.RequiredReasonInput,
        responses=s.ModerationCampaignOutput,
        examples=[REASON_EXAMPLE],
        summary="Staff: send a submitted campaign back to its author with a reason they see "
        "(reason required; 409 unless submitted)",
    )
    def post(self, request, campaign_id: int):
        _campaign_or_404(campaign_id)
        data = s.RequiredReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        with _gone_is_404():
            services.campaign_reject(
                campaign_id=campaign_id,
                moderator=request.user,
                reason=data.validated_data["reason"],
            )
        return Response(_output(campaign_id))


class CampaignReleaseView(APIView):
    permission_classes = MODERATOR_PERMISSIONS

    @extend_schema(
        request=s.OptionalReasonInput,
        responses=s.ModerationCampaignOutput,
        summary="Staff: release a campaign in review to the rest of its recipients "
        "(409 when it cannot be released)",
    )
    def post(self, request, campaign_id: int):
        _campaign_or_404(campaign_id)
        data = s.OptionalReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        with _gone_is_404():
            services.campaign_release(
                campaign_id=campaign_id,
                moderator=request.user,
                reason=data.validated_data.get("reason", ""),
            )
        return Response(_output(campaign_id))


class CampaignDeclineView(APIView):
    permission_classes = MODERATOR_PERMISSIONS

    @extend_schema(
        request=s.RequiredReasonInput,
        responses=s.ModerationCampaignOutput,
        examples=[REASON_EXAMPLE],
        summary="Staff: stop a campaign for good at any point before it is sent "
        "(reason required; 409 once it is sent, declined or cancelled)",
    )
    def post(self, request, campaign_id: int):
        _campaign_or_404(campaign_id)
        data = s.RequiredReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        with _gone_is_404():
            services.campaign_decline(
                campaign_id=campaign_id,
                moderator=request.user,
                reason=data.validated_data["reason"],
            )
        return Response(_output(campaign_id))


class AuditLogView(APIView):
    permission_classes = MODERATOR_PERMISSIONS

    @extend_schema(
        parameters=[s.AuditFilter],
        responses=s.AuditEntryOutput(many=True),
        summary="Staff: the audit log, newest first (filter by account, campaign, action)",
    )
    def get(self, request):
        query = s.AuditFilter(data=request.query_params)
        query.is_valid(raise_exception=True)
        entries = selectors.audit_log(
            account_id=query.validated_data.get("account"),
            campaign_id=query.validated_data.get("campaign"),
            action=query.validated_data.get("action", ""),
        )
        return paginated_response(request, self, entries, s.AuditEntryOutput)
