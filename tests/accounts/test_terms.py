"""Re-acceptance of a new terms or privacy version before the next action that sends."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import TermsAcceptance
from accounts.services import api_token_create, terms_accept
from accounts.terms import documents_due
from campaigns.models import Campaign, CampaignStatusChange
from lists.models import ImportJob
from tests.campaigns.factories import CampaignFactory
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

NEW_PRIVACY = "2027-01-15"


@pytest.fixture(autouse=True)
def _analyser(settings):
    settings.CONTENT_ANALYSER = "tests.campaigns.test_services.review_analyser"


@pytest.fixture
def sender():
    return UserFactory()


@pytest.fixture
def draft(sender):
    mailing_list = MailingListFactory(account=sender.account)
    SubscriberFactory(mailing_list=mailing_list, email="ann.lee@example.org")
    return CampaignFactory(account=sender.account, lists=[mailing_list])


def api_client_of(user):
    from rest_framework.test import APIClient

    _, key = api_token_create(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_nothing_is_due_after_accepting_the_current_versions(sender):
    assert documents_due(user=sender) == []


def test_a_new_privacy_version_is_due_with_what_changed(sender, settings):
    accepted = settings.PRIVACY_VERSION
    settings.PRIVACY_VERSION = "2026-12-06"
    TermsAcceptance.objects.filter(user=sender).update(privacy_version="2026-11-01")

    due = documents_due(user=sender)

    assert [(d.key, d.version, d.accepted_version) for d in due] == [
        ("privacy", "2026-12-06", "2026-11-01")
    ]
    assert due[0].changes[2] == (
        "Preferences of accounts nobody has used for 90 days are deleted (they were kept for "
        "18 months)."
    )
    assert accepted == "2026-12-06"


def test_a_user_who_never_accepted_has_both_due_and_staff_without_account_none(settings):
    never = UserFactory(terms_accepted=False)
    moderator = UserFactory(account=None, is_staff=True, terms_accepted=False)

    assert [d.key for d in documents_due(user=never)] == ["terms", "privacy"]
    assert documents_due(user=moderator) == []


def test_accepting_records_versions_time_and_ip_and_twice_writes_once(sender, settings):
    settings.TERMS_VERSION = "2027-02-01"
    settings.PRIVACY_VERSION = NEW_PRIVACY

    first = terms_accept(user=sender, ip="203.0.113.5", user_agent="Firefox")
    again = terms_accept(user=sender, ip="198.51.100.1", user_agent="Chrome")

    assert again.pk == first.pk
    assert (first.terms_version, first.privacy_version, first.ip, first.user_agent) == (
        "2027-02-01",
        NEW_PRIVACY,
        "203.0.113.5",
        "Firefox",
    )
    assert TermsAcceptance.objects.filter(user=sender).count() == 2  # the factory's and this
    assert documents_due(user=sender) == []


# --- the browser -------------------------------------------------------------------------------


def test_a_browser_submit_goes_to_the_accept_page_and_changes_nothing(
    client, sender, draft, settings
):
    settings.PRIVACY_VERSION = NEW_PRIVACY
    client.force_login(sender)
    detail = reverse("campaign_detail", args=[draft.pk])

    response = client.post(
        reverse("campaign_submit", args=[draft.pk]), HTTP_REFERER=f"http://testserver{detail}"
    )

    assert response.status_code == 302
    assert response["Location"] == (
        reverse("terms_accept") + "?next=http%3A%2F%2Ftestserver" + detail.replace("/", "%2F")
    )
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert not CampaignStatusChange.objects.filter(campaign=draft).exists()


def test_a_browser_test_send_and_import_are_refused_too(client, sender, draft, settings):
    settings.PRIVACY_VERSION = NEW_PRIVACY
    client.force_login(sender)
    mailing_list = draft.lists.get()

    sent = client.post(reverse("campaign_test_send", args=[draft.pk]))
    upload = client.post(reverse("import_upload", args=[mailing_list.pk]), {})

    assert sent.status_code == upload.status_code == 302
    assert sent["Location"].startswith(reverse("terms_accept"))
    assert upload["Location"].startswith(reverse("terms_accept"))
    assert mail.outbox == []
    assert not ImportJob.objects.exists()


def test_the_accept_page_shows_the_change_and_accepting_lets_the_submit_through(
    client, sender, draft, settings
):
    settings.PRIVACY_VERSION = NEW_PRIVACY
    client.force_login(sender)
    detail = reverse("campaign_detail", args=[draft.pk])

    page = client.get(reverse("terms_accept"), {"next": detail})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="due-privacy"' in html and 'id="due-terms"' not in html
    assert f"Version {NEW_PRIVACY}" in html

    accepted = client.post(
        reverse("terms_accept"),
        {"next": detail},
        REMOTE_ADDR="203.0.113.77",
        HTTP_USER_AGENT="Firefox",
    )
    assert accepted.status_code == 302 and accepted["Location"] == detail
    latest = TermsAcceptance.objects.filter(user=sender).latest("accepted_at")
    assert (latest.privacy_version, latest.ip, latest.user_agent) == (
        NEW_PRIVACY,
        "203.0.113.77",
        "Firefox",
    )

    submitted = client.post(reverse("campaign_submit", args=[draft.pk]))
    assert submitted["Location"] == detail
    draft.refresh_from_db()
    assert draft.status == "submitted"


def test_the_accept_page_refuses_a_foreign_next(client, sender, settings):
    settings.PRIVACY_VERSION = NEW_PRIVACY
    client.force_login(sender)

    response = client.post(reverse("terms_accept"), {"next": "https://evil.example/"})

    assert response["Location"] == reverse("dashboard")


def test_reading_pages_stays_open_while_an_acceptance_is_due(client, sender, draft, settings):
    settings.PRIVACY_VERSION = NEW_PRIVACY
    client.force_login(sender)

    assert client.get(reverse("campaign_detail", args=[draft.pk])).status_code == 200
    assert client.get(reverse("dashboard")).status_code == 200


# --- the API -----------------------------------------------------------------------------------


def test_an_api_submit_is_a_403_naming_the_version_and_where_to_accept(sender, draft, settings):
    settings.PRIVACY_VERSION = NEW_PRIVACY
    api = api_client_of(sender)

    response = api.post(f"/api/v1/campaigns/{draft.pk}/submit/")

    assert response.status_code == 403
    assert response.json() == {
        "detail": f"Accept the new Privacy policy version {NEW_PRIVACY} before sending: "
        "POST /api/v1/account/accept-terms/ (or open "
        f"{settings.SITE_URL.rstrip('/')}/account/accept-terms/ in the browser).",
        "code": "terms_not_accepted",
        "versions": {"privacy": NEW_PRIVACY},
        "accept_url": "/api/v1/account/accept-terms/",
    }
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_api_test_sends_and_imports_are_refused_too(sender, draft, settings):
    settings.TERMS_VERSION = "2027-02-01"
    api = api_client_of(sender)
    mailing_list = draft.lists.get()

    sent = api.post(f"/api/v1/campaigns/{draft.pk}/test/")
    imported = api.post(f"/api/v1/lists/{mailing_list.pk}/imports/", {})

    assert (sent.status_code, imported.status_code) == (403, 403)
    assert sent.json()["versions"] == {"terms": "2027-02-01"}
    assert mail.outbox == []
    assert not ImportJob.objects.exists()


def test_accepting_through_the_api_records_the_ip_and_unblocks_the_submit(sender, draft, settings):
    settings.PRIVACY_VERSION = NEW_PRIVACY
    api = api_client_of(sender)

    status = api.get("/api/v1/account/accept-terms/")
    assert status.status_code == 200
    assert status.json()["due"] == ["privacy"]
    assert status.json()["privacy_version"] == NEW_PRIVACY

    accepted = api.post("/api/v1/account/accept-terms/", REMOTE_ADDR="198.51.100.23")
    assert accepted.status_code == 200
    assert accepted.json()["due"] == []
    assert accepted.json()["accepted_privacy_version"] == NEW_PRIVACY
    latest = TermsAcceptance.objects.filter(user=sender).latest("accepted_at")
    assert (latest.privacy_version, latest.ip) == (NEW_PRIVACY, "198.51.100.23")

    submitted = api.post(f"/api/v1/campaigns/{draft.pk}/submit/")
    assert submitted.status_code == 200
    assert Campaign.objects.get(pk=draft.pk).status == "submitted"


def test_reading_through_the_api_stays_open(sender, draft, settings):
    settings.PRIVACY_VERSION = NEW_PRIVACY
    api = api_client_of(sender)

    assert api.get(f"/api/v1/campaigns/{draft.pk}/").status_code == 200


def test_the_schema_documents_the_accept_endpoint(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").content.decode()

    assert "/api/v1/account/accept-terms/" in schema
    assert "terms_not_accepted" in schema


def test_every_page_shows_the_banner_while_an_acceptance_is_due(client, sender, settings):
    client.force_login(sender)
    assert 'id="terms-due"' not in client.get(reverse("dashboard")).content.decode()

    settings.PRIVACY_VERSION = NEW_PRIVACY

    page = client.get(reverse("dashboard")).content.decode()
    assert 'id="terms-due"' in page
    assert f'<a href="{reverse("terms_accept")}">Read what changed and accept it</a>' in page
    russian = client.get(reverse("dashboard"), headers={"accept-language": "ru"})
    assert "Прочитайте, что изменилось, и примите её" in russian.content.decode()
