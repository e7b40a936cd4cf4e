"""API wiring: the exception handler that maps domain errors to 4xx, and pagination."""

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework import pagination, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.coded_text import render
from config.errors import ApplicationError


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


def paginated_response(request, view, queryset, serializer_class, *, paginator=None) -> Response:
    """One page of `queryset`, serialised, in the {"count", "next", "previous", "results"} shape
    every list endpoint answers with."""
    paginator = paginator or PageNumberPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


class CountedPaginator(Paginator):
    """A paginator told its total up front, for querysets whose COUNT(*) would scan millions of
    rows while the total is known from counters."""

    def __init__(self, object_list, per_page, *, count: int, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count


class CountedPagination(PageNumberPagination):
    """API pagination with the total known up front (see CountedPaginator)."""

    def __init__(self, *, count: int):
        self.known_count = count

    def django_paginator_class(self, object_list, per_page):
        return CountedPaginator(object_list, per_page, count=self.known_count)


def exception_handler(exc, context):
    """Domain errors become {"detail"} (or a field error); everything else goes to DRF."""
    if isinstance(exc, ApplicationError):
        body = {exc.field: [exc.message]} if exc.field else {"detail": exc.message}
        body.update(exc.extra)
        return Response(body, status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": str(exc)}, status=413)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            return Response(exc.message_dict, status=400)
        return Response({"detail": exc.messages}, status=400)
    return drf_exception_handler(exc, context)


class CodedTextField(serializers.CharField):
    """A stored coded text (config.coded_text) as a string in the request's language; a plain
    string stored before codes as it is; an object that carries its coded text as `.text` (a
    verdict's or health check's reason) by that. Read-only in effect: the schema says string."""

    def to_representation(self, value) -> str:
        return render(getattr(value, "text", value))
