"""The hosted and embedded form answer every address alike and change nothing before the person
confirms (issue 17, finding 10).

Whatever the address's past on the account (new, waiting for its confirmation, subscribed,
unsubscribed, bounced, reported as spam, suppressed, or hard-bounced elsewhere on the service),
a post gets the same status code and the same redirect a brand-new address gets on that list.
No existing subscriber changes status on a post; only following an e-mailed link does. A
confirmation e-mail goes only where the person stopped the mail themselves (unsubscribed,
erased) or never started it; an address that complained or bounced gets nothing at all.
"""

import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lists.models import (
    ConsentEvent,
    ConsentRecord,
    Subscriber,
    SubscriberStatus,
    Suppression,
    SuppressionReason,
)
from lists.services.optin import subscription_confirm_token
from lists.services.subscribers import subscriber_unsubscribe
from lists.services.suppression import platform_suppression_add, suppression_add
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

ADDRESS = "reader@example.org"


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.SUBSCRIBE_RATE_PER_MINUTE = 1000
    settings.SITE_URL = "http://testserver"


def post(client, mailing_list, email=ADDRESS, **fields):
    data = {"email": email, "name": "Someone Else", "consent": "on", **fields}
    return client.post(f"/subscribe/{mailing_list.public_id}/", data, REMOTE_ADDR="198.51.100.23")


def post_and_deliver(client, django_capture_on_commit_callbacks, mailing_list, **kwargs):
    """Post, then run what the post enqueued (the confirmation e-mail task)."""
    with django_capture_on_commit_callbacks(execute=True):
        return post(client, mailing_list, **kwargs)


def _row(mailing_list, status):
    subscriber = SubscriberFactory(mailing_list=mailing_list, email=ADDRESS, status=status)
    if status in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED):
        Subscriber.objects.filter(pk=subscriber.pk).update(unsubscribed_at=timezone.now())
    return subscriber


def _suppress(mailing_list, reason):
    suppression_add(account=mailing_list.account, email=ADDRESS, reason=reason)


# The past an address can have, and whether the form may ask it to confirm.
PASTS = {
    "new": (lambda ml: None, True),
    "unconfirmed": (lambda ml: _row(ml, SubscriberStatus.UNCONFIRMED), True),
    "subscribed": (lambda ml: _row(ml, SubscriberStatus.SUBSCRIBED), False),
    "unsubscribed": (
        lambda ml: (_row(ml, SubscriberStatus.UNSUBSCRIBED), _suppress(ml, "unsubscribed")),
        True,
    ),
    "suppressed as unsubscribed, no row": (lambda ml: _suppress(ml, "unsubscribed"), True),
    "erased, no row": (lambda ml: _suppress(ml, "erased"), True),
    "bounced": (
        lambda ml: (_row(ml, SubscriberStatus.BOUNCED), _suppress(ml, "hard_bounce")),
        False,
    ),
    "complained": (
        lambda ml: (_row(ml, SubscriberStatus.COMPLAINED), _suppress(ml, "complained")),
        False,
    ),
    "complained on another list, no row": (lambda ml: _suppress(ml, "complained"), False),
    "unsubscribed here, complained on another list": (
        lambda ml: (_row(ml, SubscriberStatus.UNSUBSCRIBED), _suppress(ml, "complained")),
        False,
    ),
    "hard bounce, no row": (lambda ml: _suppress(ml, "hard_bounce"), False),
    "repeated soft bounces, no row": (lambda ml: _suppress(ml, "soft_bounces"), False),
    "hard bounce for another account": (lambda ml: platform_suppression_add(email=ADDRESS), False),
}


def _snapshot():
    """Everything a post must leave alone (the language alone follows the page: the e-mail
    asking to confirm is written in it)."""
    return (
        list(
            Subscriber.objects.order_by("pk").values_list(
                "email", "status", "name", "phone", "subscribed_at", "unsubscribed_at"
            )
        ),
        list(Suppression.objects.order_by("pk").values_list("email_hash", "reason")),
    )


@pytest.mark.parametrize("double_opt_in", [True, False], ids=["double", "single"])
@pytest.mark.parametrize("past", list(PASTS))
def test_every_address_gets_the_same_answer(
    client, django_capture_on_commit_callbacks, past, double_opt_in
):
    mailing_list = MailingListFactory(double_opt_in=double_opt_in)
    PASTS[past][0](mailing_list)
    response = post_and_deliver(client, django_capture_on_commit_callbacks, mailing_list)
    new_address = post(client, mailing_list, email="brand-new@example.org")

    assert response.status_code == new_address.status_code == 302
    step = "confirm" if double_opt_in else "done"
    assert (
        response["Location"]
        == new_address["Location"]
        == (f"/subscribe/{mailing_list.public_id}/thanks/?next={step}")
    )


@pytest.mark.parametrize("double_opt_in", [True, False], ids=["double", "single"])
@pytest.mark.parametrize("past", [p for p in PASTS if p != "new"])
def test_a_post_changes_no_existing_status_or_suppression(
    client, django_capture_on_commit_callbacks, past, double_opt_in
):
    mailing_list = MailingListFactory(double_opt_in=double_opt_in)
    PASTS[past][0](mailing_list)
    before = _snapshot()
    rows_before = Subscriber.objects.count()

    post_and_deliver(client, django_capture_on_commit_callbacks, mailing_list)

    after = _snapshot()
    if rows_before:
        assert after == before
    else:
        # Only a brand-new row may appear, unconfirmed, and only where a confirmation may go.
        assert after[1] == before[1]
        assert after[0] == (
            [(ADDRESS, SubscriberStatus.UNCONFIRMED, "Someone Else", "", None, None)]
            if PASTS[past][1]
            else []
        )


@pytest.mark.parametrize("double_opt_in", [True, False], ids=["double", "single"])
@pytest.mark.parametrize("past", list(PASTS))
def test_a_confirmation_goes_only_where_the_person_may_come_back(
    client, django_capture_on_commit_callbacks, past, double_opt_in
):
    mailing_list = MailingListFactory(double_opt_in=double_opt_in)
    PASTS[past][0](mailing_list)

    post_and_deliver(client, django_capture_on_commit_callbacks, mailing_list)

    may_confirm = PASTS[past][1]
    subscribed_at_once = past == "new" and not double_opt_in
    sent = [(m.to, m.subject) for m in mail.outbox]
    if may_confirm and not subscribed_at_once:
        assert sent == [([ADDRESS], f"Please confirm your subscription to {mailing_list.name}")]
    else:
        assert sent == []


@pytest.mark.parametrize(
    "past",
    [
        "subscribed",
        "bounced",
        "complained",
        "complained on another list, no row",
        "hard bounce, no row",
    ],
)
def test_refused_and_subscribed_addresses_get_no_consent_record(
    client, django_capture_on_commit_callbacks, past
):
    mailing_list = MailingListFactory()
    PASTS[past][0](mailing_list)
    records = ConsentRecord.objects.count()
    post_and_deliver(client, django_capture_on_commit_callbacks, mailing_list)
    assert ConsentRecord.objects.count() == records


def _link_in(message) -> str:
    return re.search(r"http://testserver(/confirm/[^\s]+/)", message.body).group(1)


@pytest.mark.parametrize("double_opt_in", [True, False], ids=["double", "single"])
def test_an_unsubscribed_address_comes_back_only_by_following_the_new_link(
    client, django_capture_on_commit_callbacks, double_opt_in
):
    mailing_list = MailingListFactory(double_opt_in=double_opt_in)
    subscriber = SubscriberFactory(mailing_list=mailing_list, email=ADDRESS)
    subscriber_unsubscribe(subscriber=subscriber, channel="one_click")

    post_and_deliver(client, django_capture_on_commit_callbacks, mailing_list)
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED
    assert Suppression.objects.get().reason == SuppressionReason.UNSUBSCRIBED
    (message,) = mail.outbox
    path = _link_in(message)

    assert "Yes, subscribe me" in client.get(path).text  # opening the link changes nothing
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(path, REMOTE_ADDR="198.51.100.24")
    assert confirmed.status_code == 200
    assert "Subscription confirmed" in confirmed.text
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.SUBSCRIBED
    assert subscriber.unsubscribed_at is None
    assert not Suppression.objects.exists()
    events = list(subscriber.consent_records.order_by("pk").values_list("event", "source", "ip"))
    assert events[-3:] == [
        (ConsentEvent.WITHDRAWN, "one_click", None),
        (ConsentEvent.GRANTED, "web_form", "198.51.100.23"),
        (ConsentEvent.CONFIRMED, "confirmation_link", "198.51.100.24"),
    ]

    # A second click changes nothing.
    assert client.post(path).status_code == 200
    assert subscriber.consent_records.count() == len(events)


def test_a_link_from_before_the_unsubscribe_stays_dead_after_a_new_request(
    client, django_capture_on_commit_callbacks
):
    mailing_list = MailingListFactory()
    subscriber = SubscriberFactory(
        mailing_list=mailing_list, email=ADDRESS, status=SubscriberStatus.UNCONFIRMED
    )
    old_link = f"/confirm/{subscription_confirm_token(subscriber)}/"
    subscriber_unsubscribe(subscriber=subscriber, channel="one_click")

    post_and_deliver(client, django_capture_on_commit_callbacks, mailing_list)
    assert len(mail.outbox) == 1

    assert client.post(old_link).status_code == 404
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED
    assert client.post(_link_in(mail.outbox[0])).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.SUBSCRIBED


def test_a_request_then_a_complaint_means_the_link_no_longer_works(
    client, django_capture_on_commit_callbacks
):
    mailing_list = MailingListFactory()
    subscriber = SubscriberFactory(mailing_list=mailing_list, email=ADDRESS)
    subscriber_unsubscribe(subscriber=subscriber, channel="one_click")
    post_and_deliver(client, django_capture_on_commit_callbacks, mailing_list)
    path = _link_in(mail.outbox[0])
    subscriber_unsubscribe(subscriber=subscriber, status=SubscriberStatus.COMPLAINED)

    assert client.post(path).status_code == 404
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.COMPLAINED
    assert Suppression.objects.get().reason == SuppressionReason.UNSUBSCRIBED  # the first stays


@pytest.mark.parametrize("status", [SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED])
def test_a_link_never_brings_back_a_bounced_or_complained_address(client, status):
    subscriber = SubscriberFactory(status=status)
    assert client.post(f"/confirm/{subscription_confirm_token(subscriber)}/").status_code == 404
    subscriber.refresh_from_db()
    assert subscriber.status == status


def test_an_unconfirmed_address_that_complained_elsewhere_cannot_confirm(client):
    mailing_list = MailingListFactory()
    subscriber = SubscriberFactory(
        mailing_list=mailing_list, email=ADDRESS, status=SubscriberStatus.UNCONFIRMED
    )
    _suppress(mailing_list, "complained")
    assert client.post(f"/confirm/{subscription_confirm_token(subscriber)}/").status_code == 404
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.UNCONFIRMED
    assert Suppression.objects.get().reason == SuppressionReason.COMPLAINED


def test_repeated_posts_for_an_unsubscribed_address_send_one_mail_per_quiet_period(
    client, django_capture_on_commit_callbacks
):
    mailing_list = MailingListFactory()
    _row(mailing_list, SubscriberStatus.UNSUBSCRIBED)
    for _ in range(4):
        post_and_deliver(client, django_capture_on_commit_callbacks, mailing_list)
    assert len(mail.outbox) == 1


def test_the_honeypot_answers_like_everyone_else_on_a_single_opt_in_list(client):
    mailing_list = MailingListFactory(double_opt_in=False)
    response = post(client, mailing_list, website="http://spam.example")
    assert response.status_code == 302
    assert response["Location"].endswith("?next=done")
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize("past", list(PASTS))
def test_the_answer_looks_nothing_up_about_the_address(
    client, django_capture_on_commit_callbacks, past
):
    """The same work for every address before the answer: the list, the rate limit, the form's
    own checks and one task enqueued; the address is looked up only in that task."""
    mailing_list = MailingListFactory()
    PASTS[past][0](mailing_list)
    with (
        CaptureQueriesContext(connection) as reference,
        django_capture_on_commit_callbacks() as reference_callbacks,
    ):
        post(client, mailing_list, email="brand-new@example.org")
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks() as callbacks,
    ):
        response = post(client, mailing_list)

    assert response.status_code == 302
    sql = [query["sql"] for query in queries.captured_queries]
    assert sql == [query["sql"] for query in reference.captured_queries]
    assert not [
        q for q in sql if re.search(r'"lists_(subscriber|suppression|platformsuppression)"', q)
    ]
    assert len(callbacks) == len(reference_callbacks) == 1


def test_the_task_does_what_the_post_asked_and_a_gone_list_is_a_no_op(
    django_capture_on_commit_callbacks,
):
    from lists.tasks import process_subscription_form

    mailing_list = MailingListFactory()
    with django_capture_on_commit_callbacks(execute=True):
        outcome = process_subscription_form(
            mailing_list.pk, ADDRESS, name="Ann", ip="198.51.100.5", language="ru"
        )
    assert outcome == "confirmation_requested"
    subscriber = Subscriber.objects.get()
    assert (subscriber.email, subscriber.name, subscriber.status, subscriber.language) == (
        ADDRESS,
        "Ann",
        SubscriberStatus.UNCONFIRMED,
        "ru",
    )
    assert subscriber.consent_records.get().ip == "198.51.100.5"
    assert len(mail.outbox) == 1

    mailing_list.delete()
    assert process_subscription_form(mailing_list.pk, ADDRESS) == "gone"
