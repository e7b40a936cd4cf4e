import json

import pytest

from config.coded_text import render
from lists import selectors
from lists.models import ConsentRecord, Subscriber, SubscriberStatus
from lists.services.imports import ROLE_NOTE
from lists.services.suppression import suppression_add
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

CONSENT = {
    "source": "paper_form",
    "obtained_at": "2026-10-01T09:00:00Z",
    "proof": "Signed form no. 118, filed at the Leeds office",
}


@pytest.fixture
def mailing_list(user):
    return MailingListFactory(account=user.account, double_opt_in=True)


def url_of(mailing_list) -> str:
    return f"/api/v1/lists/{mailing_list.pk}/subscribers/bulk/"


def test_mixed_items_get_one_result_each(token_client, mailing_list, user):
    # Given a list with a live subscriber, one who left, and an account-wide suppression
    live = SubscriberFactory(
        mailing_list=mailing_list, email="kept@example.org", name="Kept", attributes={"a": "1"}
    )
    SubscriberFactory(
        mailing_list=mailing_list, email="left@example.org", status=SubscriberStatus.UNSUBSCRIBED
    )
    suppression_add(account=user.account, email="gone@example.org", reason="complained")
    web = {"source": "web_form", "ip": "203.0.113.7", "obtained_at": "2026-09-01T08:00:00Z"}
    items = [
        {
            "email": "New@Example.org",
            "name": "New",
            "attributes": {"city": "Leeds"},
            "consent": CONSENT,
        },
        {
            "email": "kept@example.org",
            "phone": "+44 113 496",
            "attributes": {"b": "2"},
            "consent": web,
        },
        {"email": "not an address", "consent": CONSENT},
        {"email": "gone@example.org", "consent": CONSENT},
        {"email": "bought@example.org", "consent": {**CONSENT, "source": "purchased"}},
        {"email": "NEW@example.org", "consent": CONSENT},
        {"email": "info@example.org", "consent": CONSENT},
        {"email": "left@example.org", "consent": CONSENT},
        {"email": "noproof@example.org", "consent": {"source": "paper_form"}},
        {"email": "x@example.org", "attributes": {"1bad": "x"}, "consent": {}},
        "not an object",
    ]

    # When they are sent in one request
    response = token_client.post(url_of(mailing_list), {"subscribers": items}, format="json")

    # Then each item has its status, in order, and the totals add up
    assert response.status_code == 200, response.json()
    body = response.json()
    created = Subscriber.objects.get(mailing_list=mailing_list, email="new@example.org")
    role = Subscriber.objects.get(mailing_list=mailing_list, email="info@example.org")
    results = body["results"]
    assert results[0] == {
        "index": 0,
        "email": "new@example.org",
        "status": "created",
        "id": created.pk,
    }
    assert results[1] == {
        "index": 1,
        "email": "kept@example.org",
        "status": "updated",
        "id": live.pk,
    }
    assert results[2]["status"] == "error"
    assert results[2]["email"] == "not an address"
    assert list(results[2]["errors"]) == ["email"]
    assert results[3] == {
        "index": 3,
        "email": "gone@example.org",
        "status": "skipped",
        "reason": "Suppressed: This address reported your mail as spam.",
    }
    assert results[4]["status"] == "error"
    assert "not accepted" in results[4]["errors"]["consent"]["source"][0]
    assert results[5] == {
        "index": 5,
        "email": "new@example.org",
        "status": "skipped",
        "reason": "Duplicate of item 0.",
    }
    assert results[6] == {
        "index": 6,
        "email": "info@example.org",
        "status": "created",
        "id": role.pk,
        "warning": render(ROLE_NOTE),
    }
    assert results[7] == {
        "index": 7,
        "email": "left@example.org",
        "status": "skipped",
        "reason": "Unsubscribed from this list.",
    }
    assert list(results[8]["errors"]["consent"]) == ["proof"]
    assert results[9]["errors"]["consent"] == {"source": ["This field is required."]}
    assert "1bad" in results[9]["errors"]["attributes"][0]
    assert results[10] == {
        "index": 10,
        "email": "",
        "status": "error",
        "errors": {"non_field_errors": ["Each subscriber must be an object."]},
    }
    assert [r["index"] for r in results] == list(range(11))
    assert (body["created"], body["updated"], body["skipped"], body["errors"]) == (2, 1, 3, 5)

    # And the rows are as an import would leave them: subscribed, merged, role flagged
    assert (created.status, created.name, created.attributes) == (
        SubscriberStatus.SUBSCRIBED,
        "New",
        {"city": "Leeds"},
    )
    assert role.is_role_address is True
    live.refresh_from_db()
    assert (live.name, live.phone, live.attributes) == ("Kept", "+44 113 496", {"a": "1", "b": "2"})
    assert set(Subscriber.objects.values_list("email", flat=True)) == {
        "new@example.org",
        "kept@example.org",
        "left@example.org",
        "info@example.org",
    }


def test_consent_records_are_written_for_created_and_updated(token_client, mailing_list, user):
    live = SubscriberFactory(mailing_list=mailing_list, email="kept@example.org")
    web = {
        "source": "web_form",
        "ip": "203.0.113.7",
        "obtained_at": "2026-09-01T08:00:00Z",
        "user_agent": "Mozilla/5.0",
        "form_url": "https://example.org/news",
    }
    items = [
        {"email": "new@example.org", "consent": CONSENT},
        {"email": "kept@example.org", "consent": web},
        {"email": "bad", "consent": CONSENT},
    ]

    response = token_client.post(url_of(mailing_list), {"subscribers": items}, format="json")

    assert response.status_code == 200
    new = Subscriber.objects.get(email="new@example.org")
    record = ConsentRecord.objects.get(subscriber=new)
    assert (record.event, record.source, record.proof, record.ip) == (
        "granted",
        "paper_form",
        CONSENT["proof"],
        None,
    )
    assert record.obtained_at.isoformat() == "2026-10-01T09:00:00+00:00"
    assert record.purpose_text == mailing_list.purpose
    assert record.recorded_by_id == user.pk
    assert record.import_job_id is None
    latest = ConsentRecord.objects.filter(subscriber=live).order_by("-id").first()
    assert (latest.source, latest.ip, latest.user_agent, latest.form_url) == (
        "web_form",
        "203.0.113.7",
        "Mozilla/5.0",
        "https://example.org/news",
    )
    assert latest.obtained_at.isoformat() == "2026-09-01T08:00:00+00:00"
    assert ConsentRecord.objects.filter(subscriber=live).count() == 2
    assert ConsentRecord.objects.count() == 3


def test_counters_stay_right_and_sending_again_updates(token_client, mailing_list, settings):
    settings.BULK_UPSERT_CHUNK_SIZE = 7  # several chunks, each its own transaction
    items = [{"email": f"reader{i}@example.org", "consent": CONSENT} for i in range(30)]
    items.append({"email": "sales@example.org", "consent": CONSENT})

    first = token_client.post(url_of(mailing_list), {"subscribers": items}, format="json").json()
    again = token_client.post(url_of(mailing_list), {"subscribers": items}, format="json").json()

    assert (first["created"], first["updated"], first["skipped"], first["errors"]) == (31, 0, 0, 0)
    assert (again["created"], again["updated"], again["skipped"], again["errors"]) == (0, 31, 0, 0)
    assert [r["id"] for r in again["results"]] == [r["id"] for r in first["results"]]
    assert Subscriber.objects.filter(mailing_list=mailing_list).count() == 31
    assert selectors.status_counts(mailing_list=mailing_list)["subscribed"] == 31
    assert selectors.role_address_share(mailing_list=mailing_list) == pytest.approx(1 / 31)
    listed = token_client.get(f"/api/v1/lists/{mailing_list.pk}/subscribers/").json()
    assert listed["count"] == 31
    assert ConsentRecord.objects.count() == 62


def test_more_than_10000_items_are_refused_and_nothing_written(token_client, mailing_list):
    items = [{"email": f"reader{i}@example.org", "consent": CONSENT} for i in range(10_001)]

    response = token_client.post(url_of(mailing_list), {"subscribers": items}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "subscribers": ["At most 10,000 subscribers per request; this one has 10,001."]
    }
    assert not Subscriber.objects.exists()
    assert not ConsentRecord.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"subscribers": []}, {"subscribers": "a@example.org"}, [{"email": "a@example.org"}]],
)
def test_an_invalid_envelope_is_a_400(token_client, mailing_list, body):
    response = token_client.post(url_of(mailing_list), body, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["subscribers"]
    assert not Subscriber.objects.exists()


def test_malformed_json_is_a_400(token_client, mailing_list):
    response = token_client.post(
        url_of(mailing_list), data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert not Subscriber.objects.exists()


def test_an_oversized_body_is_a_413(token_client, mailing_list, settings):
    settings.BULK_UPSERT_MAX_BYTES = 1000
    items = [{"email": f"reader{i}@example.org", "consent": CONSENT} for i in range(20)]

    response = token_client.post(
        url_of(mailing_list),
        data=json.dumps({"subscribers": items}),
        content_type="application/json",
    )

    assert response.status_code == 413
    assert "detail" in response.json()
    assert not Subscriber.objects.exists()


def test_another_accounts_list_is_404(token_client, other_user):
    foreign_list = MailingListFactory(account=other_user.account)
    items = [{"email": "a@example.org", "consent": CONSENT}]

    response = token_client.post(url_of(foreign_list), {"subscribers": items}, format="json")

    assert response.status_code == 404
    assert not Subscriber.objects.exists()


def test_a_read_only_token_gets_403(read_only_token_client, mailing_list):
    items = [{"email": "a@example.org", "consent": CONSENT}]

    response = read_only_token_client.post(
        url_of(mailing_list), {"subscribers": items}, format="json"
    )

    assert response.status_code == 403
    assert not Subscriber.objects.exists()


def test_consent_in_the_future_is_an_item_error(token_client, mailing_list):
    items = [{"email": "a@example.org", "consent": {**CONSENT, "obtained_at": "2999-01-01T00:00Z"}}]

    body = token_client.post(url_of(mailing_list), {"subscribers": items}, format="json").json()

    assert body["results"][0]["errors"] == {
        "consent": {"obtained_at": ["Consent cannot be obtained in the future."]}
    }
    assert not Subscriber.objects.exists()


def test_items_meet_the_same_phone_and_attribute_rules_as_one_by_hand(token_client, mailing_list):
    items = [
        {"email": "short@example.org", "phone": "12", "consent": CONSENT},
        {"email": "letters@example.org", "phone": "call me", "consent": CONSENT},
        {
            "email": "many@example.org",
            "attributes": {f"a{i}": i for i in range(51)},
            "consent": CONSENT,
        },
        {"email": "long@example.org", "attributes": {"note": "x" * 1001}, "consent": CONSENT},
        {"email": "fine@example.org", "phone": "+44 (0)113 496 0000", "consent": CONSENT},
    ]
    response = token_client.post(url_of(mailing_list), {"subscribers": items}, format="json")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [sorted(result.get("errors", {})) for result in results] == [
        ["phone"],
        ["phone"],
        ["attributes"],
        ["attributes"],
        [],
    ]
    assert list(Subscriber.objects.values_list("email", flat=True)) == ["fine@example.org"]
