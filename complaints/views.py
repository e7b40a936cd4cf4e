"""The recipient's pages, linked from every message (signed tokens, no login), and the public
abuse form.

A GET never changes anything: link scanners and mail previews follow GETs. The unsubscribe link
also takes RFC 8058's one-click POST (body `List-Unsubscribe=One-Click`, sent by Gmail and Yahoo
without showing a page). Both POSTs are exempt from CSRF: mail clients cannot carry our token,
and the signed link itself is the capability.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from campaigns.models import Campaign
from campaigns.selectors import subject_as_sent
from campaigns.tokens import BadToken, MessageTokens, TokenData, TokenKind, unpack
from complaints.abuse import abuse_report_submit
from complaints.forms import HONEYPOT_FIELD, AbuseReportForm
from complaints.models import FeedbackEvent, FeedbackKind
from complaints.selectors import sender_lists_of_address
from complaints.services import (
    report_link_apply,
    unsubscribe_everywhere_apply,
    unsubscribe_link_apply,
)
from config.browser_errors import show_errors
from config.http import client_ip
from config.i18n import recipient_language
from lists.models import Subscriber

ONE_CLICK_BODY = "List-Unsubscribe=One-Click"
# The unsubscribe page's "every list of this sender" button.
SCOPE_ALL = "all"
COMMENT_MAX = 4000


def _invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "campaigns/public/link_invalid.html", status=404)


def _context(data: TokenData) -> dict | None:
    """The list, sender and campaign the token names; None when nothing of it exists any more
    and the token is a test's (a real recipient still gets an answer)."""
    subscriber = (
        Subscriber.objects.select_related("mailing_list__account")
        .filter(pk=data.subscriber_id)
        .first()
    )
    campaign = (
        Campaign.objects.select_related("account", "approved_version")
        .filter(pk=data.campaign_id)
        .first()
    )
    if subscriber is None:
        if campaign is None:
            return None
        account, mailing_list = campaign.account, campaign.lists.first()
    else:
        account, mailing_list = subscriber.mailing_list.account, subscriber.mailing_list
    return {
        "subscriber": subscriber,
        "list": subscriber.mailing_list if subscriber else None,
        "account": account,
        "campaign": campaign,
        "is_test": data.is_test,
        "list_language": mailing_list.language if mailing_list else None,
    }


def _latest(data: TokenData, kind: str) -> FeedbackEvent | None:
    """The link's own event (its id is the message's, see complaints.services)."""
    return (
        FeedbackEvent.objects.filter(event_id=f"{data.campaign_id}:{data.subscriber_id}", kind=kind)
        .order_by("-occurred_at")
        .first()
    )


def _is_one_click(request: HttpRequest) -> bool:
    """RFC 8058: the body is `List-Unsubscribe=One-Click`, form-encoded or multipart."""
    if request.POST.get("List-Unsubscribe") == "One-Click":
        return True
    if (request.content_type or "").startswith("multipart/"):
        return False
    return request.body.strip() == ONE_CLICK_BODY.encode()


@csrf_exempt
@never_cache
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a page with one button. POST: unsubscribe now (one-click POSTs get a plain answer)."""
    try:
        data = unpack(token, kind=TokenKind.UNSUBSCRIBE)
    except BadToken:
        return _invalid(request)
    context = _context(data)
    if context is None:
        return _invalid(request)
    if request.method == "POST":
        one_click = _is_one_click(request)
        if not one_click and request.POST.get("scope") == SCOPE_ALL:
            # The page's second button: every list of this sender (RFC 8058's POST never is).
            unsubscribe_everywhere_apply(
                token=data,
                ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:500],
            )
            return redirect(request.path + "?done=all")
        unsubscribe_link_apply(token=data, one_click=one_click)
        if one_click:
            return HttpResponse("Unsubscribed.\n", content_type="text/plain; charset=utf-8")
        return redirect(request.path + "?done=1")
    recipient_language(request, context["list_language"])
    subscriber = context["subscriber"]
    context["done"] = subscriber is None or subscriber.status not in ("subscribed", "unconfirmed")
    if data.is_test:
        context["done"] = request.GET.get("done") in ("1", SCOPE_ALL)
    context["event"] = _latest(data, FeedbackKind.UNSUBSCRIBED) if context["done"] else None
    # The sender's other lists this address is on (names only, this sender's only).
    context["other_lists"] = (
        sender_lists_of_address(
            account_id=context["account"].pk,
            email=subscriber.email,
            exclude_subscriber_id=subscriber.pk,
        )
        if subscriber is not None
        else []
    )
    context["left_all"] = request.GET.get("done") == SCOPE_ALL and not context["other_lists"]
    context["resubscribe_url"] = (
        reverse("subscribe", kwargs={"public_id": context["list"].public_id})
        if context["list"] is not None
        else ""
    )
    report_token = MessageTokens(
        campaign_id=data.campaign_id, subscriber_id=data.subscriber_id, is_test=data.is_test
    ).report()
    context["report_url"] = reverse("report_spam", args=[report_token])
    return render(request, "complaints/public/unsubscribe.html", context)


@csrf_exempt
@never_cache
def report(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a form to report the message as spam (optional comment). POST: record it."""
    try:
        data = unpack(token, kind=TokenKind.REPORT)
    except BadToken:
        return _invalid(request)
    context = _context(data)
    if context is None:
        return _invalid(request)
    if request.method == "POST":
        comment = (request.POST.get("comment") or "").strip()[:COMMENT_MAX]
        report_link_apply(token=data, comment=comment)
        return redirect(request.path + "?done=1")
    recipient_language(request, context["list_language"])
    if context["campaign"] is not None:
        # As the message had it, never the template with its merge tags (issue 23, item 1).
        context["subject"] = subject_as_sent(
            campaign=context["campaign"], subscriber_id=data.subscriber_id, is_test=data.is_test
        )
    subscriber = context["subscriber"]
    context["done"] = (subscriber is None or subscriber.status == "complained") or (
        data.is_test and request.GET.get("done") == "1"
    )
    return render(request, "complaints/public/report.html", context)


def _abuse_rate_limited(request: HttpRequest) -> bool:
    """Count reports per client address per hour."""
    key = f"abuse-rate:{client_ip(request)}"
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=3600)
        count = 1
    return count > settings.ABUSE_REPORTS_PER_HOUR


@never_cache
def abuse(request: HttpRequest) -> HttpResponse:
    """The public abuse report form: reports land in the moderators' queue."""
    form = AbuseReportForm(request.POST or None)
    if request.method != "POST":
        return render(request, "complaints/public/abuse.html", {"form": form})
    if request.POST.get(HONEYPOT_FIELD):
        # A bot is answered as if it had worked, and learns nothing.
        return redirect("abuse_thanks")
    if _abuse_rate_limited(request):
        return render(
            request, "complaints/public/abuse.html", {"form": form, "slow_down": True}, status=429
        )
    if form.is_valid():
        with show_errors(form=form):
            abuse_report_submit(
                reporter_email=form.cleaned_data["reporter_email"],
                message_text=form.cleaned_data["message_text"],
                comment=form.cleaned_data["comment"],
                ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
            return redirect("abuse_thanks")
    return render(request, "complaints/public/abuse.html", {"form": form}, status=400)


def abuse_thanks(request: HttpRequest) -> HttpResponse:
    return render(request, "complaints/public/abuse_thanks.html")
