"""Privacy rule 9: the session cookie is the only cookie we ever set. A visitor walks the public
pages, picks a language, logs in with the form's token, uses the app and logs out, as a browser
would (CSRF checks on); every Set-Cookie of every answer is collected."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class CookieJarWatch:
    """A client that remembers the name of every cookie any answer set."""

    def __init__(self) -> None:
        self.client = Client(enforce_csrf_checks=True)
        self.names: set[str] = set()

    def _seen(self, response):
        self.names |= set(response.cookies)
        return response

    def get(self, url: str):
        return self._seen(self.client.get(url))

    def post_form(self, page_url: str, data: dict, action: str | None = None):
        """Open the page, post its form with the token the page carries (as a browser does)."""
        page = self.get(page_url)
        assert page.status_code == 200, page_url
        token = TOKEN.search(page.content.decode())
        assert token, f"{page_url} renders no CSRF token"
        return self._seen(
            self.client.post(action or page_url, {**data, "csrfmiddlewaretoken": token[1]})
        )


@pytest.mark.django_db
def test_walking_the_public_pages_and_logging_in_sets_only_the_session_cookie():
    user = UserFactory()
    mailing_list = MailingListFactory(account=user.account)
    browser = CookieJarWatch()

    for name in ("home", "login", "signup", "password_reset", "terms", "privacy", "abuse"):
        assert browser.get(reverse(name)).status_code in (200, 302), name
    assert browser.get(reverse("subscribe", args=[mailing_list.public_id])).status_code == 200
    chosen = browser.post_form(
        reverse("login"), {"language": "ru", "next": "/login/"}, action=reverse("choose_language")
    )
    assert chosen.status_code == 302
    logged_in = browser.post_form(
        reverse("login"), {"username": user.email, "password": "correct-horse-battery"}
    )
    assert logged_in.status_code == 302
    assert browser.get(reverse("dashboard")).status_code == 200
    # A page that adds a flash message (the messages framework keeps them in the session).
    assert browser.post_form(reverse("api_tokens"), {"name": "CRM"}).status_code == 200
    assert browser.post_form(reverse("dashboard"), {}, action=reverse("logout")).status_code == 302

    assert browser.names == {settings.SESSION_COOKIE_NAME} == {"sessionid"}


def test_the_csrf_token_is_kept_in_the_session():
    assert settings.CSRF_USE_SESSIONS is True
