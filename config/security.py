"""Where a page needs more than the site-wide Content-Security-Policy (settings.CONTENT_SECURITY_
POLICY), and why. Each widening is a django-csp decorator for the few views that need it."""

from collections.abc import Callable
from typing import TypeVar, cast

from csp.decorators import csp_update
from django.http import HttpResponseBase

View = TypeVar("View", bound=Callable[..., HttpResponseBase])

# A campaign's HTML is shown in a sandboxed `srcdoc` frame (templates/campaigns/
# _preview_panes.html), and a srcdoc document inherits the page's policy. Mail carries its CSS in
# style attributes (the renderer inlines it) and may show remote images, so those pages allow
# inline style *attributes* (never <style> elements or scripts: style-src stays 'self') and
# http(s) images. The frame itself runs no script (sandbox="") and cannot reach the page.
MAIL_PREVIEW_POLICY = {
    "style-src-attr": ["'unsafe-inline'"],
    "img-src": ["https:", "http:"],
}
_mail_preview = csp_update(MAIL_PREVIEW_POLICY)


def allows_mail_preview(view: View) -> View:
    """The view's pages allow a mail's inline style attributes and remote images (above)."""
    # django-csp types its decorators for views of the request alone; it wraps any view.
    return cast(View, _mail_preview(view))
