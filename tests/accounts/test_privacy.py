import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_only_session_and_csrf_cookies_and_session_ends_with_browser(client, user):
    client.get(reverse("login"))
    response = client.post(
        reverse("login"), {"username": user.email, "password": "correct-horse-battery"}
    )
    client.get(reverse("dashboard"))
    client.post(reverse("api_tokens"), {"name": "x"})  # a page that adds a flash message
    assert set(client.cookies) == {"sessionid", "csrftoken"}
    session = response.cookies["sessionid"]
    assert session["expires"] == ""
    assert session["max-age"] == ""
    assert session["httponly"] is True
