"""The segments API, the campaign's `segments`, and the browser's segment pages."""

import pytest
from rest_framework.test import APIClient

from accounts.services import api_token_create
from campaigns.models import Segment
from lists.services.tags import subscribers_tags_add
from tests.campaigns.factories import subscribe_many
from tests.lists.factories import MailingListFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tagged(account, mailing_list):
    ids = subscribe_many(mailing_list, 10)
    subscribers_tags_add(account=account, subscriber_ids=ids[:3], names=["vip"])
    return ids


def _segment(token_client, mailing_list, **fields):
    body = {
        "name": "VIPs",
        "lists": [mailing_list.pk],
        "conditions": [{"field": "tag", "op": "has", "value": "vip"}],
        **fields,
    }
    return token_client.post("/api/v1/segments/", body, format="json")


def test_create_read_count_change_and_delete(token_client, mailing_list, tagged):
    created = _segment(token_client, mailing_list)
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "VIPs"
    assert body["lists"] == [mailing_list.pk]
    assert body["match"] == "all"
    assert body["conditions"] == [{"field": "tag", "op": "has", "value": "vip"}]
    segment_id = body["id"]

    assert token_client.get(f"/api/v1/segments/{segment_id}/count/").json() == {"count": 3}
    listed = token_client.get("/api/v1/segments/").json()
    assert [s["id"] for s in listed["results"]] == [segment_id]

    changed = token_client.patch(
        f"/api/v1/segments/{segment_id}/",
        {"conditions": [{"field": "tag", "op": "has_not", "value": "VIP"}]},
        format="json",
    )
    assert changed.status_code == 200
    assert token_client.get(f"/api/v1/segments/{segment_id}/count/").json() == {"count": 7}

    assert token_client.delete(f"/api/v1/segments/{segment_id}/").status_code == 204
    assert token_client.get(f"/api/v1/segments/{segment_id}/").status_code == 404
    assert not Segment.objects.exists()


def test_a_bad_condition_is_a_400_naming_it(token_client, mailing_list):
    answer = _segment(
        token_client,
        mailing_list,
        conditions=[{"field": "opened", "op": "within_days", "value": "x"}],
    )
    assert answer.status_code == 400
    assert "Condition 1" in str(answer.json())
    assert not Segment.objects.exists()


def test_another_accounts_list_is_a_400(token_client, other_user):
    theirs = MailingListFactory(account=other_user.account)
    answer = _segment(token_client, theirs)
    assert answer.status_code == 400
    assert "lists" in answer.json()


def test_another_accounts_segment_is_404_everywhere(token_client, other_user):
    theirs_list = MailingListFactory(account=other_user.account)
    theirs = Segment.objects.create(account=other_user.account, name="Theirs")
    theirs.lists.set([theirs_list])
    for method, path in [
        ("get", f"/api/v1/segments/{theirs.pk}/"),
        ("get", f"/api/v1/segments/{theirs.pk}/count/"),
        ("patch", f"/api/v1/segments/{theirs.pk}/"),
        ("delete", f"/api/v1/segments/{theirs.pk}/"),
    ]:
        assert getattr(token_client, method)(path, {}, format="json").status_code == 404, path
    assert Segment.objects.get(pk=theirs.pk).name == "Theirs"


def test_a_campaign_to_a_segment_only(token_client, campaign_fields, mailing_list, tagged):
    segment_id = _segment(token_client, mailing_list).json()["id"]
    created = token_client.post(
        "/api/v1/campaigns/",
        {**campaign_fields, "lists": [], "segments": [segment_id]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["lists"] == []
    assert body["segments"] == [segment_id]
    audience = token_client.get(f"/api/v1/campaigns/{body['id']}/audience/").json()
    assert audience == {"count": 3}


def test_a_campaign_with_another_accounts_segment_is_a_400(
    token_client, campaign_fields, other_user
):
    theirs = Segment.objects.create(account=other_user.account, name="Theirs")
    answer = token_client.post(
        "/api/v1/campaigns/", {**campaign_fields, "segments": [theirs.pk]}, format="json"
    )
    assert answer.status_code == 400
    assert "segments" in answer.json()


def test_a_campaign_needs_lists_or_segments(token_client, campaign_fields):
    answer = token_client.post(
        "/api/v1/campaigns/", {**campaign_fields, "lists": []}, format="json"
    )
    assert answer.status_code == 400
    assert "lists" in answer.json()


def test_another_accounts_campaign_audience_is_404(other_user, campaign_fields, token_client):
    _, key = api_token_create(user=other_user, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    mine = token_client.post("/api/v1/campaigns/", campaign_fields, format="json").json()["id"]
    assert client.get(f"/api/v1/campaigns/{mine}/audience/").status_code == 404


# --- the browser ---------------------------------------------------------------------------------


def test_the_builder_adds_a_row_then_saves_and_shows_the_count(client, user, mailing_list, tagged):
    client.force_login(user)
    assert client.get("/campaigns/segments/").status_code == 200
    page = client.post(
        "/campaigns/segments/new/",
        {
            "name": "VIPs",
            "lists": [str(mailing_list.pk)],
            "match": "all",
            "rows": "1",
            "c-0-kind": "tag:has",
            "c-0-value": "vip",
            "action": "add",
        },
    )
    assert page.status_code == 200
    assert not Segment.objects.exists()
    assert 'name="c-1-kind"' in page.content.decode()
    saved = client.post(
        "/campaigns/segments/new/",
        {
            "name": "VIPs",
            "lists": [str(mailing_list.pk)],
            "match": "all",
            "rows": "2",
            "c-0-kind": "tag:has",
            "c-0-value": "vip",
            "c-1-kind": "",
            "action": "save",
        },
    )
    segment = Segment.objects.get()
    assert saved.status_code == 302
    assert segment.conditions == [{"field": "tag", "op": "has", "value": "vip"}]
    page = client.get(saved["Location"]).content.decode()
    assert 'id="segment-count"' in page
    assert "<strong>3</strong>" in page


def test_the_builder_shows_the_bad_condition(client, user, mailing_list):
    client.force_login(user)
    page = client.post(
        "/campaigns/segments/new/",
        {
            "name": "Bad",
            "lists": [str(mailing_list.pk)],
            "rows": "1",
            "c-0-kind": "subscribed:before",
            "c-0-value": "yesterday",
            "action": "save",
        },
    )
    assert page.status_code == 200
    assert "Condition 1: give a date as YYYY-MM-DD." in page.content.decode()
    assert not Segment.objects.exists()


def test_another_accounts_segment_pages_are_404(client, user, other_user):
    theirs = Segment.objects.create(account=other_user.account, name="Theirs")
    client.force_login(user)
    assert client.get(f"/campaigns/segments/{theirs.pk}/").status_code == 404
    assert client.post(f"/campaigns/segments/{theirs.pk}/delete/").status_code == 404
    assert Segment.objects.filter(pk=theirs.pk).exists()


def test_the_editor_offers_segments_and_the_draft_page_counts_them(
    client, user, campaign_fields, mailing_list, tagged
):
    segment = Segment.objects.create(
        account=user.account,
        name="VIPs",
        conditions=[{"field": "tag", "op": "has", "value": "vip"}],
    )
    segment.lists.set([mailing_list])
    client.force_login(user)
    editor = client.get("/campaigns/new/").content.decode()
    assert 'name="segments"' in editor
    saved = client.post(
        "/campaigns/new/",
        {**{k: v for k, v in campaign_fields.items() if k != "lists"}, "segments": [segment.pk]},
    )
    assert saved.status_code == 302, saved.content.decode()[:2000]
    page = client.get(saved["Location"]).content.decode()
    assert 'id="campaign-segments"' in page
    assert '<span id="recipient-count">3</span>' in page
