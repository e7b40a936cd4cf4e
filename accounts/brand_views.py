"""The sender's branding: set on the profile page, served to recipient pages.

Uploaded media are not served by whitenoise, so the logo has its own view. Its address carries
the file's random name, new with every upload: the answer can be cached for good, and the names
of other accounts' logos cannot be guessed from an account id.
"""

from __future__ import annotations

import re
from typing import TypeVar

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import branding, selectors, services
from accounts.forms import BrandForm
from accounts.http import SenderRequest
from accounts.views import account_required
from config.browser_errors import show_errors

LOGO_KEY = re.compile(r"[0-9a-f]{32}")
# Immutable: a new logo is a new address.
CACHE_FOREVER = "public, max-age=31536000, immutable"
Response = TypeVar("Response", bound=HttpResponseBase)


def _image_headers(response: Response) -> Response:
    response["Cache-Control"] = CACHE_FOREVER
    response["X-Content-Type-Options"] = "nosniff"
    # Opened on its own, the file is still only an image: no script, no plugins, no forms.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response


@require_GET
def brand_logo(request: HttpRequest, key: str) -> FileResponse:
    """The logo whose stored name is brand/<key>, with the type recorded at upload."""
    if not LOGO_KEY.fullmatch(key):
        raise Http404("No such logo.")
    account = selectors.account_by_logo(name=f"brand/{key}")
    if account is None or not account.logo.storage.exists(account.logo.name or ""):
        raise Http404("No such logo.")
    extension = branding.EXTENSIONS.get(account.logo_content_type, "img")
    response = FileResponse(
        account.logo.open("rb"),
        content_type=account.logo_content_type,
        as_attachment=False,
        filename=f"logo.{extension}",
    )
    return _image_headers(response)


@require_GET
def brand_css(request: HttpRequest, color: str) -> HttpResponse:
    """The recipient pages' colours for a brand colour (an address, not inline CSS, so that
    the pages need no inline styles under a Content-Security-Policy)."""
    normalised = branding.normalise_color(color)
    if not normalised:
        raise Http404("No such colour.")
    css = "body.public{{--brand:{brand};--brand-ink:{brand_ink};--brand-link:{link}}}\n".format(
        **branding.palette(normalised)
    )
    response = HttpResponse(css, content_type="text/css; charset=utf-8")
    response["Cache-Control"] = CACHE_FOREVER
    response["X-Content-Type-Options"] = "nosniff"
    return response


@account_required
@require_POST
def profile_brand(request: SenderRequest) -> HttpResponse:
    """Save the logo and brand colour from the profile page."""
    form = BrandForm(request.POST, request.FILES)
    if form.is_valid():
        with show_errors(request):
            services.account_brand_update(
                account=request.user.account,
                logo=form.cleaned_data["logo"] or None,
                remove_logo=form.cleaned_data.get("remove_logo", False),
                brand_color=form.cleaned_data["brand_color"],
            )
            messages.success(request, _("Your branding is saved."))
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect("profile")
