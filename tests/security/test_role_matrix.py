"""Who in a team may do what: every sender page and every account API route, as account A's
editor and viewer (and with their API tokens), beside the access matrix's owner, other account,
anonymous and staff (tests/security/test_access_matrix.py).

The expectations are written here, apart from accounts.roles, so that a route moved to the
wrong row there fails: a page or route the table below does not know fails
test_every_sender_route_has_a_role_rule until it is added.

- Reading is open to every member, except OWNER_ONLY (all methods the owner's).
- Writing needs an editor, except OWNER_WRITES (the owner's) and MEMBER_WRITES (any member:
  their own password, tokens, terms, notifications).
- A refused request is a 403 (the styled page, or JSON), and changes nothing that the owner's
  next GET would show differently; an allowed one reaches the view (not a 403).
"""

from __future__ import annotations

import pytest
from django.test import Client

from tests.security.conftest import configure_webhooks
from tests.security.routes import (
    API_ROUTES,
    API_STAFF_PREFIX,
    BROWSER_ROUTES,
    Route,
    World,
    describe,
)
from tests.security.test_access_matrix import PAGES, PUBLIC_API, SENDER

OWNER_ONLY = {"account_close", "account_export"}
OWNER_WRITES = OWNER_ONLY | {
    "team",
    "team_invite",
    "team_invitation_revoke",
    "team_member_role",
    "team_member_remove",
    "team_transfer",
    "profile",
    "profile_brand",
    "sender_domains",
    "sender_domain",
    "sender_domain_verify",
    "sender_domain_selector",
    "sender_domain_delete",
    "sender_domain_rotate_key",
    "webhooks",
    "webhook",
    "webhook_test",
    "webhook_rotate_secret",
    "webhook_delete",
    "account_appeal",
    "api-team-members",
    "api-team-member",
    "api-team-invitations",
    "api-team-invitation",
    "api-team-transfer",
    "api-account",
    "api-sender-domains",
    "api-sender-domain",
    "api-sender-domain-verify",
    "api-webhooks",
    "api-webhook",
    "api-webhook-test",
    "api-account-appeal",
}
MEMBER_WRITES = {
    "api_tokens",
    "api_token_revoke",
    "terms_accept",
    "notifications_mark_read",
    "api-tokens",
    "api-token",
    "api-accept-terms",
    "list_export",
    "segment_export",
    "api-list-export",
    "api-segment-export",
    "api-exports",
}
RANK = {"viewer": 0, "editor": 1, "owner": 2}
SENDER_PAGES = [r for r in BROWSER_ROUTES if PAGES.get(r.name) and PAGES[r.name].kind == SENDER]
ACCOUNT_API = [
    r for r in API_ROUTES if r.name not in PUBLIC_API and not r.path.startswith(API_STAFF_PREFIX)
]


def needs(name: str, method: str) -> str:
    if method in ("get", "head", "options"):
        return "owner" if name in OWNER_ONLY else "viewer"
    if name in OWNER_WRITES:
        return "owner"
    if name in MEMBER_WRITES:
        return "viewer"
    return "editor"


def test_every_sender_route_has_a_role_rule():
    """The rule sets above name only routes that exist (a renamed route fails here)."""
    names = {r.name for r in SENDER_PAGES} | {r.name for r in ACCOUNT_API}
    stale = sorted((OWNER_WRITES | MEMBER_WRITES) - names)
    assert not stale, f"role rules for routes that no longer exist: {stale}"


def test_every_route_of_what_the_owner_manages_is_an_owner_write():
    """A new route for domains, webhooks, the team or the profile is the owner's by its name,
    not an editor's because both tables forgot it (sender_domain_rotate_key once was)."""
    owners = ("sender_domain", "webhook", "team", "profile", "api-sender-domain", "api-webhook")
    names = {r.name for r in SENDER_PAGES} | {r.name for r in ACCOUNT_API}
    read_only = {"api-webhook-deliveries"}  # a list: GET only, which every member may
    forgotten = sorted(
        n for n in names if n.startswith(owners) and n not in OWNER_WRITES | read_only
    )
    assert not forgotten, f"owner-managed routes editors could write: {forgotten}"


def test_the_table_in_accounts_roles_agrees_with_this_one():
    from accounts.roles import required_role

    for route in [*SENDER_PAGES, *ACCOUNT_API]:
        for method in ("get", "post", "patch", "delete"):
            assert required_role(route.name, method) == needs(route.name, method), (
                f"{route} {method.upper()}"
            )


def _check(route: Route, client: Client, role: str, method: str, url: str, **kwargs):
    response = getattr(client, method)(url, **kwargs)
    required = needs(route.name, method)
    if RANK[role] < RANK[required]:
        assert response.status_code == 403, (
            f"{route}: a {role}'s {method.upper()} {url} answered {describe(response)}, "
            f"expected 403 (needs {required})"
        )
    else:
        assert response.status_code != 403, (
            f"{route}: a {role}'s {method.upper()} {url} answered 403 (needs {required})"
        )
    return response


@pytest.fixture
def world(shared_world, settings) -> World:
    """The module's one world (tests/security/conftest.py): no test here commits."""
    configure_webhooks(settings)
    return shared_world


@pytest.mark.parametrize("route", SENDER_PAGES, ids=str)
def test_sender_page_by_role(route: Route, world: World):
    url = route.url(world)
    owner = world.client(world.owner)
    before = owner.get(url).status_code
    # The viewer first: their refusals must leave the page as the owner saw it.
    for role, user in (("viewer", world.viewer), ("editor", world.editor)):
        client = world.client(user)
        _check(route, client, role, "get", url)
        response = _check(route, client, role, "post", url)
        if response.status_code == 403:
            assert "Not allowed" in response.content.decode()  # the styled 403 page
            assert owner.get(url).status_code == before


@pytest.mark.parametrize("route", ACCOUNT_API, ids=str)
def test_api_route_by_role(route: Route, world: World):
    from accounts.services import api_token_create

    url = route.url(world)
    view_class = getattr(route.callback, "cls", None) or route.callback.view_class
    methods = [m for m in ("get", "post", "patch", "delete") if hasattr(view_class, m)]
    for role, user in (("viewer", world.viewer), ("editor", world.editor)):
        session = world.client(user)
        _, key = api_token_create(user=user, name=f"{role} token")
        token = Client(HTTP_AUTHORIZATION=f"Token {key}")
        for method in methods:
            for client in (session, token):
                response = _check(route, client, role, method, url, content_type="application/json")
                if response.status_code == 403:
                    assert response["Content-Type"] == "application/json"
