"""Lists API: lists, subscribers with consent, imports and privacy requests."""

import io

from django.core.exceptions import RequestDataTooBig
from django.http import StreamingHttpResponse
from django.template.defaultfilters import filesizeformat
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.addresses import normalise_address
from accounts.api.schema import error_responses
from accounts.api.views import ACCOUNT_PERMISSIONS
from config.api import CountedPagination, PageNumberPagination, paginated_response
from config.errors import ApplicationError, InvalidTransition, NotFound
from config.parsers import JSONParser
from lists import selectors
from lists.api import serializers as s
from lists.exports import (
    XLSX_TYPE,
    export_filename,
    import_issues_csv,
    subscribers_export_response,
)
from lists.services import bulk_upsert, export_jobs, imports, privacy, subscribers
from lists.services import lists as list_services

_LIST = {
    "id": 1,
    "name": "Monthly news",
    "purpose": "Our monthly newsletter about new products and events.",
    "adult_content": False,
    "privacy_policy_url": "https://example.org/privacy",
    "double_opt_in": True,
    "track_opens": True,
    "track_clicks": True,
    "language": "en",
    "public_id": "b7Xq2RkP9mZt",
    "form_url": "https://consentmail.example/f/b7Xq2RkP9mZt/",
    "subscriber_count": 1250,
    "created_at": "2026-10-01T08:00:00Z",
}
LIST_EXAMPLE = OpenApiExample("List", value=_LIST, response_only=True)
# A list view: drf-spectacular wraps the value in the page envelope (count, next, previous,
# results), so the example is one item.
LIST_PAGE_EXAMPLE = OpenApiExample("A page of lists", value=_LIST, response_only=True)
LIST_PATCH_EXAMPLE = OpenApiExample(
    "Turn off open tracking", value={"track_opens": False}, request_only=True
)
_SUBSCRIBER = {
    "id": 7,
    "list": 1,
    "email": "jane@example.org",
    "name": "Jane Doe",
    "phone": "+44 113 496 0000",
    "attributes": {"city": "Leeds"},
    "status": "subscribed",
    "is_role_address": False,
    "tags": ["customer", "vip"],
    "created_at": "2026-11-20T10:00:00Z",
    "subscribed_at": "2026-11-20T10:05:00Z",
    "unsubscribed_at": None,
}
SUBSCRIBER_EXAMPLE = OpenApiExample("Subscriber", value=_SUBSCRIBER, response_only=True)
# A list view: drf-spectacular wraps the value in the page envelope (count, next, previous,
# results), so the example is one item.
SUBSCRIBER_PAGE_EXAMPLE = OpenApiExample(
    "A page of subscribers", value=_SUBSCRIBER, response_only=True
)
SUBSCRIBER_PATCH_EXAMPLE = OpenApiExample(
    "Change name and city",
    value={"name": "Jane Smith", "attributes": {"city": "York"}},
    request_only=True,
)
REMOVED_EXAMPLE = OpenApiExample(
    "Removed from the list",
    value={**_SUBSCRIBER, "status": "unsubscribed", "unsubscribed_at": "2026-12-01T16:40:00Z"},
    response_only=True,
)
UNSUBSCRIBED_EXAMPLE = OpenApiExample(
    "Unsubscribed",
    value={**_SUBSCRIBER, "status": "unsubscribed", "unsubscribed_at": "2026-12-01T16:40:00Z"},
    response_only=True,
)
IMPORT_REQUEST_EXAMPLE = OpenApiExample(
    "Upload a CSV",
    value={
        "file": "people.csv",
        "consent_source": "paper_form",
        "proof": "Signed sign-up forms from the 2026 trade fair, kept at our Leeds office.",
        "column_map": '{"email": 0, "name": 1, "attributes": {"city": 3}}',
    },
    request_only=True,
)
_IMPORT = {
    "id": 12,
    "list": 1,
    "status": "queued",
    "original_filename": "people.csv",
    "file_format": "csv",
    "consent_source": "paper_form",
    "column_map": {"email": 0, "name": 1, "attributes": {"city": 3}},
    "total_rows": None,
    "total_rows_estimated": False,
    "processed": 0,
    "imported": 0,
    "updated": 0,
    "skipped": 0,
    "suppressed": 0,
    "progress": 0.0,
    "errors": [],
    "error_report_url": "/api/v1/imports/12/errors/",
    "failure_reason": "",
    "created_at": "2026-11-20T10:00:00Z",
    "started_at": None,
    "finished_at": None,
}
IMPORT_QUEUED_EXAMPLE = OpenApiExample(
    "Queued", value=_IMPORT, response_only=True, status_codes=["202"]
)
# The role-address note in English (imports store it coded: lists/texts.py).
_ROLE_NOTE = "Role address (info@, sales@…): imported, but lists made mostly of them are flagged."
IMPORT_RUNNING_EXAMPLE = OpenApiExample(
    "Running, with errors",
    value={
        **_IMPORT,
        "status": "running",
        "total_rows": 2000,
        "total_rows_estimated": True,
        "processed": 900,
        "imported": 850,
        "updated": 45,
        "skipped": 5,
        "progress": 0.45,
        "errors": [
            {
                "row": 14,
                "email": "not-an-address",
                "reason": "An email address must have an @-sign.",
                "skipped": True,
                "suppressed": False,
            },
            {
                "row": 87,
                "email": "info@example.com",
                "reason": _ROLE_NOTE,
                "skipped": False,
                "suppressed": False,
            },
        ],
        "started_at": "2026-11-20T10:00:05Z",
    },
    response_only=True,
)
ERASE_REQUEST_EXAMPLE = OpenApiExample(
    "Erase", value={"email": "jane@example.org"}, request_only=True
)
ERASE_RESPONSE_EXAMPLE = OpenApiExample(
    "Erased", value={"subscribers_erased": 2}, response_only=True
)
EXPORT_EXAMPLE = OpenApiExample(
    "Export",
    value={
        "email": "jane@example.org",
        "account": "Acme Ltd",
        "subscriptions": [
            {
                "list_id": 1,
                "list": "Monthly news",
                "purpose": "Our monthly newsletter about new products and events.",
                "name": "Jane Doe",
                "phone": "",
                "attributes": {"city": "Leeds"},
                "status": "subscribed",
                "created_at": "2026-11-20T10:00:00+00:00",
                "subscribed_at": "2026-11-20T10:05:00+00:00",
                "unsubscribed_at": None,
                "consent": [
                    {
                        "event": "granted",
                        "source": "web_form",
                        "obtained_at": "2026-11-20T10:00:00+00:00",
                        "ip": "203.0.113.7",
                        "user_agent": "Mozilla/5.0",
                        "purpose_text": "Our monthly newsletter about new products and events.",
                        "form_url": "https://example.org/news",
                        "proof": "Sign-up form on example.org/news",
                        "proof_file": None,
                        "import_id": None,
                    }
                ],
            }
        ],
        "suppression": None,
        "import_reports": [],
    },
    response_only=True,
)


def _list_or_404(request, list_id: int):
    mailing_list = selectors.list_get(account=request.user.account, list_id=list_id)
    if mailing_list is None:
        raise NotFound("No such list.")
    return mailing_list


def _list_with_count_or_404(request, list_id: int):
    mailing_list = selectors.list_with_count(account=request.user.account, list_id=list_id)
    if mailing_list is None:
        raise NotFound("No such list.")
    return mailing_list


def subscriber_or_404(request, list_id: int, subscriber_id: int):
    """The account's subscriber on the list (the tags API's too), else a 404."""
    subscriber = selectors.subscriber_get(
        account=request.user.account, subscriber_id=subscriber_id, list_id=list_id
    )
    if subscriber is None:
        raise NotFound("No such subscriber.")
    return subscriber


class ListListView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    # Documents the {"count", "next", "previous", "results"} envelope and page parameters.
    pagination_class = PageNumberPagination

    @extend_schema(
        responses=s.ListOutput(many=True),
        examples=[LIST_PAGE_EXAMPLE],
        summary="The account's lists",
    )
    def get(self, request):
        lists = selectors.lists_for(account=request.user.account)
        return paginated_response(request, self, lists, s.ListOutput)

    @extend_schema(
        request=s.ListInput,
        responses={201: s.ListOutput},
        examples=[
            OpenApiExample(
                "Create",
                value={
                    "name": "Monthly news",
                    "purpose": "Our monthly newsletter about new products and events.",
                    "privacy_policy_url": "https://example.org/privacy",
                    "double_opt_in": True,
                },
                request_only=True,
            ),
            OpenApiExample("Created", value=_LIST, response_only=True, status_codes=["201"]),
        ],
        summary="Create a list (purpose and privacy policy link required)",
    )
    def post(self, request):
        data = s.ListInput(data=request.data)
        data.is_valid(raise_exception=True)
        created = list_services.list_create(account=request.user.account, **data.validated_data)
        mailing_list = selectors.list_with_count(account=request.user.account, list_id=created.pk)
        return Response(s.ListOutput(mailing_list).data, status=status.HTTP_201_CREATED)


class ListDetailView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(responses=s.ListOutput, examples=[LIST_EXAMPLE], summary="One list")
    def get(self, request, list_id: int):
        return Response(s.ListOutput(_list_with_count_or_404(request, list_id)).data)

    @extend_schema(
        request=s.ListInput(partial=True),
        responses=s.ListOutput,
        examples=[LIST_PATCH_EXAMPLE, LIST_EXAMPLE],
        summary="Change a list",
    )
    def patch(self, request, list_id: int):
        mailing_list = _list_or_404(request, list_id)
        data = s.ListInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        list_services.list_update(mailing_list=mailing_list, **data.validated_data)
        return Response(s.ListOutput(_list_with_count_or_404(request, list_id)).data)

    @extend_schema(responses={204: None}, summary="Delete a list and all its subscribers")
    def delete(self, request, list_id: int):
        list_services.list_delete(mailing_list=_list_or_404(request, list_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SubscriberListView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    # Documents the {"count", "next", "previous", "results"} envelope and page parameters.
    pagination_class = PageNumberPagination

    @extend_schema(
        parameters=[s.SubscriberFilter],
        responses=s.SubscriberOutput(many=True),
        examples=[SUBSCRIBER_PAGE_EXAMPLE],
        summary="A list's subscribers (by status; search finds any part of an address or name)",
    )
    def get(self, request, list_id: int):
        mailing_list = _list_or_404(request, list_id)
        query = s.SubscriberFilter(data=request.query_params)
        query.is_valid(raise_exception=True)
        queryset = selectors.subscribers_for(
            account=request.user.account, mailing_list=mailing_list, **query.validated_data
        ).prefetch_related("tag_links__tag")
        paginator = None
        if not query.validated_data.get("search"):
            # Unsearched, the total is in the counters: no COUNT(*) over a million rows.
            counts = selectors.status_counts(mailing_list=mailing_list)
            status_filter = query.validated_data.get("status")
            paginator = CountedPagination(
                count=counts[status_filter] if status_filter else sum(counts.values())
            )
        return paginated_response(request, self, queryset, s.SubscriberOutput, paginator=paginator)

    @extend_schema(
        request=s.SubscriberInput,
        responses={201: s.SubscriberOutput},
        examples=[
            OpenApiExample(
                "Add with consent",
                value={
                    "email": "jane@example.org",
                    "name": "Jane Doe",
                    "attributes": {"city": "Leeds"},
                    "consent": {
                        "source": "web_form",
                        "obtained_at": "2026-11-20T10:00:00Z",
                        "ip": "203.0.113.7",
                        "proof": "Sign-up form on example.org/news",
                    },
                },
                request_only=True,
            )
        ],
        summary="Add a subscriber with the consent it was given",
    )
    def post(self, request, list_id: int):
        mailing_list = _list_or_404(request, list_id)
        data = s.SubscriberInput(data=request.data)
        data.is_valid(raise_exception=True)
        subscriber = subscribers.subscriber_add(
            mailing_list=mailing_list, recorded_by=request.user, **data.validated_data
        )
        return Response(s.SubscriberOutput(subscriber).data, status=status.HTTP_201_CREATED)


class BulkJSONParser(JSONParser):
    """JSON limited to BULK_UPSERT_MAX_BYTES: refused (413) from its Content-Length before it is
    read, or as soon as the body read passes the limit (no Content-Length)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = bulk_upsert.bulk_upsert_max_bytes()
        request = (parser_context or {}).get("request")
        declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        body = b"" if declared > limit or stream is None else stream.read(limit + 1)
        if declared > limit or len(body) > limit:
            raise RequestDataTooBig(
                f"The request body is over {filesizeformat(limit)}; send fewer subscribers "
                "per request."
            )
        return super().parse(io.BytesIO(body), media_type, parser_context)


_BULK_EXAMPLE_REQUEST = {
    "subscribers": [
        {
            "email": "jane@example.org",
            "name": "Jane Doe",
            "attributes": {"city": "Leeds"},
            "consent": {
                "source": "web_form",
                "obtained_at": "2026-11-20T10:00:00Z",
                "ip": "203.0.113.7",
                "proof": "Sign-up form on example.org/news",
            },
        },
        {"email": "info@example.com", "consent": {"source": "paper_form", "proof": "Form 12"}},
        {"email": "left@example.net", "consent": {"source": "paper_form", "proof": "Form 13"}},
        {"email": "not-an-address", "consent": {"source": "paper_form", "proof": "Form 14"}},
        {"email": "bought@example.org", "consent": {"source": "purchased", "proof": "Vendor X"}},
        {"email": "JANE@example.org", "consent": {"source": "api", "proof": "CRM export"}},
    ]
}
_BULK_EXAMPLE_RESPONSE = {
    "results": [
        {"index": 0, "email": "jane@example.org", "status": "created", "id": 1041},
        {
            "index": 1,
            "email": "info@example.com",
            "status": "updated",
            "id": 977,
            "warning": _ROLE_NOTE,
        },
        {
            "index": 2,
            "email": "left@example.net",
            "status": "skipped",
            "reason": "Suppressed: This address unsubscribed from your mail.",
        },
        {
            "index": 3,
            "email": "not-an-address",
            "status": "error",
            "errors": {"email": ["An email address must have an @-sign."]},
        },
        {
            "index": 4,
            "email": "bought@example.org",
            "status": "error",
            "errors": {
                "consent": {
                    "source": [
                        "Purchased lists are not accepted: the people on them never asked you "
                        "for mail."
                    ]
                }
            },
        },
        {
            "index": 5,
            "email": "jane@example.org",
            "status": "skipped",
            "reason": "Duplicate of item 0.",
        },
    ],
    "created": 1,
    "updated": 1,
    "skipped": 2,
    "errors": 2,
}


class SubscriberBulkView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    parser_classes = [BulkJSONParser]

    @extend_schema(
        request=s.BulkUpsertInput,
        responses={200: s.BulkUpsertOutput},
        examples=[
            OpenApiExample("Mixed items", value=_BULK_EXAMPLE_REQUEST, request_only=True),
            OpenApiExample("Per-item results", value=_BULK_EXAMPLE_RESPONSE, response_only=True),
        ],
        summary="Add or refresh up to 10,000 subscribers, each with its consent",
        description="Each item has the single add's shape. The answer is 200 whenever the "
        "request itself is valid, with one result per item, in order: `created` or `updated` "
        "(with the subscriber `id`; a role address carries a `warning`), `skipped` (with a "
        "`reason`: suppressed, unsubscribed from this list, or a repeat of an earlier item) or "
        "`error` (with the field `errors` the single add would answer). New subscribers are "
        "`subscribed` on the consent declared, as in an import (no confirmation e-mail); for "
        "ones already on the list a missing or empty name or phone keeps the stored one and "
        "attributes are merged. "
        "Every subscriber created or updated gets a consent record. A body that is not an "
        "object with a non-empty `subscribers` array of at most 10,000 items is a 400 and "
        "writes nothing; a body over 16 MB is a 413. Items are written in chunks, each in "
        "its own transaction.",
    )
    def post(self, request, list_id: int):
        mailing_list = _list_or_404(request, list_id)
        body = request.data
        if not isinstance(body, dict) or "subscribers" not in body:
            raise ApplicationError(
                'Send an object with a "subscribers" array.', field="subscribers"
            )
        result = bulk_upsert.subscribers_bulk_upsert(
            mailing_list=mailing_list, items=body["subscribers"], recorded_by=request.user
        )
        return Response(result)


class SubscriberDetailView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        responses=s.SubscriberOutput, examples=[SUBSCRIBER_EXAMPLE], summary="One subscriber"
    )
    def get(self, request, list_id: int, subscriber_id: int):
        return Response(s.SubscriberOutput(subscriber_or_404(request, list_id, subscriber_id)).data)

    @extend_schema(
        request=s.SubscriberUpdateInput,
        responses=s.SubscriberOutput,
        examples=[SUBSCRIBER_PATCH_EXAMPLE, SUBSCRIBER_EXAMPLE],
        summary="Change a subscriber's name, phone or attributes (not the address); recorded",
    )
    def patch(self, request, list_id: int, subscriber_id: int):
        subscriber = subscriber_or_404(request, list_id, subscriber_id)
        data = s.SubscriberUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        subscriber = subscribers.subscriber_update(
            subscriber=subscriber, changed_by=request.user, channel="api", **data.validated_data
        )
        return Response(s.SubscriberOutput(subscriber).data)

    @extend_schema(
        responses={200: s.SubscriberOutput},
        examples=[UNSUBSCRIBED_EXAMPLE],
        summary="Unsubscribe (status unsubscribed, address suppressed account-wide)",
    )
    def delete(self, request, list_id: int, subscriber_id: int):
        subscriber = subscribers.subscriber_unsubscribe(
            subscriber=subscriber_or_404(request, list_id, subscriber_id),
            channel="api",
            recorded_by=request.user,
        )
        return Response(s.SubscriberOutput(subscriber).data)


class SubscriberRemoveView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        request=None,
        responses={200: s.SubscriberOutput},
        examples=[REMOVED_EXAMPLE],
        summary="Remove from this list only (withdrawn, recorded; the address is not suppressed)",
    )
    def post(self, request, list_id: int, subscriber_id: int):
        subscriber = subscribers.subscriber_remove_from_list(
            subscriber=subscriber_or_404(request, list_id, subscriber_id),
            recorded_by=request.user,
        )
        return Response(s.SubscriberOutput(subscriber).data)


class AnyFormatNegotiation(DefaultContentNegotiation):
    """`?format=` names the file format here, not DRF's renderer: errors still answer JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


_EXPORT = {
    "id": 12,
    "source": "list",
    "object_id": 1,
    "label": "Monthly news",
    "file_format": "xlsx",
    "status": "running",
    "rows_total": 250000,
    "rows_done": 60000,
    "progress": 0.24,
    "filename": "1-monthly-news-2026-12-06.xlsx",
    "file_size": 0,
    "download_url": None,
    "failure_reason": "",
    "created_at": "2026-12-06T09:00:00Z",
    "started_at": "2026-12-06T09:00:01Z",
    "finished_at": None,
    "expires_at": None,
}
EXPORT_RUNNING_EXAMPLE = OpenApiExample("Running", value=_EXPORT, response_only=True)
EXPORT_START_EXAMPLE = OpenApiExample(
    "A list as XLSX", value={"source": "list", "id": 1, "format": "xlsx"}, request_only=True
)
# The 202 of an export too large to answer in the request (lists.services.export_jobs).
EXPORT_ACCEPTED = OpenApiResponse(
    response=s.ExportJobOutput,
    description="Too large to answer in the request (a CSV of more than "
    "EXPORT_STREAM_MAX_ROWS rows, 100,000 by default; an XLSX of more than "
    "EXPORT_XLSX_INLINE_MAX_ROWS, 10,000): a background export was started (or the same one "
    "already running is returned). Poll `GET /exports/{id}/` (the Location header) and "
    "download from its `download_url` when `status` is done.",
    examples=[EXPORT_RUNNING_EXAMPLE],
)


def export_api_answer(
    request, *, source: str, object_id: int, file_format: str, subscribers, filename: str
):
    """The API's answer to an export GET: the file itself when small (200), else a background
    export and 202 with it (lists.services.export_jobs decides which)."""
    rows = subscribers.count()
    if export_jobs.export_streams(file_format=file_format, rows=rows):
        return subscribers_export_response(subscribers, file_format=file_format, filename=filename)
    job = export_jobs.export_job_start(
        account=request.user.account,
        user=request.user,
        source=source,
        object_id=object_id,
        file_format=file_format,
    )
    return _export_accepted(job)


def _export_accepted(job) -> Response:
    from django.urls import reverse

    response = Response(s.ExportJobOutput(job).data, status=status.HTTP_202_ACCEPTED)
    response["Location"] = reverse("api-export", args=[job.pk])
    return response


class ListExportView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    content_negotiation_class = AnyFormatNegotiation

    @extend_schema(
        parameters=[s.ExportFormatQuery],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, XLSX_TYPE): OpenApiTypes.BINARY,
            (202, "application/json"): EXPORT_ACCEPTED,
            **error_responses(400, 404),
        },
        summary="Every subscriber of a list with their consent, as CSV (streamed) or XLSX; "
        "a large export answers 202 and is prepared in the background",
    )
    def get(self, request, list_id: int):
        mailing_list = _list_or_404(request, list_id)
        query = s.ExportFormatQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        queryset = selectors.subscribers_for(
            account=request.user.account, mailing_list=mailing_list
        )
        return export_api_answer(
            request,
            source="list",
            object_id=mailing_list.pk,
            file_format=query.validated_data["format"],
            subscribers=queryset,
            filename=export_filename(mailing_list),
        )


def _export_or_404(request, export_id: int):
    job = selectors.export_get(account=request.user.account, user=request.user, export_id=export_id)
    if job is None:
        raise NotFound("No such export.")
    return job


class ExportListView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    pagination_class = PageNumberPagination
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        responses={200: s.ExportJobOutput(many=True), **error_responses()},
        summary="Your exports, newest first (each is its requester's)",
    )
    def get(self, request):
        jobs = selectors.exports_for(account=request.user.account, user=request.user)
        return paginated_response(request, self, jobs, s.ExportJobOutput)

    @extend_schema(
        request=s.ExportStartInput,
        responses={202: s.ExportJobOutput, **error_responses(400, 404)},
        examples=[EXPORT_START_EXAMPLE, EXPORT_RUNNING_EXAMPLE],
        summary="Start an export of a list, a segment or every list (ZIP) in the background",
        description="Whatever its size, the file is written by a worker: poll the job, then "
        "download it from `download_url`. The same export asked again while it runs returns "
        "that job. The requester is e-mailed a link when it is ready. The account's ZIP is the "
        "owner's only.",
    )
    def post(self, request):
        data = s.ExportStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values["source"] == "account":
            _require_owner(request)
        job = export_jobs.export_job_start(
            account=request.user.account,
            user=request.user,
            source=values["source"],
            object_id=values.get("id"),
            file_format=values["format"],
        )
        return _export_accepted(job)


def _require_owner(request) -> None:
    from accounts import roles
    from accounts.models import Role
    from config.errors import PermissionDenied

    if not roles.at_least(roles.effective_role(request.user, request.auth), Role.OWNER):
        raise PermissionDenied(roles.refusal(request.user.role, Role.OWNER))


class ExportDetailView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        responses={200: s.ExportJobOutput, **error_responses(404)},
        examples=[EXPORT_RUNNING_EXAMPLE],
        summary="An export's status and progress; `download_url` once it is done",
    )
    def get(self, request, export_id: int):
        return Response(s.ExportJobOutput(_export_or_404(request, export_id)).data)


class ExportDownloadView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    content_negotiation_class = AnyFormatNegotiation

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, XLSX_TYPE): OpenApiTypes.BINARY,
            (200, "application/zip"): OpenApiTypes.BINARY,
            **error_responses(404, 409),
        },
        summary="An export's file (its requester's, until it expires)",
    )
    def get(self, request, export_id: int):
        from lists.export_views import export_file_response

        job = _export_or_404(request, export_id)
        if not job.is_downloadable:
            raise InvalidTransition("The export has no file: not done yet, failed or expired.")
        return export_file_response(job)


class ImportCreateView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": s.ImportInput},
        responses={202: s.ImportOutput},
        examples=[IMPORT_REQUEST_EXAMPLE, IMPORT_QUEUED_EXAMPLE],
        summary="Upload a file of subscribers; the import runs in the background",
    )
    def post(self, request, list_id: int):
        mailing_list = _list_or_404(request, list_id)
        data = s.ImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        job = imports.import_create(
            mailing_list=mailing_list,
            user=request.user,
            upload=values["file"],
            consent_source=values["consent_source"],
            proof=values.get("proof", ""),
            proof_file=values.get("proof_file"),
            consent_obtained_at=values.get("consent_obtained_at"),
            column_map=values.get("column_map"),
        )
        job.refresh_from_db()
        return Response(s.ImportOutput(job).data, status=status.HTTP_202_ACCEPTED)


def _import_or_404(request, import_id: int):
    job = selectors.import_get(account=request.user.account, import_id=import_id)
    if job is None:
        raise NotFound("No such import.")
    return job


class ImportDetailView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        responses=s.ImportOutput,
        examples=[IMPORT_RUNNING_EXAMPLE],
        summary="An import's status, progress and errors",
    )
    def get(self, request, import_id: int):
        return Response(s.ImportOutput(_import_or_404(request, import_id)).data)


class ImportErrorsView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        responses={(200, "text/csv"): str}, summary="Every row an import skipped or flagged, as CSV"
    )
    def get(self, request, import_id: int):
        job = _import_or_404(request, import_id)
        response = StreamingHttpResponse(import_issues_csv(job), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
        return response


class SubscriberEraseView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        request=s.EraseInput,
        responses={200: dict},
        examples=[ERASE_REQUEST_EXAMPLE, ERASE_RESPONSE_EXAMPLE],
        summary="Erase an address from every list; only a hashed suppression remains",
    )
    def post(self, request):
        data = s.EraseInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = privacy.subscriber_erase(
            account=request.user.account, email=data.validated_data["email"]
        )
        return Response(result)


class SubscriberExportView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        parameters=[OpenApiParameter("email", str, required=True)],
        responses={200: dict},
        examples=[EXPORT_EXAMPLE],
        summary="Everything the account holds about an address",
    )
    def get(self, request):
        query = s.ExportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        email = normalise_address(query.validated_data["email"])
        return Response(selectors.subscriber_export(account=request.user.account, email=email))
