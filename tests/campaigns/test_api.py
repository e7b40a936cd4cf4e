"""The campaigns API as integrators call it."""

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.services import api_token_create
from campaigns.models import Campaign
from tests.campaigns.factories import CampaignFactory
from tests.lists.factories import SubscriberFactory


@pytest.fixture(autouse=True)
def _analyser(settings):
    settings.CONTENT_ANALYSER = "tests.campaigns.test_services.review_analyser"


def test_create_list_get_and_patch(token_client, campaign_fields, mailing_list):
    created = token_client.post("/api/v1/campaigns/", campaign_fields, format="json")

    assert created.status_code == 201
    body = created.json()
    assert body["status"] == "draft"
    assert body["lists"] == [mailing_list.pk]
    assert body["from_email"] == "news@news.acme.example"
    assert set(body) >= {
        "id",
        "name",
        "subject",
        "from_name",
        "html_body",
        "text_body",
        "created_at",
    }
    campaign_id = body["id"]

    listed = token_client.get("/api/v1/campaigns/?status=draft").json()
    assert [c["id"] for c in listed["results"]] == [campaign_id]
    assert listed["count"] == 1
    assert token_client.get("/api/v1/campaigns/?status=sent").json()["count"] == 0

    changed = token_client.patch(
        f"/api/v1/campaigns/{campaign_id}/", {"subject": "Changed"}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["subject"] == "Changed"
    assert token_client.get(f"/api/v1/campaigns/{campaign_id}/").json()["subject"] == "Changed"


def test_an_unverified_sender_is_a_draft_but_its_submission_is_a_400_on_the_field(
    token_client, campaign_fields, subscriber
):
    campaign_fields["from_email"] = "news@elsewhere.example"

    created = token_client.post("/api/v1/campaigns/", campaign_fields, format="json")
    campaign_id = created.json()["id"]
    submitted = token_client.post(f"/api/v1/campaigns/{campaign_id}/submit/")

    assert created.status_code == 201
    assert submitted.status_code == 400
    assert "is not on a sender domain of your account" in submitted.json()["from_email"][0]
    assert Campaign.objects.get().status == "draft"


def test_missing_fields_and_bad_types_are_400s(token_client, campaign_fields):
    assert token_client.post("/api/v1/campaigns/", {}, format="json").status_code == 400
    campaign_fields["lists"] = "all"
    response = token_client.post("/api/v1/campaigns/", campaign_fields, format="json")
    assert response.status_code == 400
    assert "lists" in response.json()


def test_a_bad_merge_tag_is_a_400_naming_the_field(token_client, campaign_fields):
    campaign_fields["html_body"] = "<p>{{ subscriber.__init__.__globals__ }}</p>"

    response = token_client.post("/api/v1/campaigns/", campaign_fields, format="json")

    assert response.status_code == 400
    assert "underscore" in response.json()["html_body"][0]


def test_editing_a_submitted_campaign_is_a_409(token_client, campaign_fields, subscriber):
    campaign_id = token_client.post("/api/v1/campaigns/", campaign_fields, format="json").json()[
        "id"
    ]
    assert token_client.post(f"/api/v1/campaigns/{campaign_id}/submit/").status_code == 200

    response = token_client.patch(f"/api/v1/campaigns/{campaign_id}/", {"name": "x"}, format="json")

    assert response.status_code == 409
    assert response.json()["status"] == "submitted"
    assert token_client.delete(f"/api/v1/campaigns/{campaign_id}/").status_code == 409


def test_preview_renders_the_footer_for_a_subscriber_or_a_sample(
    token_client, campaign_fields, mailing_list
):
    campaign_id = token_client.post("/api/v1/campaigns/", campaign_fields, format="json").json()[
        "id"
    ]

    sample = token_client.post(f"/api/v1/campaigns/{campaign_id}/preview/").json()
    assert sample["recipient"] == {
        "email": "jane.doe@example.com",
        "name": "Jane Doe",
        "subscriber_id": None,
        "is_sample": True,
    }
    assert sample["subject"] == "Hello Jane"

    ann = SubscriberFactory(mailing_list=mailing_list, email="ann@example.org", name="Ann Lee")
    preview = token_client.post(
        f"/api/v1/campaigns/{campaign_id}/preview/", {"subscriber_id": ann.pk}, format="json"
    ).json()
    assert preview["recipient"]["subscriber_id"] == ann.pk
    assert preview["subject"] == "Hello Ann"
    assert "Hi Ann Lee" in preview["html"]
    assert 'id="compliance-footer"' in preview["html"]
    assert "Unsubscribe: http://" in preview["text"]
    assert preview["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert preview["from_header"] == "Acme News <news@news.acme.example>"


def test_test_send_and_submit(token_client, campaign_fields, subscriber):
    campaign_id = token_client.post("/api/v1/campaigns/", campaign_fields, format="json").json()[
        "id"
    ]

    sent = token_client.post(f"/api/v1/campaigns/{campaign_id}/test/")
    assert sent.status_code == 201
    assert sent.json()["to_email"] == token_client.user.email
    assert [m.to for m in mail.outbox] == [[token_client.user.email]]

    submitted = token_client.post(f"/api/v1/campaigns/{campaign_id}/submit/")
    assert submitted.status_code == 200
    assert submitted.json()["status"] == "submitted"
    assert submitted.json()["findings"][0]["code"] == "subject.all_caps"


def test_blocked_submission_answers_with_the_findings(
    token_client, campaign_fields, subscriber, settings
):
    settings.CONTENT_ANALYSER = "tests.campaigns.test_services.blocking_analyser"
    campaign_id = token_client.post("/api/v1/campaigns/", campaign_fields, format="json").json()[
        "id"
    ]

    response = token_client.post(f"/api/v1/campaigns/{campaign_id}/submit/")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("The campaign cannot be submitted")
    assert [f["code"] for f in response.json()["findings"]] == [
        "link.shortener",
        "subject.all_caps",
    ]


def test_cancel_then_delete(token_client, campaign_fields):
    campaign_id = token_client.post("/api/v1/campaigns/", campaign_fields, format="json").json()[
        "id"
    ]

    cancelled = token_client.post(f"/api/v1/campaigns/{campaign_id}/cancel/", {"reason": "no"})
    assert cancelled.json()["status"] == "cancelled"
    assert token_client.post(f"/api/v1/campaigns/{campaign_id}/submit/").status_code == 409
    assert token_client.delete(f"/api/v1/campaigns/{campaign_id}/").status_code == 204
    assert not Campaign.objects.exists()


def test_a_frozen_account_gets_403_on_what_sends(token_client, campaign_fields, subscriber):
    campaign_id = token_client.post("/api/v1/campaigns/", campaign_fields, format="json").json()[
        "id"
    ]
    account = token_client.user.account
    account.state = "frozen"
    account.save()

    for path in ("test", "submit"):
        response = token_client.post(f"/api/v1/campaigns/{campaign_id}/{path}/")
        assert response.status_code == 403
        assert "frozen" in response.json()["detail"]
    assert (
        token_client.post("/api/v1/campaigns/", campaign_fields, format="json").status_code == 403
    )


def test_another_accounts_campaign_is_404_everywhere(token_client, other_user):
    foreign = CampaignFactory(account=other_user.account)
    base = f"/api/v1/campaigns/{foreign.pk}/"

    assert token_client.get(base).status_code == 404
    assert token_client.patch(base, {"name": "x"}, format="json").status_code == 404
    assert token_client.delete(base).status_code == 404
    for action in ("preview", "test", "submit", "cancel"):
        assert token_client.post(f"{base}{action}/").status_code == 404
    assert token_client.get("/api/v1/campaigns/").json()["count"] == 0
    foreign.refresh_from_db()
    assert (foreign.status, foreign.name) == ("draft", foreign.name)
    assert mail.outbox == []


def test_a_read_only_token_can_read_but_not_write(user, campaign_fields):
    _, key = api_token_create(user=user, name="ro", read_only=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert client.get("/api/v1/campaigns/").status_code == 200
    assert client.post("/api/v1/campaigns/", campaign_fields, format="json").status_code == 403
    assert not Campaign.objects.exists()


def test_anonymous_is_refused(api_client):
    assert api_client.get("/api/v1/campaigns/").status_code == 401


def test_the_schema_documents_the_campaign_endpoints_without_warnings(client, tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    schema = (tmp_path / "s.yml").read_text()

    for path in ("/api/v1/campaigns/", "/api/v1/campaigns/{campaign_id}/preview/"):
        assert f"  {path}:" in schema
