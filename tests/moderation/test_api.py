"""The moderation API as staff call it: the queue, the four decisions and the audit log."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Notification
from accounts.services import api_token_create
from campaigns.models import Campaign, CampaignStatusChange, Delivery
from config.coded_text import render
from moderation import services as moderation
from moderation.models import AuditEntry
from tests.campaigns.factories import CampaignFactory, subscribe_many, waiting_version
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory
from tests.moderation.conftest import QUICK_MONEY_HTML, submit

pytestmark = pytest.mark.django_db

QUEUE = "/api/v1/moderation/campaigns/"
AUDIT = "/api/v1/moderation/audit/"


def decide(client, campaign, decision, body=None):
    body = dict(body or {})
    if decision == "approve":
        # The version the moderator reviewed (any id when none waits: the move is refused).
        body.setdefault("version", waiting_version(campaign) or 999_999)
    return client.post(f"{QUEUE}{campaign.pk}/{decision}/", body, format="json")


def probe_messages():
    return [m for m in mail.outbox if m.subject.startswith("News for")]


def into_review(campaign, moderator, capture):
    """Approve, let the probe go out, make half of it complain and end the hold: review."""
    with capture(execute=True):
        moderation.decision_approve(
            campaign_id=campaign.pk, moderator=moderator, version_id=waiting_version(campaign)
        )
    probe = list(
        Delivery.objects.filter(campaign=campaign, is_probe=True).values_list("pk", flat=True)
    )
    Delivery.objects.filter(pk=probe[0]).update(complained_at=timezone.now())
    Campaign.objects.filter(pk=campaign.pk).update(hold_until=timezone.now() - timedelta(seconds=1))
    with capture(execute=True):
        moderation.holds_evaluate()
    campaign.refresh_from_db()
    assert campaign.status == "review"
    return campaign


# --- the queue ------------------------------------------------------------------------------------


def test_the_queue_lists_submitted_campaigns_oldest_first_with_their_findings(
    mod_api, mailing_list, sender
):
    newer = submit(mailing_list, name="Newer", submitted_ago=timedelta(hours=1))
    older = submit(
        mailing_list, name="Older", html_body=QUICK_MONEY_HTML, submitted_ago=timedelta(days=1)
    )
    CampaignFactory(account=sender.account, lists=[mailing_list], name="Still a draft")

    response = mod_api.get(QUEUE)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [row["id"] for row in body["results"]] == [older.pk, newer.pk]
    first = body["results"][0]
    assert first["status"] == "submitted"
    assert first["account"] == {
        "id": sender.account.pk,
        "company_name": "Acme Ltd",
        "state": "active",
    }
    assert first["lists"] == [{"id": mailing_list.pk, "name": "Monthly news"}]
    assert first["verdict"] is None
    assert first["submitted_at"] is not None
    quick_money = [f for f in first["findings"] if f["code"] == "category.quick_money"]
    assert len(quick_money) == 1
    assert quick_money[0]["severity"] == "review"
    assert "passive income" in quick_money[0]["reason"]
    assert not [f for f in body["results"][1]["findings"] if f["code"] == "category.quick_money"]


def test_the_queue_puts_submitted_before_review_and_filters_by_status(
    mod_api, moderator, mailing_list, django_capture_on_commit_callbacks
):
    in_review = into_review(
        submit(mailing_list, name="Probed", submitted_ago=timedelta(days=3)),
        moderator,
        django_capture_on_commit_callbacks,
    )
    waiting = submit(mailing_list, name="Waiting")

    everything = mod_api.get(QUEUE).json()
    only_review = mod_api.get(QUEUE, {"status": "review"}).json()

    assert [row["id"] for row in everything["results"]] == [waiting.pk, in_review.pk]
    assert [row["id"] for row in only_review["results"]] == [in_review.pk]
    verdict = only_review["results"][0]["verdict"]
    assert verdict["tier"] == "review"
    assert verdict["rates"]["complaint_rate"] == 0.5
    assert mod_api.get(QUEUE, {"status": "sent"}).json()["count"] == 0


def test_an_unknown_status_filter_is_a_400(mod_api):
    response = mod_api.get(QUEUE, {"status": "bogus"})

    assert response.status_code == 400
    assert "status" in response.json()


# --- who may --------------------------------------------------------------------------------------


def test_senders_get_403_and_change_nothing(sender_api, submitted):
    assert sender_api.get(QUEUE).status_code == 403
    assert sender_api.get(AUDIT).status_code == 403
    for decision, body in [
        ("approve", {}),
        ("reject", {"reason": "No."}),
        ("release", {}),
        ("decline", {"reason": "No."}),
    ]:
        response = decide(sender_api, submitted, decision, body)
        assert response.status_code == 403, decision
        assert response.json() == {"detail": "Only moderators can do this."}

    submitted.refresh_from_db()
    assert submitted.status == "submitted"
    assert not AuditEntry.objects.exists()
    assert not Notification.objects.exists()


def test_anonymous_callers_are_refused(submitted):
    client = APIClient()

    assert client.get(QUEUE).status_code in (401, 403)
    assert decide(client, submitted, "approve").status_code in (401, 403)
    submitted.refresh_from_db()
    assert submitted.status == "submitted"


def test_a_staff_token_works_and_a_read_only_one_cannot_decide(submitted):
    staff = UserFactory(is_staff=True)
    _, key = api_token_create(user=staff, name="moderation")
    _, read_only_key = api_token_create(user=staff, name="ro", read_only=True)
    client, read_only = APIClient(), APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    read_only.credentials(HTTP_AUTHORIZATION=f"Token {read_only_key}")

    assert client.get(QUEUE).json()["count"] == 1
    assert read_only.get(QUEUE).json()["count"] == 1
    refused = decide(read_only, submitted, "reject", {"reason": "No."})

    assert refused.status_code == 403
    submitted.refresh_from_db()
    assert submitted.status == "submitted"
    assert decide(client, submitted, "reject", {"reason": "No."}).status_code == 200


# --- the decisions --------------------------------------------------------------------------------


def test_approval_starts_the_probe_and_tells_the_sender(
    mod_api, moderator, submitted, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = decide(mod_api, submitted, "approve", {"note": "Known sender."})

    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    assert len(callbacks) >= 1
    submitted.refresh_from_db()
    assert submitted.status == "holding"
    assert submitted.probe_size == 2
    assert len(probe_messages()) == 2
    assert list(submitted.changes.values_list("new_status", flat=True)) == [
        "submitted",
        "approved",
        "probing",
        "holding",
    ]
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.actor_label, entry.reason) == (
        "approved",
        moderator,
        "mo@consentmail.example",
        "Known sender.",
    )
    assert entry.account == submitted.account
    notification = Notification.objects.get(account=submitted.account)
    assert render(notification.subject) == "“Spring offer” was approved"
    assert notification.link == f"/campaigns/{submitted.pk}/"


def test_approving_twice_is_harmless(mod_api, submitted, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        decide(mod_api, submitted, "approve")
    with django_capture_on_commit_callbacks(execute=True):
        again = decide(mod_api, submitted, "approve")

    assert again.status_code == 200
    assert again.json()["status"] == "holding"
    assert len(probe_messages()) == 2
    assert AuditEntry.objects.filter(action="approved").count() == 1


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_rejecting_without_a_reason_is_a_400_and_changes_nothing(mod_api, submitted, body):
    response = decide(mod_api, submitted, "reject", body)

    assert response.status_code == 400
    assert list(response.json()) == ["reason"]
    submitted.refresh_from_db()
    assert submitted.status == "submitted"
    assert submitted.moderation_note == ""
    assert not AuditEntry.objects.exists()
    assert not Notification.objects.exists()
    assert CampaignStatusChange.objects.filter(campaign=submitted).count() == 1


def test_a_rejection_reaches_the_sender_with_its_reason(
    mod_api, moderator, sender, submitted, client
):
    reason = "Promises of passive income are not allowed. Describe the actual product."

    response = decide(mod_api, submitted, "reject", {"reason": reason})

    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert response.json()["moderation_note"] == reason
    submitted.refresh_from_db()
    assert submitted.status == "rejected"
    assert submitted.moderation_note == reason
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.reason, entry.campaign) == (
        "rejected",
        moderator,
        reason,
        submitted,
    )
    notification = Notification.objects.get(account=sender.account)
    assert reason in render(notification.body)
    assert notification.level == "warning"
    # The sender's own campaign page says why.
    client.force_login(sender)
    page = client.get(notification.link)
    assert page.status_code == 200
    assert reason in page.content.decode()


def test_decline_needs_a_reason_and_stops_the_campaign(mod_api, moderator, submitted):
    assert decide(mod_api, submitted, "decline", {}).status_code == 400

    response = decide(mod_api, submitted, "decline", {"reason": "Bought list."})

    assert response.status_code == 200
    assert response.json()["status"] == "declined"
    assert response.json()["moderation_note"] == "Bought list."
    assert AuditEntry.objects.get().action == "declined"
    assert AuditEntry.objects.get().actor == moderator
    assert not Delivery.objects.filter(campaign=submitted).exists()


def test_a_moderator_releases_a_campaign_in_review(
    mod_api, moderator, submitted, django_capture_on_commit_callbacks
):
    campaign = into_review(submitted, moderator, django_capture_on_commit_callbacks)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = decide(mod_api, campaign, "release", {"reason": "One complaint in two."})

    assert response.status_code == 200
    assert response.json()["status"] == "releasing"
    campaign.refresh_from_db()
    assert campaign.status == "sent"
    assert len(probe_messages()) == 18
    entry = AuditEntry.objects.filter(action="released").get()
    assert (entry.actor, entry.reason) == (moderator, "One complaint in two.")


@pytest.mark.parametrize(
    ("status", "decision", "body"),
    [
        ("draft", "approve", {}),
        ("draft", "reject", {"reason": "No."}),
        ("submitted", "release", {}),
        ("sent", "decline", {"reason": "No."}),
        ("cancelled", "approve", {}),
    ],
)
def test_an_illegal_move_is_a_409_and_writes_nothing(mod_api, mailing_list, status, decision, body):
    campaign = CampaignFactory(account=mailing_list.account, lists=[mailing_list])
    Campaign.objects.filter(pk=campaign.pk).update(status=status)

    response = decide(mod_api, campaign, decision, body)

    assert response.status_code == 409
    assert response.json()["status"] == status
    assert "cannot become" in response.json()["detail"]
    campaign.refresh_from_db()
    assert campaign.status == status
    assert not AuditEntry.objects.exists()
    assert not Notification.objects.exists()
    assert not CampaignStatusChange.objects.filter(campaign=campaign).exists()


def test_an_unknown_campaign_is_a_404(mod_api):
    response = mod_api.post(f"{QUEUE}999999/reject/", {"reason": "No."}, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": "No such campaign."}


# --- the audit log --------------------------------------------------------------------------------


def test_the_audit_log_is_newest_first_and_filters(mod_api, moderator, mailing_list):
    first = submit(mailing_list, name="First")
    second = submit(mailing_list, name="Second")
    other_account_list = MailingListFactory(name="Elsewhere")
    subscribe_many(other_account_list, 3, prefix="o")
    elsewhere = submit(other_account_list, name="Elsewhere campaign")
    decide(mod_api, first, "reject", {"reason": "Fix the subject."})
    decide(mod_api, second, "decline", {"reason": "Bought list."})
    decide(mod_api, elsewhere, "reject", {"reason": "No identity."})

    everything = mod_api.get(AUDIT).json()
    of_account = mod_api.get(AUDIT, {"account": mailing_list.account_id}).json()
    of_campaign = mod_api.get(AUDIT, {"campaign": second.pk}).json()
    rejections = mod_api.get(AUDIT, {"action": "rejected"}).json()
    both = mod_api.get(AUDIT, {"account": mailing_list.account_id, "action": "rejected"}).json()

    assert [e["campaign"] for e in everything["results"]] == [elsewhere.pk, second.pk, first.pk]
    newest = everything["results"][0]
    assert newest["action"] == "rejected"
    assert newest["actor"] == moderator.pk
    assert newest["actor_label"] == "mo@consentmail.example"
    assert newest["account"] == elsewhere.account_id
    assert newest["campaign_label"] == "Elsewhere campaign"
    assert newest["reason"] == "No identity."
    assert [e["campaign"] for e in of_account["results"]] == [second.pk, first.pk]
    assert [e["action"] for e in of_campaign["results"]] == ["declined"]
    assert [e["campaign"] for e in rejections["results"]] == [elsewhere.pk, first.pk]
    assert [e["campaign"] for e in both["results"]] == [first.pk]
    assert everything["count"] == 3


def test_the_audit_log_refuses_bad_filters(mod_api):
    assert mod_api.get(AUDIT, {"action": "bogus"}).status_code == 400
    assert mod_api.get(AUDIT, {"account": "abc"}).status_code == 400
    assert mod_api.get(AUDIT, {"campaign": "0"}).status_code == 400
