"""Webhooks API: the account's endpoints, their delivery log and the test event."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import webhooks
from accounts.models import WebhookDelivery, WebhookEndpoint
from accounts.permissions import HasAccount, TokenScope
from accounts.roles import MemberRole
from config.api import CodedTextField, PageNumberPagination, paginated_response

PERMISSIONS = [IsAuthenticated, HasAccount, TokenScope, MemberRole]
SIGNING_NOTE = (
    "Each delivery is a JSON POST signed in the header "
    "`X-ConsentMail-Signature: t=<unix seconds>,v1=<hex>`, where `<hex>` is HMAC-SHA256 keyed "
    "with the endpoint's secret over `<t>.<raw body>`. Redirects are not followed; only public "
    "http(s) addresses are called."
)


_WEBHOOK = {
    "id": 2,
    "url": "https://crm.example.com/hooks/consentmail",
    "events": ["subscriber.unsubscribed", "campaign.status_changed"],
    "description": "CRM sync",
    "is_active": True,
    "disabled_reason": "",
    "created_at": "2026-11-02T09:00:00Z",
}
WEBHOOK_EXAMPLE = OpenApiExample("Webhook", value=_WEBHOOK, response_only=True)
# A list view: drf-spectacular wraps the value in the page envelope (count, next, previous,
# results), so the example is one item.
WEBHOOK_PAGE_EXAMPLE = OpenApiExample("A page of webhooks", value=_WEBHOOK, response_only=True)
WEBHOOK_CREATED_EXAMPLE = OpenApiExample(
    "Registered (the secret is shown only now)",
    value={**_WEBHOOK, "secret": "whsec_4f9d1c2b7a6e5d8c3b0a9f8e7d6c5b4a"},
    response_only=True,
    status_codes=["201"],
)
WEBHOOK_PATCH_EXAMPLE = OpenApiExample("Pause it", value={"is_active": False}, request_only=True)
_TEST_EVENT_ID = "5b0f7a3e-2c1d-4e8f-9a6b-0c3d2e1f4a5b"
_TEST_DELIVERY = {
    "id": 31,
    "event": "webhook.test",
    "event_id": _TEST_EVENT_ID,
    "payload": {
        "id": _TEST_EVENT_ID,
        "type": "webhook.test",
        "created_at": "2026-11-20T10:00:00Z",
        "account_id": 5,
        "data": {"endpoint_id": 2, "message": "A test event from ConsentMail."},
    },
    "attempt": 0,
    "status": "pending",
    "status_code": None,
    "error": "",
    "response_excerpt": "",
    "duration_ms": None,
    "created_at": "2026-11-20T10:00:00Z",
    "next_attempt_at": None,
    "delivered_at": None,
}
TEST_DELIVERY_EXAMPLE = OpenApiExample(
    "Queued", value=_TEST_DELIVERY, response_only=True, status_codes=["202"]
)
_UNSUB_EVENT_ID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
# A list view: drf-spectacular wraps the value in the page envelope (count, next, previous,
# results), so the example is one item.
DELIVERY_PAGE_EXAMPLE = OpenApiExample(
    "A page of deliveries",
    value={
        **_TEST_DELIVERY,
        "attempt": 1,
        "status": "succeeded",
        "status_code": 200,
        "response_excerpt": "ok",
        "duration_ms": 142,
        "delivered_at": "2026-11-20T10:00:01Z",
    },
    response_only=True,
)


class WebhookEndpointInput(serializers.Serializer):
    url = serializers.CharField(max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=webhooks.EVENTS), allow_empty=False
    )
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )


class WebhookEndpointUpdateInput(serializers.Serializer):
    url = serializers.CharField(max_length=2000, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=webhooks.EVENTS), allow_empty=False, required=False
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)


class WebhookEndpointOutput(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "events",
            "description",
            "is_active",
            "disabled_reason",
            "created_at",
        ]


class WebhookEndpointCreatedOutput(WebhookEndpointOutput):
    secret = serializers.CharField(help_text="The signing secret; shown only in this response.")

    class Meta(WebhookEndpointOutput.Meta):
        fields = [*WebhookEndpointOutput.Meta.fields, "secret"]


class WebhookDeliveryOutput(serializers.ModelSerializer):
    error = CodedTextField(
        read_only=True, help_text="Why the attempt failed, in the request's language."
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "event_id",
            "payload",
            "attempt",
            "status",
            "status_code",
            "error",
            "response_excerpt",
            "duration_ms",
            "created_at",
            "next_attempt_at",
            "delivered_at",
        ]


class WebhookListView(APIView):
    permission_classes = PERMISSIONS
    # Documents the {"count", "next", "previous", "results"} envelope and page parameters.
    pagination_class = PageNumberPagination

    @extend_schema(
        responses=WebhookEndpointOutput(many=True),
        examples=[WEBHOOK_PAGE_EXAMPLE],
        summary="The account's webhook endpoints",
    )
    def get(self, request):
        endpoints = webhooks.webhook_endpoints_for(account=request.user.account)
        return paginated_response(request, self, endpoints, WebhookEndpointOutput)

    @extend_schema(
        request=WebhookEndpointInput,
        responses={201: WebhookEndpointCreatedOutput},
        examples=[
            OpenApiExample(
                "Register",
                value={
                    "url": "https://crm.example.com/hooks/consentmail",
                    "events": ["subscriber.unsubscribed", "campaign.status_changed"],
                    "description": "CRM sync",
                },
                request_only=True,
            ),
            WEBHOOK_CREATED_EXAMPLE,
        ],
        summary="Register a webhook URL; the answer holds its signing secret, shown once",
        description=SIGNING_NOTE,
    )
    def post(self, request):
        data = WebhookEndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = webhooks.webhook_endpoint_create(
            account=request.user.account, **data.validated_data
        )
        body = WebhookEndpointOutput(endpoint).data | {"secret": secret}
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookDetailView(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(
        responses=WebhookEndpointOutput, examples=[WEBHOOK_EXAMPLE], summary="One webhook"
    )
    def get(self, request, webhook_id: int):
        endpoint = webhooks.webhook_endpoint_get(
            account=request.user.account, endpoint_id=webhook_id
        )
        return Response(WebhookEndpointOutput(endpoint).data)

    @extend_schema(
        request=WebhookEndpointUpdateInput,
        responses=WebhookEndpointOutput,
        examples=[WEBHOOK_PATCH_EXAMPLE, WEBHOOK_EXAMPLE],
        summary="Change a webhook's URL, events, description or activity",
    )
    def patch(self, request, webhook_id: int):
        data = WebhookEndpointUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = webhooks.webhook_endpoint_update(
            account=request.user.account, endpoint_id=webhook_id, **data.validated_data
        )
        return Response(WebhookEndpointOutput(endpoint).data)

    @extend_schema(responses={204: None}, summary="Delete a webhook")
    def delete(self, request, webhook_id: int):
        webhooks.webhook_endpoint_delete(account=request.user.account, endpoint_id=webhook_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookTestView(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(
        request=None,
        responses={202: WebhookDeliveryOutput},
        examples=[TEST_DELIVERY_EXAMPLE],
        summary="Send a `webhook.test` event to this webhook now",
    )
    def post(self, request, webhook_id: int):
        delivery = webhooks.webhook_send_test(account=request.user.account, endpoint_id=webhook_id)
        delivery.refresh_from_db()  # an eager or fast worker may have delivered it already
        return Response(WebhookDeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryListView(APIView):
    permission_classes = PERMISSIONS
    # Documents the {"count", "next", "previous", "results"} envelope and page parameters.
    pagination_class = PageNumberPagination

    @extend_schema(
        responses=WebhookDeliveryOutput(many=True),
        examples=[DELIVERY_PAGE_EXAMPLE],
        summary="A webhook's delivery log, newest first",
    )
    def get(self, request, webhook_id: int):
        deliveries = webhooks.webhook_deliveries_for(
            account=request.user.account, endpoint_id=webhook_id
        )
        return paginated_response(request, self, deliveries, WebhookDeliveryOutput)
