"""API rate limits per token and per account: 429 with Retry-After and a `detail` once over."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.services import api_token_create
from lists.models import MailingList
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    """Sets the token and account rates for one test (the cache is cleared around every test)."""

    def set_rates(*, token: str, account: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                "token": token,
                "account": account,
            },
        }

    return set_rates


def _client(user, **token_options) -> APIClient:
    _, key = api_token_create(user=user, name="throttle tests", **token_options)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _assert_throttled(response) -> None:
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json()["detail"].startswith("Request was throttled.")


def test_a_token_over_its_rate_gets_a_429_with_retry_after(user, rates):
    rates(token="3/min", account="100/min")
    client = _client(user)

    answers = [client.get("/api/v1/account/").status_code for _ in range(3)]
    over = client.get("/api/v1/account/")

    assert answers == [200, 200, 200]
    _assert_throttled(over)
    # Another token of the same account has its own budget.
    assert _client(user).get("/api/v1/account/").status_code == 200


def test_an_account_is_limited_across_its_tokens(user, rates):
    rates(token="100/min", account="4/min")
    first, second = _client(user), _client(user)

    answers = [c.get("/api/v1/lists/").status_code for c in (first, second, first, second)]

    assert answers == [200, 200, 200, 200]
    _assert_throttled(first.get("/api/v1/lists/"))
    _assert_throttled(second.get("/api/v1/lists/"))
    # Writes count too, and are refused before they change anything.
    _assert_throttled(
        second.post(
            "/api/v1/lists/",
            {"name": "N", "purpose": "P", "privacy_policy_url": "https://example.org/privacy"},
            format="json",
        )
    )
    assert not MailingList.objects.filter(account=user.account).exists()


def test_another_account_is_not_affected(user, rates):
    rates(token="100/min", account="2/min")
    mine, theirs = _client(user), _client(UserFactory())

    for _ in range(2):
        mine.get("/api/v1/account/")

    _assert_throttled(mine.get("/api/v1/account/"))
    assert theirs.get("/api/v1/account/").status_code == 200


def test_browser_sessions_count_against_the_account(user, rates):
    rates(token="100/min", account="3/min")
    token_client = _client(user)
    browser = APIClient()
    browser.force_login(user)

    assert browser.get("/api/v1/account/").status_code == 200
    assert browser.get("/api/v1/account/").status_code == 200
    assert token_client.get("/api/v1/account/").status_code == 200

    _assert_throttled(browser.get("/api/v1/account/"))
    _assert_throttled(token_client.get("/api/v1/account/"))


def test_the_limit_resets_after_its_period(user, rates, monkeypatch):
    from accounts import throttling

    rates(token="1/min", account="100/min")
    client = _client(user)
    now = [1_000_000.0]
    monkeypatch.setattr(throttling.TokenRateThrottle, "timer", lambda self: now[0])

    assert client.get("/api/v1/account/").status_code == 200
    _assert_throttled(client.get("/api/v1/account/"))
    now[0] += 61
    assert client.get("/api/v1/account/").status_code == 200


def test_the_default_rates_come_from_the_environment_names():
    from django.conf import settings

    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert {"credentials", "token", "account"} <= set(rates)
    assert set(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]) >= {
        "accounts.throttling.TokenRateThrottle",
        "accounts.throttling.AccountRateThrottle",
    }
