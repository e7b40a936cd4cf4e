"""Moderation API, for staff: the queue, the decisions on a campaign, the audit log, the
enforcement decisions on an account and the abuse reports; and the sender's appeal."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.schema import error_responses
from accounts.api.views import ACCOUNT_PERMISSIONS
from accounts.models import Account
from campaigns.models import Campaign
from config.api import PageNumberPagination, paginated_response
from config.errors import NotFound
from moderation import selectors, services
from moderation.api import serializers as s
from moderation.enforcement import abuse, appeals, decisions
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
    decide = staticmethod(services.decision_approve)


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
    input_class = s.RejectInput
    decide = staticmethod(services.decision_reject)


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
    decide = staticmethod(services.decision_release)


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
    decide = staticmethod(services.decision_decline)


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


# --- accounts: enforcement ------------------------------------------------------------------------


def _account_or_404(account_id: int) -> Account:
    account = selectors.account_for_moderation(account_id=account_id)
    if account is None:
        raise NotFound("No such account.")
    return account


_ENFORCEMENT_VIEW = {
    "id": 5,
    "company_name": "Acme Ltd",
    "state": "frozen",
    "state_reason": "Three upheld abuse reports in a week: the list was bought.",
    "state_changed_at": "2026-11-04T09:00:00Z",
    "appeal_deadline": "2026-11-05T09:00:00Z",
    "deletion_due_at": None,
    "open_flags": 0,
    "pending_appeal": False,
    "created_at": "2026-03-01T12:00:00Z",
    "health": {
        "status": "over_limit",
        "reasons": ["3 abuse report(s) upheld in the last 30 days."],
        "window_days": 30,
        "since": "2026-10-05T09:00:00Z",
        "sent": 4200,
        "hard_bounces": 63,
        "complaints": 4,
        "unsubscribes": 31,
        "hard_bounce_rate": 0.015,
        "complaint_rate": 0.000952,
        "upheld_abuse_reports": 3,
        "open_abuse_reports": 0,
        "hard_bounce_limit": 0.05,
        "complaint_limit": 0.005,
    },
    "appeal": None,
}
ENFORCEMENT_EXAMPLE = OpenApiExample(
    "A frozen account", value=_ENFORCEMENT_VIEW, response_only=True, status_codes=["200"]
)
ACCOUNTS_PAGE_EXAMPLE = OpenApiExample(
    "A page of accounts",
    value={k: v for k, v in _ENFORCEMENT_VIEW.items() if k not in ("health", "appeal")},
    response_only=True,
)
ACCOUNT_REASON_EXAMPLE = OpenApiExample(
    "Reason",
    value={"reason": "Three upheld abuse reports in a week: the list was bought."},
    request_only=True,
)
# A decision answers with the account's enforcement view, or: 400 (no reason), 404 (no such
# account), 409 (not in a state this decision applies to, e.g. freezing a deleted account).
ACCOUNT_DECISION_RESPONSES = {200: s.AccountEnforcementOutput, **error_responses(400, 404, 409)}


class ModerationAccountsView(APIView):
    permission_classes = MODERATOR_PERMISSIONS
    pagination_class = PageNumberPagination

    @extend_schema(
        parameters=[s.AccountFilter],
        responses={200: s.ModerationAccountOutput(many=True), **error_responses(400, 404)},
        examples=[ACCOUNTS_PAGE_EXAMPLE],
        summary="Staff: sender accounts, those waiting for a moderator (an open flag or a "
        "pending appeal) first, then frozen, scheduled for deletion, warned, active",
    )
    def get(self, request):
        query = s.AccountFilter(data=request.query_params)
        query.is_valid(raise_exception=True)
        accounts = selectors.accounts_for_moderation(
            state=query.validated_data.get("state", ""),
            flagged=query.validated_data.get("flagged", False),
        )
        return paginated_response(request, self, accounts, s.ModerationAccountOutput)


class ModerationAccountView(APIView):
    permission_classes = MODERATOR_PERMISSIONS

    @extend_schema(
        responses={200: s.AccountEnforcementOutput, **error_responses(404)},
        examples=[ENFORCEMENT_EXAMPLE],
        summary="Staff: one account's enforcement view (state, appeal, health)",
    )
    def get(self, request, account_id: int):
        return Response(s.AccountEnforcementOutput(_account_or_404(account_id)).data)


# POST an enforcement decision on an account: the reason checked, then the enforcement service
# (404 for an account gone meanwhile, 409 for one in the wrong state). A comment, not a
# docstring: drf-spectacular would publish a docstring as each operation's description.
class _AccountDecisionView(APIView):
    permission_classes = MODERATOR_PERMISSIONS
    decide: staticmethod

    def post(self, request, account_id: int):
        _account_or_404(account_id)
        data = s.AccountReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        self.decide(account_id=account_id, moderator=request.user, **data.validated_data)
        return Response(s.AccountEnforcementOutput(_account_or_404(account_id)).data)


@extend_schema_view(
    post=extend_schema(
        request=s.AccountReasonInput,
        responses=ACCOUNT_DECISION_RESPONSES,
        examples=[ACCOUNT_REASON_EXAMPLE, ENFORCEMENT_EXAMPLE],
        summary="Staff: warn an active account, with a reason its users see (409 unless "
        "active or already warned)",
    )
)
class AccountWarnView(_AccountDecisionView):
    decide = staticmethod(decisions.account_warn)


@extend_schema_view(
    post=extend_schema(
        request=s.AccountReasonInput,
        responses=ACCOUNT_DECISION_RESPONSES,
        examples=[ACCOUNT_REASON_EXAMPLE, ENFORCEMENT_EXAMPLE],
        summary="Staff: freeze an account: no new campaigns, those under way pause; its users "
        "see the reason and may appeal within APPEAL_HOURS (409 when closing or deleted)",
    )
)
class AccountFreezeView(_AccountDecisionView):
    decide = staticmethod(decisions.account_freeze)


@extend_schema_view(
    post=extend_schema(
        request=s.AccountReasonInput,
        responses=ACCOUNT_DECISION_RESPONSES,
        examples=[ACCOUNT_REASON_EXAMPLE, ENFORCEMENT_EXAMPLE],
        summary="Staff: unfreeze a frozen or scheduled-for-deletion account: it may send again, "
        "paused campaigns resume, a pending appeal is granted (409 when deleted)",
    )
)
class AccountUnfreezeView(_AccountDecisionView):
    decide = staticmethod(decisions.account_unfreeze)


# --- abuse reports --------------------------------------------------------------------------------

_ABUSE_REPORT = {
    "id": 17,
    "created_at": "2026-11-04T08:12:00Z",
    "status": "open",
    "reporter_email": "kim@example.net",
    "message_text": "Message-ID: <m1.abc@news.acme.example>\nSubject: Winter sale\n...",
    "comment": "I never signed up for this.",
    "ip": "203.0.113.7",
    "account": {"id": 5, "company_name": "Acme Ltd", "state": "active"},
    "campaign": {"id": 43, "name": "Winter sale"},
    "matched_by": "message_ref",
    "resolved_at": None,
    "resolved_by": None,
    "resolution_note": "",
}
ABUSE_PAGE_EXAMPLE = OpenApiExample(
    "A page of abuse reports", value=_ABUSE_REPORT, response_only=True
)
RESOLVE_EXAMPLE = OpenApiExample(
    "Uphold",
    value={"decision": "upheld", "note": "The address is not on any of the account's forms."},
    request_only=True,
)
RESOLVED_EXAMPLE = OpenApiExample(
    "Upheld",
    value={
        **_ABUSE_REPORT,
        "status": "upheld",
        "resolved_at": "2026-11-04T10:00:00Z",
        "resolved_by": 2,
        "resolution_note": "The address is not on any of the account's forms.",
    },
    response_only=True,
    status_codes=["200"],
)


class AbuseReportsView(APIView):
    permission_classes = MODERATOR_PERMISSIONS
    pagination_class = PageNumberPagination

    @extend_schema(
        parameters=[s.AbuseFilter],
        responses={200: s.AbuseReportOutput(many=True), **error_responses(400, 404)},
        examples=[ABUSE_PAGE_EXAMPLE],
        summary="Staff: abuse reports from the public form, open ones first, newest first",
    )
    def get(self, request):
        query = s.AbuseFilter(data=request.query_params)
        query.is_valid(raise_exception=True)
        reports = selectors.abuse_reports_for_moderation(
            status=query.validated_data.get("status", "")
        )
        return paginated_response(request, self, reports, s.AbuseReportOutput)


class AbuseReportResolveView(APIView):
    permission_classes = MODERATOR_PERMISSIONS

    @extend_schema(
        request=s.AbuseResolveInput,
        responses={200: s.AbuseReportOutput, **error_responses(400, 404, 409)},
        examples=[RESOLVE_EXAMPLE, RESOLVED_EXAMPLE],
        summary="Staff: uphold or dismiss an abuse report with a note; upheld reports count "
        "towards the account's warning (409 when already resolved the other way)",
    )
    def post(self, request, report_id: int):
        if selectors.abuse_report_for_moderation(report_id=report_id) is None:
            raise NotFound("No such abuse report.")
        data = s.AbuseResolveInput(data=request.data)
        data.is_valid(raise_exception=True)
        abuse.abuse_report_resolve(
            report_id=report_id, moderator=request.user, **data.validated_data
        )
        report = selectors.abuse_report_for_moderation(report_id=report_id)
        return Response(s.AbuseReportOutput(report).data)


# --- the sender's appeal --------------------------------------------------------------------------


def _appeal_state(account: Account) -> dict:
    state = selectors.appeal_state_for(account=account)
    return s.AppealStateOutput(
        {
            "state": account.state,
            "state_reason": account.state_reason_shown,
            "appeal_deadline": state.deadline,
            "can_appeal": state.can_appeal,
            "window_passed": state.window_passed,
            "deletion_due_at": account.deletion_due_at,
            "appeal": s.AppealOutput(state.appeal).data if state.appeal else None,
        }
    ).data


APPEAL_EXAMPLE = OpenApiExample(
    "Appeal",
    value={"text": "The list came from our shop's checkout, with a separate consent box."},
    request_only=True,
)


class AccountAppealView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        responses={200: s.AppealStateOutput},
        summary="The account's state and its appeal: until when it may appeal a freeze, and "
        "the appeal's status",
    )
    def get(self, request):
        return Response(_appeal_state(request.user.account))

    @extend_schema(
        request=s.AppealInput,
        responses={201: s.AppealStateOutput, **error_responses(400, 409)},
        examples=[APPEAL_EXAMPLE],
        summary="Appeal the account's freeze, once, within APPEAL_HOURS of it (409 when not "
        "frozen, already appealed or too late)",
    )
    def post(self, request):
        data = s.AppealInput(data=request.data)
        data.is_valid(raise_exception=True)
        appeals.appeal_file(
            account=request.user.account, user=request.user, text=data.validated_data["text"]
        )
        request.user.account.refresh_from_db()
        return Response(_appeal_state(request.user.account), status=status.HTTP_201_CREATED)
