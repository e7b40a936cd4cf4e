"""The senders' notifications in the UI: the page, the unread badge in the nav, marking read."""

import re
from html import unescape

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Notification
from accounts.services import notification_send_email
from accounts.services import notify as notify_account
from config.coded_text import render
from moderation.enforcement import decisions
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def notify(account, subject, **fields):
    return Notification.objects.create(account=account, subject=subject, **fields)


def badge(response) -> str | None:
    """The nav's unread badge and what it says to a screen reader, or None without one."""
    match = re.search(
        r'id="unread-count" aria-hidden="true">(\d+)</span>'
        r'<span class="visually-hidden"> \((\d+) unread\)</span>\s*</a>',
        response.content.decode(),
    )
    if match is None:
        return None
    assert match.group(1) == match.group(2)
    return match.group(1)


def item(response, notification) -> str:
    html = response.content.decode()
    match = re.search(
        rf'<li class="([^"]*)" id="notification-{notification.pk}">(.*?)</li>', html, re.S
    )
    assert match, f"notification {notification.pk} is not on the page"
    return (
        match.group(1)
        + " | "
        + re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", match.group(2))))
    )


def test_the_page_lists_the_accounts_notifications_newest_first_unread_highlighted(
    signed_in, user, other_user
):
    read = notify(user.account, "“Autumn” was approved", read_at=timezone.now())
    unread = notify(
        user.account,
        "“Spring” was rejected",
        body="The moderator's reason: Say what you sell.",
        link="/campaigns/7/",
        level="warning",
    )
    notify(other_user.account, "Someone else's news")

    response = signed_in.get(reverse("notifications"))

    assert response.status_code == 200
    html = response.content.decode()
    assert html.index(f'id="notification-{unread.pk}"') < html.index(f'id="notification-{read.pk}"')
    assert "Someone else's news" not in html
    unread_item = item(response, unread)
    assert "unread" in unread_item.split(" | ")[0]
    assert "level-warning" in unread_item
    assert "The moderator's reason: Say what you sell." in unread_item
    assert 'href="/campaigns/7/"' in html
    assert "unread" not in item(response, read).split(" | ")[0]
    assert "1 unread notification." in unescape(html)


def test_the_nav_badge_counts_unread_notifications(signed_in, user, other_user):
    assert badge(signed_in.get(reverse("dashboard"))) is None

    notify(user.account, "One")
    notify(user.account, "Two")
    notify(user.account, "Read", read_at=timezone.now())
    notify(other_user.account, "Not mine")

    assert badge(signed_in.get(reverse("dashboard"))) == "2"


def test_mark_all_read_marks_only_this_accounts_notifications(signed_in, user, other_user):
    mine = [notify(user.account, "One"), notify(user.account, "Two")]
    theirs = notify(other_user.account, "Not mine")

    response = signed_in.post(reverse("notifications_mark_read"), follow=True)

    assert response.redirect_chain == [(reverse("notifications"), 302)]
    assert "2 notifications marked read." in unescape(response.content.decode())
    assert badge(response) is None
    for notification in mine:
        notification.refresh_from_db()
        assert notification.read_at is not None
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert 'id="mark-all-read"' not in response.content.decode()


def test_one_notification_can_be_marked_read(signed_in, user, other_user):
    first, second = notify(user.account, "One"), notify(user.account, "Two")
    theirs = notify(other_user.account, "Not mine")

    signed_in.post(reverse("notifications_mark_read"), {"notification": first.pk})
    signed_in.post(reverse("notifications_mark_read"), {"notification": theirs.pk})

    first.refresh_from_db(), second.refresh_from_db(), theirs.refresh_from_db()
    assert first.read_at is not None
    assert second.read_at is None
    assert theirs.read_at is None
    assert (
        signed_in.post(reverse("notifications_mark_read"), {"notification": "x"}).status_code == 404
    )


def test_marking_read_is_post_only(signed_in, user):
    unread = notify(user.account, "One")

    assert signed_in.get(reverse("notifications_mark_read")).status_code == 405

    unread.refresh_from_db()
    assert unread.read_at is None


def test_an_empty_page_says_so(signed_in):
    response = signed_in.get(reverse("notifications"))

    assert 'id="no-notifications"' in response.content.decode()
    assert 'id="mark-all-read"' not in response.content.decode()


def test_anonymous_visitors_and_staff_without_an_account_are_turned_away(client):
    assert client.get(reverse("notifications"))["Location"].startswith(reverse("login"))
    client.force_login(UserFactory(is_staff=True, account=None))
    assert client.get(reverse("notifications"))["Location"] == reverse("moderation_queue")


def test_a_moderation_decision_arrives_with_a_link_to_the_campaign(signed_in, user):
    notify_account(
        user.account,
        "accounts.notice.campaign_rejected",
        link="/campaigns/42/",
        level="warning",
        name="Spring",
        reason="No identity.",
    )

    response = signed_in.get(reverse("notifications"))

    assert badge(response) == "1"
    assert "The moderator's reason: No identity." in unescape(response.content.decode())
    assert '<a class="button secondary" href="/campaigns/42/">Open</a>' in response.content.decode()


def test_a_notice_written_while_the_account_read_english_reads_russian_to_a_russian_reader(
    client, user
):
    moderator = UserFactory(is_staff=True, account=None)
    decisions.account_warn(account_id=user.account.pk, moderator=moderator, reason="Спам <b>.")
    user.language = "ru"
    user.save(update_fields=["language"])
    client.force_login(user)

    page = unescape(client.get(reverse("notifications")).content.decode())

    assert "Предупреждение о вашем аккаунте" in page
    assert "Причина от модератора: Спам <b>." in page  # typed text as typed (and escaped)
    assert "A warning about your account" not in page
    notification = Notification.objects.get(account=user.account)
    with translation.override("en"):
        assert render(notification.subject) == "A warning about your account"


def test_the_email_of_a_notice_speaks_each_readers_language(user):
    UserFactory(account=user.account, language="ru")
    notification = notify_account(
        user.account, "accounts.notice.campaign_declined", name="Весна", reason="No imprint."
    )

    assert notification_send_email(notification_id=notification.pk) == 2

    subjects = sorted(message.subject for message in mail.outbox)
    assert subjects == [
        "[ConsentMail] Рассылка «Весна» отменена модератором",
        "[ConsentMail] “Весна” was declined",
    ]
    russian = next(m for m in mail.outbox if "Рассылка" in m.subject)
    assert "Причина от модератора: No imprint." in russian.body


def test_a_notice_stored_before_codes_reads_as_it_was_written(signed_in, user):
    old = notify(user.account, "“Autumn” was approved", body="Its probe goes out now.")

    text = item(signed_in.get(reverse("notifications")), old)

    assert "“Autumn” was approved" in text and "Its probe goes out now." in text
    assert str(old) == "“Autumn” was approved"
