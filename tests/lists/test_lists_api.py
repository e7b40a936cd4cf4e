import pytest

from lists.models import ConsentRecord, MailingList, Subscriber, SubscriberStatus, Suppression
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
    return MailingListFactory(account=user.account, double_opt_in=False)


def test_create_list_requires_a_purpose(token_client):
    response = token_client.post("/api/v1/lists/", {"name": "News", "purpose": " "}, format="json")
    assert response.status_code == 400
    assert "purpose" in response.json()
    assert not MailingList.objects.exists()


def test_create_and_read_a_list(token_client):
    response = token_client.post(
        "/api/v1/lists/",
        {
            "name": "News",
            "purpose": "Monthly product news.",
            "adult_content": True,
            "privacy_policy_url": "https://example.org/privacy",
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "News"
    assert body["double_opt_in"] is True
    assert body["adult_content"] is True
    assert body["subscriber_count"] == 0
    assert body["form_url"].endswith(f"/subscribe/{body['public_id']}/")
    assert token_client.get(f"/api/v1/lists/{body['id']}/").json()["purpose"] == (
        "Monthly product news."
    )


def test_list_names_are_unique_per_account(token_client, mailing_list):
    response = token_client.post(
        "/api/v1/lists/",
        {
            "name": mailing_list.name,
            "purpose": "x",
            "privacy_policy_url": "https://example.org/privacy",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"name": ["You already have a list with this name."]}


def test_add_a_subscriber_with_consent(token_client, mailing_list):
    response = token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/subscribers/",
        {
            "email": "Jane@Example.org",
            "name": "Jane",
            "attributes": {"city": "Leeds"},
            "consent": CONSENT,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["email"] == "jane@example.org"
    assert body["status"] == "subscribed"
    record = ConsentRecord.objects.get(subscriber_id=body["id"])
    assert record.source == "paper_form"
    assert record.proof == CONSENT["proof"]
    assert record.purpose_text == mailing_list.purpose
    assert record.obtained_at.isoformat() == "2026-10-01T09:00:00+00:00"


@pytest.mark.parametrize("source", ["purchased", "leased", "third_party", "open_sources", "phone"])
def test_a_forbidden_source_is_a_400_naming_the_field(token_client, mailing_list, source):
    response = token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/subscribers/",
        {"email": "jane@example.org", "consent": {**CONSENT, "source": source}},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["consent"]
    assert list(response.json()["consent"]) == ["source"]
    assert "not accepted" in response.json()["consent"]["source"][0]
    assert not Subscriber.objects.exists()


def test_a_suppressed_address_is_refused_with_the_reason(token_client, mailing_list, user):
    suppression_add(account=user.account, email="jane@example.org", reason="complained")
    response = token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/subscribers/",
        {"email": "JANE@example.org", "consent": CONSENT},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"email": ["Suppressed: This address reported your mail as spam."]}
    assert not Subscriber.objects.exists()


def test_a_platform_wide_hard_bounce_is_refused_with_the_reason(token_client, mailing_list):
    from lists.services.suppression import platform_suppression_add

    platform_suppression_add(email="gone@example.org", source="amazon_ses")
    response = token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/subscribers/",
        {"email": "Gone@example.org", "consent": CONSENT},
        format="json",
    )

    assert response.status_code == 400
    assert "bounced permanently (known across the service" in response.json()["email"][0]
    assert not Subscriber.objects.exists()


def test_an_address_already_on_the_list_is_refused(token_client, mailing_list):
    SubscriberFactory(mailing_list=mailing_list, email="jane@example.org")
    response = token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/subscribers/",
        {"email": "jane@example.org", "consent": CONSENT},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"email": ["This address is already on the list."]}


def test_filter_and_search_subscribers(token_client, mailing_list):
    SubscriberFactory(mailing_list=mailing_list, email="anna@example.org")
    SubscriberFactory(mailing_list=mailing_list, email="bob@example.org")
    SubscriberFactory(
        mailing_list=mailing_list, email="andy@example.org", status=SubscriberStatus.UNSUBSCRIBED
    )
    url = f"/api/v1/lists/{mailing_list.pk}/subscribers/"
    emails = lambda query: [s["email"] for s in token_client.get(url + query).json()["results"]]  # noqa: E731
    assert emails("") == ["andy@example.org", "bob@example.org", "anna@example.org"]
    assert emails("?status=subscribed") == ["bob@example.org", "anna@example.org"]
    assert emails("?search=An") == ["andy@example.org", "anna@example.org"]
    assert token_client.get(url + "?status=nonsense").status_code == 400
    # Totals come from the database's counters, not a COUNT over the list.
    assert token_client.get(url).json()["count"] == 3
    assert token_client.get(url + "?status=unsubscribed").json()["count"] == 1
    assert token_client.get(url + "?search=an").json()["count"] == 2


def test_patch_changes_fields_not_the_address(token_client, mailing_list):
    subscriber = SubscriberFactory(mailing_list=mailing_list)
    response = token_client.patch(
        f"/api/v1/lists/{mailing_list.pk}/subscribers/{subscriber.pk}/",
        {"name": "New Name", "attributes": {"plan": "pro"}, "email": "other@example.org"},
        format="json",
    )
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert (subscriber.name, subscriber.attributes) == ("New Name", {"plan": "pro"})
    assert subscriber.email != "other@example.org"


def test_delete_unsubscribes_and_suppresses_account_wide(token_client, mailing_list, user):
    subscriber = SubscriberFactory(mailing_list=mailing_list, email="jane@example.org")
    url = f"/api/v1/lists/{mailing_list.pk}/subscribers/{subscriber.pk}/"
    assert token_client.delete(url).json()["status"] == "unsubscribed"
    assert token_client.delete(url).status_code == 200  # idempotent
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED
    assert list(subscriber.consent_records.values_list("event", flat=True)) == [
        "granted",
        "withdrawn",
    ]
    suppression = Suppression.objects.get(account=user.account)
    assert (suppression.email, suppression.reason) == ("jane@example.org", "unsubscribed")
    other_list = MailingListFactory(account=user.account, double_opt_in=False)
    response = token_client.post(
        f"/api/v1/lists/{other_list.pk}/subscribers/",
        {"email": "jane@example.org", "consent": CONSENT},
        format="json",
    )
    assert response.status_code == 400


def test_deleting_a_list_erases_its_subscribers_and_consent(token_client, mailing_list):
    SubscriberFactory.create_batch(3, mailing_list=mailing_list)
    keep = SubscriberFactory()
    assert token_client.delete(f"/api/v1/lists/{mailing_list.pk}/").status_code == 204
    assert list(Subscriber.objects.all()) == [keep]
    assert ConsentRecord.objects.count() == 1


def test_read_only_tokens_cannot_add(read_only_token_client, user):
    mailing_list = MailingListFactory(account=user.account)
    response = read_only_token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/subscribers/",
        {"email": "jane@example.org", "consent": CONSENT},
        format="json",
    )
    assert response.status_code == 403


def test_another_accounts_objects_are_404_everywhere(token_client, other_user):
    foreign_list = MailingListFactory(account=other_user.account)
    foreign = SubscriberFactory(mailing_list=foreign_list, email="their@example.org")
    base = f"/api/v1/lists/{foreign_list.pk}/"
    sub = f"{base}subscribers/{foreign.pk}/"
    assert token_client.get(base).status_code == 404
    assert token_client.patch(base, {"name": "x"}, format="json").status_code == 404
    assert token_client.delete(base).status_code == 404
    assert token_client.get(f"{base}subscribers/").status_code == 404
    post = token_client.post(
        f"{base}subscribers/", {"email": "a@example.org", "consent": CONSENT}, format="json"
    )
    assert post.status_code == 404
    assert token_client.get(sub).status_code == 404
    assert token_client.patch(sub, {"name": "x"}, format="json").status_code == 404
    assert token_client.delete(sub).status_code == 404
    assert token_client.post(f"{base}imports/", {}).status_code == 404
    assert token_client.get("/api/v1/lists/").json()["count"] == 0
    export = token_client.get("/api/v1/subscribers/export/?email=their@example.org").json()
    assert export["subscriptions"] == []
    token_client.post("/api/v1/subscribers/erase/", {"email": "their@example.org"}, format="json")
    foreign.refresh_from_db()
    assert foreign.status == SubscriberStatus.SUBSCRIBED


def test_services_refuse_bad_attributes_and_column_maps_on_the_field(mailing_list):
    from config.errors import ApplicationError
    from lists.services.imports import column_map_check
    from lists.services.subscribers import subscriber_update

    subscriber = SubscriberFactory(mailing_list=mailing_list)
    with pytest.raises(ApplicationError) as refused:
        subscriber_update(subscriber=subscriber, attributes=["not", "an", "object"])
    assert refused.value.field == "attributes"
    with pytest.raises(ApplicationError) as refused:
        subscriber_update(subscriber=subscriber, attributes={"first name": "x"})
    assert refused.value.field == "attributes"
    for bad in ({}, {"email": 0, "colour": 1}, {"email": 0, "attributes": ["name"]}):
        with pytest.raises(ApplicationError) as refused:
            column_map_check(bad, header=["email", "name"])
        assert refused.value.field == "column_map"
