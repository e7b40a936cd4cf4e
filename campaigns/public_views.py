"""The tracking links in every message: the click redirect and the open pixel.

Both answer from the signed token alone and record the hit on the recipient's delivery
(campaigns.tracking), machines set apart: a HEAD request, a privacy proxy or a scanner is kept
as a machine's, never as a person's open or click. Recording never stands in the way of the
answer: if it fails, the failure is logged and the recipient still gets the page or the pixel.
The redirect only ever goes to a link of the approved version of an approved campaign; a
preview's or test message's link shows a page naming its target instead (no moderator has seen
that content, so the service must not forward anyone there). The pixel is served for any token.
"""

from __future__ import annotations

import base64
import logging

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from campaigns import consent_requests, selectors, tracking
from campaigns.tokens import BadToken, TokenData, TokenKind, unpack
from config.browser_errors import not_found_page, show_errors
from config.http import client_ip
from config.i18n import recipient_language

logger = logging.getLogger(__name__)

# The smallest transparent GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "campaigns/public/link_invalid.html", status=404)


def _record(
    what: str, request: HttpRequest, data: TokenData, link_index: int | None = None
) -> None:
    """Queue or record a hit (tracking.hit_accept) with what the request tells about its sender;
    log, never raise."""
    try:
        tracking.hit_accept(
            kind=what,
            token_data=data,
            link_index=link_index,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            method=request.method or "GET",
            ip=client_ip(request) or "",
        )
    except Exception:  # the recipient's redirect or pixel matters more than one count
        logger.exception("Could not record the %s of campaign %s", what, data.campaign_id)


@never_cache
def click(request: HttpRequest, token: str) -> HttpResponse:
    """Redirect to the approved link the token names, and record the click; a test link's
    target is shown, not redirected to."""
    try:
        data = unpack(token, kind=TokenKind.CLICK)
    except BadToken:
        return _invalid(request)
    if data.is_test:
        url = selectors.test_link(campaign_id=data.campaign_id, index=data.link)
        if url is None:
            return _invalid(request)
        return render(request, "campaigns/public/test_link.html", {"url": url})
    url = selectors.approved_link(campaign_id=data.campaign_id, index=data.link)
    if url is None:
        return _invalid(request)
    _record("click", request, data, link_index=data.link)
    return HttpResponseRedirect(url)


@never_cache
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    """A 1x1 transparent GIF (for any token: a broken image helps nobody); a valid token's
    open is recorded."""
    try:
        data = unpack(token, kind=TokenKind.OPEN)
    except BadToken:
        data = None
    if data is not None:
        _record("open", request, data)
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@not_found_page("campaigns/public/link_invalid.html")
def consent_yes(request: HttpRequest, token: str) -> HttpResponse:
    """A consent request's "Yes, keep me informed": the GET shows the list and a button (link
    scanners follow GETs), the POST records the consent with its time, IP and user agent."""
    _, _, is_test = consent_requests.consent_link_data(token)
    if is_test:
        return render(request, "campaigns/public/consent_request_yes.html", {"is_test": True})
    candidate = consent_requests.candidate_for_link(token)
    recipient_language(request, candidate.mailing_list.language)
    context = {
        "list_name": candidate.mailing_list.name,
        "purpose": candidate.mailing_list.purpose,
        "company_name": candidate.campaign.account.company_name,
        "confirmed": candidate.status == "confirmed",
        "adult_content": candidate.mailing_list.adult_content,
    }
    if request.method == "POST" and not context["confirmed"]:
        # The page itself says what went wrong: the reader came from an e-mail, not a session.
        with show_errors() as shown:
            consent_requests.consent_request_confirm(
                token=token,
                ip=client_ip(request) or None,
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                age_confirmed=request.POST.get("age_confirmed") == "yes",
            )
            context["confirmed"] = True
        if shown.error:
            context["error"] = shown.message
    return render(request, "campaigns/public/consent_request_yes.html", context)
