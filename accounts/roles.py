"""Who in a team may do what: the one table of roles per route, for the browser and the API.

A member of an account is its owner, an editor or a viewer (`Role`). What a request may do is
decided here, by the URL name of the route it reaches, before the view runs:

- reading (GET, HEAD, OPTIONS) is open to every member, except the routes in `OWNER_READS`;
- writing (any other method) needs an editor, except the routes in `OWNER_WRITES` (the team,
  the company profile, sender domains, webhooks, the appeal, closing the account) and in
  `MEMBER_WRITES` (what each member does for themselves: their password, their own API tokens,
  accepting the terms, marking notifications read).

The browser meets this in `check_page` (a 403 page), through the decorator every sender page
wears (`accounts.views.account_required`), the API in the `MemberRole`
permission class that every account endpoint lists (a 403 in JSON). An API token acts with the
lesser of the role its creator had when it was made and the creator's role now, so demoting a
member demotes their tokens; a read-only token acts as a viewer. Staff-only users have no
account and no role: these checks leave them to the staff and account checks.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext as _
from rest_framework import permissions

from accounts.models import ApiToken, Role, User

RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.OWNER: 2}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Routes whose every method is the owner's: they show or change what only the owner manages.
OWNER_READS = frozenset({"account_close", "account_export"})
# Routes whose writes are the owner's (reading them is open to every member).
OWNER_WRITES = frozenset(
    {
        # the team
        "team",
        "team_invite",
        "team_invitation_revoke",
        "team_member_role",
        "team_member_remove",
        "team_transfer",
        "api-team-members",
        "api-team-member",
        "api-team-invitations",
        "api-team-invitation",
        "api-team-transfer",
        # the company profile and brand every message shows
        "profile",
        "profile_brand",
        "api-account",
        # where and how the account sends
        "sender_domains",
        "sender_domain",
        "sender_domain_verify",
        "sender_domain_selector",
        "sender_domain_delete",
        "sender_domain_rotate_key",
        "api-sender-domains",
        "api-sender-domain",
        "api-sender-domain-verify",
        "webhooks",
        "webhook",
        "webhook_test",
        "webhook_rotate_secret",
        "webhook_delete",
        "api-webhooks",
        "api-webhook",
        "api-webhook-test",
        # speaking for the account to the moderators
        "account_appeal",
        "api-account-appeal",
        # closing it (and the ZIP of every list, started by a POST)
        "account_close",
        "account_export",
    }
)
# Routes every member may write to: each acts on the member's own things.
MEMBER_WRITES = frozenset(
    {
        "api_tokens",  # a member's own token, capped at their role
        "api_token_revoke",  # their own (the owner: any of the account's)
        "api-tokens",
        "api-token",
        "terms_accept",
        "api-accept-terms",
        "notifications_mark_read",
        # an export is the member's own file (every member may read the lists): the owner's
        # ZIP of every list is OWNER_WRITES' account_export
        "list_export",
        "segment_export",
        "api-list-export",
        "api-segment-export",
        "api-exports",
    }
)


def lesser(*roles: str) -> str:
    """The role that allows the least of those given."""
    return min(roles, key=lambda role: RANK[Role(role)])


def at_least(role: str, required: str) -> bool:
    return RANK[Role(role)] >= RANK[Role(required)]


def effective_role(user: User, auth: object = None) -> str:
    """The role a request acts with: the user's; with an API token, no more than the token's
    recorded role; with a read-only token, a viewer's."""
    role = user.role
    if isinstance(auth, ApiToken):
        role = lesser(role, auth.role)
        if auth.read_only:
            role = Role.VIEWER
    return role


def required_role(url_name: str | None, method: str) -> str:
    """The least role that may make a `method` request to the route named `url_name`."""
    name = url_name or ""
    if method.upper() in SAFE_METHODS:
        return Role.OWNER if name in OWNER_READS else Role.VIEWER
    if name in OWNER_WRITES:
        return Role.OWNER
    if name in MEMBER_WRITES:
        return Role.VIEWER
    return Role.EDITOR


def refusal(role: str, required: str) -> str:
    """What a refused member reads."""
    if required == Role.OWNER:
        return _("Only the account's owner can do this.")
    return _("Your role (%(role)s) lets you see this, not change it.") % {"role": Role(role).label}


def may(user: User, url_name: str | None, method: str, auth: object = None) -> bool:
    """Whether the member may make this request; True for users without an account (the
    account and staff checks decide about them)."""
    if not user.is_authenticated or user.account_id is None:
        return True
    return at_least(effective_role(user, auth), required_role(url_name, method))


class MemberRole(permissions.BasePermission):
    """The API side of the table above; every account endpoint lists it."""

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.account_id):
            return True
        match = request.resolver_match
        name = match.url_name if match else None
        role = effective_role(user, request.auth)
        required = required_role(name, request.method)
        if at_least(role, required):
            return True
        self.message = refusal(role, required)
        return False


def check_page(request: HttpRequest) -> None:
    """The browser side, called by `accounts.views.account_required` (which every sender page
    wears) before the view runs: a member whose role does not allow the request gets the 403
    page. API routes are `MemberRole`'s (a token authenticates there)."""
    user = request.user
    if not user.is_authenticated or user.account_id is None:
        return
    match = request.resolver_match
    required = required_role(match.url_name if match else None, request.method or "GET")
    if not at_least(user.role, required):
        raise PermissionDenied(refusal(user.role, required))
