"""Password guessing is limited (django-axes): AXES_FAILURE_LIMIT wrong passwords for one address
from one client lock that pair out, in the browser, the admin and the API alike, until the
cool-off has passed; other addresses and other clients are not affected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken
from tests.factories import UserFactory

PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's
LIMIT = settings.AXES_FAILURE_LIMIT


def log_in(client: Client, email: str, password: str, **extra):
    return client.post(reverse("login"), {"username": email, "password": password}, **extra)


def is_logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(client: Client, email: str, times: int, **extra) -> list[int]:
    return [log_in(client, email, f"wrong-{i}", **extra).status_code for i in range(times)]


@pytest.fixture
def owner(db):
    return UserFactory(email="owner@example.com")


@pytest.fixture
def lenient_api_throttle(monkeypatch):
    """The API's own per-address throttle (10/min) would answer first; these tests are about
    the lock, so the throttle is raised out of the way. (DRF's AnonRateThrottle reads its rates
    when the module is imported, so the class is patched rather than the setting.)"""
    from accounts.api.views import CredentialsThrottle

    monkeypatch.setattr(CredentialsThrottle, "rate", "1000/min", raising=False)


def test_the_limit_and_cool_off_are_what_the_issue_asks():
    assert LIMIT == 10
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    assert settings.MIDDLEWARE[-1] == "axes.middleware.AxesMiddleware"


def test_n_wrong_passwords_lock_and_the_right_one_is_then_refused(owner):
    client = Client()
    codes = fail(client, owner.email, LIMIT)
    # Each wrong password shows the form again; the one that reaches the limit is the lock page.
    assert codes == [200] * (LIMIT - 1) + [429]

    response = log_in(client, owner.email, PASSWORD)
    assert response.status_code == 429
    assert not is_logged_in(client)
    page = response.content.decode()
    assert "Too many failed log-ins" in page
    assert "15 minutes" in page
    assert reverse("password_reset") in page
    assert response["Retry-After"] == "900"
    assert response["Content-Type"].startswith("text/html")


def test_fewer_failures_than_the_limit_still_let_the_owner_in_and_reset_the_count(owner):
    client = Client()
    assert fail(client, owner.email, LIMIT - 1) == [200] * (LIMIT - 1)
    assert log_in(client, owner.email, PASSWORD).status_code == 302
    assert is_logged_in(client)
    # A success clears the count (AXES_RESET_ON_SUCCESS): nine more failures do not lock.
    assert AccessAttempt.objects.count() == 0
    assert fail(Client(), owner.email, LIMIT - 1) == [200] * (LIMIT - 1)


def test_the_lock_ends_after_the_cool_off(owner):
    client = Client()
    fail(client, owner.email, LIMIT)
    assert log_in(client, owner.email, PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    response = log_in(client, owner.email, PASSWORD)
    assert response.status_code == 302
    assert is_logged_in(client)


def test_a_try_during_the_lock_starts_the_wait_again(owner):
    client = Client()
    fail(client, owner.email, LIMIT)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=14))
    assert log_in(client, owner.email, PASSWORD).status_code == 429
    # The refused try counts: the fifteen minutes run from it now, not from the lock.
    last_try = AccessAttempt.objects.get().attempt_time
    assert last_try > timezone.now() - timedelta(minutes=1)
    assert log_in(client, owner.email, PASSWORD).status_code == 429
    assert not is_logged_in(client)


def test_a_lock_on_one_address_leaves_other_addresses_from_the_same_client(owner):
    colleague = UserFactory(email="colleague@example.com")
    fail(Client(), owner.email, LIMIT)

    client = Client()
    assert log_in(client, colleague.email, PASSWORD).status_code == 302
    assert is_logged_in(client)


def test_the_same_address_from_another_client_can_still_log_in(owner):
    fail(Client(), owner.email, LIMIT, REMOTE_ADDR="203.0.113.7")
    assert log_in(Client(), owner.email, PASSWORD, REMOTE_ADDR="203.0.113.7").status_code == 429

    elsewhere = Client()
    response = log_in(elsewhere, owner.email, PASSWORD, REMOTE_ADDR="198.51.100.20")
    assert response.status_code == 302
    assert is_logged_in(elsewhere)


def test_changing_the_case_of_the_address_does_not_escape_the_lock(owner):
    client = Client()
    fail(client, owner.email, LIMIT)
    response = log_in(client, "Owner@Example.COM", PASSWORD)
    assert response.status_code == 429
    assert not is_logged_in(client)


def test_a_forged_forwarded_for_header_does_not_escape_the_lock(owner):
    """With no trusted proxy (TRUSTED_PROXY_COUNT=0) X-Forwarded-For is the client's own text."""
    client = Client()
    for i in range(LIMIT):
        log_in(client, owner.email, f"wrong-{i}", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")
    response = log_in(client, owner.email, PASSWORD, HTTP_X_FORWARDED_FOR="10.0.0.99")
    assert response.status_code == 429


def test_behind_a_trusted_proxy_the_lock_follows_the_address_the_proxy_saw(owner, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for i in range(LIMIT):
        log_in(Client(), owner.email, f"wrong-{i}", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9")
    # The client's own left-most hop changes nothing; the proxy's hop is what counts.
    locked = log_in(Client(), owner.email, PASSWORD, HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.9")
    assert locked.status_code == 429
    other = log_in(Client(), owner.email, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert other.status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}


def test_the_api_token_exchange_is_locked_with_its_json_error(owner, lenient_api_throttle):
    api = Client()
    url = reverse("api-token-obtain")
    answers = [
        api.post(url, {"email": owner.email, "password": f"wrong-{i}"}).status_code
        for i in range(LIMIT)
    ]
    assert answers == [400] * LIMIT

    response = api.post(url, {"email": owner.email, "password": PASSWORD})
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail"}
    assert body["detail"].startswith("Too many failed log-ins")
    assert int(response["Retry-After"]) == 900
    assert ApiToken.objects.count() == 0

    # Another address from the same client still gets its token.
    colleague = UserFactory(email="colleague@example.com")
    ok = api.post(url, {"email": colleague.email, "password": PASSWORD})
    assert ok.status_code == 200
    assert ApiToken.objects.filter(user=colleague).count() == 1


def test_browser_and_api_failures_count_against_the_same_lock(owner, lenient_api_throttle):
    fail(Client(), owner.email, LIMIT)
    response = Client().post(
        reverse("api-token-obtain"), {"email": owner.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 429
    assert ApiToken.objects.count() == 0


def test_the_admin_login_is_locked_too(owner):
    owner.is_staff = True
    owner.save(update_fields=["is_staff"])
    client = Client()
    fail(client, owner.email, LIMIT)
    response = client.post(
        reverse("admin:login"), {"username": owner.email, "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 429
    assert not is_logged_in(client)


def test_failed_attempts_do_not_keep_the_password(owner):
    fail(Client(), owner.email, 2)
    attempt = AccessAttempt.objects.get()
    assert attempt.username == owner.email
    assert "wrong-" not in attempt.post_data
    assert attempt.failures_since_start == 2


# --- Password spraying: failures per client address, across addresses --------------------------

IP_LIMIT = settings.AXES_IP_FAILURE_LIMIT


def spray(client: Client, count: int, start: int = 0, **extra) -> list[int]:
    """One wrong password each for `count` different addresses, as a sprayer does."""
    return [
        log_in(client, f"user{start + i}@example.com", "Winter2024!", **extra).status_code
        for i in range(count)
    ]


def test_the_per_client_limit_is_what_the_issue_asks():
    assert IP_LIMIT == 30
    assert settings.AXES_HANDLER == "accounts.lockout.LockoutHandler"


def test_spraying_many_addresses_from_one_client_locks_that_client(owner):
    client = Client()
    codes = spray(client, IP_LIMIT)
    assert codes == [200] * (IP_LIMIT - 1) + [429]

    # Locked for every address now, even one never tried and with the right password.
    response = log_in(client, owner.email, PASSWORD)
    assert response.status_code == 429
    assert not is_logged_in(client)
    page = response.content.decode()
    assert "Too many failed log-ins" in page
    assert "logging in from your network is paused for 15 minutes" in page
    assert response["Retry-After"] == "900"

    # Another client is not affected.
    elsewhere = Client()
    ok = log_in(elsewhere, owner.email, PASSWORD, REMOTE_ADDR="198.51.100.20")
    assert ok.status_code == 302
    assert is_logged_in(elsewhere)


def test_fewer_failures_than_the_client_limit_lock_nobody(owner):
    client = Client()
    assert spray(client, IP_LIMIT - 1) == [200] * (IP_LIMIT - 1)
    assert log_in(client, owner.email, PASSWORD).status_code == 302
    assert is_logged_in(client)


def test_logging_in_to_ones_own_account_does_not_clear_the_client_count(owner):
    """A sprayer with one real account cannot wipe the count by logging in between rounds."""
    assert spray(Client(), IP_LIMIT - 1) == [200] * (IP_LIMIT - 1)
    assert log_in(Client(), owner.email, PASSWORD).status_code == 302
    assert spray(Client(), 1, start=100) == [429]
    assert log_in(Client(), owner.email, PASSWORD).status_code == 429


def test_the_client_lock_ends_after_the_cool_off(owner):
    spray(Client(), IP_LIMIT)
    assert log_in(Client(), owner.email, PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    client = Client()
    assert log_in(client, owner.email, PASSWORD).status_code == 302
    assert is_logged_in(client)


def test_a_forged_forwarded_for_header_does_not_escape_the_client_lock(owner):
    client = Client()
    codes = [
        log_in(client, f"user{i}@example.com", "x", HTTP_X_FORWARDED_FOR=f"10.0.{i}.1").status_code
        for i in range(IP_LIMIT)
    ]
    assert codes[-1] == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}
    response = log_in(client, owner.email, PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert response.status_code == 429


def test_behind_a_trusted_proxy_the_client_lock_follows_the_proxys_hop(owner, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    spray(Client(), IP_LIMIT, HTTP_X_FORWARDED_FOR="203.0.113.9")
    locked = log_in(Client(), owner.email, PASSWORD, HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.9")
    assert locked.status_code == 429
    other = log_in(Client(), owner.email, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert other.status_code == 302


def test_the_api_answers_a_locked_client_with_429_and_issues_no_token(owner, lenient_api_throttle):
    api = Client()
    url = reverse("api-token-obtain")
    answers = [
        api.post(url, {"email": f"user{i}@example.com", "password": "x"}).status_code
        for i in range(IP_LIMIT)
    ]
    assert answers == [400] * IP_LIMIT

    response = api.post(url, {"email": owner.email, "password": PASSWORD})
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail"}
    assert body["detail"].startswith("Too many failed log-ins from your network")
    assert int(response["Retry-After"]) == 900
    assert ApiToken.objects.count() == 0


def test_browser_and_api_failures_count_against_the_same_client_limit(owner, lenient_api_throttle):
    half = IP_LIMIT // 2
    assert spray(Client(), half) == [200] * half
    api = Client()
    url = reverse("api-token-obtain")
    for i in range(IP_LIMIT - half):
        api.post(url, {"email": f"api{i}@example.com", "password": "x"})
    response = api.post(url, {"email": owner.email, "password": PASSWORD})
    assert response.status_code == 429
    assert log_in(Client(), owner.email, PASSWORD).status_code == 429


def test_the_client_limit_can_be_switched_off(owner, settings):
    settings.AXES_IP_FAILURE_LIMIT = 0
    assert spray(Client(), IP_LIMIT + 1) == [200] * (IP_LIMIT + 1)
    assert log_in(Client(), owner.email, PASSWORD).status_code == 302
