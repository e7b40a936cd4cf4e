import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Account, TermsAcceptance, User
from accounts.services import account_sign_up, email_verification_token, user_verify_email
from config.errors import ApplicationError, NotFound

VALID = {
    "company_name": "Acme Bakery",
    "contact_name": "Alice Baker",
    "email": "Alice@Example.COM",
    "phone": "+44 20 7946 0000",
    "postal_address": "1 High Street, London",
    "password": "a-long-unusual-passphrase",
    "accepted_terms": True,
    "accepted_privacy": True,
}


def _nothing_written():
    assert User.objects.count() == 0
    assert Account.objects.count() == 0
    assert TermsAcceptance.objects.count() == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_sign_up_records_terms_acceptance_and_sends_verification(
    django_capture_on_commit_callbacks, settings
):
    settings.TERMS_VERSION = "2026-11-01"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        user = account_sign_up(**VALID, ip="203.0.113.9", user_agent="Firefox")

    assert user.email == "alice@example.com"
    assert user.account.company_name == "Acme Bakery"
    assert user.account.state == "active"
    assert not user.is_email_verified
    acceptance = TermsAcceptance.objects.get(user=user)
    assert (acceptance.terms_version, acceptance.ip, acceptance.user_agent) == (
        "2026-11-01",
        "203.0.113.9",
        "Firefox",
    )
    assert len(callbacks) == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    assert "/verify/" in mail.outbox[0].body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"accepted_terms": False}, "accept_terms"),
        ({"accepted_privacy": False}, "accept_privacy"),
        ({"email": "not-an-address"}, "email"),
        ({"password": "password123"}, "password"),
        ({"postal_address": "  "}, "postal_address"),
        ({"company_name": ""}, "company_name"),
    ],
)
def test_sign_up_refuses_bad_input_and_writes_nothing(change, field):
    with pytest.raises(ApplicationError) as refused:
        account_sign_up(**(VALID | change))
    assert refused.value.field == field
    _nothing_written()


@pytest.mark.django_db
def test_sign_up_refuses_an_address_in_use_whatever_its_case(user):
    with pytest.raises(ApplicationError) as refused:
        account_sign_up(**(VALID | {"email": user.email.upper()}))
    assert refused.value.field == "email"
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_signup_page_without_terms_shows_error_and_creates_nothing(client):
    form = {k: v for k, v in VALID.items() if not k.startswith("accepted")}
    response = client.post(reverse("signup"), form | {"accept_privacy": "on"})
    assert response.status_code == 200
    assert "You must accept the terms of service." in response.content.decode()
    _nothing_written()


@pytest.mark.django_db
def test_signup_page_creates_account_and_logs_in(client):
    form = {k: v for k, v in VALID.items() if not k.startswith("accepted")}
    response = client.post(
        reverse("signup"),
        form | {"accept_terms": "on", "accept_privacy": "on"},
        REMOTE_ADDR="198.51.100.7",
    )
    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    user = User.objects.get()
    assert TermsAcceptance.objects.get(user=user).ip == "198.51.100.7"
    assert client.get(reverse("dashboard")).status_code == 200


@pytest.mark.django_db
def test_verification_link_verifies_once_and_is_idempotent(client):
    user = account_sign_up(**VALID)
    token = email_verification_token(user)
    response = client.get(reverse("verify_email", kwargs={"token": token}))
    assert response.status_code == 200
    user.refresh_from_db()
    first = user.email_verified_at
    assert first is not None
    assert user_verify_email(token=token).email_verified_at == first


@pytest.mark.django_db
def test_tampered_or_expired_verification_link_is_a_404(client, settings):
    user = account_sign_up(**VALID)
    token = email_verification_token(user)
    tampered = token[:-2] + ("aa" if not token.endswith("aa") else "bb")
    assert client.get(reverse("verify_email", kwargs={"token": tampered})).status_code == 404
    settings.EMAIL_VERIFICATION_MAX_AGE = -1
    with pytest.raises(NotFound):
        user_verify_email(token=token)
    user.refresh_from_db()
    assert user.email_verified_at is None


@pytest.mark.django_db
def test_verification_token_is_bound_to_the_address(client):
    user = account_sign_up(**VALID)
    token = email_verification_token(user)
    User.objects.filter(pk=user.pk).update(email="changed@example.com")
    assert client.get(reverse("verify_email", kwargs={"token": token})).status_code == 404


@pytest.mark.django_db
def test_login_is_case_insensitive_and_logout_needs_post(client, user):
    response = client.post(
        reverse("login"), {"username": user.email.upper(), "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200
    assert client.get(reverse("logout")).status_code == 405
    client.post(reverse("logout"))
    assert client.get(reverse("dashboard")).status_code == 302


@pytest.mark.django_db
def test_profile_update_keeps_identity_current(client, user):
    client.force_login(user)
    response = client.post(
        reverse("profile"),
        {
            "company_name": "Renamed Ltd",
            "contact_name": "Bo",
            "phone": "+1 555 0199",
            "postal_address": "2 New Road",
            "website": "https://renamed.example",
        },
    )
    assert response.status_code == 302
    user.account.refresh_from_db()
    assert (user.account.company_name, user.account.postal_address) == ("Renamed Ltd", "2 New Road")


@pytest.mark.django_db
def test_profile_refuses_blank_identity(client, user):
    client.force_login(user)
    response = client.post(
        reverse("profile"),
        {"company_name": "X", "contact_name": "Bo", "phone": "1", "postal_address": " "},
    )
    assert response.status_code == 200
    user.account.refresh_from_db()
    assert user.account.company_name != "X"


@pytest.mark.django_db
def test_password_change_needs_the_old_password(client, user):
    client.force_login(user)
    url = reverse("password_change")
    wrong = client.post(
        url,
        {
            "old_password": "nope",
            "new_password1": "another-long-pass",
            "new_password2": "another-long-pass",
        },
    )
    assert wrong.status_code == 200
    right = client.post(
        url,
        {
            "old_password": "correct-horse-battery",
            "new_password1": "another-long-pass",
            "new_password2": "another-long-pass",
        },
    )
    assert right.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another-long-pass")


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["home", "signup", "login", "password_reset", "terms", "privacy"])
def test_public_pages_render(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert b"<main" in response.content
