"""Consent requests to existing clients (issue 25): candidates, the fixed template, the audience,
the signed "Yes" link and the retention of those who never answered."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from campaigns import consent_requests, sending
from campaigns.models import Campaign, CandidateStatus, ConsentCandidate, Delivery
from campaigns.rendering import CONSENT_BUTTON_URL
from campaigns.selectors import approved_compiled, recipients_of
from campaigns.states import CampaignStatus
from config.errors import ApplicationError
from lists.models import ConsentRecord, Subscriber, SubscriberStatus, Suppression
from lists.services.suppression import suppression_add
from tests.campaigns.factories import approve_now, subscribe_many
from tests.factories import UserFactory
from tests.lists.factories import SubscriberFactory


def _upload(tmp_path, account, request, lines: list[str], name="clients.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return consent_requests.consent_candidates_upload(
        account=account, campaign_id=request.pk, path=path, filename=name
    )


@pytest.fixture
def consent_request(account, sender_domain, mailing_list):
    return consent_requests.consent_request_create(
        account=account,
        created_by=None,
        mailing_list_id=mailing_list.pk,
        from_name="Acme",
        from_email="news@news.acme.example",
        intro="Thank you for ordering from us last year.",
    )


def test_create_writes_the_fixed_template(consent_request, account, mailing_list):
    assert consent_request.kind == "consent_request"
    assert consent_request.status == CampaignStatus.DRAFT
    assert list(consent_request.lists.all()) == [mailing_list]
    assert CONSENT_BUTTON_URL in consent_request.html_body
    assert "Yes, keep me informed" in consent_request.html_body
    assert mailing_list.purpose in consent_request.html_body
    assert account.company_name in consent_request.text_body
    assert "Thank you for ordering from us last year." in consent_request.html_body


def test_a_long_intro_is_refused(account, sender_domain, mailing_list):
    with pytest.raises(ApplicationError) as caught:
        consent_requests.consent_request_create(
            account=account,
            created_by=None,
            mailing_list_id=mailing_list.pk,
            from_name="Acme",
            from_email="news@news.acme.example",
            intro="x" * 301,
        )
    assert caught.value.field == "consent_intro"
    assert not Campaign.objects.exists()


def test_upload_adds_candidates_and_reports_refused_rows(
    tmp_path, account, consent_request, mailing_list
):
    SubscriberFactory(mailing_list=mailing_list, email="member@example.org")
    suppression_add(account=account, email="gone@example.org", reason="unsubscribed")
    report = _upload(
        tmp_path,
        account,
        consent_request,
        [
            "email,name",
            "ann@example.org,Ann",
            "bob@example.org,Bob",
            "not an address,X",
            "ANN@example.org,Ann again",
            "member@example.org,M",
            "gone@example.org,G",
        ],
    )
    assert report.added == 2
    assert report.refused == [
        (4, "not an address", "Not an e-mail address"),
        (5, "ANN@example.org", "Twice in the file"),
        (6, "member@example.org", "Already in the list"),
        (7, "gone@example.org", "Suppressed (unsubscribed, bounced or complained)"),
    ]
    candidates = list(
        ConsentCandidate.objects.filter(campaign=consent_request).values_list(
            "email", "name", "status", "subscriber__status"
        )
    )
    assert candidates == [
        ("ann@example.org", "Ann", "waiting", "unconfirmed"),
        ("bob@example.org", "Bob", "waiting", "unconfirmed"),
    ]
    # Uploading the same file again adds nothing.
    again = _upload(tmp_path, account, consent_request, ["email", "ann@example.org"])
    assert again.added == 0
    assert ConsentCandidate.objects.count() == 2
    assert Subscriber.objects.filter(mailing_list=mailing_list).count() == 3


def test_submit_freezes_the_template_whatever_was_edited(
    tmp_path, account, consent_request, mailing_list
):
    _upload(tmp_path, account, consent_request, ["email", "ann@example.org"])
    Campaign.objects.filter(pk=consent_request.pk).update(
        html_body='<p>Buy now <a href="https://shop.example/">shop</a></p>', subject="SALE"
    )
    campaign = sending.campaign_submit(account=account, campaign_id=consent_request.pk, actor=None)
    version = campaign.submitted_version
    assert "shop.example" not in version.html_body
    assert CONSENT_BUTTON_URL in version.html_body
    assert version.subject == f"{account.company_name} asks: may we keep writing to you?"
    # The button is not a tracked link.
    assert version.links == []


def test_submit_without_candidates_is_refused(account, consent_request, mailing_list):
    subscribe_many(mailing_list, 3)  # subscribers are not the request's audience
    with pytest.raises(ApplicationError):
        sending.campaign_submit(account=account, campaign_id=consent_request.pk, actor=None)
    consent_request.refresh_from_db()
    assert consent_request.status == CampaignStatus.DRAFT
    assert consent_request.submitted_version is None


def _approved_request(tmp_path, account, consent_request, mailing_list, capture):
    subscribe_many(mailing_list, 4, prefix="member")
    _upload(tmp_path, account, consent_request, ["email", *[f"c{n}@example.org" for n in range(5)]])
    sending.campaign_submit(account=account, campaign_id=consent_request.pk, actor=None)
    return approve_now(consent_request, UserFactory(is_staff=True), capture)


def test_the_audience_is_the_candidates_only(
    tmp_path, account, consent_request, mailing_list, django_capture_on_commit_callbacks
):
    _upload(tmp_path, account, consent_request, ["email", "g@gmail.com"], name="more.txt")
    campaign = _approved_request(
        tmp_path, account, consent_request, mailing_list, django_capture_on_commit_callbacks
    )
    rows = sorted(Delivery.objects.filter(campaign=campaign).values_list("email", "provider"))
    assert rows == [*[(f"c{n}@example.org", "other") for n in range(5)], ("g@gmail.com", "gmail")]
    assert campaign.recipients_at_approval == 6


def _yes_link(campaign, email) -> str:
    subscriber = Subscriber.objects.get(email=email)
    recipient = recipients_of(Subscriber.objects.filter(pk=subscriber.pk))[0]
    rendered = approved_compiled(campaign).render(recipient)
    assert CONSENT_BUTTON_URL not in rendered.html + rendered.text
    assert "because you are a client of" in rendered.text
    return re.search(r"http://[^/\s]+(/k/[^/\s\"]+/)", rendered.text).group(1)


def test_yes_subscribes_with_proof_only_on_post(
    tmp_path,
    account,
    consent_request,
    mailing_list,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    campaign = _approved_request(
        tmp_path, account, consent_request, mailing_list, django_capture_on_commit_callbacks
    )
    link = _yes_link(campaign, "c1@example.org")
    client = Client(HTTP_USER_AGENT="Firefox/140", REMOTE_ADDR="203.0.113.9")
    page = client.get(link)
    assert page.status_code == 200 and b"consent-yes" in page.content
    assert Subscriber.objects.get(email="c1@example.org").status == "unconfirmed"

    events = []
    monkeypatch.setattr(
        consent_requests,
        "subscriber_emit_event",
        lambda subscriber, event, **kwargs: events.append((subscriber.email, event, kwargs)),
    )
    answer = client.post(link)
    assert events == [
        (
            "c1@example.org",
            "subscriber.subscribed",
            {"previous_status": "unconfirmed", "channel": "consent_request"},
        )
    ]
    assert answer.status_code == 200 and b"consent-confirmed" in answer.content
    subscriber = Subscriber.objects.get(email="c1@example.org")
    assert subscriber.status == SubscriberStatus.SUBSCRIBED
    record = ConsentRecord.objects.get(subscriber=subscriber)
    assert (record.event, record.source, record.ip, record.user_agent) == (
        "granted",
        "client_reconfirmed",
        "203.0.113.9",
        "Firefox/140",
    )
    assert record.purpose_text == mailing_list.purpose
    candidate = ConsentCandidate.objects.get(email="c1@example.org")
    assert candidate.status == CandidateStatus.CONFIRMED and candidate.ip == "203.0.113.9"
    # Twice changes nothing.
    client.post(link)
    assert ConsentRecord.objects.filter(subscriber=subscriber).count() == 1
    # The others are untouched.
    assert Subscriber.objects.filter(email__startswith="c", status="unconfirmed").count() == 4


def test_a_tampered_or_test_link_confirms_nothing(
    tmp_path, account, consent_request, mailing_list, django_capture_on_commit_callbacks
):
    campaign = _approved_request(
        tmp_path, account, consent_request, mailing_list, django_capture_on_commit_callbacks
    )
    link = _yes_link(campaign, "c2@example.org")
    assert Client().post(link[:-3] + "x/").status_code == 404
    subscriber = Subscriber.objects.get(email="c2@example.org")
    recipient = recipients_of(Subscriber.objects.filter(pk=subscriber.pk))[0]
    test_message = approved_compiled(campaign).render(recipient, is_test=True)
    test_link = re.search(r"http://[^/\s]+(/k/[^/\s\"]+/)", test_message.text).group(1)
    assert Client().post(test_link).status_code == 200
    assert not ConsentRecord.objects.filter(subscriber=subscriber).exists()
    assert Subscriber.objects.get(pk=subscriber.pk).status == "unconfirmed"


def test_unanswered_candidates_are_deleted_after_the_request_ended(
    tmp_path, account, consent_request, mailing_list, django_capture_on_commit_callbacks
):
    campaign = _approved_request(
        tmp_path, account, consent_request, mailing_list, django_capture_on_commit_callbacks
    )
    Client().post(_yes_link(campaign, "c3@example.org"))
    now = timezone.now()
    Campaign.objects.filter(pk=campaign.pk).update(status="sent", finished_at=now)
    before = now - timedelta(days=30)
    assert consent_requests.unanswered_candidates_purge(before=before) == 0
    assert consent_requests.unanswered_candidates_purge(before=now + timedelta(seconds=1)) == 5
    # Every candidate goes; the yes lives on as the subscriber's consent record.
    assert not ConsentCandidate.objects.exists()
    assert (
        ConsentRecord.objects.get(subscriber__email="c3@example.org").source == "client_reconfirmed"
    )
    assert sorted(
        Subscriber.objects.filter(email__startswith="c").values_list("email", "status")
    ) == [("c3@example.org", "subscribed")]
    assert Subscriber.objects.filter(email__startswith="member").count() == 4
    assert Suppression.objects.count() == 0


def test_the_browser_upload_shows_counts_and_refused_rows(
    client, user, account, sender_domain, mailing_list
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(user)
    page = client.get(f"/lists/{mailing_list.pk}/")
    assert f'href="/lists/{mailing_list.pk}/consent-request/"' in page.content.decode()
    upload = SimpleUploadedFile(
        "clients.csv", b"email,name\nann@example.org,Ann\nnope,N\nbob@example.org,Bob\n"
    )
    response = client.post(
        f"/lists/{mailing_list.pk}/consent-request/",
        {
            "from_name": "Acme",
            "from_email": "news@news.acme.example",
            "intro": "Hello from Acme.",
            "file": upload,
        },
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "2 clients waiting for the request." in body
    assert "2 added from the file." in body
    assert "<td>nope</td><td>Not an e-mail address</td>" in body
    campaign = Campaign.objects.get()
    assert (campaign.kind, campaign.consent_intro) == ("consent_request", "Hello from Acme.")
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert f'id="consent-candidates" href="/campaigns/consent-requests/{campaign.pk}/"' in page
    assert f"/campaigns/{campaign.pk}/edit/" not in page
    submitted = client.post(f"/campaigns/{campaign.pk}/submit/")
    assert submitted.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SUBMITTED


def test_the_browser_upload_from_an_unverified_sender_creates_nothing(
    client, user, account, mailing_list
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(user)
    response = client.post(
        f"/lists/{mailing_list.pk}/consent-request/",
        {
            "from_name": "Acme",
            "from_email": "news@unverified.example",
            "file": SimpleUploadedFile("clients.csv", b"email\nann@example.org\n"),
        },
    )
    assert response.status_code == 200
    assert 'id="consent-request-error"' in response.content.decode()
    assert not Campaign.objects.exists()
    assert not Subscriber.objects.exists()


def test_a_consent_request_has_its_own_unsubscribe_levels(
    account, consent_request, settings, sender_domain, mailing_list
):
    from campaigns.models import CampaignKind
    from tests.campaigns.factories import CampaignFactory

    settings.CONSENT_REQUEST_UNSUBSCRIBE_WARN = 0.05
    settings.CONSENT_REQUEST_UNSUBSCRIBE_REVIEW = 0.15
    regular = CampaignFactory(account=account, lists=[mailing_list])
    assert regular.kind == CampaignKind.REGULAR
    general = consent_requests.verdict_thresholds(regular)
    own = consent_requests.verdict_thresholds(consent_request)
    assert (general.unsubscribes.warn, general.unsubscribes.review) == (0.01, 0.02)
    assert (own.unsubscribes.warn, own.unsubscribes.review) == (0.05, 0.15)
    assert own.complaints == general.complaints
    assert own.hard_bounces == general.hard_bounces


def test_deleting_the_list_deletes_its_candidates(tmp_path, account, consent_request, mailing_list):
    from lists.services.lists import list_delete

    _upload(tmp_path, account, consent_request, ["email", "ann@example.org", "bob@example.org"])
    list_delete(mailing_list=mailing_list)
    assert not ConsentCandidate.objects.exists()
    assert not Subscriber.objects.exists()


def test_an_erased_candidate_goes_at_the_next_purge(
    tmp_path, account, consent_request, mailing_list
):
    from lists.services.privacy import subscriber_erase

    _upload(tmp_path, account, consent_request, ["email", "ann@example.org", "bob@example.org"])
    subscriber_erase(account=account, email="ann@example.org")
    long_ago = timezone.now() - timedelta(days=365)
    assert consent_requests.unanswered_candidates_purge(before=long_ago, dry_run=True) == 1
    assert consent_requests.unanswered_candidates_purge(before=long_ago) == 1
    assert list(ConsentCandidate.objects.values_list("email", flat=True)) == ["bob@example.org"]
    assert consent_requests.unanswered_candidates_purge(before=long_ago) == 0


def test_an_address_that_arrives_during_the_upload_is_refused_alone(
    tmp_path, account, consent_request, mailing_list
):
    from lists.services.subscribers import subscribers_delete

    # ann's row was purged as never confirmed but her candidate is still there: the bulk
    # insert of the chunk conflicts, and the chunk is written row by row.
    _upload(tmp_path, account, consent_request, ["email", "ann@example.org"])
    subscribers_delete(Subscriber.objects.filter(email="ann@example.org"))
    report = _upload(
        tmp_path, account, consent_request, ["email", "ann@example.org", "bob@example.org"]
    )
    assert report.added == 1
    assert report.refused == [(2, "ann@example.org", "Already in the list")]
    assert sorted(ConsentCandidate.objects.values_list("email", flat=True)) == [
        "ann@example.org",
        "bob@example.org",
    ]
    assert list(Subscriber.objects.values_list("email", flat=True)) == ["bob@example.org"]


def test_a_yes_on_an_adult_list_needs_the_age_confirmation(
    tmp_path, account, consent_request, mailing_list, django_capture_on_commit_callbacks
):
    from lists.models import MailingList

    MailingList.objects.filter(pk=mailing_list.pk).update(adult_content=True)
    campaign = _approved_request(
        tmp_path, account, consent_request, mailing_list, django_capture_on_commit_callbacks
    )
    link = _yes_link(campaign, "c1@example.org")
    client = Client()
    assert b'id="age-confirmed"' in client.get(link).content

    refused = client.post(link)
    assert b"18 or older" in refused.content and b"consent-confirmed" not in refused.content
    assert Subscriber.objects.get(email="c1@example.org").status == "unconfirmed"
    assert not ConsentRecord.objects.filter(subscriber__email="c1@example.org").exists()

    answer = client.post(link, {"age_confirmed": "yes"})
    assert b"consent-confirmed" in answer.content
    record = ConsentRecord.objects.get(subscriber__email="c1@example.org")
    assert "Age confirmed: 18 or older" in record.proof


def test_a_russian_lists_consent_request_is_russian_whoever_writes_it(
    tmp_path, account, sender_domain, mailing_list, django_capture_on_commit_callbacks
):
    """Issue 23: the request, its footer and its "Yes" page are in the list's language."""
    mailing_list.language = "ru"
    mailing_list.save()
    request = consent_requests.consent_request_create(
        account=account,
        created_by=None,
        mailing_list_id=mailing_list.pk,
        from_name="Acme",
        from_email="news@news.acme.example",
    )
    assert request.subject == f"{account.company_name} спрашивает: можно ли и дальше вам писать?"
    assert "Да, сообщайте мне новости" in request.html_body

    campaign = _approved_request(
        tmp_path, account, request, mailing_list, django_capture_on_commit_callbacks
    )
    subscriber = Subscriber.objects.get(email="c1@example.org")
    rendered = approved_compiled(campaign).render(
        recipients_of(Subscriber.objects.filter(pk=subscriber.pk))[0]
    )
    assert "Вы получаете этот единственный запрос, потому что вы клиент" in rendered.text
    link = re.search(r"http://[^/\s]+(/k/[^/\s\"]+/)", rendered.text).group(1)
    page = Client().get(link)
    assert page["Content-Language"] == "ru"
    assert "Да, сообщайте мне новости" in page.content.decode()
    assert Client().get(link, headers={"accept-language": "en"})["Content-Language"] == "en"
