"""The "Tags" form of a subscriber's page: add tags (comma- or semicolon-separated) and take
one off. Both post and redirect back to the page."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import SenderRequest
from accounts.views import account_required
from config.browser_errors import show_errors
from config.errors import ApplicationError
from lists.models import Subscriber
from lists.services import tags as tag_services
from lists.views import subscriber_or_404


def _back(subscriber: Subscriber) -> HttpResponse:
    return redirect(
        "subscriber_detail", list_id=subscriber.mailing_list_id, subscriber_id=subscriber.pk
    )


@account_required
@require_POST
def subscriber_tags_add(request: SenderRequest, list_id: int, subscriber_id: int) -> HttpResponse:
    subscriber = subscriber_or_404(request, list_id, subscriber_id)
    with show_errors(request):
        names = tag_services.tag_names_clean(request.POST.get("tags", ""))
        if not names:
            raise ApplicationError(_("Type at least one tag."), field="tags")
        tag_services.subscribers_tags_add(
            account=request.user.account, subscriber_ids=[subscriber.pk], names=names
        )
        messages.success(request, _("Tags added: %(tags)s.") % {"tags": ", ".join(names)})
    return _back(subscriber)


@account_required
@require_POST
def subscriber_tag_remove(request: SenderRequest, list_id: int, subscriber_id: int) -> HttpResponse:
    subscriber = subscriber_or_404(request, list_id, subscriber_id)
    name = request.POST.get("tag", "").strip()
    if name:
        tag_services.subscribers_tags_remove(
            account=request.user.account, subscriber_ids=[subscriber.pk], names=[name]
        )
        messages.success(request, _("Tag removed: %(tag)s.") % {"tag": name})
    return _back(subscriber)
