"""Moderation API, for staff: the queue, the decisions on a campaign and the audit log."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.schema import error_responses
from campaigns.models import Campaign
from config.api import PageNumberPagination, paginated_response
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


_QUEUED_CAMPAIGN = {
    "id": 43,
    "name": "Winter sale",
    "status": "submitted",
    "account": {"id": 5, "company_name": "Acme Ltd", "state": "active"},
    "lists": [{"id": 1, "name": "Monthly news"}],
    "subject": "Winter sale: 20% off until Sunday",
    "from_name": "Acme News",
    "from_email": "news@acme.example",
    "findings": [
        {
            "code": "category.quick_money",
            "severity": "review",
            "reason": "The message appears to offer work from home or quick money (passive "
            "income), which a moderator must review.",
            "where": "html_body",
            "excerpt": "Earn a passive income from home.",
        }
    ],
    "moderation_note": "",
    "created_at": "2026-11-03T08:00:00Z",
    "submitted_at": "2026-11-03T08:20:00Z",
    "approved_at": None,
    "recipients_at_approval": None,
    "probe_size": None,
    "probe_sent_at": None,
    "hold_until": None,
    "verdict": None,
    "judged_at": None,
}
# A list view: drf-spectacular wraps the value in the page envelope (count, next, previous,
# results), so the example is one item.
QUEUE_PAGE_EXAMPLE = OpenApiExample(
    "A page of the queue", value=_QUEUED_CAMPAIGN, response_only=True
)
# A list view: drf-spectacular wraps the value in the page envelope (count, next, previous,
# results), so the example is one item.
AUDIT_PAGE_EXAMPLE = OpenApiExample(
    "A page of the audit log",
    value={
        "id": 118,
        "at": "2026-11-02T10:05:00Z",
        "action": "approved",
        "actor": 2,
        "actor_label": "mo@consentmail.example",
        "account": 5,
        "account_label": "Acme Ltd",
        "campaign": 42,
        "campaign_label": "November news",
        "reason": "Consent records checked: web-form sign-ups.",
        "details": {},
    },
    response_only=True,
)


class ModerationQueueView(APIView):
    permission_classes = MODERATOR_PERMISSIONS
    # Documents the {"count", "next", "previous", "results"} envelope and the page parameters.
    pagination_class = PageNumberPagination

    @extend_schema(
        parameters=[s.QueueFilter],
        responses={200: s.ModerationCampaignOutput(many=True), **error_responses(400, 404)},
        examples=[QUEUE_PAGE_EXAMPLE],
        summary="Staff: the moderation queue, with the content analyser's findings",
    )
    def get(self, request):
        query = s.QueueFilter(data=request.query_params)
        query.is_valid(raise_exception=True)
        campaigns = selectors.campaigns_for_moderation(
            status=query.validated_data.get("status", "")
        )
        return paginated_response(request, self, campaigns, s.ModerationCampaignOutput)


REASON_EXAMPLE = OpenApiExample(
    "Reason",
    value={"reason": "The list was bought: its consent records name a list broker."},
    request_only=True,
)
NOTE_EXAMPLE = OpenApiExample(
    "Note", value={"note": "Consent records checked: web-form sign-ups."}, request_only=True
)
RELEASE_EXAMPLE = OpenApiExample(
    "Release",
    value={"reason": "The complaints came from one forwarding address; the rest looks fine."},
    request_only=True,
)
DECISION_EXAMPLE = OpenApiExample(
    "Approved",
    value={
        "id": 42,
        "name": "November news",
        "status": "approved",
        "account": {"id": 5, "company_name": "Acme Ltd", "state": "active"},
        "lists": [{"id": 1, "name": "Monthly news"}],
        "subject": "What's new in November, {{ subscriber.first_name | default('friend') }}",
        "from_name": "Acme News",
        "from_email": "news@acme.example",
        "findings": [
            {
                "code": "category.quick_money",
                "severity": "review",
                "reason": "The message appears to offer work from home or quick money (passive "
                "income), which a moderator must review.",
                "where": "html_body",
                "excerpt": "Earn a passive income from home.",
            }
        ],
        "moderation_note": "Consent records checked: web-form sign-ups.",
        "created_at": "2026-11-02T09:30:00Z",
        "submitted_at": "2026-11-02T09:50:00Z",
        "approved_at": "2026-11-02T10:05:00Z",
        "recipients_at_approval": None,
        "probe_size": None,
        "probe_sent_at": None,
        "hold_until": None,
        "verdict": None,
        "judged_at": None,
    },
    response_only=True,
)
# A decision answers with the campaign, or: 400 (bad input), 404 (no such campaign), 409 (not in a
# status this decision applies to).
DECISION_RESPONSES = {200: s.ModerationCampaignOutput, **error_responses(400, 404, 409)}


# POST a decision on a campaign: its input checked, then the moderation service (which answers
# 404 for a campaign gone meanwhile and 409 for one in the wrong status). A comment, not a
# docstring: drf-spectacular would publish a docstring as each operation's description.
class _DecisionView(APIView):
    permission_classes = MODERATOR_PERMISSIONS
    input_class: type
    decide: staticmethod

    def post(self, request, campaign_id: int):
        _campaign_or_404(campaign_id)
        data = self.input_class(data=request.data)
        data.is_valid(raise_exception=True)
        self.decide(campaign_id=campaign_id, moderator=request.user, **data.validated_data)
        return Response(_output(campaign_id))


@extend_schema_view(
    post=extend_schema(
        request=s.ApproveInput,
        responses=DECISION_RESPONSES,
        examples=[NOTE_EXAMPLE, DECISION_EXAMPLE],
        summary="Staff: approve a submitted campaign; its probe is chosen and sent next "
        "(409 unless submitted)",
    )
)
class CampaignApproveView(_DecisionView):
    input_class = s.ApproveInput
    decide = staticmethod(services.campaign_approve)


@extend_schema_view(
    post=extend_schema(
        request=s.RequiredReasonInput,
        responses=DECISION_RESPONSES,
        examples=[REASON_EXAMPLE, DECISION_EXAMPLE],
        summary="Staff: send a submitted campaign back to its author with a reason they see "
        "(reason required; 409 unless submitted)",
    )
)
class CampaignRejectView(_DecisionView):
    input_class = s.RequiredReasonInput
    decide = staticmethod(services.campaign_reject)


@extend_schema_view(
    post=extend_schema(
        request=s.OptionalReasonInput,
        responses=DECISION_RESPONSES,
        examples=[RELEASE_EXAMPLE, DECISION_EXAMPLE],
        summary="Staff: release a campaign in review to the rest of its recipients "
        "(409 when it cannot be released)",
    )
)
class CampaignReleaseView(_DecisionView):
    input_class = s.OptionalReasonInput
    decide = staticmethod(services.campaign_release)


@extend_schema_view(
    post=extend_schema(
        request=s.RequiredReasonInput,
        responses=DECISION_RESPONSES,
        examples=[REASON_EXAMPLE, DECISION_EXAMPLE],
        summary="Staff: stop a campaign for good at any point before it is sent "
        "(reason required; 409 once it is sent, declined or cancelled)",
    )
)
class CampaignDeclineView(_DecisionView):
    input_class = s.RequiredReasonInput
    decide = staticmethod(services.campaign_decline)


class AuditLogView(APIView):
    permission_classes = MODERATOR_PERMISSIONS
    pagination_class = PageNumberPagination

    @extend_schema(
        parameters=[s.AuditFilter],
        responses={200: s.AuditEntryOutput(many=True), **error_responses(400, 404)},
        examples=[AUDIT_PAGE_EXAMPLE],
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
