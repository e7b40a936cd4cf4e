"""Who may open what: every URL pattern the resolver knows, as anonymous, as another account,
as a sender who is not staff, and as staff.

The patterns are read from Django's resolver (walking every include), so a page added later is
walked here without anyone touching this file, and it cannot slip through: a browser page must be
named in `PAGES` (public, for any logged-in user, for a sender account, or for staff), and every
path parameter must have a filler in `FILLERS` (tests/security/routes.py), or the test fails
saying what to add. API routes
are told apart by their prefix (staff under api/v1/moderation/) and admin routes by theirs.

What each kind of page must answer (GET, and POST where it matters):
- anonymous: pages redirect to the login page (the admin's to its own), the API answers 401,
  public pages answer what `PAGES` says;
- the owner (account A) opens A's objects: 200, or 405 for a page that only takes POST (which
  proves the ids filled in are real, so the refusals below mean something);
- another account (B) on A's objects: 404 for GET and POST, never a 200; on pages without ids
  B sees its own data, never A's;
- a sender who is not staff: 404 on moderation pages (they do not exist for them), 403 on the
  moderation API, the admin's login page on the admin;
- staff: 200 on moderation pages and API lists; no sender page shows them an account's data.
Cross-account API writes are covered method by method in tests/api/test_tenant_isolation.py, and
what an editor and a viewer of account A may do on every page and route in
tests/security/test_role_matrix.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from tests.security.conftest import configure_webhooks
from tests.security.routes import (
    ADMIN_ROUTES,
    API_ROUTES,
    API_STAFF_PREFIX,
    BROWSER_ROUTES,
    FILLERS,
    ROUTES,
    Route,
    World,
    body,
    describe,
    is_login_redirect,
    post_forms_without_token,
    unknown_parameters_message,
)

API_METHODS = ("get", "post", "put", "patch", "delete")

# Kinds of browser page.
PUBLIC = "public"  # anyone; the anonymous GET answers the given status
USER = "user"  # any logged-in user (a sender or staff)
SENDER = "sender"  # a user of a sender account
STAFF = "staff"  # moderators


@dataclass(frozen=True)
class Page:
    kind: str
    anonymous_get: int | None = None  # PUBLIC only: the status an anonymous GET gets
    anonymous_post: int | None = None  # PUBLIC only, where checked: an empty anonymous POST
    why: str = ""  # PUBLIC only: why no login is needed
    owner_get: tuple[int, ...] = (200,)  # what the owner's (or staff's) GET may answer


def public(status: int, why: str, *, post: int | None = None) -> Page:
    return Page(PUBLIC, anonymous_get=status, why=why, anonymous_post=post)


# ESP webhooks have no login: they check the ESP's basic auth (ANYMAIL["WEBHOOK_SECRET"]) and
# signature. Without credentials a POST is a 401 before anything is read.
WEBHOOK = "ESP webhook: its own basic auth and signature"


# Every browser page by URL name. A new page fails test_every_page_is_classified until added.
PAGES: dict[str, Page] = {
    # --- public: who they are for, and what keeps them safe without a login
    "healthz": public(200, "load balancer probe; says only that the app and database answer"),
    "choose_language": public(405, "a visitor's language choice, kept in the session (POST)"),
    "home": public(200, "the landing page"),
    "signup": public(200, "creating an account"),
    "login": public(200, "logging in (locked after repeated failures, test_login_lockout)"),
    "logout": public(405, "POST only; harmless without a session"),
    "password_reset": public(200, "asking for a reset link"),
    "password_reset_done": public(200, "'check your inbox'"),
    "password_reset_confirm": public(302, "the e-mailed link; the signed token is the key"),
    "password_reset_complete": public(200, "'password changed'"),
    "verify_email": public(200, "the e-mailed verification link; the signed token is the key"),
    "terms": public(200, "legal text"),
    "privacy": public(200, "legal text"),
    "subscribe": public(200, "the hosted subscription form recipients fill in"),
    "subscribe_thanks": public(200, "the form's next step"),
    "subscribe_confirm": public(200, "double opt-in link; the signed token is the key"),
    "track_click": public(302, "click tracking in sent mail; signed token"),
    "track_open": public(200, "open pixel in sent mail; signed token"),
    "consent_request_yes": public(
        200, "a consent request's Yes button in sent mail; signed token; confirms on POST only"
    ),
    "unsubscribe": public(200, "one-click unsubscribe in sent mail; signed token"),
    "report_spam": public(200, "report-spam link in sent mail; signed token"),
    "abuse": public(200, "the public abuse report form"),
    "abuse_thanks": public(200, "the abuse form's next step"),
    "brand_logo": public(404, "a sender's logo on recipient pages; random key (none here)"),
    "brand_css": public(200, "a sender's brand colours on recipient pages"),
    "amazon_ses_tracking_webhook": public(405, WEBHOOK, post=401),
    "mailgun_tracking_webhook": public(405, WEBHOOK, post=401),
    "sendgrid_tracking_webhook": public(405, WEBHOOK, post=401),
    "postmark_tracking_webhook": public(405, WEBHOOK, post=401),
    "team_join": public(
        200, "the e-mailed team invitation; the signed, expiring token is the key", post=200
    ),
    # --- any logged-in user
    "password_change": Page(USER),
    "password_change_done": Page(USER),
    "resend_verification": Page(USER),
    # --- a sender account's pages
    "dashboard": Page(SENDER),
    "profile": Page(SENDER),
    "profile_brand": Page(SENDER),
    "api_tokens": Page(SENDER),
    "terms_accept": Page(SENDER),
    "consent_request_new": Page(SENDER),
    "consent_request_detail": Page(SENDER),
    "api_token_revoke": Page(SENDER),
    "sender_domains": Page(SENDER),
    "sender_domain": Page(SENDER),
    "sender_domain_verify": Page(SENDER),
    "sender_domain_selector": Page(SENDER),
    "sender_domain_rotate_key": Page(SENDER),
    "sender_domain_delete": Page(SENDER),
    "webhooks": Page(SENDER),
    "webhook": Page(SENDER),
    "webhook_test": Page(SENDER),
    "webhook_rotate_secret": Page(SENDER),
    "webhook_delete": Page(SENDER),
    "notifications": Page(SENDER),
    "notifications_mark_read": Page(SENDER),
    "consent_proof": Page(SENDER),
    "lists": Page(SENDER),
    "list_create": Page(SENDER),
    "list_detail": Page(SENDER),
    "list_welcome": Page(SENDER),
    "list_edit": Page(SENDER),
    "list_delete": Page(SENDER),
    "list_form_builder": Page(SENDER),
    "subscriber_add": Page(SENDER),
    "subscriber_detail": Page(SENDER),
    "subscriber_unsubscribe": Page(SENDER),
    "subscriber_edit": Page(SENDER),
    "subscriber_remove": Page(SENDER),
    "list_export": Page(SENDER),
    "import_upload": Page(SENDER),
    # A queued import has nothing to map: its mapping page sends the owner to its progress.
    "import_progress": Page(SENDER),
    "import_map": Page(SENDER, owner_get=(302,)),
    "privacy_requests": Page(SENDER),
    "suppressions": Page(SENDER),
    "campaigns": Page(SENDER),
    "campaign_create": Page(SENDER),
    "campaign_preview_new": Page(SENDER),
    "campaign_detail": Page(SENDER),
    "campaign_edit": Page(SENDER),
    "campaign_preview": Page(SENDER),
    "campaign_test_send": Page(SENDER),
    "campaign_submit": Page(SENDER),
    "campaign_withdraw": Page(SENDER),
    "campaign_cancel": Page(SENDER),
    "campaign_schedule": Page(SENDER),
    "campaign_delete": Page(SENDER),
    "segments": Page(SENDER),
    "segment_create": Page(SENDER),
    "segment_edit": Page(SENDER),
    "segment_delete": Page(SENDER),
    "segment_export": Page(SENDER),
    "subscriber_tags_add": Page(SENDER),
    "subscriber_tag_remove": Page(SENDER),
    "campaign_progress": Page(SENDER),
    "campaign_duplicate": Page(SENDER),
    "campaign_save_as_template": Page(SENDER),
    "templates": Page(SENDER),
    "template_create": Page(SENDER),
    "template_preview": Page(SENDER),
    "template_edit": Page(SENDER),
    "template_delete": Page(SENDER),
    "starter_preview": Page(SENDER),
    "feedback": Page(SENDER),
    "account_appeal": Page(SENDER),
    "team": Page(SENDER),
    "team_invite": Page(SENDER),
    "team_invitation_revoke": Page(SENDER),
    "team_member_role": Page(SENDER),
    "team_member_remove": Page(SENDER),
    "team_transfer": Page(SENDER),
    "account_close": Page(SENDER),
    "account_export": Page(SENDER),
    # Exports are their requester's (the owner's here); the mailed link leads to the job's page.
    "exports": Page(SENDER),
    "export_detail": Page(SENDER),
    "export_download": Page(SENDER),
    "export_link": Page(SENDER, owner_get=(302,)),
    # --- moderators
    "moderation_queue": Page(STAFF),
    "moderation_blocklists": Page(STAFF),
    "moderation_review": Page(STAFF),
    "moderation_approve": Page(STAFF),
    "moderation_reject": Page(STAFF),
    "moderation_release": Page(STAFF),
    "moderation_decline": Page(STAFF),
    "moderation_audit": Page(STAFF),
    "moderation_consent_proof": Page(STAFF),
    "moderation_appeal_file": Page(STAFF),
    "moderation_accounts": Page(STAFF),
    "moderation_account": Page(STAFF),
    "moderation_account_warn": Page(STAFF),
    "moderation_account_freeze": Page(STAFF),
    "moderation_account_unfreeze": Page(STAFF),
    "moderation_appeal_grant": Page(STAFF),
    "moderation_appeal_reject": Page(STAFF),
    "moderation_abuse": Page(STAFF),
    "moderation_abuse_resolve": Page(STAFF),
}

# The API needs no list: every route is for a sender account (401 anonymous) unless it is under
# api/v1/moderation/ (staff) or here. Each public route's anonymous answer to its methods:
PUBLIC_API: dict[str, dict[str, int]] = {
    "api-token-obtain": {"post": 400},  # e-mail and password (the lock also applies)
    "api-schema": {"get": 200},  # the OpenAPI document
    "api-docs": {"get": 200},  # the reference page made from it
}
# Query strings a route needs to answer 200 to its owner.
API_QUERIES = {"api-subscriber-export": "?email=reader@example.org"}


# --- the matrix -----------------------------------------------------------------------------------


def test_the_walk_finds_every_kind_of_route():
    paths = {r.path for r in ROUTES}
    assert "lists/<int:list_id>/subscribers/<int:subscriber_id>/" in paths
    assert "api/v1/campaigns/<int:campaign_id>/" in paths
    assert "moderation/campaigns/<int:campaign_id>/" in paths
    assert "webhooks/mailgun/tracking/" in paths
    assert any(r.is_admin and r.is_regex for r in ROUTES), "the admin's regex routes are missing"
    assert len(BROWSER_ROUTES) >= 90 and len(API_ROUTES) >= 40


def test_every_page_is_classified():
    unnamed = [str(r) for r in BROWSER_ROUTES if not r.name]
    assert not unnamed, f"browser routes need a name to be classified: {unnamed}"
    unknown = sorted({r.name for r in BROWSER_ROUTES} - set(PAGES))
    assert not unknown, (
        f"pages {unknown} are not in {__file__} PAGES: say whether each is public (and why), "
        "for any logged-in user, for a sender account, or for staff."
    )
    stale = sorted(set(PAGES) - {r.name for r in BROWSER_ROUTES})
    assert not stale, f"PAGES names pages that no longer exist: {stale}"
    unknown_api = sorted(set(PUBLIC_API) - {r.name for r in API_ROUTES})
    assert not unknown_api, f"PUBLIC_API names routes that no longer exist: {unknown_api}"


def test_every_path_parameter_has_a_filler():
    unknown = {name for route in ROUTES for name in route.parameters} - set(FILLERS)
    assert not unknown, unknown_parameters_message(unknown)


@pytest.fixture
def world(shared_world, settings) -> World:
    """The module's one world (tests/security/conftest.py): no test here commits."""
    configure_webhooks(settings)
    return shared_world


@pytest.mark.parametrize("route", BROWSER_ROUTES, ids=str)
def test_browser_page(route: Route, world: World):
    page = PAGES.get(route.name)
    if page is None:
        pytest.fail(f"{route} is not in PAGES; see test_every_page_is_classified")
    url = route.url(world)
    anonymous = world.client()

    if page.kind == PUBLIC:
        response = anonymous.get(url)
        assert response.status_code == page.anonymous_get, (
            f"{route} is public ({page.why}): anonymous GET {url} answered "
            f"{describe(response)}, expected {page.anonymous_get}"
        )
        assert not is_login_redirect(response, url)
        if page.anonymous_post is not None:
            response = anonymous.post(url)
            assert response.status_code == page.anonymous_post, (
                f"{route}: anonymous POST {url} answered {describe(response)}"
            )
        return

    # Anonymous: to the login page, whatever the method (a POST-only view may say 405 to GET).
    for method in ("get", "post"):
        response = getattr(anonymous, method)(url)
        allowed_405 = method == "get" and response.status_code == 405
        assert allowed_405 or is_login_redirect(response, url), (
            f"{route}: anonymous {method.upper()} {url} answered {describe(response)}, "
            "expected a redirect to the login page"
        )

    if page.kind == STAFF:
        _check_staff_page(route, page, url, world)
    else:
        _check_user_page(route, page, url, world)


def _owner_get(route: Route, page: Page, client: Client, url: str):
    response = client.get(url)
    assert response.status_code in (*page.owner_get, 405), (
        f"{route}: its own user's GET {url} answered {describe(response)}, expected "
        f"{page.owner_get} (or 405 for a POST-only page)"
    )
    if response.status_code == 200 and "text/html" in response.get("Content-Type", ""):
        missing = post_forms_without_token(body(response))
        assert not missing, f"{route}: POST forms without a CSRF token: {missing}"
    return response


def _check_user_page(route: Route, page: Page, url: str, world: World):
    owner = world.client(world.owner)
    owner_get = _owner_get(route, page, owner, url)
    post_only = owner_get.status_code == 405

    other = world.client(world.other)
    staff = world.client(world.staff)
    if route.names_objects:
        # Another account: no such object, whatever the method.
        for method in ("get", "post"):
            response = getattr(other, method)(url)
            expected = (405,) if (method == "get" and post_only) else (404,)
            assert response.status_code in expected, (
                f"{route}: account B's {method.upper()} of account A's {url} answered "
                f"{describe(response)}, expected {expected[0]}"
            )
        # Staff have no account: a sender's object page is not theirs either.
        response = staff.get(url)
        assert response.status_code != 200 and world.marker not in body(response), (
            f"{route}: staff GET of account A's {url} answered {describe(response)}"
        )
        # And A still has it (B's POSTs changed nothing that A's page shows).
        again = owner.get(url)
        assert again.status_code == owner_get.status_code, (
            f"{route}: after account B's requests A's GET {url} answered {describe(again)}"
        )
    elif not post_only:
        # Pages without ids show the visitor's own data: B sees nothing of A's.
        response = other.get(url)
        assert response.status_code in page.owner_get, (
            f"{route}: account B's GET {url} answered {describe(response)}"
        )
        assert world.marker not in body(response), (
            f"{route}: account B's page {url} shows account A's data"
        )
        response = staff.get(url)
        if page.kind == USER:
            assert response.status_code in page.owner_get, (
                f"{route}: staff GET {url} answered {describe(response)}"
            )
        assert world.marker not in body(response), (
            f"{route}: staff see account A's data on the sender page {url}"
        )


def _check_staff_page(route: Route, page: Page, url: str, world: World):
    # A sender who is not staff (A's own owner, even about A's objects): no such page.
    sender = world.client(world.owner)
    for method in ("get", "post"):
        response = getattr(sender, method)(url)
        assert response.status_code == 404, (
            f"{route}: a non-staff sender's {method.upper()} {url} answered "
            f"{describe(response)}, expected 404"
        )
    _owner_get(route, page, world.client(world.staff), url)


@pytest.mark.parametrize("route", API_ROUTES, ids=str)
def test_api_route(route: Route, world: World):
    url = route.url(world) + API_QUERIES.get(route.name, "")
    view_class = getattr(route.callback, "cls", None) or route.callback.view_class
    methods = [m for m in API_METHODS if hasattr(view_class, m)]
    assert methods, f"{route}: its view has no HTTP methods"
    anonymous = world.client()

    if route.name in PUBLIC_API:
        for method, expected in PUBLIC_API[route.name].items():
            response = getattr(anonymous, method)(url)
            assert response.status_code == expected, (
                f"{route}: anonymous {method.upper()} {url} answered {describe(response)}"
            )
        return

    for method in methods:
        response = getattr(anonymous, method)(url)
        assert response.status_code == 401, (
            f"{route}: anonymous {method.upper()} {url} answered {describe(response)}, expected 401"
        )
        assert response["Content-Type"] == "application/json"

    sender, other, staff = (
        world.client(world.owner),
        world.client(world.other),
        world.client(world.staff),
    )
    if route.path.startswith(API_STAFF_PREFIX):
        for method in methods:
            response = getattr(sender, method)(url, content_type="application/json")
            assert response.status_code == 403, (
                f"{route}: a non-staff sender's {method.upper()} {url} answered "
                f"{describe(response)}, expected 403"
            )
        if "get" in methods:
            response = staff.get(url)
            assert response.status_code == 200, f"{route}: staff GET answered {describe(response)}"
        return

    # Staff have no sender account: the sender API is not for them.
    response = getattr(staff, methods[0])(url, content_type="application/json")
    assert response.status_code == 403, (
        f"{route}: staff {methods[0].upper()} {url} answered {describe(response)}, expected 403"
    )
    if "get" not in methods:
        return
    owned = sender.get(url)
    assert owned.status_code == 200, f"{route}: the owner's GET {url} answered {describe(owned)}"
    response = other.get(url)
    if route.names_objects:
        assert response.status_code == 404, (
            f"{route}: account B's GET of account A's {url} answered {describe(response)}"
        )
    else:
        assert response.status_code == 200
        assert world.marker not in body(response), (
            f"{route}: account B's GET {url} shows account A's data"
        )


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=str)
def test_admin_route(route: Route, world: World):
    """The admin is for staff: anyone else ends on its login page, whatever the route."""
    url = route.url(world)
    login = reverse("admin:login")
    for who, client in (("anonymous", world.client()), ("sender", world.client(world.owner))):
        response = client.get(url, follow=True)
        final = response.redirect_chain[-1][0] if response.redirect_chain else url
        assert urlsplit(final).path == login, (
            f"{route}: {who} GET {url} ended at {final} ({response.status_code}), expected the "
            "admin's login page"
        )
        assert world.marker not in body(response)


def test_staff_open_the_admin_index(world: World):
    assert world.client(world.staff).get(reverse("admin:index")).status_code == 200
