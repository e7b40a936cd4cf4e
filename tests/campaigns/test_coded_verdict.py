"""Issue 23: the probe's verdict, its reasons and the status changes the system writes are stored
as codes and parameters, and read in the reader's language; no internal code reaches a reader
(item 2: "complaints over the policy's limit `complaints_limit`", "probe verdict: green
(green)")."""

import re
from html import unescape

import pytest
from django.urls import reverse

from campaigns.models import CampaignStatusChange
from config.coded_text import render
from moderation.models import AuditAction, AuditEntry
from tests.campaigns.factories import (
    approve_now,
    end_hold_now,
    submitted_campaign,
    subscribe_many,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _said(response) -> str:
    assert response.status_code == 200
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def _verdict_rule(response) -> str:
    found = re.search(r'<span id="verdict-rule"[^>]*>(.*?)</span>', response.content.decode(), re.S)
    return unescape(re.sub(r"<[^>]+>", " ", found.group(1))).strip()


@pytest.fixture
def sent_campaign(mailing_list, django_capture_on_commit_callbacks):
    subscribe_many(mailing_list, 200)
    campaign = approve_now(
        submitted_campaign(mailing_list),
        UserFactory(is_staff=True),
        django_capture_on_commit_callbacks,
    )
    end_hold_now(campaign, django_capture_on_commit_callbacks)
    assert campaign.status == "sent"
    return campaign


def test_the_verdict_is_stored_as_codes(sent_campaign):
    reasons = sent_campaign.verdict["reasons"]

    assert all(reason["code"].startswith("campaigns.verdict.") for reason in reasons)
    assert render(reasons[0]).startswith("0 complaints in 20 messages: 0% (95% interval 0%–")


def test_the_sender_reads_the_verdict_and_its_rule_in_their_language(client, user, sent_campaign):
    client.force_login(user)
    page = reverse("campaign_detail", args=[sent_campaign.pk])
    english = client.get(page)
    user.language = "ru"
    user.save(update_fields=["language"])
    russian = client.get(page)

    assert _verdict_rule(english) == "Under the warning thresholds"
    assert "0 complaints in 20 messages" in _said(english)
    assert "0 жалоб на 20 писем" in _said(russian)
    assert "complaints in 20 messages" not in _said(russian)
    # The rule is named in words, never by its code.
    assert "green" not in _verdict_rule(english).lower().replace("under", "")
    assert _verdict_rule(russian) and "_" not in _verdict_rule(russian)


def test_the_status_history_says_the_verdict_in_words(client, user, sent_campaign):
    change = CampaignStatusChange.objects.get(campaign=sent_campaign, new_status="releasing")
    client.force_login(user)
    english = _said(client.get(reverse("campaign_detail", args=[sent_campaign.pk])))
    user.language = "ru"
    user.save(update_fields=["language"])
    russian = _said(client.get(reverse("campaign_detail", args=[sent_campaign.pk])))

    assert change.reason == (
        "Probe verdict: green, within every threshold (under the warning thresholds)."
    )
    assert "probe verdict: green (green)" not in english
    assert change.reason in english
    assert "Вердикт пробной отправки: зелёный, в пределах всех порогов" in russian
    assert "probe handed over" not in russian and "пробная отправка передана" in russian


def test_a_russian_moderator_reads_the_systems_audit_reasons_in_russian(client, sent_campaign):
    entry = AuditEntry.objects.get(campaign=sent_campaign, action=AuditAction.VERDICT)
    client.force_login(UserFactory(is_staff=True, account=None, language="ru"))

    audit = _said(client.get(reverse("moderation_audit")))

    assert entry.reason.startswith("Probe verdict: green, within every threshold. 0 complaints")
    assert "Вердикт пробной отправки: зелёный, в пределах всех порогов. 0 жалоб" in audit
    assert entry.reason not in audit
