"""Welcome messages API: `/lists/{id}/welcome/` (GET, PUT) and `.../submit/` (campaigns.welcome)."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.schema import error_responses
from accounts.api.views import ACCOUNT_PERMISSIONS
from campaigns import welcome
from campaigns.api import serializers as s
from config.errors import NotFound

PUT_EXAMPLE = OpenApiExample(
    "Write the welcome",
    value={
        "subject": "Welcome to Monthly news, {{ subscriber.name | default('friend') }}",
        "from_name": "Acme News",
        "from_email": "news@acme.example",
        "reply_to": "",
        "html_body": '<h1>Welcome!</h1><p>Here is <a href="https://acme.example/start">where '
        "to start</a>.</p>",
        "text_body": "",
    },
    request_only=True,
)
WELCOME_EXAMPLE = OpenApiExample(
    "An approved welcome with a new draft",
    value={
        "list": 1,
        "campaign_id": 52,
        "status": "draft",
        **PUT_EXAMPLE.value,
        "findings": [],
        "moderation_note": "",
        "submitted_at": None,
        "live": {
            "campaign_id": 48,
            "version": 1,
            "subject": "Welcome to Monthly news",
            "approved_at": "2026-11-02T10:00:00Z",
        },
        "is_sending": True,
        "stats": {
            "sent": 120,
            "delivered": 119,
            "opened": 80,
            "clicked": 31,
            "unsubscribed": 1,
            "complained": 0,
            "hard_bounced": 1,
            "skipped": 2,
            "pending": 0,
        },
        "updated_at": "2026-11-03T08:00:00Z",
    },
    response_only=True,
)


def _shown(request, list_id: int) -> dict:
    found = welcome.welcome_for(account=request.user.account, list_id=list_id)
    if found is None:
        raise NotFound("This list has no welcome message yet.")
    return s.WelcomeOutput(welcome.welcome_summary(found)).data


class WelcomeView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        responses={200: s.WelcomeOutput, **error_responses(404)},
        examples=[WELCOME_EXAMPLE],
        summary="The list's welcome message: the draft, the approved version sent now, figures",
    )
    def get(self, request, list_id: int):
        return Response(_shown(request, list_id))

    @extend_schema(
        request=s.WelcomeInput,
        responses={200: s.WelcomeOutput, 201: s.WelcomeOutput, **error_responses(400, 404)},
        examples=[PUT_EXAMPLE, WELCOME_EXAMPLE],
        summary="Write the welcome message (201 when new). Once approved, a change is a new "
        "draft needing approval; the approved version keeps being sent meanwhile",
    )
    def put(self, request, list_id: int):
        # Another account's list is a 404 whatever the body (welcome_for raises NotFound).
        existed = welcome.welcome_for(account=request.user.account, list_id=list_id) is not None
        data = s.WelcomeInput(data=request.data)
        data.is_valid(raise_exception=True)
        welcome.welcome_save(
            account=request.user.account,
            list_id=list_id,
            actor=request.user,
            **{"reply_to": "", "text_body": "", **data.validated_data},
        )
        code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return Response(_shown(request, list_id), status=code)


class WelcomeSubmitView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        request=None,
        responses={200: s.WelcomeOutput, **error_responses(400, 404, 409)},
        examples=[WELCOME_EXAMPLE],
        summary="Submit the welcome's draft to moderation (status submitted)",
    )
    def post(self, request, list_id: int):
        welcome.welcome_submit(account=request.user.account, list_id=list_id, actor=request.user)
        return Response(_shown(request, list_id))
