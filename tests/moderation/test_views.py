"""The moderators' browser pages: the queue, a campaign's review page with its dossier and the
decisions, and the audit log; and that they do not exist for anyone else."""

import re
from datetime import timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Notification
from campaigns.models import Campaign
from lists.models import ConsentEvent, ConsentRecord, ConsentSource, Subscriber
from moderation import selectors
from moderation.models import AccountFlag, AuditEntry
from moderation.services import audit
from tests.campaigns.factories import CampaignFactory, subscribe_many, waiting_version
from tests.lists.factories import MailingListFactory, SubscriberFactory
from tests.moderation.conftest import QUICK_MONEY_HTML, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, moderator):
    client.force_login(moderator)
    return client


@pytest.fixture
def as_sender(client, sender):
    client.force_login(sender)
    return client


def words(response) -> str:
    """The page's text without tags, whitespace collapsed."""
    text = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", unescape(text)).strip()


def section(response, element_id: str) -> str:
    """The text of the element with this id (up to its matching closing tag, roughly: the next
    <section> or the end of the page)."""
    html = response.content.decode()
    start = html.index(f'id="{element_id}"')
    end = html.find("<section", start)
    chunk = html[start : end if end != -1 else len(html)]
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", chunk)))


def review_url(campaign) -> str:
    return reverse("moderation_review", args=[campaign.pk])


# --- who may --------------------------------------------------------------------------------------


def test_the_pages_do_not_exist_for_senders(as_sender, submitted):
    pages = [reverse("moderation_queue"), review_url(submitted), reverse("moderation_audit")]
    for url in pages:
        assert as_sender.get(url).status_code == 404, url

    response = as_sender.post(
        reverse("moderation_reject", args=[submitted.pk]), {"reject-reason": "No."}
    )

    assert response.status_code == 404
    submitted.refresh_from_db()
    assert submitted.status == "submitted"
    assert not AuditEntry.objects.exists()


def test_anonymous_visitors_are_sent_to_log_in(client, submitted):
    response = client.get(review_url(submitted))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_nav_shows_moderation_to_staff_only(staff, client, sender):
    assert 'id="nav-moderation"' in staff.get(reverse("moderation_queue")).content.decode()
    client.force_login(sender)
    assert 'id="nav-moderation"' not in client.get(reverse("dashboard")).content.decode()


# --- the queue ------------------------------------------------------------------------------------


def test_the_queue_shows_submitted_campaigns_with_counts_per_tab(staff, mailing_list, sender):
    older = submit(mailing_list, name="Older one", submitted_ago=timedelta(days=2))
    newer = submit(mailing_list, name="Newer one", html_body=QUICK_MONEY_HTML)
    probed = CampaignFactory(account=sender.account, lists=[mailing_list], name="Probing one")
    Campaign.objects.filter(pk=probed.pk).update(status="holding")
    CampaignFactory(account=sender.account, lists=[mailing_list], name="A draft")

    response = staff.get(reverse("moderation_queue"))

    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'id="count-submitted">2<', html)
    assert re.search(r'id="count-review">0<', html)
    assert re.search(r'id="count-under_way">3<', html)
    queue = section(response, "queue")
    assert queue.index("Older one") < queue.index("Newer one")
    assert "Probing one" not in queue and "A draft" not in queue
    assert "Acme Ltd" in queue
    assert "1 to review" in queue
    assert f'href="{review_url(older)}"' in html and f'href="{review_url(newer)}"' in html

    under_way = section(staff.get(reverse("moderation_queue"), {"tab": "under_way"}), "queue")
    assert "Probing one" in under_way and "Older one" in under_way
    empty = staff.get(reverse("moderation_queue"), {"tab": "review"})
    assert 'id="queue-empty"' in empty.content.decode()


# --- the review page ------------------------------------------------------------------------------


def test_the_review_page_shows_the_dossier(staff, submitted, sender, mailing_list):
    response = staff.get(review_url(submitted))

    assert response.status_code == 200
    text = words(response)
    assert "Spring offer" in text and "Acme Ltd" in text
    # Findings, grouped by severity.
    assert "passive income" in section(response, "findings-review")
    # The message, in a sandboxed frame, footer included.
    html = response.content.decode()
    frame = re.search(r'<iframe id="preview-html"[^>]*>', html).group(0)
    assert 'sandbox=""' in frame
    srcdoc = unescape(re.search(r'srcdoc="([^"]*)"', frame).group(1))
    assert "Earn a passive income from home." in srcdoc
    assert 'id="compliance-footer"' in srcdoc
    # Consent make-up of the one list: 20 subscribed, all through the web form.
    consent = section(response, "consent-table")
    assert "Monthly news" in consent
    assert "20" in consent
    assert "Web form (our hosted or embedded form) 100%" in consent
    assert "Over all 20 subscribed." in consent
    assert "⚑" not in consent
    # The account's history: its first campaign, no flags, no decisions yet.
    assert 'id="no-previous-campaigns"' in html
    assert 'id="no-flags"' in html
    # The decisions a submitted campaign can take.
    for decision in ("approve", "reject", "decline"):
        assert f'id="decision-{decision}"' in html
    assert 'id="decision-release"' not in html


def test_a_list_of_mostly_role_addresses_is_flagged(staff, sender, mailing_list):
    roles = MailingListFactory(account=sender.account, name="Trade contacts")
    for local in ("info", "sales", "office"):
        SubscriberFactory(mailing_list=roles, email=f"{local}@shop.example", is_role_address=True)
    SubscriberFactory(mailing_list=roles, email="jo@shop.example")
    campaign = CampaignFactory(account=sender.account, lists=[mailing_list, roles])
    Campaign.objects.filter(pk=campaign.pk).update(status="submitted")

    response = staff.get(review_url(campaign))

    html = response.content.decode()
    role_row = re.search(rf'<tr id="list-{roles.pk}"[^>]*>.*?</tr>', html, re.S).group(0)
    plain_row = re.search(rf'<tr id="list-{mailing_list.pk}"[^>]*>.*?</tr>', html, re.S).group(0)
    assert "⚑" in role_row and "75%" in role_row and "Mostly role addresses" in role_row
    assert "⚑" not in plain_row and "0%" in plain_row


def test_the_review_page_shows_the_account_history_and_open_flags(
    staff, moderator, sender, mailing_list, submitted
):
    earlier = CampaignFactory(account=sender.account, lists=[mailing_list], name="Last winter")
    Campaign.objects.filter(pk=earlier.pk).update(
        status="sent", verdict={"tier": "amber", "reasons": []}, submitted_at=timezone.now()
    )
    AccountFlag.objects.create(account=sender.account, reason="Complaints at 0.9%.")
    audit(actor=moderator, action="rejected", campaign=earlier, reason="Too many capitals.")

    response = staff.get(review_url(submitted))

    previous = section(response, "previous-campaigns")
    assert "Last winter" in previous and "Sent" in previous and "Amber" in previous
    assert "Complaints at 0.9%." in section(response, "open-flags")
    assert "Too many capitals." in section(response, "account-audit")
    assert "1 open flag on this account" in words(response)


def test_the_probe_figures_and_verdict_show_once_judged(staff, submitted):
    Campaign.objects.filter(pk=submitted.pk).update(
        status="review",
        probe_size=2,
        recipients_at_approval=20,
        verdict={
            "tier": "review",
            "flag_account": True,
            "rule": "complaints_limit",
            "reasons": ["Complaints 50% of 2."],
            "rates": {},
            "intervals": {},
        },
        judged_at=timezone.now(),
    )

    response = staff.get(review_url(submitted))

    probe = section(response, "probe")
    assert "2 of 20 recipients" in probe
    assert "Sent 0" in probe
    assert "Verdict Review" in probe and "Account flagged" in probe
    assert "Complaints 50% of 2." in probe
    html = response.content.decode()
    assert 'id="decision-release"' in html and 'id="decision-decline"' in html
    assert 'id="decision-approve"' not in html


def test_an_unknown_campaign_is_a_404(staff):
    assert staff.get(reverse("moderation_review", args=[999999])).status_code == 404


# --- decisions ------------------------------------------------------------------------------------


def test_rejecting_without_a_reason_shows_the_page_again_with_the_error(staff, submitted):
    response = staff.post(reverse("moderation_reject", args=[submitted.pk]), {"reject-reason": " "})

    assert response.status_code == 400
    assert "This field is required." in section(response, "decision-reject")
    submitted.refresh_from_db()
    assert submitted.status == "submitted"
    assert not AuditEntry.objects.exists()


def test_a_rejection_from_the_page_is_recorded_and_confirmed(staff, moderator, submitted):
    response = staff.post(
        reverse("moderation_reject", args=[submitted.pk]),
        {"reject-reason": "Say what you sell."},
        follow=True,
    )

    assert response.redirect_chain == [(reverse("moderation_queue") + "?tab=submitted", 302)]
    assert "Rejected “Spring offer”. The sender was told why" in words(response)
    submitted.refresh_from_db()
    assert submitted.status == "rejected"
    assert submitted.moderation_note == "Say what you sell."
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.reason) == (
        "rejected",
        moderator,
        "Say what you sell.",
    )
    assert Notification.objects.filter(account=submitted.account, read_at=None).count() == 1


def test_approving_from_the_page_starts_the_probe(
    staff, submitted, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            reverse("moderation_approve", args=[submitted.pk]),
            {"approve-version": waiting_version(submitted)},
        )

    assert response.status_code == 302
    submitted.refresh_from_db()
    assert submitted.status == "holding"
    assert AuditEntry.objects.get().action == "approved"


def test_approving_a_scheduled_campaign_says_its_probe_waits_for_its_start(
    staff, submitted, django_capture_on_commit_callbacks
):
    start = (timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    Campaign.objects.filter(pk=submitted.pk).update(
        scheduled_at=start, schedule_timezone="Asia/Tokyo"
    )

    page = staff.get(review_url(submitted))
    assert "goes out at the scheduled start" in section(page, "decision-approve")
    assert "goes out now" not in section(page, "decision-approve")
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            reverse("moderation_approve", args=[submitted.pk]),
            {"approve-version": waiting_version(submitted)},
            follow=True,
        )

    submitted.refresh_from_db()
    assert submitted.status == "approved"
    local = start.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M")
    said = words(response)
    assert f"its probe waits for its start, {local} (Asia/Tokyo)" in said
    assert "goes out now" not in said


def test_approving_a_welcome_message_says_who_gets_it(
    staff, sender, django_capture_on_commit_callbacks
):
    from campaigns import welcome
    from tests.factories import SenderDomainFactory

    account = sender.account
    SenderDomainFactory(account=account, domain="news.acme.example", verified_at=timezone.now())
    mailing_list = MailingListFactory(account=account, name="Offers")
    written = welcome.welcome_save(
        account=account,
        list_id=mailing_list.pk,
        actor=None,
        subject="Welcome",
        from_name="Acme",
        from_email="news@news.acme.example",
        reply_to="",
        html_body="<p>Hello.</p>",
        text_body="",
    )
    welcome.welcome_submit(account=account, list_id=mailing_list.pk, actor=None)
    campaign = Campaign.objects.get(pk=written.campaign_id)

    page = staff.get(review_url(campaign))
    assert "no probe, no hold" in section(page, "decision-approve")
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            reverse("moderation_approve", args=[campaign.pk]),
            {"approve-version": waiting_version(campaign)},
            follow=True,
        )

    said = words(response)
    assert "it goes to each new subscriber of its list" in said
    assert "goes out now" not in said


def test_declining_needs_a_reason_and_the_confirmation(staff, submitted):
    url = reverse("moderation_decline", args=[submitted.pk])

    unconfirmed = staff.post(url, {"decline-reason": "Bought list."})
    submitted.refresh_from_db()
    assert unconfirmed.status_code == 400
    assert "Tick the box to confirm" in section(unconfirmed, "decision-decline")
    assert submitted.status == "submitted"

    staff.post(url, {"decline-reason": "Bought list.", "decline-confirm": "on"})
    submitted.refresh_from_db()
    assert submitted.status == "declined"
    assert submitted.moderation_note == "Bought list."


def test_an_illegal_decision_is_explained_and_changes_nothing(staff, submitted):
    response = staff.post(
        reverse("moderation_release", args=[submitted.pk]), {"release-reason": ""}, follow=True
    )

    assert response.redirect_chain == [(review_url(submitted), 302)]
    assert "cannot become releasing" in words(response)
    submitted.refresh_from_db()
    assert submitted.status == "submitted"
    assert not AuditEntry.objects.exists()


def test_decisions_are_post_only(staff, submitted):
    for name in ("moderation_approve", "moderation_reject", "moderation_decline"):
        assert staff.get(reverse(name, args=[submitted.pk])).status_code == 405
    submitted.refresh_from_db()
    assert submitted.status == "submitted"


def test_decisions_need_the_csrf_token(moderator, submitted):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(moderator)

    response = browser.post(
        reverse("moderation_reject", args=[submitted.pk]), {"reject-reason": "No."}
    )

    assert response.status_code == 403
    submitted.refresh_from_db()
    assert submitted.status == "submitted"


# --- the audit log --------------------------------------------------------------------------------


def test_the_audit_log_page_filters_and_pages(staff, moderator, mailing_list, submitted):
    other = submit(mailing_list, name="Other one")
    for n in range(55):
        audit(actor=None, action="verdict", campaign=other, reason=f"green {n}")
    audit(actor=moderator, action="rejected", campaign=submitted, reason="Say what you sell.")

    first_page = staff.get(reverse("moderation_audit"))
    rejected = staff.get(reverse("moderation_audit"), {"action": "rejected"})
    of_campaign = staff.get(reverse("moderation_audit"), {"campaign": other.pk, "page": 2})

    assert "56 entries, showing 1–50." in words(first_page)
    rows = section(first_page, "audit")
    assert rows.index("Say what you sell.") < rows.index("green 54")
    assert "Page 1 of 2" in words(first_page)
    assert "Say what you sell." in section(rejected, "audit")
    assert "green" not in section(rejected, "audit")
    assert "1 entry matches" in words(rejected)
    second = section(of_campaign, "audit")
    assert "green 0" in second and "green 4" in second and "green 5 " not in second
    assert "Say what you sell." not in second
    bad = staff.get(reverse("moderation_audit"), {"campaign": "abc"})
    assert bad.status_code == 200 and 'id="filter-errors"' in bad.content.decode()


# --- the dossier's consent figures ----------------------------------------------------------------


def test_consent_sources_count_each_subscribers_latest_given_consent(sender):
    mailing_list = MailingListFactory(account=sender.account)
    reconfirmed = SubscriberFactory(mailing_list=mailing_list)
    ConsentRecord.objects.create(
        subscriber=reconfirmed,
        event=ConsentEvent.GRANTED,
        source=ConsentSource.CLIENT_RECONFIRMED,
        obtained_at=timezone.now() + timedelta(minutes=1),
    )
    SubscriberFactory(mailing_list=mailing_list)
    bare = Subscriber.objects.create(
        mailing_list=mailing_list, email="bare@example.org", status="subscribed"
    )
    SubscriberFactory(mailing_list=mailing_list, status="unsubscribed")

    made_up = selectors.list_consent(mailing_list=mailing_list)

    assert made_up.subscribed == 3
    assert made_up.sampled is False
    assert made_up.counted == 3
    assert {(row.source, row.count) for row in made_up.sources} == {
        ("client_reconfirmed", 1),
        ("web_form", 1),
        ("none", 1),
    }
    assert made_up.unconsented == 1
    assert made_up.oldest_subscription is not None
    # The newest subscribed member has no subscription date: its creation stands for it.
    assert made_up.newest_subscription == bare.created_at


def test_consent_sources_of_a_big_list_come_from_a_sample(sender, monkeypatch):
    monkeypatch.setattr(selectors, "CONSENT_SAMPLE_SIZE", 20)
    mailing_list = MailingListFactory(account=sender.account)
    ids = subscribe_many(mailing_list, 200)
    ConsentRecord.objects.bulk_create(
        ConsentRecord(
            subscriber_id=pk,
            event=ConsentEvent.GRANTED,
            source=ConsentSource.PAPER_FORM,
            obtained_at=timezone.now() + timedelta(minutes=1),
        )
        for pk in ids[:100]
    )

    made_up = selectors.list_consent(mailing_list=mailing_list)

    assert made_up.sampled is True
    expected = sum(1 for pk in ids if pk % 10 == 0)
    assert made_up.counted == expected
    assert 15 <= made_up.counted <= 25
    shares = {row.source: row.share for row in made_up.sources}
    assert set(shares) == {"paper_form", "web_form"}
    assert 0.3 <= shares["paper_form"] <= 0.7
    assert sum(shares.values()) == pytest.approx(1.0)


def test_the_review_page_shows_when_the_sender_asked_it_to_go(staff, submitted):
    page = section(staff.get(review_url(submitted)), "campaign-schedule")
    assert "As soon as a moderator approves it" in page

    Campaign.objects.filter(pk=submitted.pk).update(
        scheduled_at=timezone.now().replace(
            year=timezone.now().year + 1, month=1, day=15, hour=8, minute=0, second=0, microsecond=0
        ),
        schedule_timezone="Asia/Tokyo",
    )

    page = section(staff.get(review_url(submitted)), "campaign-schedule")
    assert f"{timezone.now().year + 1}-01-15 17:00 (Asia/Tokyo)" in page
