"""Templates API: the account's template library, the starter templates, "save as template" and
"duplicate campaign". Thin: parse, call campaigns.email_templates, format."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.schema import error_responses
from accounts.api.views import ACCOUNT_PERMISSIONS
from campaigns import email_templates
from campaigns.api.serializers import CampaignOutput
from campaigns.models import EmailTemplate
from campaigns.starters import STARTERS
from config.api import PageNumberPagination, paginated_response
from config.errors import NotFound


class TemplateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    subject = serializers.CharField(
        max_length=300,
        required=False,
        allow_blank=True,
        help_text="Suggested for campaigns made from it; merge tags allowed.",
    )
    html_body = serializers.CharField(
        trim_whitespace=False,
        help_text="HTML, as a campaign's: sanitised and given our footer when a campaign made "
        "from it renders. What lies between <!-- content:start --> and <!-- content:end --> is "
        "what the browser's visual editor edits.",
    )
    text_body = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Plain text; generated from the HTML when empty.",
    )


class TemplateOutput(serializers.ModelSerializer):
    class Meta:
        model = EmailTemplate
        fields = ["id", "name", "subject", "html_body", "text_body", "created_at", "updated_at"]


class StarterOutput(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField(help_text="In the request's language.")
    description = serializers.CharField(help_text="In the request's language.")
    subject = serializers.CharField(help_text="A suggested subject, in the request's language.")
    html_body = serializers.CharField()


class SaveAsTemplateInput(serializers.Serializer):
    name = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="The template's name; the campaign's when omitted.",
    )


TEMPLATE_EXAMPLE = OpenApiExample(
    "Template",
    value={
        "id": 7,
        "name": "Monthly letter",
        "subject": "Our news this month",
        "html_body": "<p>Hello {{ subscriber.first_name }},</p>",
        "text_body": "",
        "created_at": "2026-11-02T09:30:00Z",
        "updated_at": "2026-11-02T09:30:00Z",
    },
    response_only=True,
)


def _template_or_404(request, template_id: int) -> EmailTemplate:
    template = email_templates.template_get(account=request.user.account, template_id=template_id)
    if template is None:
        raise NotFound("No such template.")
    return template


class TemplateListView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    pagination_class = PageNumberPagination

    @extend_schema(
        responses={200: TemplateOutput(many=True), **error_responses(404)},
        summary="The account's templates, by name",
    )
    def get(self, request):
        templates = email_templates.templates_for(account=request.user.account)
        return paginated_response(request, self, templates, TemplateOutput)

    @extend_schema(
        request=TemplateInput,
        responses={201: TemplateOutput, **error_responses(400)},
        examples=[TEMPLATE_EXAMPLE],
        summary="Create a template",
    )
    def post(self, request):
        data = TemplateInput(data=request.data)
        data.is_valid(raise_exception=True)
        template = email_templates.template_create(
            account=request.user.account, created_by=request.user, **data.validated_data
        )
        return Response(TemplateOutput(template).data, status=status.HTTP_201_CREATED)


class TemplateDetailView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        responses={200: TemplateOutput, **error_responses(404)},
        examples=[TEMPLATE_EXAMPLE],
        summary="One template",
    )
    def get(self, request, template_id: int):
        return Response(TemplateOutput(_template_or_404(request, template_id)).data)

    @extend_schema(
        request=TemplateInput(partial=True),
        responses={200: TemplateOutput, **error_responses(400, 404)},
        examples=[TEMPLATE_EXAMPLE],
        summary="Change a template (campaigns made from it keep their copy)",
    )
    def patch(self, request, template_id: int):
        _template_or_404(request, template_id)
        data = TemplateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        template = email_templates.template_update(
            account=request.user.account, template_id=template_id, **data.validated_data
        )
        return Response(TemplateOutput(template).data)

    @extend_schema(responses={204: None, **error_responses(404)}, summary="Delete a template")
    def delete(self, request, template_id: int):
        email_templates.template_delete(account=request.user.account, template_id=template_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StarterListView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        responses={200: StarterOutput(many=True), **error_responses()},
        summary="The starter templates (table-based, fluid layouts) every account can use",
    )
    def get(self, request):
        starters = [
            {
                "key": starter.key,
                "name": str(starter.name),
                "description": str(starter.description),
                "subject": str(starter.subject),
                "html_body": starter.html_body,
            }
            for starter in STARTERS
        ]
        return Response(StarterOutput(starters, many=True).data)


class CampaignSaveAsTemplateView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        request=SaveAsTemplateInput,
        responses={201: TemplateOutput, **error_responses(400, 404)},
        examples=[TEMPLATE_EXAMPLE],
        summary="Save the campaign's subject and bodies as a new template",
    )
    def post(self, request, campaign_id: int):
        data = SaveAsTemplateInput(data=request.data)
        data.is_valid(raise_exception=True)
        template = email_templates.template_from_campaign(
            account=request.user.account,
            campaign_id=campaign_id,
            created_by=request.user,
            name=data.validated_data.get("name", ""),
        )
        return Response(TemplateOutput(template).data, status=status.HTTP_201_CREATED)


class CampaignDuplicateView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        request=None,
        responses={201: CampaignOutput, **error_responses(400, 404)},
        summary="A new draft with the campaign's content, sender and lists (never its "
        "approval, verdict, versions or deliveries)",
    )
    def post(self, request, campaign_id: int):
        campaign = email_templates.campaign_duplicate(
            account=request.user.account, campaign_id=campaign_id, created_by=request.user
        )
        return Response(CampaignOutput(campaign).data, status=status.HTTP_201_CREATED)
