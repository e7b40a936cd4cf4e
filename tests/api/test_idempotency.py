"""`Idempotency-Key` on API POSTs: a retry gets the first answer and creates nothing new."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from accounts.services import api_token_create
from campaigns.models import Campaign
from config import idempotency
from lists.models import ImportJob, MailingList, Subscriber
from tests.factories import SenderDomainFactory, UserFactory
from tests.lists.factories import MailingListFactory

pytestmark = pytest.mark.django_db

CONSENT = {
    "source": "paper_form",
    "obtained_at": "2026-10-01T09:00:00Z",
    "proof": "Signed form no. 118, filed at the Leeds office",
}


@pytest.fixture
def mailing_list(user):
    return MailingListFactory(account=user.account, name="Monthly news", double_opt_in=False)


@pytest.fixture
def campaign_fields(user, mailing_list):
    SenderDomainFactory(
        account=user.account, domain="news.acme.example", verified_at=timezone.now()
    )
    return {
        "name": "November news",
        "lists": [mailing_list.pk],
        "subject": "Hello",
        "from_name": "Acme News",
        "from_email": "news@news.acme.example",
        "html_body": "<p>Hi, see what is new.</p>",
    }


def _client_for(user) -> APIClient:
    _, key = api_token_create(user=user, name="idempotency tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_retried_campaign_creation_returns_the_first_answer_and_creates_one(
    token_client, campaign_fields
):
    first = token_client.post(
        "/api/v1/campaigns/", campaign_fields, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    again = token_client.post(
        "/api/v1/campaigns/", campaign_fields, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert first.status_code == 201
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert again["Content-Type"] == "application/json"
    assert list(Campaign.objects.values_list("pk", flat=True)) == [first.json()["id"]]


def test_a_retried_subscriber_creation_creates_one_subscriber(token_client, mailing_list):
    body = {"email": "jane@example.org", "name": "Jane", "consent": CONSENT}
    url = f"/api/v1/lists/{mailing_list.pk}/subscribers/"

    first = token_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="sub-1")
    # The same body re-serialised with another key order is the same request.
    reordered = {"consent": dict(reversed(CONSENT.items())), "name": "Jane", "email": body["email"]}
    again = token_client.post(url, reordered, format="json", HTTP_IDEMPOTENCY_KEY="sub-1")

    assert first.status_code == 201, first.json()
    assert (again.status_code, again.json()) == (201, first.json())
    assert Subscriber.objects.filter(mailing_list=mailing_list).count() == 1


def test_a_retried_multipart_import_creates_one_import(
    token_client, mailing_list, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    url = f"/api/v1/lists/{mailing_list.pk}/imports/"

    def upload(content: bytes):
        data = {
            "file": SimpleUploadedFile("people.csv", content),
            "consent_source": "paper_form",
            "proof": "Signed forms, box 4 at the office",
        }
        return token_client.post(url, data, format="multipart", HTTP_IDEMPOTENCY_KEY="imp-1")

    first = upload(b"email\nann@example.com\n")
    again = upload(b"email\nann@example.com\n")
    other_file = upload(b"email\nbob@example.com\n")

    assert first.status_code == 202, first.json()
    assert (again.status_code, again.json()) == (202, first.json())
    assert other_file.status_code == 422
    assert ImportJob.objects.count() == 1


def test_the_same_key_with_another_body_is_a_422_that_changes_nothing(
    token_client, campaign_fields
):
    first = token_client.post(
        "/api/v1/campaigns/", campaign_fields, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    changed = token_client.post(
        "/api/v1/campaigns/",
        {**campaign_fields, "subject": "Another subject"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )

    assert first.status_code == 201
    assert changed.status_code == 422
    assert "different request body" in changed.json()["detail"]
    assert Campaign.objects.get().subject == "Hello"


def test_other_accounts_with_the_same_key_are_independent(token_client, campaign_fields):
    other = UserFactory()
    SenderDomainFactory(
        account=other.account, domain="news.other.example", verified_at=timezone.now()
    )
    other_list = MailingListFactory(account=other.account)
    other_fields = {
        **campaign_fields,
        "lists": [other_list.pk],
        "from_email": "news@news.other.example",
    }

    mine = token_client.post(
        "/api/v1/campaigns/", campaign_fields, format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )
    theirs = _client_for(other).post(
        "/api/v1/campaigns/", other_fields, format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in theirs
    assert Campaign.objects.filter(account=other.account).count() == 1
    assert Campaign.objects.count() == 2


def test_two_tokens_of_one_account_share_their_keys(user, token_client):
    body = {
        "name": "News",
        "purpose": "Monthly product news.",
        "privacy_policy_url": "https://example.org/privacy",
    }
    first = token_client.post("/api/v1/lists/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    again = _client_for(user).post("/api/v1/lists/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert (again.status_code, again.json()) == (201, first.json())
    assert MailingList.objects.count() == 1


def test_the_same_key_on_another_path_is_another_request(token_client):
    lists = token_client.post(
        "/api/v1/lists/",
        {"name": "News", "purpose": "News.", "privacy_policy_url": "https://example.org/privacy"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    domains = token_client.post(
        "/api/v1/sender-domains/",
        {"domain": "news.acme.example"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )

    assert (lists.status_code, domains.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in domains


def test_without_a_key_every_post_creates(token_client, campaign_fields):
    answers = [
        token_client.post("/api/v1/campaigns/", campaign_fields, format="json").status_code
        for _ in range(2)
    ]
    assert answers == [201, 201]
    assert Campaign.objects.count() == 2


def test_get_ignores_the_key(token_client, campaign_fields):
    before = token_client.get("/api/v1/campaigns/", HTTP_IDEMPOTENCY_KEY="read")
    token_client.post("/api/v1/campaigns/", campaign_fields, format="json")
    after = token_client.get("/api/v1/campaigns/", HTTP_IDEMPOTENCY_KEY="read")

    assert (before.json()["count"], after.json()["count"]) == (0, 1)
    assert "Idempotent-Replayed" not in after


@pytest.mark.parametrize("key", ["x" * 256, " "])
def test_a_key_too_long_or_blank_is_a_400_that_changes_nothing(token_client, campaign_fields, key):
    response = token_client.post(
        "/api/v1/campaigns/", campaign_fields, format="json", HTTP_IDEMPOTENCY_KEY=key
    )

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert not Campaign.objects.exists()


def test_a_key_of_255_characters_is_fine(token_client, campaign_fields):
    key = "x" * 255
    for _ in range(2):
        response = token_client.post(
            "/api/v1/campaigns/", campaign_fields, format="json", HTTP_IDEMPOTENCY_KEY=key
        )
        assert response.status_code == 201
    assert Campaign.objects.count() == 1


def test_a_refused_request_is_not_kept_so_a_corrected_retry_runs(token_client, campaign_fields):
    refused = token_client.post(
        "/api/v1/campaigns/",
        {**campaign_fields, "from_email": "not-an-address"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    corrected = token_client.post(
        "/api/v1/campaigns/", campaign_fields, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert refused.status_code == 400
    assert corrected.status_code == 201
    assert "Idempotent-Replayed" not in corrected
    assert Campaign.objects.count() == 1


def test_a_duplicate_while_the_first_still_runs_is_a_409(
    token_client, campaign_fields, monkeypatch
):
    from campaigns.api import views

    create = views.services.campaign_create
    seen = []

    def create_while_a_retry_arrives(**kwargs):
        retry = token_client.post(
            "/api/v1/campaigns/", campaign_fields, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
        changed = token_client.post(
            "/api/v1/campaigns/",
            {**campaign_fields, "name": "Other"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="k-1",
        )
        seen.extend([(retry.status_code, retry.json()), (changed.status_code, changed.json())])
        return create(**kwargs)

    monkeypatch.setattr(views.services, "campaign_create", create_while_a_retry_arrives)

    first = token_client.post(
        "/api/v1/campaigns/", campaign_fields, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert first.status_code == 201
    assert seen[0][0] == 409
    assert "still being processed" in seen[0][1]["detail"]
    assert seen[1][0] == 422
    assert Campaign.objects.count() == 1
    # The lock is gone with the first request: a later retry gets its answer.
    monkeypatch.setattr(views.services, "campaign_create", create)
    later = token_client.post(
        "/api/v1/campaigns/", campaign_fields, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert (later.status_code, later.json()) == (201, first.json())


def test_a_crashed_request_lets_go_of_its_key(token_client, campaign_fields, monkeypatch):
    from campaigns.api import views

    create = views.services.campaign_create

    def crash(**kwargs):
        raise RuntimeError("worker died")

    monkeypatch.setattr(views.services, "campaign_create", crash)
    with pytest.raises(RuntimeError):
        token_client.post(
            "/api/v1/campaigns/", campaign_fields, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
    monkeypatch.setattr(views.services, "campaign_create", create)

    retried = token_client.post(
        "/api/v1/campaigns/", campaign_fields, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert retried.status_code == 201
    assert Campaign.objects.count() == 1


class _CountingView(APIView):
    calls = 0

    def post(self, request):
        type(self).calls += 1
        return Response(
            {"n": type(self).calls},
            status=201,
            headers={"Location": f"/things/{type(self).calls}/"},
        )


def test_a_replay_keeps_the_status_and_headers_such_as_location(user):
    factory = APIRequestFactory()
    view = _CountingView.as_view()

    def call():
        request = factory.post("/things/", {"a": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k")
        force_authenticate(request, user=user)
        response = view(request)
        response.render()
        return response

    first, again = call(), call()

    assert _CountingView.calls == 1
    assert (again.status_code, again.data, again["Location"]) == (201, {"n": 1}, "/things/1/")
    assert first["Location"] == "/things/1/"


def test_answers_are_kept_for_a_day(token_client, campaign_fields, monkeypatch):
    kept = {}
    real_set = idempotency.cache.set

    def spy(key, value, timeout=None, **kwargs):
        kept[key] = timeout
        return real_set(key, value, timeout=timeout, **kwargs)

    monkeypatch.setattr(idempotency.cache, "set", spy)
    token_client.post(
        "/api/v1/campaigns/", campaign_fields, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert [timeout for key, timeout in kept.items() if key.startswith("idempotency:")] == [
        24 * 3600
    ]


def _api_routes(patterns=None, prefix=""):
    patterns = get_resolver().url_patterns if patterns is None else patterns
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
            yield route, getattr(pattern.callback, "cls", None)


def test_every_api_post_honours_the_key_except_the_token_exchange():
    posts = {route: cls for route, cls in _api_routes() if cls is not None and hasattr(cls, "post")}

    assert "api/v1/auth/token/" in posts
    assert "api/v1/campaigns/" in posts
    not_covered = sorted(route for route, cls in posts.items() if not idempotency.applies_to(cls))
    assert not_covered == ["api/v1/auth/token/"], (
        "These POST views set their own throttle_classes without "
        "config.idempotency.IdempotencyGate, so they ignore Idempotency-Key: "
        f"{not_covered}"
    )


def test_the_schema_documents_the_header_on_posts_only(api_client, user):
    api_client.force_authenticate(user)
    schema = api_client.get("/api/v1/schema/?format=json")
    paths = schema.json()["paths"]

    def has_header(operation) -> bool:
        return any(
            p["in"] == "header" and p["name"] == "Idempotency-Key"
            for p in operation.get("parameters", [])
        )

    assert has_header(paths["/api/v1/campaigns/"]["post"])
    assert has_header(paths["/api/v1/lists/{list_id}/imports/"]["post"])
    assert not has_header(paths["/api/v1/campaigns/"]["get"])
    assert not has_header(paths["/api/v1/auth/token/"]["post"])
    post = paths["/api/v1/campaigns/"]["post"]
    parameter = next(p for p in post["parameters"] if p["name"] == "Idempotency-Key")
    assert parameter["schema"]["maxLength"] == 255


def test_the_schema_documents_the_throttle_and_key_answers(api_client, user):
    api_client.force_authenticate(user)
    paths = api_client.get("/api/v1/schema/?format=json").json()["paths"]

    create = paths["/api/v1/campaigns/"]["post"]["responses"]
    assert {"400", "409", "422", "429"} <= set(create)
    assert "Retry-After" in create["429"]["headers"]
    assert "422" not in paths["/api/v1/campaigns/"]["get"]["responses"]
    assert "429" in paths["/api/v1/campaigns/"]["get"]["responses"]
