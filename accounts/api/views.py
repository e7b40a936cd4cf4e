"""Accounts API: token exchange, the account, API tokens and sender domains."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.exceptions import Throttled
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from accounts import lockout, selectors, services
from accounts.api import serializers as s
from accounts.api.schema import error_responses
from accounts.permissions import HasAccount, TokenScope
from accounts.roles import MemberRole
from config.api import PageNumberPagination, paginated_response
from config.errors import ApplicationError
from config.http import client_ip

# Every account endpoint: a member of a sender account whose role (and token) allows the
# request (accounts.roles); a read-only token only reads.
ACCOUNT_PERMISSIONS = [IsAuthenticated, HasAccount, TokenScope, MemberRole]

_TXT_RECORD = {
    "type": "TXT",
    "name": "news.example.com",
    "value": "consentmail-verification=9f86d081884c7d659a2feaa0c55ad015",
}
_DKIM_NAME = "cm202611a1b2c3._domainkey.news.example.com"
_DKIM_VALUE = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA…IDAQAB"
_SPF_VALUE = "v=spf1 include:_spf.example.net include:_spf.consentmail.example ~all"
_DMARC_VALUE = "v=DMARC1; p=none; rua=mailto:dmarc-reports@news.example.com; adkim=r; aspf=r"


def _records(ownership: str, dkim: str, spf: str, dmarc: str) -> list[dict]:
    """The `records` of an example: what to publish, each with its last check."""

    def record(key, name, value, status, seen=()):
        return {
            "key": key,
            "type": "TXT",
            "name": name,
            "value": value,
            "status": status,
            "seen": list(seen),
            "messages": [],
        }

    return [
        record("ownership", "news.example.com", _TXT_RECORD["value"], ownership),
        record("dkim", _DKIM_NAME, _DKIM_VALUE, dkim),
        record(
            "spf",
            "news.example.com",
            _SPF_VALUE,
            spf,
            ["v=spf1 include:_spf.example.net ~all"] if spf == "wrong" else (),
        ),
        record("dmarc", "_dmarc.news.example.com", _DMARC_VALUE, dmarc),
    ]


SENDER_DOMAIN_ADDED = OpenApiExample(
    "Added, not verified yet",
    value={
        "id": 3,
        "domain": "news.example.com",
        "verified": False,
        "verified_at": None,
        "txt_record": _TXT_RECORD,
        "dkim_selector": "s1",
        "last_checked_at": None,
        "findings": {},
        "records": _records("unchecked", "unchecked", "unchecked", "unchecked"),
        "created_at": "2026-11-02T09:00:00Z",
    },
    response_only=True,
)
SENDER_DOMAIN_VERIFIED = OpenApiExample(
    "Verified",
    value={
        "id": 3,
        "domain": "news.example.com",
        "verified": True,
        "verified_at": "2026-11-02T09:20:00Z",
        "txt_record": _TXT_RECORD,
        "dkim_selector": "s1",
        "last_checked_at": "2026-11-02T09:20:00Z",
        "findings": {
            "verification": {
                "status": "ok",
                "records": [_TXT_RECORD["value"]],
                "messages": [],
            },
            "spf": {
                "status": "error",
                "records": ["v=spf1 include:_spf.example.net ~all"],
                "messages": [
                    "The SPF record does not authorise us: it needs "
                    "'include:_spf.consentmail.example'."
                ],
            },
            "dmarc": {
                "status": "warning",
                "records": ["v=DMARC1; p=none"],
                "messages": ["The DMARC policy is p=none: failing mail is still delivered."],
            },
            "dkim": {"status": "ok", "records": [_DKIM_VALUE], "messages": []},
        },
        "records": _records("found", "found", "wrong", "found"),
        "created_at": "2026-11-02T09:00:00Z",
    },
    response_only=True,
)

# A list view: drf-spectacular wraps the value in the page envelope (count, next, previous,
# results), so the example is one item.
SENDER_DOMAIN_PAGE_EXAMPLE = OpenApiExample(
    "A page of sender domains", value=SENDER_DOMAIN_VERIFIED.value, response_only=True
)
ACCOUNT_EXAMPLE = OpenApiExample(
    "Account",
    value={
        "id": 5,
        "company_name": "Acme Ltd",
        "contact_name": "Pat Jones",
        "phone": "+44 113 496 0123",
        "postal_address": "1 Example Street, Leeds LS1 1AA, United Kingdom",
        "website": "https://acme.example.com",
        "state": "active",
        "created_at": "2026-09-15T12:00:00Z",
    },
    response_only=True,
)
_TOKEN = {
    "id": 9,
    "name": "CRM sync",
    "prefix": "q8Zk3pX0",
    "read_only": False,
    "role": "owner",
    "created_at": "2026-11-02T09:00:00Z",
    "last_used_at": "2026-11-20T07:45:00Z",
    "revoked_at": None,
}
# A list view: drf-spectacular wraps the value in the page envelope (count, next, previous,
# results), so the example is one item.
TOKEN_PAGE_EXAMPLE = OpenApiExample("A page of tokens", value=_TOKEN, response_only=True)
TOKEN_REQUEST_EXAMPLE = OpenApiExample(
    "Create", value={"name": "CRM sync", "read_only": False}, request_only=True
)
TOKEN_CREATED_EXAMPLE = OpenApiExample(
    "Created (the key is shown only now)",
    value={
        **_TOKEN,
        "last_used_at": None,
        "token": "q8Zk3pX0b1Jm7Yt2Lr9Vw4Hc6Nd5Fs0Ae1Gu3Io8Ky",
    },
    response_only=True,
    status_codes=["201"],
)


class CredentialsThrottle(AnonRateThrottle):
    """Password guessing through the API is limited per client address."""

    scope = "credentials"


class TokenObtainView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [CredentialsThrottle]

    @extend_schema(
        request=s.TokenObtainInput,
        responses={
            200: s.TokenObtainOutput,
            **error_responses(400, 429, authenticated=False),
        },
        examples=[
            OpenApiExample(
                "Login", value={"email": "you@example.com", "password": "..."}, request_only=True
            ),
            OpenApiExample(
                "Token",
                value={"token": "q8Zk3pX0b1Jm7Yt2Lr9Vw4Hc6Nd5Fs0Ae1Gu3Io8Ky"},
                response_only=True,
            ),
        ],
        summary="Exchange e-mail and password for an API token",
    )
    def post(self, request):
        data = s.TokenObtainInput(data=request.data)
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"].lower()
        # Checked before the password, so that a locked-out client learns nothing from it.
        if lockout.login_refused(request, username=email):
            message = lockout.locked_message(client_wide=lockout.client_locked(request))
            raise Throttled(wait=lockout.cooloff_seconds(), detail=message)
        user = authenticate(request, username=email, password=data.validated_data["password"])
        if user is None:
            raise ApplicationError("Unable to log in with the provided credentials.")
        _, key = services.api_token_create(user=user, name="Issued by POST /auth/token/")
        return Response({"token": key})


class AccountView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        responses={200: s.AccountOutput, **error_responses()},
        examples=[ACCOUNT_EXAMPLE],
        summary="The requesting user's account",
    )
    def get(self, request):
        return Response(s.AccountOutput(request.user.account).data)

    @extend_schema(
        request=s.AccountProfileInput,
        responses={200: s.AccountOutput, **error_responses(400)},
        examples=[
            OpenApiExample(
                "Move office",
                value={
                    "postal_address": "2 Park Row, Leeds LS1 5HD, United Kingdom",
                    "website": "https://acme.example.com",
                },
                request_only=True,
            ),
            ACCOUNT_EXAMPLE,
        ],
        summary="Update the company profile every message shows (owner only)",
        description="Any of company_name, contact_name, phone, postal_address and website; the "
        "others keep their values. Validated as the profile page validates them: every field "
        "but website is required and may not be blank, website must be an http(s) address. "
        "Editors and viewers (and their tokens) get 403. The change is recorded with who made "
        "it (and through which token) on the team page.",
    )
    def patch(self, request):
        account = request.user.account
        data = s.AccountProfileInput(data=request.data, context={"account": account})
        data.is_valid(raise_exception=True)
        account = services.account_profile_update(
            account=account, actor=request.user, via=request.auth, **data.validated_data
        )
        return Response(s.AccountOutput(account).data)


TERMS_STATUS_EXAMPLE = OpenApiExample(
    "A new privacy version to accept",
    value={
        "terms_version": "2026-11-01",
        "privacy_version": "2026-12-06",
        "accepted_terms_version": "2026-11-01",
        "accepted_privacy_version": "2026-11-01",
        "accepted_at": "2026-11-02T09:00:00Z",
        "due": ["privacy"],
    },
    response_only=True,
)


def _terms_status(user) -> dict:
    from accounts.terms import current_versions, documents_due

    latest = user.terms_acceptances.order_by("-accepted_at", "-pk").first()
    versions = current_versions()
    return {
        "terms_version": versions["terms"],
        "privacy_version": versions["privacy"],
        "accepted_terms_version": latest.terms_version if latest else "",
        "accepted_privacy_version": latest.privacy_version if latest else "",
        "accepted_at": latest.accepted_at if latest else None,
        "due": [document.key for document in documents_due(user=user)],
    }


class AcceptTermsView(APIView):
    """The terms and privacy versions to accept before sending, and accepting them."""

    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        responses={200: s.TermsStatusOutput, **error_responses()},
        examples=[TERMS_STATUS_EXAMPLE],
        summary="The current terms and privacy versions and what the user accepted",
    )
    def get(self, request):
        return Response(s.TermsStatusOutput(_terms_status(request.user)).data)

    @extend_schema(
        request=None,
        responses={200: s.TermsStatusOutput, **error_responses()},
        summary="Accept the current terms of service and privacy policy",
        description="Records the acceptance of the current versions (read them at /terms/ and "
        "/privacy/) with the time and the client's IP address; needed before submitting, test "
        "sending or importing after a new version is published. Accepting again changes nothing.",
    )
    def post(self, request):
        services.terms_accept(
            user=request.user,
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        return Response(s.TermsStatusOutput(_terms_status(request.user)).data)


class ApiTokenListView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    # Documents the {"count", "next", "previous", "results"} envelope and the page parameters.
    pagination_class = PageNumberPagination

    @extend_schema(
        responses={200: s.ApiTokenOutput(many=True), **error_responses(404)},
        examples=[TOKEN_PAGE_EXAMPLE],
        summary="The account's API tokens",
    )
    def get(self, request):
        tokens = selectors.api_tokens_for(account=request.user.account)
        return paginated_response(request, self, tokens, s.ApiTokenOutput)

    @extend_schema(
        request=s.ApiTokenInput,
        responses={201: s.ApiTokenCreatedOutput, **error_responses(400)},
        examples=[TOKEN_REQUEST_EXAMPLE, TOKEN_CREATED_EXAMPLE],
        summary="Create a named API token",
    )
    def post(self, request):
        data = s.ApiTokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        token, key = services.api_token_create(
            user=request.user, via=request.auth, **data.validated_data
        )
        body = s.ApiTokenOutput(token).data | {"token": key}
        return Response(body, status=status.HTTP_201_CREATED)


class ApiTokenDetailView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(responses={204: None, **error_responses(404)}, summary="Revoke an API token")
    def delete(self, request, token_id: int):
        services.api_token_revoke(
            account=request.user.account, token_id=token_id, actor=request.user, via=request.auth
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class SenderDomainListView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    pagination_class = PageNumberPagination

    @extend_schema(
        responses={200: s.SenderDomainOutput(many=True), **error_responses(404)},
        examples=[SENDER_DOMAIN_PAGE_EXAMPLE],
        summary="The account's sender domains",
    )
    def get(self, request):
        domains = selectors.sender_domains_for(account=request.user.account)
        return paginated_response(request, self, domains, s.SenderDomainOutput)

    @extend_schema(
        request=s.SenderDomainInput,
        responses={201: s.SenderDomainOutput, **error_responses(400)},
        examples=[
            OpenApiExample(
                "Add",
                value={"domain": "news.example.com", "dkim_selector": "s1"},
                request_only=True,
            ),
            SENDER_DOMAIN_ADDED,
        ],
        summary="Add a sender domain and get its TXT verification record",
    )
    def post(self, request):
        data = s.SenderDomainInput(data=request.data)
        data.is_valid(raise_exception=True)
        domain = services.sender_domain_add(account=request.user.account, **data.validated_data)
        return Response(s.SenderDomainOutput(domain).data, status=status.HTTP_201_CREATED)


class SenderDomainDetailView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        responses={200: s.SenderDomainOutput, **error_responses(404)},
        examples=[SENDER_DOMAIN_VERIFIED],
        summary="One sender domain",
    )
    def get(self, request, domain_id: int):
        domain = get_object_or_404(
            selectors.sender_domains_for(account=request.user.account), pk=domain_id
        )
        return Response(s.SenderDomainOutput(domain).data)

    @extend_schema(responses={204: None, **error_responses(404)}, summary="Remove a sender domain")
    def delete(self, request, domain_id: int):
        services.sender_domain_delete(account=request.user.account, domain_id=domain_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SenderDomainVerifyView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        request=None,
        responses={200: s.SenderDomainOutput, **error_responses(400, 404)},
        examples=[SENDER_DOMAIN_VERIFIED],
        summary="Check the domain's DNS now (TXT token, SPF, DMARC, DKIM)",
    )
    def post(self, request, domain_id: int):
        domain = services.sender_domain_verify(account=request.user.account, domain_id=domain_id)
        return Response(s.SenderDomainOutput(domain).data)
