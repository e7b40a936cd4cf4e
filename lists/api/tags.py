"""Tags API: the account's tags, and tagging subscribers one at a time or in bulk."""

from collections.abc import Callable

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.schema import error_responses
from accounts.api.views import ACCOUNT_PERMISSIONS
from config.api import PageNumberPagination, paginated_response
from lists import selectors
from lists.api import serializers as s
from lists.api.views import subscriber_or_404
from lists.services import tags as tag_services

TAGS_EXAMPLE = OpenApiExample("Tags", value={"tags": ["vip", "customer"]}, request_only=True)


def _subscriber_output(request, list_id: int, subscriber_id: int) -> dict:
    return s.SubscriberOutput(subscriber_or_404(request, list_id, subscriber_id)).data


class TagListView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    pagination_class = PageNumberPagination

    @extend_schema(
        responses={200: s.TagOutput(many=True), **error_responses(404)},
        summary="The account's tags, with how many subscribers carry each",
    )
    def get(self, request):
        return paginated_response(
            request, self, selectors.tags_for(account=request.user.account), s.TagOutput
        )


class TagDetailView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        responses={204: None, **error_responses(404)},
        summary="Delete a tag (it comes off every subscriber)",
    )
    def delete(self, request, tag_id: int):
        tag_services.tag_delete(account=request.user.account, tag_id=tag_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SubscriberTagsView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    # The remove view differs only in the service it calls.
    change: Callable[..., object] = staticmethod(tag_services.subscribers_tags_add)

    @extend_schema(
        request=s.TagsInput,
        responses={200: s.SubscriberOutput, **error_responses(400, 404)},
        examples=[TAGS_EXAMPLE],
        summary="Add tags to a subscriber (new tags are created)",
    )
    def post(self, request, list_id: int, subscriber_id: int):
        subscriber = subscriber_or_404(request, list_id, subscriber_id)
        data = s.TagsInput(data=request.data)
        data.is_valid(raise_exception=True)
        names = tag_services.tag_names_clean(data.validated_data["tags"])
        self.change(account=request.user.account, subscriber_ids=[subscriber.pk], names=names)
        return Response(_subscriber_output(request, list_id, subscriber_id))


@extend_schema_view(post=extend_schema(summary="Take tags off a subscriber"))
class SubscriberTagsRemoveView(SubscriberTagsView):
    change = staticmethod(tag_services.subscribers_tags_remove)


class BulkTagsView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    remove = False

    @extend_schema(
        request=s.BulkTagsInput,
        responses={204: None, **error_responses(400, 404)},
        summary="Add (or, on .../remove/, take off) tags for many subscribers at once; 404 and "
        "nothing changed if any subscriber is not the account's",
    )
    def post(self, request):
        data = s.BulkTagsInput(data=request.data)
        data.is_valid(raise_exception=True)
        names = tag_services.tag_names_clean(data.validated_data["tags"])
        action = (
            tag_services.subscribers_tags_remove
            if self.remove
            else tag_services.subscribers_tags_add
        )
        action(
            account=request.user.account,
            subscriber_ids=data.validated_data["subscribers"],
            names=names,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class BulkTagsRemoveView(BulkTagsView):
    remove = True
