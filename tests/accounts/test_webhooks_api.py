"""The webhooks API and browser pages: account scoping, the secret shown once, the test event
button, the delivery log; and the import.finished event from a real import."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts import webhooks
from accounts.models import WebhookDelivery, WebhookEndpoint
from tests.accounts.webhook_receiver import start_receiver
from tests.factories import UserFactory


@pytest.fixture
def receiver():
    r = start_receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _create(client, url, events=("subscriber.unsubscribed",), **extra):
    return client.post(
        "/api/v1/webhooks/", {"url": url, "events": list(events), **extra}, format="json"
    )


@pytest.mark.django_db
def test_create_shows_the_secret_once_and_lists_without_it(token_client, receiver):
    response = _create(token_client, receiver.url, description="CRM")
    assert response.status_code == 201, response.json()
    body = response.json()
    endpoint = WebhookEndpoint.objects.get()
    assert body["secret"] == endpoint.secret and body["secret"].startswith("whsec_")
    assert body["url"] == receiver.url
    assert body["events"] == ["subscriber.unsubscribed"]
    assert body["is_active"] is True and body["description"] == "CRM"
    assert endpoint.account == token_client.user.account

    listed = token_client.get("/api/v1/webhooks/").json()
    assert listed["count"] == 1
    assert listed["results"][0]["id"] == endpoint.pk
    assert "secret" not in listed["results"][0]
    assert "secret" not in token_client.get(f"/api/v1/webhooks/{endpoint.pk}/").json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "ftp://example.com/x", "events": ["import.finished"]}, "url"),
        ({"url": "https://example.com/x", "events": ["subscriber.deleted"]}, "events"),
        ({"url": "https://example.com/x", "events": []}, "events"),
        ({"events": ["import.finished"]}, "url"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(token_client, payload, field):
    response = token_client.post("/api/v1/webhooks/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.django_db
def test_a_private_url_is_a_400_when_not_allowed(token_client, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    response = _create(token_client, "http://169.254.169.254/latest/")
    assert response.status_code == 400
    assert "private" in response.json()["url"][0]
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.django_db
def test_patch_changes_events_and_can_disable(token_client, receiver):
    endpoint_id = _create(token_client, receiver.url).json()["id"]
    response = token_client.patch(
        f"/api/v1/webhooks/{endpoint_id}/",
        {"events": ["import.finished", "campaign.status_changed"], "is_active": False},
        format="json",
    )
    assert response.status_code == 200, response.json()
    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    # Kept in the documented order, whatever order they were sent in.
    assert endpoint.events == ["campaign.status_changed", "import.finished"]
    assert endpoint.is_active is False
    assert response.json()["is_active"] is False


@pytest.mark.django_db
def test_another_accounts_webhook_is_a_404_everywhere(token_client, receiver):
    stranger = UserFactory()
    theirs, _ = webhooks.webhook_endpoint_create(
        account=stranger.account, url=receiver.url, events=["import.finished"]
    )
    base = f"/api/v1/webhooks/{theirs.pk}/"
    assert token_client.get(base).status_code == 404
    assert token_client.patch(base, {"is_active": False}, format="json").status_code == 404
    assert token_client.delete(base).status_code == 404
    assert token_client.post(base + "test/").status_code == 404
    assert token_client.get(base + "deliveries/").status_code == 404
    assert token_client.get("/api/v1/webhooks/").json()["count"] == 0
    theirs.refresh_from_db()
    assert theirs.is_active is True
    assert WebhookDelivery.objects.count() == 0
    assert receiver.requests == []


@pytest.mark.django_db
def test_read_only_token_can_list_but_not_create(read_only_token_client, receiver):
    assert read_only_token_client.get("/api/v1/webhooks/").status_code == 200
    assert _create(read_only_token_client, receiver.url).status_code == 403
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.django_db
def test_unauthenticated_is_refused(api_client):
    assert api_client.get("/api/v1/webhooks/").status_code in (401, 403)


@pytest.mark.django_db
def test_test_event_is_delivered_signed_and_logged(
    token_client, receiver, django_capture_on_commit_callbacks
):
    created = _create(token_client, receiver.url).json()
    with django_capture_on_commit_callbacks(execute=True):
        response = token_client.post(f"/api/v1/webhooks/{created['id']}/test/")
    assert response.status_code == 202
    [request] = receiver.requests
    assert request.headers["X-ConsentMail-Event"] == "webhook.test"
    assert webhooks.signature_verify(
        secret=created["secret"],
        header=request.headers["X-ConsentMail-Signature"],
        body=request.body,
    )
    assert json.loads(request.body)["data"]["endpoint_id"] == created["id"]

    log = token_client.get(f"/api/v1/webhooks/{created['id']}/deliveries/").json()
    assert log["count"] == 1
    entry = log["results"][0]
    assert entry["id"] == response.json()["id"]
    assert (entry["event"], entry["status"], entry["status_code"], entry["attempt"]) == (
        "webhook.test",
        "succeeded",
        200,
        1,
    )
    assert entry["response_excerpt"] == "ok"


@pytest.mark.django_db
def test_delete_removes_the_webhook_and_its_log(token_client, receiver):
    endpoint_id = _create(token_client, receiver.url).json()["id"]
    webhooks.webhook_send_test(
        account=token_client.user.account, endpoint_id=endpoint_id
    )  # not committed in this test: only the row exists
    assert token_client.delete(f"/api/v1/webhooks/{endpoint_id}/").status_code == 204
    assert WebhookEndpoint.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0


# --- Browser pages ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_browser_create_shows_the_secret_once_and_the_test_button_works(
    client, user, receiver, django_capture_on_commit_callbacks
):
    client.force_login(user)
    page = client.get(reverse("webhooks"))
    assert page.status_code == 200
    assert b"X-ConsentMail-Signature" in page.content
    response = client.post(
        reverse("webhooks"), {"url": receiver.url, "events": ["import.finished"]}
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get(account=user.account)
    assert endpoint.secret.encode() in response.content
    detail = client.get(reverse("webhook", args=[endpoint.pk]))
    assert detail.status_code == 200
    assert endpoint.secret.encode() not in detail.content

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("webhook_test", args=[endpoint.pk]))
    assert response.status_code == 302
    assert len(receiver.requests) == 1
    detail = client.get(reverse("webhook", args=[endpoint.pk]))
    assert b"webhook.test" in detail.content and b"HTTP 200" in detail.content


@pytest.mark.django_db
def test_browser_pages_are_scoped_to_the_account(client, user, receiver):
    stranger = UserFactory()
    theirs, _ = webhooks.webhook_endpoint_create(
        account=stranger.account, url=receiver.url, events=["import.finished"]
    )
    client.force_login(user)
    assert client.get(reverse("webhook", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("webhook_test", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("webhook_rotate_secret", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("webhook_delete", args=[theirs.pk])).status_code == 404
    assert WebhookEndpoint.objects.filter(pk=theirs.pk, secret=theirs.secret).exists()
    assert receiver.requests == []


@pytest.mark.django_db
def test_profile_and_token_pages_link_to_webhooks(client, user):
    client.force_login(user)
    link = f'href="{reverse("webhooks")}"'.encode()
    assert link in client.get(reverse("profile")).content
    assert link in client.get(reverse("api_tokens")).content


# --- import.finished from a real import ----------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_import_finishing_fires_one_import_finished_and_no_per_row_events(
    user, receiver, settings, tmp_path
):
    from lists.services.imports import import_create
    from tests.lists.factories import MailingListFactory

    settings.MEDIA_ROOT = str(tmp_path / "media")
    mailing_list = MailingListFactory(account=user.account)
    webhooks.webhook_endpoint_create(
        account=user.account, url=receiver.url, events=list(webhooks.EVENTS)
    )
    upload = SimpleUploadedFile(
        "people.csv", b"email,name\nann@example.org,Ann\nbob@example.org,Bob\n"
    )
    job = import_create(
        mailing_list=mailing_list,
        user=user,
        upload=upload,
        consent_source="paper_form",
        proof="Signed forms, box 4",
    )  # eager: the import runs after commit, and its webhook goes out when it finishes
    job.refresh_from_db()
    assert job.status == "done"
    assert [r.headers["X-ConsentMail-Event"] for r in receiver.requests] == ["import.finished"]
    data = json.loads(receiver.requests[0].body)["data"]
    assert data == {
        "import_id": job.pk,
        "list_id": mailing_list.pk,
        "status": "done",
        "total_rows": job.total_rows,
        "imported": 2,
        "updated": 0,
        "skipped": 0,
        "suppressed": 0,
        "failure_reason": "",
    }


@pytest.mark.django_db
def test_a_delivery_error_reads_in_the_readers_language(token_client, client, user, receiver):
    import uuid

    from accounts.models import WebhookDelivery

    endpoint, _ = webhooks.webhook_endpoint_create(
        account=user.account, url=receiver.url, events=["import.finished"]
    )
    WebhookDelivery.objects.create(
        endpoint=endpoint,
        event="import.finished",
        event_id=uuid.uuid4(),
        payload={},
        status="failed",
        status_code=503,
        error={"code": "accounts.webhook.http_status", "params": {"status": 503}},
    )
    url = f"/api/v1/webhooks/{endpoint.pk}/deliveries/"

    russian = token_client.get(url, headers={"accept-language": "ru"}).json()
    english = token_client.get(url, headers={"accept-language": "en"}).json()

    assert russian["results"][0]["error"] == "Ответ HTTP 503."
    assert english["results"][0]["error"] == "HTTP 503."
    user.language = "ru"
    user.save(update_fields=["language"])
    client.force_login(user)
    page = client.get(f"/account/webhooks/{endpoint.pk}/").content.decode()
    assert "Ответ HTTP 503." in page and "&#x27;code&#x27;" not in page
