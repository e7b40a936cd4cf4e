import pytest

from lists.addresses import address_hash
from lists.models import ConsentRecord, ImportJob, ImportRowIssue, Subscriber, Suppression
from lists.services.subscribers import subscriber_unsubscribe
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


def test_export_holds_everything_about_the_address(token_client, user):
    news = MailingListFactory(account=user.account, name="News")
    offers = MailingListFactory(account=user.account, name="Offers")
    SubscriberFactory(mailing_list=news, email="jane@example.org", attributes={"city": "Leeds"})
    left = SubscriberFactory(mailing_list=offers, email="jane@example.org")
    subscriber_unsubscribe(subscriber=left, channel="api")
    SubscriberFactory(mailing_list=news, email="someone@example.org")

    body = token_client.get("/api/v1/subscribers/export/?email=Jane@Example.org").json()

    assert body["email"] == "jane@example.org"
    assert [(s["list"], s["status"]) for s in body["subscriptions"]] == [
        ("News", "subscribed"),
        ("Offers", "unsubscribed"),
    ]
    assert body["subscriptions"][0]["attributes"] == {"city": "Leeds"}
    assert [c["event"] for c in body["subscriptions"][1]["consent"]] == ["granted", "withdrawn"]
    assert body["subscriptions"][0]["consent"][0]["ip"] == "203.0.113.9"
    assert body["suppression"]["reason"] == "unsubscribed"
    assert "someone@example.org" not in str(body)


def test_export_refuses_an_invalid_address(token_client):
    response = token_client.get("/api/v1/subscribers/export/?email=not-an-address")
    assert response.status_code == 400
    assert "email" in response.json()


def test_erasure_leaves_only_a_hash(token_client, user):
    news = MailingListFactory(account=user.account)
    offers = MailingListFactory(account=user.account)
    SubscriberFactory(mailing_list=news, email="jane@example.org")
    left = SubscriberFactory(mailing_list=offers, email="jane@example.org")
    subscriber_unsubscribe(subscriber=left)
    other = SubscriberFactory(mailing_list=news, email="keep@example.org")
    job = ImportJob.objects.create(
        account=user.account,
        mailing_list=news,
        original_filename="a.csv",
        file_format="csv",
        consent_source="paper_form",
    )
    ImportRowIssue.objects.create(import_job=job, row=3, email="jane@example.org", reason="x")

    response = token_client.post(
        "/api/v1/subscribers/erase/", {"email": "JANE@example.org"}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {"subscribers_erased": 2}
    assert list(Subscriber.objects.all()) == [other]
    assert list(ConsentRecord.objects.values_list("subscriber_id", flat=True)) == [other.pk]
    assert ImportRowIssue.objects.get().email == ""
    suppression = Suppression.objects.get(account=user.account)
    assert suppression.email == ""
    assert suppression.email_hash == address_hash(user.account.pk, "jane@example.org")
    assert suppression.reason == "unsubscribed"  # the first reason stays
    # Nothing in the database still holds the address in clear.
    assert "jane@example.org" not in str(
        list(Suppression.objects.values()) + list(ImportRowIssue.objects.values())
    )
    # ...and the hash keeps it from coming back.
    again = token_client.post(
        f"/api/v1/lists/{news.pk}/subscribers/",
        {"email": "jane@example.org", "consent": {"source": "api", "proof": "CRM"}},
        format="json",
    )
    assert again.status_code == 400
    assert again.json() == {"email": ["Suppressed: This address unsubscribed from your mail."]}


def test_erasing_an_unknown_address_still_suppresses_it(token_client, user):
    response = token_client.post(
        "/api/v1/subscribers/erase/", {"email": "ghost@example.org"}, format="json"
    )
    assert response.json() == {"subscribers_erased": 0}
    suppression = Suppression.objects.get()
    assert (suppression.email, suppression.reason) == ("", "erased")
    token_client.post("/api/v1/subscribers/erase/", {"email": "ghost@example.org"}, format="json")
    assert Suppression.objects.count() == 1
