"""CSRF: every browser view refuses a POST without the token, except the few that must take posts
from elsewhere, listed here with the reason; every POST form we render carries the token; the
API's tokens are not cookies, and where the API accepts the session cookie, CSRF applies.

The views are read from the URL resolver (tests/security/routes.py), so a view added later is
checked without anyone touching this file. The rendered forms of the signed-in pages are checked
by tests/security/test_access_matrix.py as it opens each page; the public pages' forms here.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import resolve, reverse
from rest_framework.views import APIView

from campaigns.tokens import MessageTokens
from tests.security.routes import (
    ADMIN_ROUTES,
    API_ROUTES,
    BROWSER_ROUTES,
    Route,
    World,
    describe,
    post_forms_without_token,
)

# The only browser views that take a POST without our token, and why that is safe.
CSRF_EXEMPT = {
    # Embedded sign-up forms post from the sender's own site, which cannot carry our token;
    # honeypot, rate limit and (on double opt-in lists) the e-mailed confirmation guard it.
    "subscribe",
    # RFC 8058 one-click unsubscribe: mail clients (Gmail, Yahoo) POST without any page; the
    # signed link is the capability.
    "unsubscribe",
    # The report-spam link in every message: the signed link is the capability.
    "report_spam",
    # ESP event webhooks: server-to-server posts, authenticated by basic auth and signatures.
    "amazon_ses_tracking_webhook",
    "mailgun_tracking_webhook",
    "sendgrid_tracking_webhook",
    "postmark_tracking_webhook",
}
PROTECTED_ROUTES = [r for r in BROWSER_ROUTES + ADMIN_ROUTES if r.name not in CSRF_EXEMPT]
# Public pages whose forms are checked for the token (those posting to exempt views need none).
PUBLIC_FORM_PAGES = [
    "login",
    "signup",
    "password_reset",
    "abuse",
    "home",
    "subscribe",
    "unsubscribe",
    "report_spam",
]


@pytest.fixture
def world(shared_world) -> World:
    """The module's one world (tests/security/conftest.py): no test here commits."""
    return shared_world


def csrf_client(user=None) -> Client:
    """A browser that, like a real one, is held to the CSRF check."""
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def is_csrf_refusal(response) -> bool:
    return response.status_code == 403 and b"CSRF verification failed" in response.content


def test_the_exempt_views_are_exactly_the_listed_ones():
    exempt = {
        r.name for r in BROWSER_ROUTES + ADMIN_ROUTES if getattr(r.callback, "csrf_exempt", False)
    }
    assert exempt == CSRF_EXEMPT, (
        f"csrf_exempt views changed: unexpected {sorted(exempt - CSRF_EXEMPT)}, "
        f"no longer exempt {sorted(CSRF_EXEMPT - exempt)}; an exemption needs a reason here"
    )


@pytest.mark.parametrize("route", PROTECTED_ROUTES, ids=str)
def test_a_post_without_the_token_is_refused(route: Route, world: World):
    """A forged cross-site POST rides the victim's session cookie: signed in (as staff for the
    moderation and admin pages, the owner elsewhere), a POST without the token is a 403."""
    staff_side = route.is_admin or (route.name or "").startswith("moderation")
    client = csrf_client(world.staff if staff_side else world.owner)
    url = route.url(world)
    response = client.post(url, {"name": "forged", "reason": "forged", "text": "forged"})
    assert is_csrf_refusal(response), (
        f"{route}: a POST to {url} without the CSRF token answered {describe(response)}"
    )


def test_the_same_post_with_the_token_passes_the_check(world: World):
    """The refusal above is the CSRF check, not something else: with the token it goes through."""
    client = csrf_client(world.owner)
    page = client.get(reverse("api_tokens"))
    # The token is kept in the session (CSRF_USE_SESSIONS): the form's hidden input carries it.
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    response = client.post(reverse("api_tokens"), {"name": "CRM", "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert world.owner.api_tokens.filter(name="CRM").exists()


def test_a_one_click_unsubscribe_needs_no_token(world: World):
    subscriber = world.objects["subscriber"]
    tokens = MessageTokens(campaign_id=world.objects["draft"].pk, subscriber_id=subscriber.pk)
    response = csrf_client().post(
        reverse("unsubscribe", args=[tokens.unsubscribe()]),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert response.content == b"Unsubscribed.\n"
    subscriber.refresh_from_db()
    assert subscriber.status == "unsubscribed"


def test_an_embedded_subscription_form_posts_without_a_token(
    world: World, django_capture_on_commit_callbacks
):
    mailing_list = world.objects["list"]
    with django_capture_on_commit_callbacks(execute=True):  # the form's task runs after commit
        response = csrf_client().post(
            reverse("subscribe", args=[mailing_list.public_id]),
            {"email": "new.reader@example.net", "consent": "on"},
            HTTP_REFERER="https://shop.example.com/newsletter",
        )
    assert response.status_code == 302
    assert response["Location"].startswith(
        reverse("subscribe_thanks", args=[mailing_list.public_id])
    )
    assert mailing_list.subscribers.filter(email="new.reader@example.net").exists()


@pytest.mark.parametrize("name", PUBLIC_FORM_PAGES)
def test_public_forms_carry_the_token_unless_they_post_to_an_exempt_view(name, world: World):
    route = next(r for r in BROWSER_ROUTES if r.name == name)
    url = route.url(world)
    response = Client().get(url)
    assert response.status_code == 200
    missing = [
        action
        for action in post_forms_without_token(response.content.decode())
        if resolve(url if action == "(this page)" else action).url_name not in CSRF_EXEMPT
    ]
    assert not missing, f"{url}: POST forms to protected views without a CSRF token: {missing}"


def test_every_api_route_is_a_drf_view_with_its_own_csrf_rule():
    """Django's middleware does not check API views (DRF marks them exempt); DRF does, for
    session-authenticated requests only. A plain Django view under /api/ would have neither."""
    plain = [str(r) for r in API_ROUTES if not issubclass(_view_class(r), APIView)]
    assert not plain, f"API routes that are not DRF views: {plain}"


def _view_class(route: Route):
    return getattr(route.callback, "cls", None) or route.callback.view_class


def test_the_api_with_the_session_cookie_is_held_to_csrf(world: World):
    client = csrf_client(world.owner)
    refused = client.post("/api/v1/tokens/", {"name": "forged"}, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("CSRF Failed")
    assert not world.owner.api_tokens.filter(name="forged").exists()
    # Reading with the session is fine: GETs change nothing.
    assert client.get("/api/v1/account/").status_code == 200


def test_api_tokens_are_headers_not_cookies_so_no_csrf_applies(world: World):
    from accounts.services import api_token_create

    _, key = api_token_create(user=world.owner, name="integration")
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/tokens/",
        {"name": "made by the integration"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 201
    assert not response.cookies, "token-authenticated calls must not set cookies"
    # The same key as a cookie is not a credential.
    client.cookies["Token"] = key
    assert client.get("/api/v1/account/").status_code == 401
