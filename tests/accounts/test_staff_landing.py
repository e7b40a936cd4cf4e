"""Moderators land where they work: the moderation queue after login; the nav's Admin link
only for those the admin has something for; a refused admin page in the site's layout."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory

PASSWORD = "correct-horse-battery"


def _login(email: str) -> tuple[Client, object]:
    client = Client()
    response = client.post(reverse("login"), {"username": email, "password": PASSWORD})
    return client, response


@pytest.mark.parametrize("with_account", [False, True])
def test_staff_land_in_the_moderation_queue(db, with_account):
    staff = UserFactory(is_staff=True, **({} if with_account else {"account": None}))
    client, response = _login(staff.email)
    assert response.status_code == 302
    assert response["Location"] == reverse("moderation_queue")
    # And the home page sends them there too.
    assert client.get(reverse("home"))["Location"] == reverse("moderation_queue")


def test_a_sender_lands_on_the_dashboard_and_next_still_wins(db):
    sender = UserFactory()
    _, response = _login(sender.email)
    assert response["Location"] == reverse("dashboard")
    staff = UserFactory(is_staff=True, account=None)
    client = Client()
    response = client.post(
        reverse("login") + "?next=/moderation/audit/",
        {"username": staff.email, "password": PASSWORD},
    )
    assert response["Location"] == "/moderation/audit/"


def test_the_admin_link_shows_only_to_those_who_can_use_the_admin(db):
    moderator = UserFactory(is_staff=True, account=None)
    client = Client()
    client.force_login(moderator)
    page = client.get(reverse("moderation_queue")).content.decode()
    assert 'id="nav-moderation"' in page and 'id="nav-admin"' not in page

    moderator.user_permissions.add(Permission.objects.get(codename="view_senderdomain"))
    page = client.get(reverse("moderation_queue")).content.decode()
    assert 'id="nav-admin"' in page

    superuser = UserFactory(is_staff=True, is_superuser=True, account=None)
    client.force_login(superuser)
    assert 'id="nav-admin"' in client.get(reverse("moderation_queue")).content.decode()

    sender = UserFactory()
    client.force_login(sender)
    assert 'id="nav-admin"' not in client.get(reverse("dashboard")).content.decode()


def test_an_admin_page_a_moderator_may_not_see_is_a_styled_403(db):
    moderator = UserFactory(is_staff=True, account=None)
    client = Client()
    client.force_login(moderator)
    response = client.get("/admin/accounts/senderdomain/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "/static/css/app.css" in page and "Not allowed" in page
    assert reverse("moderation_queue") in page  # the way back to their work


def test_a_refused_sender_page_is_the_styled_403_in_russian_too(db):
    viewer = UserFactory(role="viewer", language="ru")
    client = Client()
    client.force_login(viewer)
    response = client.post(reverse("list_create"), {"name": "x"}, HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 403
    page = response.content.decode()
    assert "Нет доступа" in page and "Наблюдатель" in page
