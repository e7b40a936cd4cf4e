import hashlib

import pytest
from django.urls import reverse

from accounts.models import ApiToken
from accounts.services import api_token_create


@pytest.mark.django_db
def test_token_exchange_gives_a_working_token(api_client, user):
    response = api_client.post(
        "/api/v1/auth/token/", {"email": user.email, "password": "correct-horse-battery"}
    )
    assert response.status_code == 200
    key = response.json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    account = api_client.get("/api/v1/account/")
    assert account.status_code == 200
    assert account.json()["company_name"] == user.account.company_name


@pytest.mark.django_db
def test_token_exchange_with_a_wrong_password_is_a_400_detail(api_client, user):
    response = api_client.post("/api/v1/auth/token/", {"email": user.email, "password": "nope"})
    assert response.status_code == 400
    assert "detail" in response.json()
    assert ApiToken.objects.count() == 0


@pytest.mark.django_db
def test_token_exchange_validates_fields(api_client):
    response = api_client.post("/api/v1/auth/token/", {"email": "x"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"email", "password"}


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["", "Token nonsense", "Bearer abc", "Token "])
def test_requests_without_a_valid_token_are_401(api_client, header):
    if header:
        api_client.credentials(HTTP_AUTHORIZATION=header)
    assert api_client.get("/api/v1/sender-domains/").status_code == 401


@pytest.mark.django_db
def test_only_a_digest_of_the_key_is_stored(user):
    token, key = api_token_create(user=user, name="CRM")
    stored = ApiToken.objects.get(pk=token.pk)
    assert key not in (stored.key_digest, stored.prefix + stored.key_digest)
    assert stored.key_digest == hashlib.sha256(key.encode()).hexdigest()
    assert stored.prefix == key[:8]


@pytest.mark.django_db
def test_revoked_token_stops_working(token_client):
    token = ApiToken.objects.get()
    assert token_client.get("/api/v1/account/").status_code == 200
    assert token_client.delete(f"/api/v1/tokens/{token.pk}/").status_code == 204
    assert token_client.get("/api/v1/account/").status_code == 401


@pytest.mark.django_db
def test_a_token_request_reads_the_account_with_the_token(token_client, django_assert_num_queries):
    """The token's one read brings its user and their account; its use is written at most once
    a minute. `request.user.account` used to read the account row again on every API request."""
    with django_assert_num_queries(2):  # the token with its user and account, then its last use
        first = token_client.get("/api/v1/account/")
    with django_assert_num_queries(1):  # used a moment ago: the read alone
        second = token_client.get("/api/v1/account/")
    assert first.status_code == second.status_code == 200
    assert second.json()["company_name"] == token_client.user.account.company_name


@pytest.mark.django_db
def test_read_only_token_can_read_but_not_write(api_client, user):
    _, key = api_token_create(user=user, name="reporting", read_only=True)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/v1/tokens/").status_code == 200
    response = api_client.post("/api/v1/tokens/", {"name": "escalate"})
    assert response.status_code == 403
    assert ApiToken.objects.count() == 1


@pytest.mark.django_db
def test_another_accounts_token_cannot_be_revoked(token_client, other_user):
    theirs, _ = api_token_create(user=other_user, name="theirs")
    assert token_client.delete(f"/api/v1/tokens/{theirs.pk}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    listed = token_client.get("/api/v1/tokens/").json()["results"]
    assert [t["name"] for t in listed] == ["tests"]


@pytest.mark.django_db
def test_tokens_page_shows_a_new_key_once_and_revokes(client, user):
    client.force_login(user)
    response = client.post(reverse("api_tokens"), {"name": "Zapier"})
    token = ApiToken.objects.get(name="Zapier")
    page = response.content.decode()
    assert 'id="new-token"' in page
    assert "Zapier" in page
    again = client.get(reverse("api_tokens")).content.decode()
    assert 'id="new-token"' not in again
    client.post(reverse("api_token_revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_at is not None


@pytest.mark.django_db
def test_schema_and_docs_are_served(client):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/sender-domains/{domain_id}/verify/" in schema.content
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert b"cdn.jsdelivr" not in docs.content


@pytest.mark.django_db
def test_password_guessing_through_the_api_is_throttled(api_client, user):
    answers = [
        api_client.post("/api/v1/auth/token/", {"email": user.email, "password": f"guess{i}"})
        for i in range(11)
    ]
    assert [a.status_code for a in answers[:10]] == [400] * 10
    assert answers[10].status_code == 429
    assert int(answers[10]["Retry-After"]) > 0


@pytest.mark.django_db
def test_forged_forwarded_headers_do_not_reset_the_password_throttle(api_client, user):
    answers = [
        api_client.post(
            "/api/v1/auth/token/",
            {"email": user.email, "password": f"guess{i}"},
            HTTP_X_FORWARDED_FOR=f"10.9.8.{i}",
        )
        for i in range(11)
    ]
    assert answers[10].status_code == 429
