"""Imports of files in other services' export layouts (tests/fixtures/exports/README.md): people
who left there are never subscribed here, their addresses become the account's suppressions, and
the report says row by row why (issue 18)."""

import csv
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from accounts.services import api_token_create
from config.coded_text import render
from lists.models import (
    ConsentRecord,
    ImportJob,
    ImportRowIssue,
    PlatformSuppression,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from lists.services.suppression import suppression_add
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db(transaction=True)

EXPORTS = Path(__file__).parents[1] / "fixtures" / "exports"
KEPT = "Not subscribed; added to your suppressions."


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def mailing_list(user):
    return MailingListFactory(account=user.account)


def _upload(client, mailing_list, path: Path, **fields):
    data = {
        "file": SimpleUploadedFile(path.name, path.read_bytes()),
        "consent_source": "client_reconfirmed",
        "proof": "Consent request answered, archived in the CRM",
        **fields,
    }
    return client.post(f"/api/v1/lists/{mailing_list.pk}/imports/", data, format="multipart")


def _run(client, mailing_list, relative: str, **fields) -> dict:
    response = _upload(client, mailing_list, EXPORTS / relative, **fields)
    assert response.status_code == 202, response.json()
    body = client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert body["status"] == "done", body
    return body


def _counts(body) -> tuple[int, int, int, int]:
    return body["imported"], body["updated"], body["skipped"], body["suppressed"]


def _subscribers(mailing_list) -> dict[str, tuple[str, str]]:
    return {
        email: (name, status)
        for email, name, status in mailing_list.subscribers.values_list("email", "name", "status")
    }


def _suppressions(account) -> dict[str, str]:
    return dict(Suppression.objects.filter(account=account).values_list("email", "reason"))


def _issues(body) -> dict[int, tuple[str, str, bool]]:
    return {e["row"]: (e["email"], e["reason"], e["suppressed"]) for e in body["errors"]}


def test_mailchimp_subscribed_export_imports_everyone_with_joined_names(
    token_client, mailing_list, user
):
    body = _run(token_client, mailing_list, "mailchimp/subscribed_members_export_3f2a9c1e07.csv")

    assert _counts(body) == (2, 0, 0, 0)
    # An empty UNSUB_REASON merge field unsubscribes nobody.
    assert _subscribers(mailing_list) == {
        "ann.lee@example.com": ("Ann Lee", "subscribed"),
        "bob.stone@example.com": ("Bob Stone", "subscribed"),
    }
    assert Subscriber.objects.get(email="ann.lee@example.com").phone == "+44 113 496 0000"
    assert body["column_map"] == {
        "email": 0,
        "name": 1,
        "last_name": 2,
        "phone": 4,
        "tags": 23,
        "attributes": {},
    }
    assert body["errors"] == []
    # Mailchimp's TAGS cell quotes each name: the tag is the name without them.
    ann = Subscriber.objects.get(email="ann.lee@example.com")
    assert [link.tag.name for link in ann.tag_links.all()] == ["newsletter"]
    assert _suppressions(user.account) == {}


def test_mailchimp_unsubscribed_export_suppresses_every_row(token_client, mailing_list, user):
    body = _run(token_client, mailing_list, "mailchimp/unsubscribed_members_export_3f2a9c1e07.csv")

    assert _counts(body) == (0, 0, 0, 2)
    assert not mailing_list.subscribers.exists()
    assert not ConsentRecord.objects.exists()
    assert _suppressions(user.account) == {
        "carol.white@example.com": "unsubscribed",
        "dan.brown@example.com": "unsubscribed",
    }
    assert _issues(body) == {
        2: (
            "carol.white@example.com",
            "Unsubscribed in the source: Mailchimp status 'unsubscribed' "
            f"(UNSUB_TIME 2024-03-01 08:15:09). {KEPT}",
            True,
        ),
        3: (
            "dan.brown@example.com",
            "Unsubscribed in the source: Mailchimp status 'unsubscribed' "
            f"(UNSUB_TIME 2024-03-04 21:40:00). {KEPT}",
            True,
        ),
    }


def test_mailchimp_cleaned_export_suppresses_for_this_account_only(
    token_client, mailing_list, user, other_user
):
    body = _run(token_client, mailing_list, "mailchimp/cleaned_members_export_3f2a9c1e07.csv")

    assert _counts(body) == (0, 0, 0, 1)
    assert _suppressions(user.account) == {"erin.gone@example.com": "hard_bounce"}
    assert _issues(body)[2][1] == (
        "Bounced in the source: Mailchimp status 'cleaned' "
        f"(CLEAN_TIME 2024-02-20 06:00:12). {KEPT}"
    )
    # Another service's word is not our own observation: nothing platform-wide.
    assert not PlatformSuppression.objects.exists()
    other_list = MailingListFactory(account=other_user.account)
    _, key = api_token_create(user=other_user, name="t")
    other_client = APIClient()
    other_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    content = b"email\nerin.gone@example.com\n"
    response = other_client.post(
        f"/api/v1/lists/{other_list.pk}/imports/",
        {
            "file": SimpleUploadedFile("again.csv", content),
            "consent_source": "paper_form",
            "proof": "box 4",
        },
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    assert list(other_list.subscribers.values_list("email", flat=True)) == ["erin.gone@example.com"]


def test_mailchimp_combined_export_reads_its_status_column(token_client, mailing_list, user):
    body = _run(token_client, mailing_list, "mailchimp/audience_export_all_contacts.csv")

    assert _counts(body) == (1, 0, 2, 2)
    assert _subscribers(mailing_list) == {"frank.moss@example.com": ("Frank Moss", "subscribed")}
    assert _suppressions(user.account) == {
        "gina.park@example.com": "unsubscribed",
        "hal.reed@example.com": "hard_bounce",
    }
    assert _issues(body) == {
        3: (
            "gina.park@example.com",
            f"Unsubscribed in the source: Mailchimp status 'unsubscribed'. {KEPT}",
            True,
        ),
        4: (
            "hal.reed@example.com",
            f"Bounced in the source: Mailchimp status 'cleaned'. {KEPT}",
            True,
        ),
        5: (
            "ivy.cole@example.com",
            "Not confirmed in the source: Mailchimp status 'pending'.",
            False,
        ),
        6: (
            "jon.hart@example.com",
            "Not subscribed in the source: Mailchimp status 'transactional'.",
            False,
        ),
    }
    assert body["column_map"]["status"] == 3


def test_sendy_export(token_client, mailing_list, user):
    body = _run(token_client, mailing_list, "sendy/subscribers.csv")

    # Soft bounces are temporary: imported as usual. Unconfirmed: no consent, skipped.
    assert _counts(body) == (2, 0, 1, 3)
    assert _subscribers(mailing_list) == {
        "ann@example.org": ("Ann Lee", "subscribed"),
        "dan@example.org": ("Dan Brown", "subscribed"),
    }
    assert _suppressions(user.account) == {
        "bob@example.org": "unsubscribed",
        "carol@example.org": "hard_bounce",
        "erin@example.org": "complained",
    }
    assert _issues(body) == {
        3: (
            "bob@example.org",
            f"Unsubscribed in the source: Sendy status 'Unsubscribed'. {KEPT}",
            True,
        ),
        4: ("carol@example.org", f"Bounced in the source: Sendy status 'Bounced'. {KEPT}", True),
        6: (
            "erin@example.org",
            f"Reported as spam in the source: Sendy status 'Marked as spam'. {KEPT}",
            True,
        ),
        7: ("fay@example.org", "Not confirmed in the source: Sendy status 'Unconfirmed'.", False),
    }


def test_listmonk_export(token_client, mailing_list, user):
    body = _run(token_client, mailing_list, "listmonk/subscribers.csv")

    assert _counts(body) == (1, 0, 1, 1)
    assert _subscribers(mailing_list) == {"ann@example.net": ("Ann Lee", "subscribed")}
    assert _suppressions(user.account) == {"carol@example.net": "unsubscribed"}
    assert _issues(body) == {
        3: ("bob@example.net", "Disabled in the source: listmonk status 'disabled'.", False),
        4: (
            "carol@example.net",
            f"Unsubscribed in the source: listmonk status 'blocklisted'. {KEPT}",
            True,
        ),
    }


def test_brevo_export(token_client, mailing_list, user):
    body = _run(token_client, mailing_list, "brevo/contacts_export.csv")

    assert _counts(body) == (2, 0, 0, 1)
    # FIRSTNAME + LASTNAME make the name, SMS the phone; an SMS opt-out is not an e-mail one.
    assert _subscribers(mailing_list) == {
        "ann@example.com": ("Ann Lee", "subscribed"),
        "carol@example.com": ("Carol White", "subscribed"),
    }
    assert Subscriber.objects.get(email="ann@example.com").phone == "+441134960000"
    assert _suppressions(user.account) == {"bob@example.com": "unsubscribed"}
    assert _issues(body) == {
        3: (
            "bob@example.com",
            f"Unsubscribed in the source: Brevo EMAIL_BLACKLISTED 'Yes'. {KEPT}",
            True,
        )
    }
    assert (body["column_map"]["opt_out"], body["column_map"]["phone"]) == (4, 3)


def test_mailerlite_export(token_client, mailing_list, user):
    body = _run(token_client, mailing_list, "mailerlite/subscribers.csv")

    assert _counts(body) == (1, 0, 1, 3)
    # The address column is headed "Subscriber": found by what it holds.
    assert _subscribers(mailing_list) == {"ann@example.co.uk": ("Ann Lee", "subscribed")}
    assert _suppressions(user.account) == {
        "bob@example.co.uk": "unsubscribed",
        "carol@example.co.uk": "hard_bounce",
        "dan@example.co.uk": "complained",
    }
    assert _issues(body)[5] == (
        "dan@example.co.uk",
        f"Reported as spam in the source: MailerLite status 'junk'. {KEPT}",
        True,
    )
    assert _issues(body)[6] == (
        "erin@example.co.uk",
        "Not confirmed in the source: MailerLite status 'unconfirmed'.",
        False,
    )


def test_spreadsheet_with_title_rows_finds_its_header(token_client, mailing_list):
    body = _run(token_client, mailing_list, "spreadsheets/titled.xlsx")

    assert _counts(body) == (3, 0, 0, 0)
    assert _subscribers(mailing_list) == {
        "ann@example.com": ("Ann Lee", "subscribed"),
        "bob@example.com": ("Bob", "subscribed"),
        "carol@example.com": ("White", "subscribed"),
    }
    assert Subscriber.objects.get(email="ann@example.com").phone == "441134960000"
    # The note in the column without a heading can be mapped: the widest row counts.
    job = ImportJob.objects.get(pk=body["id"])
    assert job.column_map == {"email": 0, "name": 1, "last_name": 2, "phone": 3, "attributes": {}}


def test_the_column_without_a_heading_can_be_mapped(token_client, mailing_list):
    body = _run(
        token_client,
        mailing_list,
        "spreadsheets/titled.xlsx",
        column_map='{"email": 0, "name": 1, "attributes": {"note": 5}}',
    )
    assert body["imported"] == 3
    assert Subscriber.objects.get(email="bob@example.com").attributes == {"note": "met at the fair"}


def test_an_explicit_column_map_does_not_switch_the_status_column_off(
    token_client, mailing_list, user
):
    body = _run(token_client, mailing_list, "sendy/subscribers.csv", column_map='{"email": 1}')

    assert _counts(body) == (2, 0, 1, 3)
    assert body["column_map"] == {"email": 1, "status": 3, "attributes": {}}
    assert set(_suppressions(user.account)) == {
        "bob@example.org",
        "carol@example.org",
        "erin@example.org",
    }


def test_a_status_column_of_your_own_can_be_named(token_client, mailing_list, user):
    content = b"email,state\nann@example.com,active\nbob@example.com,unsubscribed\n"
    response = token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/imports/",
        {
            "file": SimpleUploadedFile("own.csv", content),
            "consent_source": "paper_form",
            "proof": "box 4",
            "column_map": '{"email": 0, "status": 1, "attributes": {"state": 1}}',
        },
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    body = token_client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert _counts(body) == (1, 0, 0, 1)
    assert _suppressions(user.account) == {"bob@example.com": "unsubscribed"}
    assert Subscriber.objects.get().attributes == {"state": "active"}


def test_a_subscriber_already_on_the_list_who_unsubscribed_elsewhere_leaves_it(
    token_client, mailing_list, user
):
    carol = SubscriberFactory(
        mailing_list=mailing_list, email="carol.white@example.com", name="Carol"
    )
    body = _run(token_client, mailing_list, "mailchimp/unsubscribed_members_export_3f2a9c1e07.csv")

    assert _counts(body) == (0, 0, 0, 2)
    carol.refresh_from_db()
    assert carol.status == SubscriberStatus.UNSUBSCRIBED
    withdrawn = carol.consent_records.get(event="withdrawn")
    assert (withdrawn.source, withdrawn.recorded_by_id) == ("import", user.pk)
    # Importing the same export again changes nothing more.
    again = _run(token_client, mailing_list, "mailchimp/unsubscribed_members_export_3f2a9c1e07.csv")
    assert _counts(again) == (0, 0, 0, 2)
    assert carol.consent_records.filter(event="withdrawn").count() == 1
    assert Suppression.objects.filter(account=user.account).count() == 2


def test_an_earlier_suppression_keeps_its_reason(token_client, mailing_list, user):
    suppression_add(account=user.account, email="bob@example.org", reason="complained")
    body = _run(token_client, mailing_list, "sendy/subscribers.csv")
    assert body["suppressed"] == 3
    assert _suppressions(user.account)["bob@example.org"] == "complained"


def test_the_opt_out_wins_over_an_earlier_row_of_the_same_address(token_client, mailing_list, user):
    content = (
        b"Name,Email,Joined,Status\n"
        b"Ann,ann@example.org,x,Subscribed\n"
        b"Ann,ANN@example.org,y,Unsubscribed\n"
        b"Ann,ann@example.org,z,Subscribed\n"
    )
    response = _upload_bytes(token_client, mailing_list, "twice.csv", content)
    body = token_client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert _counts(body) == (0, 0, 2, 1)
    assert not mailing_list.subscribers.exists()
    assert _issues(body) == {
        2: ("ann@example.org", "Opted out in the source on row 3.", False),
        3: (
            "ann@example.org",
            f"Unsubscribed in the source: Sendy status 'Unsubscribed'. {KEPT}",
            True,
        ),
        4: ("ann@example.org", "Duplicate of row 3.", False),
    }


def test_an_opt_out_in_a_later_batch_is_honoured_too(token_client, mailing_list, user, settings):
    settings.IMPORT_BATCH_SIZE = 2
    content = (
        b"Name,Email,Joined,Status\n"
        b"Ann,ann@example.org,x,Subscribed\n"
        b"Bob,bob@example.org,x,Subscribed\n"
        b"Ann,ann@example.org,y,Unsubscribed\n"
        b"Carol,carol@example.org,y,Subscribed\n"
        b"Ann,ann@example.org,z,Subscribed\n"
    )
    response = _upload_bytes(token_client, mailing_list, "late.csv", content)
    body = token_client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert _counts(body) == (3, 0, 1, 1)
    assert _subscribers(mailing_list) == {
        "ann@example.org": ("Ann", "unsubscribed"),
        "bob@example.org": ("Bob", "subscribed"),
        "carol@example.org": ("Carol", "subscribed"),
    }
    assert _issues(body)[6] == (
        "ann@example.org",
        "Suppressed: This address unsubscribed from your mail.",
        False,
    )


def test_the_error_report_says_suppressed(token_client, mailing_list):
    body = _run(token_client, mailing_list, "sendy/subscribers.csv")
    report = token_client.get(body["error_report_url"])
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    assert [(r[0], r[1], r[3]) for r in rows[1:]] == [
        ("3", "bob@example.org", "suppressed"),
        ("4", "carol@example.org", "suppressed"),
        ("6", "erin@example.org", "suppressed"),
        ("7", "fay@example.org", "skipped"),
    ]


def test_the_finished_event_counts_the_suppressed_rows(
    token_client, mailing_list, user, monkeypatch
):
    monkeypatch.setattr("accounts.webhooks._enqueue_on_commit", lambda ids: None)
    WebhookEndpoint.objects.create(
        account=user.account,
        url="http://127.0.0.1:9/hook",
        events=[WebhookEvent.IMPORT_FINISHED],
        secret="s",
    )
    _run(token_client, mailing_list, "sendy/subscribers.csv")
    payload = WebhookDelivery.objects.get(event="import.finished").payload["data"]
    assert (payload["imported"], payload["skipped"], payload["suppressed"]) == (2, 1, 3)


def _upload_bytes(client, mailing_list, name: str, content: bytes):
    response = client.post(
        f"/api/v1/lists/{mailing_list.pk}/imports/",
        {
            "file": SimpleUploadedFile(name, content),
            "consent_source": "paper_form",
            "proof": "box 4",
        },
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    return response


# --- the browser's mapping step and report ---------------------------------------------------


def _browser_upload(client, mailing_list, relative: str) -> ImportJob:
    path = EXPORTS / relative
    response = client.post(
        f"/lists/{mailing_list.pk}/import/",
        {
            "file": SimpleUploadedFile(path.name, path.read_bytes()),
            "consent_source": "paper_form",
            "proof": "box 4",
        },
    )
    assert response.status_code == 302, response.content
    return ImportJob.objects.get()


def test_the_mapping_step_shows_the_header_below_the_titles_and_every_column(
    client, user, mailing_list
):
    client.force_login(user)
    job = _browser_upload(client, mailing_list, "spreadsheets/titled.xlsx")

    page = client.get(f"/imports/{job.pk}/map/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "The header is row 4; the 3 title rows above it are left out." in text
    form = page.context["form"]
    assert form.header == ["E-mail", "First name", "Last name", "Phone", "Signed up", ""]
    assert [form[f"column_{i}"].initial for i in range(6)] == [
        "email",
        "name",
        "last_name",
        "phone",
        "",
        "",
    ]
    assert page.context["rows"][1] == [
        "bob@example.com",
        "Bob",
        "",
        "",
        "2024-03-02",
        "met at the fair",
    ]
    assert "source-status" not in text

    response = client.post(
        f"/imports/{job.pk}/map/",
        {"action": "start", "column_0": "email", "column_1": "name", "column_2": "last_name"},
    )
    assert response.status_code == 302
    assert _subscribers(mailing_list)["ann@example.com"] == ("Ann Lee", "subscribed")


def test_the_mapping_step_says_which_rows_will_be_suppressed(client, user, mailing_list):
    client.force_login(user)
    job = _browser_upload(client, mailing_list, "sendy/subscribers.csv")

    page = client.get(f"/imports/{job.pk}/map/")
    text = page.content.decode()
    assert "This file looks like an export from Sendy." in text
    assert "Read from: Status." in text
    # The status column is not offered for mapping as a target: it is always read.
    assert page.context["form"]["column_3"].initial == ""

    client.post(f"/imports/{job.pk}/map/", {"action": "start", "column_1": "email"})
    job.refresh_from_db()
    assert (job.imported, job.skipped, job.suppressed) == (2, 1, 3)
    report = client.get(f"/imports/{job.pk}/")
    text = report.content.decode()
    assert '<dd id="count-suppressed">3</dd>' in text
    assert text.count('<span class="badge warning">suppressed</span>') == 3
    assert ImportRowIssue.objects.filter(import_job=job, suppressed=True).count() == 3


def test_the_mapping_step_in_russian(client, user, mailing_list):
    client.force_login(user)
    job = _browser_upload(client, mailing_list, "mailchimp/cleaned_members_export_3f2a9c1e07.csv")
    page = client.get(f"/imports/{job.pk}/map/", HTTP_ACCEPT_LANGUAGE="ru")
    text = page.content.decode()
    assert "Похоже, это выгрузка из Mailchimp." in text
    assert "CLEAN_TIME, CLEAN_CAMPAIGN_TITLE, CLEAN_CAMPAIGN_ID" in text


def test_a_status_column_of_other_words_suppresses_nobody(token_client, mailing_list, user):
    content = b"Email,Status\nann@example.com,Customer\nbob@example.com,Lead\ncarol@example.com,\n"
    response = _upload_bytes(token_client, mailing_list, "crm.csv", content)
    body = token_client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert _counts(body) == (3, 0, 0, 0)
    assert not Suppression.objects.exists()


@pytest.mark.parametrize(
    ("header", "cells", "expected"),
    [
        (["email", "status"], ["a@b.co", "Soft bounced"], None),
        (["email", "status"], ["a@b.co", "SUBSCRIBED"], None),
        (["email", "status"], ["a@b.co", "hard_bounce"], ("hard_bounce", "Bounced")),
        (["email", "status"], ["a@b.co", "Opted-Out"], ("unsubscribed", "Unsubscribed")),
        (["email", "Статус"], ["a@b.co", "Отписан"], ("unsubscribed", "Unsubscribed")),
        (
            ["email", "status", "blacklisted"],
            ["a@b.co", "active", "TRUE"],
            ("unsubscribed", "Unsubscribed"),
        ),
        (["email", "blacklisted"], ["a@b.co", "no"], None),
        (["email", "SMS_BLACKLISTED"], ["a@b.co", "Yes"], None),
    ],
)
def test_what_a_row_may_become(header, cells, expected):
    from lists.export_layouts import source_status_for

    standing = source_status_for(header).standing(cells)
    if expected is None:
        assert standing is None
    else:
        assert (standing.suppress, render(standing.reason).split(" in the source")[0]) == expected
