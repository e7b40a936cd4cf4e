"""The tracking links in every message: the click redirect and the open pixel.

Both answer from the signed token alone. Counting clicks and opens (and telling machine opens
and scanner clicks apart) needs the per-recipient delivery records that the staged send
creates; until a message has one, these only redirect and serve the pixel.
"""

from __future__ import annotations

import base64

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from campaigns import selectors
from campaigns.tokens import BadToken, TokenKind, unpack

# The smallest transparent GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "campaigns/public/link_invalid.html", status=404)


@never_cache
def click(request: HttpRequest, token: str) -> HttpResponse:
    """Redirect to the campaign's link the token names; only to links in the campaign."""
    try:
        data = unpack(token, kind=TokenKind.CLICK)
    except BadToken:
        return _invalid(request)
    url = selectors.campaign_link(campaign_id=data.campaign_id, index=data.link)
    if url is None:
        return _invalid(request)
    return HttpResponseRedirect(url)


@never_cache
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    """A 1x1 transparent GIF (for any token: a broken image helps nobody)."""
    return HttpResponse(PIXEL, content_type="image/gif")
