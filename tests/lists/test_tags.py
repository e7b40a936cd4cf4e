"""Tags on subscribers: the services, the API, the import column and the subscriber's page."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from lists.models import Subscriber, SubscriberTag, Tag
from lists.services import tags as tag_services
from lists.services.subscribers import subscribers_delete
from lists.services.suppression import suppression_add
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailing_list(user):
    return MailingListFactory(account=user.account)


@pytest.fixture
def ann(mailing_list):
    return SubscriberFactory(mailing_list=mailing_list, email="ann@example.org")


def _names(subscriber) -> list[str]:
    return sorted(
        SubscriberTag.objects.filter(subscriber=subscriber).values_list("tag__name", flat=True)
    )


def test_names_split_on_commas_and_semicolons_once_each():
    assert tag_services.tag_names_split(" vip ; Customer,vip,, customer ;x  y") == [
        "vip",
        "Customer",
        "x y",
    ]
    assert tag_services.tag_names_split("") == []


def test_tags_are_per_account_and_case_insensitive(user, other_user, ann):
    tag_services.subscribers_tags_add(account=user.account, subscriber_ids=[ann.pk], names=["VIP"])
    tag_services.subscribers_tags_add(account=user.account, subscriber_ids=[ann.pk], names=["vip"])
    assert _names(ann) == ["VIP"]
    assert Tag.objects.filter(account=user.account).count() == 1
    theirs = SubscriberFactory(mailing_list=MailingListFactory(account=other_user.account))
    tag_services.subscribers_tags_add(
        account=other_user.account, subscriber_ids=[theirs.pk], names=["vip"]
    )
    assert Tag.objects.count() == 2


def test_another_accounts_subscriber_cannot_be_tagged(user, other_user, ann):
    from config.errors import NotFound

    with pytest.raises(NotFound):
        tag_services.subscribers_tags_add(
            account=other_user.account, subscriber_ids=[ann.pk], names=["x"]
        )
    assert not SubscriberTag.objects.exists()


def test_remove_and_set(user, ann):
    tag_services.subscribers_tags_add(
        account=user.account, subscriber_ids=[ann.pk], names=["a", "b", "c"]
    )
    assert (
        tag_services.subscribers_tags_remove(
            account=user.account, subscriber_ids=[ann.pk], names=["B"]
        )
        == 1
    )
    assert _names(ann) == ["a", "c"]
    tag_services.subscriber_tags_set(account=user.account, subscriber=ann, names=["c", "d"])
    assert _names(ann) == ["c", "d"]


def test_erasing_subscribers_takes_their_tag_links(user, mailing_list, ann):
    tag_services.subscribers_tags_add(account=user.account, subscriber_ids=[ann.pk], names=["a"])
    subscribers_delete(Subscriber.objects.filter(mailing_list=mailing_list))
    assert not SubscriberTag.objects.exists()
    assert Tag.objects.filter(account=user.account).exists()


# --- API -----------------------------------------------------------------------------------------


def test_api_add_remove_and_list(token_client, mailing_list, ann):
    base = f"/api/v1/lists/{mailing_list.pk}/subscribers/{ann.pk}"
    added = token_client.post(f"{base}/tags/", {"tags": ["vip", "Customer"]}, format="json")
    assert added.status_code == 200
    assert added.json()["tags"] == ["Customer", "vip"]
    assert token_client.get(f"{base}/").json()["tags"] == ["Customer", "vip"]
    page = token_client.get(f"/api/v1/lists/{mailing_list.pk}/subscribers/").json()
    assert page["results"][0]["tags"] == ["Customer", "vip"]
    removed = token_client.post(f"{base}/tags/remove/", {"tags": ["VIP"]}, format="json")
    assert removed.json()["tags"] == ["Customer"]
    tags = token_client.get("/api/v1/tags/").json()
    assert {(t["name"], t["subscriber_count"]) for t in tags["results"]} == {
        ("Customer", 1),
        ("vip", 0),
    }


def test_api_bulk_and_delete(token_client, mailing_list, ann):
    bob = SubscriberFactory(mailing_list=mailing_list)
    answer = token_client.post(
        "/api/v1/tags/add/", {"subscribers": [ann.pk, bob.pk], "tags": ["x"]}, format="json"
    )
    assert answer.status_code == 204
    assert SubscriberTag.objects.count() == 2
    answer = token_client.post(
        "/api/v1/tags/remove/", {"subscribers": [bob.pk], "tags": ["x"]}, format="json"
    )
    assert answer.status_code == 204
    assert _names(ann) == ["x"] and _names(bob) == []
    tag = Tag.objects.get()
    assert token_client.delete(f"/api/v1/tags/{tag.pk}/").status_code == 204
    assert not SubscriberTag.objects.exists()


def test_api_another_accounts_subscriber_and_tag_are_404(token_client, other_user):
    theirs_list = MailingListFactory(account=other_user.account)
    theirs = SubscriberFactory(mailing_list=theirs_list)
    tag_services.subscribers_tags_add(
        account=other_user.account, subscriber_ids=[theirs.pk], names=["secret"]
    )
    base = f"/api/v1/lists/{theirs_list.pk}/subscribers/{theirs.pk}"
    assert token_client.post(f"{base}/tags/", {"tags": ["x"]}, format="json").status_code == 404
    bulk = token_client.post(
        "/api/v1/tags/add/", {"subscribers": [theirs.pk], "tags": ["x"]}, format="json"
    )
    assert bulk.status_code == 404
    tag = Tag.objects.get(name="secret")
    assert token_client.delete(f"/api/v1/tags/{tag.pk}/").status_code == 404
    assert token_client.get("/api/v1/tags/").json()["count"] == 0
    assert _names(theirs) == ["secret"]


def test_api_refuses_bad_tags(token_client, mailing_list, ann):
    base = f"/api/v1/lists/{mailing_list.pk}/subscribers/{ann.pk}"
    assert token_client.post(f"{base}/tags/", {"tags": "vip"}, format="json").status_code == 400
    assert (
        token_client.post(f"{base}/tags/", {"tags": ["x" * 65]}, format="json").status_code == 400
    )
    assert token_client.post(f"{base}/tags/", {"tags": []}, format="json").status_code == 400
    assert not SubscriberTag.objects.exists()


# --- import --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_import_tags_column(token_client, mailing_list, user, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    existing = SubscriberFactory(mailing_list=mailing_list, email="bob@example.com")
    suppression_add(account=user.account, email="eve@example.com", reason="complained")
    content = (
        b"email,name,tags\n"
        b"ann@example.com,Ann,vip; customer\n"
        b"bob@example.com,Bob,customer\n"
        b"cat@example.com,Cat,\n"
        b"eve@example.com,Eve,vip\n"
    )
    answer = token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/imports/",
        {
            "file": SimpleUploadedFile("t.csv", content),
            "consent_source": "paper_form",
            "proof": "Signed forms",
        },
        format="multipart",
    )
    assert answer.status_code == 202, answer.json()
    body = token_client.get(f"/api/v1/imports/{answer.json()['id']}/").json()
    assert body["status"] == "done", body
    assert body["column_map"]["tags"] == 2
    by_email = {s.email: s for s in Subscriber.objects.filter(mailing_list=mailing_list)}
    assert _names(by_email["ann@example.com"]) == ["customer", "vip"]
    assert _names(existing) == ["customer"]
    assert _names(by_email["cat@example.com"]) == []
    assert "eve@example.com" not in by_email
    assert SubscriberTag.objects.count() == 3


# --- the subscriber's page -----------------------------------------------------------------------


def test_the_page_adds_and_removes_tags(client, user, mailing_list, ann):
    client.force_login(user)
    page = f"/lists/{mailing_list.pk}/subscribers/{ann.pk}/"
    assert 'id="subscriber-tags"' in client.get(page).content.decode()
    answer = client.post(f"{page}tags/", {"tags": "vip, customer"})
    assert answer.status_code == 302
    assert _names(ann) == ["customer", "vip"]
    shown = client.get(page).content.decode()
    assert '<span class="tag-name">vip</span>' in shown
    client.post(f"{page}tags/remove/", {"tag": "vip"})
    assert _names(ann) == ["customer"]


def test_the_page_of_another_accounts_subscriber_is_404(client, other_user, mailing_list, ann):
    client.force_login(other_user)
    page = f"/lists/{mailing_list.pk}/subscribers/{ann.pk}/"
    assert client.post(f"{page}tags/", {"tags": "x"}).status_code == 404
    assert _names(ann) == []
