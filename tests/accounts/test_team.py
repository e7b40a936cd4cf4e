"""A team with roles: invitations (signed, expiring, once), last-owner protection, removing
members, transferring the ownership, API tokens capped at their creator's role, the log of who
changed what, and PATCH /api/v1/account/ validated as the profile page validates."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail, signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import team
from accounts.models import AccountEvent, ApiToken, Invitation, Role, User
from accounts.services import api_token_create
from config.errors import ApplicationError, NotFound, PermissionDenied
from tests.factories import UserFactory

PASSWORD = "a-long-team-password-7"


@pytest.fixture
def owner(db):
    return UserFactory(email="pat@acme.example", account__company_name="Acme Ltd")


@pytest.fixture
def editor(owner):
    return UserFactory(email="sam@acme.example", account=owner.account, role=Role.EDITOR)


@pytest.fixture
def viewer(owner):
    return UserFactory(email="vic@acme.example", account=owner.account, role=Role.VIEWER)


def _token_client(user, **kwargs) -> tuple[APIClient, ApiToken]:
    token, key = api_token_create(user=user, name="t", **kwargs)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client, token


def _link_token(message) -> str:
    return re.search(r"/join/([^/\s]+)/", message.body)[1]


# --- invitations ----------------------------------------------------------------------------------


def test_an_invitation_is_mailed_and_accepting_it_joins_the_team_with_its_role(
    owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = team.invitation_create(
            account=owner.account, invited_by=owner, email="Alex@Acme.example", role="viewer"
        )
    assert invitation.email == "alex@acme.example"
    assert [m.to for m in mail.outbox] == [["alex@acme.example"]]
    assert "Acme Ltd" in mail.outbox[0].subject
    token = _link_token(mail.outbox[0])

    page = Client().get(reverse("team_join", args=[token]))
    assert page.status_code == 200 and b"alex@acme.example" in page.content
    response = Client().post(
        reverse("team_join", args=[token]),
        {"password": PASSWORD, "first_name": "Alex", "accept_terms": "on", "accept_privacy": "on"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    user = User.objects.get(email="alex@acme.example")
    assert (user.account_id, user.role, user.first_name) == (owner.account_id, "viewer", "Alex")
    assert user.is_email_verified and user.terms_acceptances.count() == 1
    joined = AccountEvent.objects.get(action="joined")
    assert (joined.actor, joined.details["invited_by"]) == (user, owner.email)

    # Once only: the same link again is the "gone" page, and no second user appears.
    again = Client().post(
        reverse("team_join", args=[token]),
        {"password": PASSWORD, "accept_terms": "on", "accept_privacy": "on"},
    )
    assert again.status_code == 404
    assert User.objects.filter(email__iexact="alex@acme.example").count() == 1


def test_a_tampered_invitation_link_is_a_404_page(owner):
    invitation = team.invitation_create(
        account=owner.account, invited_by=owner, email="alex@acme.example", role="owner"
    )
    token = team.invitation_token(invitation)
    # The same payload for another invitation id, with the signature left as it was.
    forged = signing.dumps({"i": invitation.pk + 1, "e": "alex@acme.example"}, salt="x")
    for bad in (token[:-2] + "xx", forged, "nonsense"):
        response = Client().post(
            reverse("team_join", args=[bad]),
            {"password": PASSWORD, "accept_terms": "on", "accept_privacy": "on"},
        )
        assert response.status_code == 404
    assert not User.objects.filter(email="alex@acme.example").exists()


def test_an_expired_invitation_does_not_work(owner, settings):
    invitation = team.invitation_create(
        account=owner.account, invited_by=owner, email="alex@acme.example", role="editor"
    )
    token = team.invitation_token(invitation)
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(NotFound):
        team.invitation_accept(token=token, password=PASSWORD)
    # And the signature's own age: a link older than INVITATION_DAYS fails even if the row
    # said otherwise.
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() + timedelta(days=30)
    )
    settings.INVITATION_DAYS = 0
    with pytest.raises(NotFound):
        team.invitation_for_token(token)
    assert not User.objects.filter(email="alex@acme.example").exists()


def test_a_withdrawn_invitation_and_a_reinvited_address_keep_only_the_newest_link(owner):
    first = team.invitation_create(
        account=owner.account, invited_by=owner, email="alex@acme.example", role="editor"
    )
    second = team.invitation_create(
        account=owner.account, invited_by=owner, email="alex@acme.example", role="viewer"
    )
    with pytest.raises(NotFound):
        team.invitation_for_token(team.invitation_token(first))
    assert team.invitation_for_token(team.invitation_token(second)) == second
    team.invitation_revoke(account=owner.account, invitation_id=second.pk, actor=owner)
    with pytest.raises(NotFound):
        team.invitation_for_token(team.invitation_token(second))


def test_only_an_owner_invites_and_not_an_address_of_another_account(owner, editor):
    with pytest.raises(PermissionDenied):
        team.invitation_create(
            account=owner.account, invited_by=editor, email="x@acme.example", role="viewer"
        )
    stranger = UserFactory(email="taken@example.org")
    with pytest.raises(ApplicationError) as exc:
        team.invitation_create(
            account=owner.account, invited_by=owner, email=stranger.email, role="viewer"
        )
    assert exc.value.field == "email"
    with pytest.raises(ApplicationError):
        team.invitation_create(
            account=owner.account, invited_by=owner, email=editor.email, role="viewer"
        )
    assert not Invitation.objects.exists()


# --- members and the owner ------------------------------------------------------------------------


def test_the_last_owner_can_be_neither_demoted_nor_removed(owner, editor):
    with pytest.raises(ApplicationError):
        team.member_role_change(account=owner.account, user_id=owner.pk, role="editor", actor=owner)
    with pytest.raises(ApplicationError):
        team.member_remove(account=owner.account, user_id=owner.pk, actor=owner)
    owner.refresh_from_db()
    assert owner.role == "owner" and owner.is_active


def test_transferring_the_ownership_leaves_one_owner_and_logs_who_did_it(owner, editor):
    team.ownership_transfer(account=owner.account, user_id=editor.pk, actor=owner)
    owner.refresh_from_db()
    editor.refresh_from_db()
    assert (owner.role, editor.role) == ("editor", "owner")
    assert User.objects.filter(account=owner.account, role="owner").count() == 1
    event = AccountEvent.objects.get(action="ownership_transferred")
    assert (event.actor_label, event.subject) == (owner.email, editor.email)
    # The former owner can no longer manage the team.
    with pytest.raises(PermissionDenied):
        team.member_remove(account=owner.account, user_id=editor.pk, actor=owner)


def test_a_removed_member_loses_their_tokens_and_their_login(owner, editor):
    client, token = _token_client(editor)
    assert client.get("/api/v1/lists/").status_code == 200
    team.member_remove(account=owner.account, user_id=editor.pk, actor=owner)
    editor.refresh_from_db()
    token.refresh_from_db()
    assert (editor.account_id, editor.is_active) == (None, False)
    assert token.revoked_at is not None
    assert client.get("/api/v1/lists/").status_code == 401
    assert AccountEvent.objects.filter(action="removed", subject=editor.email).exists()


def test_another_accounts_member_is_not_found(owner):
    stranger = UserFactory()
    with pytest.raises(NotFound):
        team.member_role_change(
            account=owner.account, user_id=stranger.pk, role="viewer", actor=owner
        )
    stranger.refresh_from_db()
    assert stranger.role == "owner"


# --- API tokens carry their creator's role at most ---------------------------------------------


def test_a_token_records_its_creators_role_and_follows_a_demotion(owner, editor):
    client, token = _token_client(owner)
    assert token.role == "owner"
    assert client.patch("/api/v1/account/", {"phone": "+44 1"}, format="json").status_code == 200
    # The owner hands over and becomes an editor: the token drops to editor with them.
    team.ownership_transfer(account=owner.account, user_id=editor.pk, actor=owner)
    assert client.patch("/api/v1/account/", {"phone": "+44 2"}, format="json").status_code == 403
    assert client.post("/api/v1/lists/", {"name": "x"}, format="json").status_code != 403


def test_a_token_never_rises_with_its_creator(owner, editor):
    client, token = _token_client(editor)
    assert token.role == "editor"
    team.member_role_change(account=owner.account, user_id=editor.pk, role="owner", actor=owner)
    response = client.patch("/api/v1/account/", {"phone": "+44 3"}, format="json")
    assert response.status_code == 403
    owner.account.refresh_from_db()
    assert owner.account.phone != "+44 3"


def test_a_viewer_token_only_reads_and_a_token_made_with_it_is_no_stronger(viewer):
    client, token = _token_client(viewer)
    assert client.get("/api/v1/lists/").status_code == 200
    assert client.post("/api/v1/lists/", {"name": "x"}, format="json").status_code == 403
    response = client.post("/api/v1/tokens/", {"name": "child"}, format="json")
    assert response.status_code == 201
    assert ApiToken.objects.get(pk=response.json()["id"]).role == "viewer"


def test_a_read_only_token_of_an_owner_acts_as_a_viewer(owner):
    client, _ = _token_client(owner, read_only=True)
    assert client.patch("/api/v1/account/", {"phone": "1"}, format="json").status_code == 403
    response = client.post("/api/v1/team/invitations/", {"email": "a@b.example", "role": "owner"})
    assert response.status_code == 403


# --- PATCH /api/v1/account/ -----------------------------------------------------------------------


def test_the_owner_patches_the_company_profile_and_the_change_is_logged(owner):
    client, token = _token_client(owner)
    response = client.patch(
        "/api/v1/account/",
        {"postal_address": "2 Park Row, Leeds", "website": "acme.example"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["postal_address"] == "2 Park Row, Leeds"
    # As the profile page reads it: an address without a scheme gets https://.
    assert body["website"] == "https://acme.example"
    assert body["company_name"] == "Acme Ltd"  # the fields not sent keep their values
    event = AccountEvent.objects.get(action="profile_updated")
    assert event.actor == owner and event.details == {"fields": ["postal_address", "website"]}
    assert token.prefix in event.via


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"postal_address": "   "}, "postal_address"),
        ({"company_name": ""}, "company_name"),
        ({"phone": "x" * 41}, "phone"),
        ({"website": "not a url at all"}, "website"),
        ({"website": "javascript:alert(1)"}, "website"),
        ({"company_name": "Acme\r\nBcc: victim@example.org"}, "company_name"),
    ],
)
def test_patch_refuses_what_the_profile_page_refuses(owner, body, field):
    client, _ = _token_client(owner)
    before = {f: getattr(owner.account, f) for f in ("company_name", "phone", "website")}
    response = client.patch("/api/v1/account/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json() or "detail" in response.json()
    owner.account.refresh_from_db()
    assert {f: getattr(owner.account, f) for f in before} == before
    # The page refuses the same input.
    page = Client()
    page.force_login(owner)
    values = {
        "company_name": owner.account.company_name,
        "contact_name": owner.account.contact_name,
        "phone": owner.account.phone,
        "postal_address": owner.account.postal_address,
        "website": owner.account.website,
    } | body
    assert page.post(reverse("profile"), values).status_code == 200  # the form again, not saved
    owner.account.refresh_from_db()
    assert {f: getattr(owner.account, f) for f in before} == before


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_patch_is_the_owners(owner, role):
    member = UserFactory(account=owner.account, role=role)
    client = APIClient()
    client.force_authenticate(member)
    response = client.patch("/api/v1/account/", {"phone": "+1 0"}, format="json")
    assert response.status_code == 403
    assert client.get("/api/v1/account/").status_code == 200
    owner.account.refresh_from_db()
    assert owner.account.phone != "+1 0"
    assert not AccountEvent.objects.exists()


# --- the pages ------------------------------------------------------------------------------------


def test_the_team_page_shows_members_invitations_and_who_changed_what(owner, editor):
    team.invitation_create(
        account=owner.account, invited_by=owner, email="alex@acme.example", role="viewer"
    )
    team.member_role_change(account=owner.account, user_id=editor.pk, role="viewer", actor=owner)
    client = Client()
    client.force_login(owner)
    page = client.get(reverse("team")).content.decode()
    assert "sam@acme.example" in page and "alex@acme.example" in page
    assert 'id="invite-form"' in page and 'id="transfer-form"' in page
    assert "Changed a member&#x27;s role" in page and "editor → viewer" in page
    # A viewer sees the team, not the owner's forms.
    client.force_login(editor)
    page = client.get(reverse("team")).content.decode()
    assert "sam@acme.example" in page and 'id="invite-form"' not in page


def test_the_owner_invites_from_the_team_page(owner, django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("team_invite"), {"email": "alex@acme.example", "role": "editor"}
        )
    assert response.status_code == 302
    assert Invitation.objects.get().role == "editor" and len(mail.outbox) == 1
    response = client.post(reverse("team_invite"), {"email": "nope", "role": "editor"})
    assert response.status_code == 400 and Invitation.objects.count() == 1


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_members_who_are_not_owners_see_the_profile_without_its_forms(owner, role):
    member = UserFactory(account=owner.account, role=role)
    client = Client()
    client.force_login(member)
    page = client.get(reverse("profile")).content.decode()
    assert 'id="company-identity"' in page and "Acme Ltd" in page
    assert 'id="brand-form"' not in page and 'name="postal_address"' not in page
    for name in ("sender_domains", "webhooks"):
        page = client.get(reverse(name)).content.decode()
        assert "owner-only" in page and 'name="url"' not in page and 'name="domain"' not in page
    client.force_login(owner)
    page = client.get(reverse("profile")).content.decode()
    assert 'name="postal_address"' in page and 'id="brand-form"' in page
