import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_only_the_session_cookie_and_it_ends_with_the_browser(client, user):
    client.get(reverse("login"))
    response = client.post(
        reverse("login"), {"username": user.email, "password": "correct-horse-battery"}
    )
    client.get(reverse("dashboard"))
    client.post(reverse("api_tokens"), {"name": "x"})  # a page that adds a flash message
    assert set(client.cookies) == {"sessionid"}
    session = response.cookies["sessionid"]
    assert session["expires"] == ""
    assert session["max-age"] == ""
    assert session["httponly"] is True
