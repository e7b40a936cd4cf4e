"""Resolving abuse reports: upheld or dismissed with a note, audited, idempotent; upheld reports
count towards the account's health (a warning and a flag); the API and the moderators' page."""

import pytest
from django.urls import reverse

from accounts.models import Notification
from complaints.models import AbuseReport, AbuseStatus
from config.coded_text import render
from config.errors import ApplicationError, InvalidTransition, NotFound, PermissionDenied
from moderation.enforcement import abuse
from moderation.models import AccountFlag, AuditEntry
from tests.campaigns.factories import CampaignFactory

pytestmark = pytest.mark.django_db

REPORTS = "/api/v1/moderation/abuse-reports/"
NOTE = "The address is on none of the account's forms; the list was bought."


@pytest.fixture
def account(sender):
    return sender.account


@pytest.fixture
def report(account, mailing_list):
    campaign = CampaignFactory(account=account, lists=[mailing_list], name="Winter sale")
    return AbuseReport.objects.create(
        reporter_email="kim@example.net",
        message_text="Subject: Winter sale\n<script>alert(1)</script>",
        comment="I never signed up.",
        account=account,
        campaign=campaign,
        matched_by="message_ref",
    )


def resolve(report, moderator, decision="upheld", note=NOTE):
    return abuse.abuse_report_resolve(
        report_id=report.pk, moderator=moderator, decision=decision, note=note
    )


# --- the service ----------------------------------------------------------------------------------


def test_upholding_a_report_is_audited_and_warns_and_flags_the_account(
    report, account, moderator, settings
):
    settings.ABUSE_UPHELD_WARN = 1

    resolved = resolve(report, moderator)

    assert (resolved.status, resolved.resolved_by, resolved.resolution_note) == (
        "upheld",
        moderator,
        NOTE,
    )
    assert resolved.resolved_at is not None
    entry = AuditEntry.objects.get(action="abuse_upheld")
    assert (entry.actor, entry.account, entry.campaign, entry.reason, entry.details) == (
        moderator,
        account,
        report.campaign,
        NOTE,
        {"abuse_report": report.pk},
    )
    account.refresh_from_db()
    assert account.state == "warned"
    assert AccountFlag.objects.filter(account=account, resolved_at=None).count() == 1
    assert [
        render(subject)
        for subject in Notification.objects.filter(account=account)
        .order_by("id")
        .values_list("subject", flat=True)
    ] == [
        "An abuse report about your mail was upheld",
        "Your account is warned: its mail draws too many bounces or complaints",
    ]


def test_an_upheld_report_below_the_threshold_does_not_warn(report, account, moderator, settings):
    settings.ABUSE_UPHELD_WARN = 2

    resolve(report, moderator)

    account.refresh_from_db()
    assert account.state == "active"
    assert not AccountFlag.objects.exists()


def test_dismissing_a_report_changes_nothing_about_the_account(
    report, account, moderator, settings
):
    settings.ABUSE_UPHELD_WARN = 1

    resolved = resolve(report, moderator, decision="dismissed", note="Double opt-in records.")

    assert resolved.status == "dismissed"
    account.refresh_from_db()
    assert account.state == "active"
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["abuse_dismissed"]
    assert not Notification.objects.exists() and not AccountFlag.objects.exists()


def test_resolving_twice_the_same_way_changes_nothing_and_the_other_way_is_refused(
    report, moderator
):
    resolve(report, moderator)
    first = AbuseReport.objects.get(pk=report.pk).resolved_at

    resolve(report, moderator, note="Again")
    with pytest.raises(InvalidTransition, match="already upheld"):
        resolve(report, moderator, decision="dismissed")

    report.refresh_from_db()
    assert (report.status, report.resolution_note, report.resolved_at) == ("upheld", NOTE, first)
    assert AuditEntry.objects.filter(action__startswith="abuse_").count() == 1


@pytest.mark.parametrize(
    "decision, note, field",
    [("upheld", "", "note"), ("upheld", "x" * 2001, "note"), ("open", NOTE, "decision")],
)
def test_a_bad_decision_or_note_is_refused_and_changes_nothing(
    report, moderator, decision, note, field
):
    with pytest.raises(ApplicationError) as refused:
        resolve(report, moderator, decision=decision, note=note)

    assert refused.value.field == field
    report.refresh_from_db()
    assert report.status == "open" and not AuditEntry.objects.exists()


def test_only_moderators_resolve_and_unknown_reports_are_not_found(report, sender, moderator):
    with pytest.raises(PermissionDenied):
        resolve(report, sender)
    with pytest.raises(NotFound):
        abuse.abuse_report_resolve(
            report_id=2_000_000_000, moderator=moderator, decision="upheld", note=NOTE
        )

    report.refresh_from_db()
    assert report.status == "open" and not AuditEntry.objects.exists()


def test_an_unmatched_report_can_be_resolved(moderator):
    report = AbuseReport.objects.create(reporter_email="kim@example.net", comment="Spam")

    assert resolve(report, moderator).status == "upheld"
    entry = AuditEntry.objects.get()
    assert (entry.account, entry.account_label, entry.campaign) == (None, "", None)


# --- the API --------------------------------------------------------------------------------------


def test_the_api_lists_open_reports_first_and_filters_by_status(report, moderator, mod_api):
    done = AbuseReport.objects.create(reporter_email="lee@example.net", comment="Old")
    resolve(done, moderator, decision="dismissed")
    newer_open = AbuseReport.objects.create(reporter_email="max@example.net", comment="New")

    rows = mod_api.get(REPORTS).json()["results"]

    assert [row["id"] for row in rows] == [newer_open.pk, report.pk, done.pk]
    assert rows[1]["account"] == {
        "id": report.account_id,
        "company_name": "Acme Ltd",
        "state": "active",
    }
    assert rows[1]["campaign"] == {"id": report.campaign_id, "name": "Winter sale"}
    assert rows[1]["message_text"] == report.message_text
    assert [row["id"] for row in mod_api.get(f"{REPORTS}?status=dismissed").json()["results"]] == [
        done.pk
    ]
    assert mod_api.get(f"{REPORTS}?status=bogus").status_code == 400


def test_the_api_resolves_a_report(report, mod_api, moderator):
    response = mod_api.post(
        f"{REPORTS}{report.pk}/resolve/", {"decision": "upheld", "note": NOTE}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["resolution_note"], body["resolved_by"]) == (
        "upheld",
        NOTE,
        moderator.pk,
    )
    again = mod_api.post(
        f"{REPORTS}{report.pk}/resolve/", {"decision": "dismissed", "note": NOTE}, format="json"
    )
    assert again.status_code == 409


def test_the_api_refuses_bad_input_unknown_ids_and_senders(report, mod_api, sender_api):
    bad = mod_api.post(f"{REPORTS}{report.pk}/resolve/", {"decision": "upheld"}, format="json")
    assert bad.status_code == 400 and list(bad.json()) == ["note"]
    unknown = mod_api.post(
        f"{REPORTS}2000000000/resolve/", {"decision": "upheld", "note": NOTE}, format="json"
    )
    assert unknown.status_code == 404
    sender = sender_api.post(
        f"{REPORTS}{report.pk}/resolve/", {"decision": "dismissed", "note": NOTE}, format="json"
    )
    assert sender.status_code == 403

    report.refresh_from_db()
    assert report.status == "open" and not AuditEntry.objects.exists()


# --- the moderators' page -------------------------------------------------------------------------


@pytest.fixture
def staff(client, moderator):
    client.force_login(moderator)
    return client


def test_the_abuse_page_shows_open_reports_with_the_reporters_text_escaped(report, staff):
    response = staff.get(reverse("moderation_abuse"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert (
        '<pre class="mail report-message">Subject: Winter sale\n'
        "&lt;script&gt;alert(1)&lt;/script&gt;</pre>" in html
    )
    assert reverse("moderation_account", args=[report.account_id]) in html
    assert reverse("moderation_review", args=[report.campaign_id]) in html
    assert f'id="resolve-{report.pk}"' in html


def test_resolving_from_the_page(report, staff, moderator):
    prefix = f"report-{report.pk}"
    url = reverse("moderation_abuse_resolve", args=[report.pk])

    missing = staff.post(url, {f"{prefix}-decision": "upheld", f"{prefix}-note": ""})
    assert missing.status_code == 400
    report.refresh_from_db()
    assert report.status == "open"

    done = staff.post(url, {f"{prefix}-decision": "dismissed", f"{prefix}-note": "Fine."})

    assert done.status_code == 302 and done["Location"] == reverse("moderation_abuse")
    report.refresh_from_db()
    assert (report.status, report.resolution_note, report.resolved_by) == (
        "dismissed",
        "Fine.",
        moderator,
    )
    page = staff.get(reverse("moderation_abuse") + "?status=dismissed").content.decode()
    assert "Fine." in page and f'id="resolve-{report.pk}"' not in page


def test_the_abuse_page_does_not_exist_for_senders(report, client, sender):
    client.force_login(sender)

    assert client.get(reverse("moderation_abuse")).status_code == 404
    prefix = f"report-{report.pk}"
    response = client.post(
        reverse("moderation_abuse_resolve", args=[report.pk]),
        {f"{prefix}-decision": "upheld", f"{prefix}-note": NOTE},
    )
    assert response.status_code == 404
    report.refresh_from_db()
    assert report.status == AbuseStatus.OPEN
