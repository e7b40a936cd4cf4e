"""The unsubscribe page's preferences (issue 22): leave this list or every list of this sender,
see the sender's other lists the address is on (names only, that sender's only), each change a
consent record, and "Unsubscribed by mistake?" linking to the list's form. RFC 8058's one-click
POST still leaves this list only."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from campaigns.tokens import MessageTokens
from complaints.services import ALL_LISTS_CHANNEL
from lists.models import ConsentEvent, ConsentRecord, Subscriber
from lists.services.suppression import suppression_reason
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_rate_limits():
    cache.clear()


@pytest.fixture
def other_lists(account, subscriber):
    """Two more lists of the sender with the address, one of them unconfirmed, one without it;
    and another sender's list with the same address."""
    events = MailingListFactory(account=account, name="Events")
    offers = MailingListFactory(account=account, name="Offers")
    MailingListFactory(account=account, name="Not theirs")
    rows = {
        "events": SubscriberFactory(mailing_list=events, email=subscriber.email),
        "offers": SubscriberFactory(mailing_list=offers, email=subscriber.email),
    }
    stranger = UserFactory(account__company_name="Stranger Ltd").account
    rows["stranger"] = SubscriberFactory(
        mailing_list=MailingListFactory(account=stranger, name="Stranger's secret list"),
        email=subscriber.email,
    )
    return rows


def _withdrawals(subscriber: Subscriber) -> list[str]:
    return list(
        ConsentRecord.objects.filter(
            subscriber=subscriber, event=ConsentEvent.WITHDRAWN
        ).values_list("source", flat=True)
    )


def test_the_page_shows_the_senders_other_lists_only(client, tokens, other_lists):
    page = client.get(f"/u/{tokens.unsubscribe()}/").content.decode()

    assert 'id="other-lists"' in page
    assert "Events" in page and "Offers" in page
    assert "Not theirs" not in page
    assert "Stranger" not in page
    assert 'id="unsubscribe-all-button"' in page


def test_the_page_names_a_list_waiting_for_confirmation_that_every_list_would_end(
    client, tokens, other_lists
):
    Subscriber.objects.filter(pk=other_lists["offers"].pk).update(status="unconfirmed")

    page = client.get(f"/u/{tokens.unsubscribe()}/").content.decode()

    assert "Offers" in page


def test_without_other_lists_the_page_offers_one_button(client, tokens):
    page = client.get(f"/u/{tokens.unsubscribe()}/").content.decode()

    assert 'id="other-lists"' not in page
    assert 'id="unsubscribe-all-button"' not in page
    assert 'id="unsubscribe-button"' in page


def test_leaving_this_list_leaves_the_others_and_offers_them(
    client, tokens, subscriber, other_lists, account, mailing_list
):
    url = f"/u/{tokens.unsubscribe()}/"
    response = client.post(url)
    page = client.get(response["Location"]).content.decode()

    subscriber.refresh_from_db()
    assert subscriber.status == "unsubscribed"
    assert len(_withdrawals(subscriber)) == 1
    for name in ("events", "offers", "stranger"):
        other_lists[name].refresh_from_db()
        assert other_lists[name].status == "subscribed"
        assert _withdrawals(other_lists[name]) == []
    # Suppressed account-wide, as today.
    assert suppression_reason(account=account, email=subscriber.email) == "unsubscribed"
    assert "You are still on these lists" in page and "Events" in page
    assert 'id="unsubscribe-all-button"' in page
    assert reverse("subscribe", kwargs={"public_id": mailing_list.public_id}) in page


def test_leaving_every_list_changes_each_of_the_senders_rows_once(
    client, tokens, subscriber, other_lists
):
    url = f"/u/{tokens.unsubscribe()}/"
    response = client.post(url, {"scope": "all"}, REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "You left every list" in page
    assert 'id="unsubscribe-all-button"' not in page
    subscriber.refresh_from_db()
    assert subscriber.status == "unsubscribed"
    assert _withdrawals(subscriber) == ["unsubscribe_page"]
    for name in ("events", "offers"):
        row = other_lists[name]
        row.refresh_from_db()
        assert row.status == "unsubscribed"
        assert _withdrawals(row) == [ALL_LISTS_CHANNEL]
        record = ConsentRecord.objects.get(subscriber=row, event=ConsentEvent.WITHDRAWN)
        assert record.ip == "198.51.100.7"
    # Another sender's list is none of this sender's business.
    other_lists["stranger"].refresh_from_db()
    assert other_lists["stranger"].status == "subscribed"

    # Again: nothing more is recorded.
    client.post(url, {"scope": "all"})
    assert ConsentRecord.objects.filter(event=ConsentEvent.WITHDRAWN).count() == 3


def test_every_list_after_this_one_from_the_done_page(client, tokens, subscriber, other_lists):
    url = f"/u/{tokens.unsubscribe()}/"
    client.post(url)
    client.post(url, {"scope": "all"})

    assert Subscriber.objects.filter(email=subscriber.email, status="unsubscribed").count() == 3
    assert ConsentRecord.objects.filter(event=ConsentEvent.WITHDRAWN).count() == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": "List-Unsubscribe=One-Click", "content_type": "application/x-www-form-urlencoded"},
        {"data": {"List-Unsubscribe": "One-Click", "scope": "all"}},
    ],
)
def test_one_click_leaves_this_list_only(client, tokens, subscriber, other_lists, kwargs):
    response = client.post(f"/u/{tokens.unsubscribe()}/", **kwargs)

    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == "unsubscribed"
    for name in ("events", "offers"):
        other_lists[name].refresh_from_db()
        assert other_lists[name].status == "subscribed"


def test_a_test_messages_link_leaves_nothing(client, delivery, subscriber, other_lists):
    test = MessageTokens(
        campaign_id=delivery.campaign_id, subscriber_id=subscriber.pk, is_test=True
    )
    client.post(f"/u/{test.unsubscribe()}/", {"scope": "all"})

    assert not Subscriber.objects.filter(status="unsubscribed").exists()
    assert not ConsentRecord.objects.filter(event=ConsentEvent.WITHDRAWN).exists()


def test_the_page_speaks_the_lists_language(client, tokens, subscriber, other_lists, mailing_list):
    mailing_list.language = "ru"
    mailing_list.save(update_fields=["language"])
    client.post(f"/u/{tokens.unsubscribe()}/")

    page = client.get(f"/u/{tokens.unsubscribe()}/?done=1").content.decode()

    assert 'lang="ru"' in page
    assert "Вы всё ещё в этих списках" in page


def test_the_every_list_channel_reads_in_words_on_the_consent_history():
    from django.utils import translation

    from lists.selectors import consent_source_label

    assert consent_source_label(ALL_LISTS_CHANNEL) == "The unsubscribe page, leaving every list"
    with translation.override("ru"):
        assert consent_source_label(ALL_LISTS_CHANNEL) == "Страница отписки: выход из всех списков"
