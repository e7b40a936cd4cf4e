"""The enforcement pages: the moderators' accounts list and account page with its forms, and
the sender's frozen banner and appeal page."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from moderation.enforcement import appeals, decisions
from moderation.models import AccountFlag, Appeal, AuditEntry
from tests.campaigns.factories import CampaignFactory
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

REASON = "Three upheld abuse reports in a week: the list was bought."


@pytest.fixture
def account(sender):
    return sender.account


@pytest.fixture
def staff(client, moderator):
    client.force_login(moderator)
    return client


@pytest.fixture
def as_sender(client, sender):
    client.force_login(sender)
    return client


def words(response) -> str:
    text = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", unescape(text)).strip()


def freeze(account, moderator):
    decisions.account_freeze(account_id=account.pk, moderator=moderator, reason=REASON)
    account.refresh_from_db()
    return account


# --- the moderators' pages ------------------------------------------------------------------------


def test_the_pages_do_not_exist_for_senders(as_sender, account):
    for url in (
        reverse("moderation_accounts"),
        reverse("moderation_account", args=[account.pk]),
        reverse("moderation_abuse"),
    ):
        assert as_sender.get(url).status_code == 404
    response = as_sender.post(
        reverse("moderation_account_freeze", args=[account.pk]), {"freeze-reason": REASON}
    )
    assert response.status_code == 404
    assert Account.objects.get(pk=account.pk).state == "active"


def test_the_queue_links_to_accounts_and_abuse_reports(staff):
    html = staff.get(reverse("moderation_queue")).content.decode()

    assert f'href="{reverse("moderation_accounts")}"' in html
    assert f'href="{reverse("moderation_abuse")}"' in html


def test_the_accounts_list_shows_flagged_and_frozen_first_with_badges(staff, account, moderator):
    frozen = freeze(AccountFactory(company_name="Bravo Ltd"), moderator)
    flagged = AccountFactory(company_name="Zulu Ltd")
    AccountFlag.objects.create(account=flagged, reason="Complaints at 0.8%.")

    response = staff.get(reverse("moderation_accounts"))

    assert response.status_code == 200
    rows = re.findall(r'<tr id="account-(\d+)">', response.content.decode())
    assert [int(pk) for pk in rows] == [flagged.pk, frozen.pk, account.pk]
    text = words(response)
    assert "Zulu Ltd" in text and "1 flag" in text
    assert "Frozen" in text and "Not enough data" in text
    flagged_only = staff.get(reverse("moderation_accounts") + "?state=flagged")
    assert re.findall(r'<tr id="account-(\d+)">', flagged_only.content.decode()) == [
        str(flagged.pk)
    ]


def test_the_account_page_shows_state_health_and_forms(staff, account, mailing_list):
    CampaignFactory(account=account, lists=[mailing_list], name="Winter sale")

    response = staff.get(reverse("moderation_account", args=[account.pk]))

    assert response.status_code == 200
    text = words(response)
    assert "Acme Ltd" in text and "Winter sale" in text
    html = response.content.decode()
    assert 'id="health-status"' in html
    assert 'id="action-warn"' in html and 'id="action-freeze"' in html
    assert 'id="action-unfreeze"' not in html


def test_freezing_from_the_page_needs_a_reason_then_is_confirmed(staff, account, moderator):
    url = reverse("moderation_account_freeze", args=[account.pk])

    missing = staff.post(url, {"freeze-reason": "  "})
    assert missing.status_code == 400
    assert "This field is required." in words(missing)
    assert Account.objects.get(pk=account.pk).state == "active"

    done = staff.post(url, {"freeze-reason": REASON})

    assert done.status_code == 302
    assert done["Location"] == reverse("moderation_account", args=[account.pk])
    account.refresh_from_db()
    assert (account.state, account.state_reason) == ("frozen", REASON)
    page = staff.get(done["Location"])
    assert "Froze Acme Ltd" in words(page)
    assert 'id="action-unfreeze"' in page.content.decode()
    assert "It may appeal until" in words(page)


def test_an_illegal_action_is_explained_and_changes_nothing(staff, account):
    Account.objects.filter(pk=account.pk).update(state="deleted")

    response = staff.post(
        reverse("moderation_account_warn", args=[account.pk]), {"warn-reason": REASON}, follow=True
    )

    assert "only an active account can be warned" in words(response)
    assert Account.objects.get(pk=account.pk).state == "deleted"
    assert not AuditEntry.objects.exists()


def test_a_pending_appeal_is_shown_and_can_be_rejected_from_the_page(
    staff, account, moderator, sender
):
    freeze(account, moderator)
    appeal = appeals.appeal_file(account=account, user=sender, text="<b>We</b> fixed it.")

    page = staff.get(reverse("moderation_account", args=[account.pk]))
    html = page.content.decode()
    assert "&lt;b&gt;We&lt;/b&gt; fixed it." in html
    assert 'id="appeal-reject"' in html and 'id="appeal-grant"' in html

    url = reverse("moderation_appeal_reject", args=[appeal.pk])
    assert staff.post(url, {"appeal-reject-note": ""}).status_code == 400
    done = staff.post(url, {"appeal-reject-note": "The list was bought."})

    assert done.status_code == 302
    appeal.refresh_from_db()
    account.refresh_from_db()
    assert appeal.status == "rejected"
    assert account.state == "scheduled_for_deletion"


def test_granting_an_appeal_from_the_page_unfreezes(staff, account, moderator, sender):
    freeze(account, moderator)
    appeal = appeals.appeal_file(account=account, user=sender, text="Please.")

    staff.post(reverse("moderation_appeal_grant", args=[appeal.pk]), {"appeal-grant-note": "Fine."})

    account.refresh_from_db()
    assert account.state == "active"
    assert Appeal.objects.get().status == "granted"


def test_unknown_accounts_and_appeals_are_404(staff):
    assert staff.get(reverse("moderation_account", args=[2_000_000_000])).status_code == 404
    response = staff.post(
        reverse("moderation_appeal_reject", args=[2_000_000_000]), {"appeal-reject-note": "x"}
    )
    assert response.status_code == 404


# --- the sender's side ----------------------------------------------------------------------------


def test_the_frozen_banner_shows_the_appeal_deadline_and_links_to_the_appeal(
    as_sender, account, moderator, settings
):
    settings.APPEAL_HOURS = 24
    freeze(account, moderator)
    deadline = timezone.localtime(account.state_changed_at + timedelta(hours=24))

    response = as_sender.get(reverse("campaigns"))

    html = response.content.decode()
    assert 'id="account-frozen"' in html
    assert f"until {deadline:%Y-%m-%d %H:%M}" in words(response)
    assert f'href="{reverse("account_appeal")}"' in html
    assert REASON in words(response)


def test_the_sender_appeals_from_the_page_and_then_sees_it_pending(as_sender, account, moderator):
    freeze(account, moderator)
    page = as_sender.get(reverse("account_appeal"))
    assert 'id="appeal-form"' in page.content.decode()

    empty = as_sender.post(reverse("account_appeal"), {"text": ""})
    assert empty.status_code == 400
    assert not Appeal.objects.exists()

    done = as_sender.post(reverse("account_appeal"), {"text": "We fixed the form."})

    assert done.status_code == 302
    assert Appeal.objects.get().text == "We fixed the form."
    pending = as_sender.get(reverse("account_appeal"))
    assert "Your appeal is pending" in words(pending)
    assert 'id="appeal-form"' not in pending.content.decode()
    banner = as_sender.get(reverse("campaigns"))
    assert "Your appeal is pending" in words(banner)


def test_after_the_window_the_appeal_page_says_so(as_sender, account, moderator):
    freeze(account, moderator)
    Account.objects.filter(pk=account.pk).update(
        state_changed_at=timezone.now() - timedelta(hours=25)
    )

    page = as_sender.get(reverse("account_appeal"))

    assert "The time to appeal has passed" in words(page)
    assert 'id="appeal-form"' not in page.content.decode()
    late = as_sender.post(reverse("account_appeal"), {"text": "Sorry."}, follow=True)
    assert "The time to appeal ended" in words(late)
    assert not Appeal.objects.exists()


def test_an_account_that_may_send_has_nothing_to_appeal(as_sender):
    page = as_sender.get(reverse("account_appeal"))

    assert "Your account is not frozen" in words(page)


def test_the_appeal_page_is_for_sender_accounts_only(staff, client):
    assert staff.get(reverse("account_appeal")).status_code == 404
    client.logout()
    assert client.get(reverse("account_appeal")).status_code == 302
