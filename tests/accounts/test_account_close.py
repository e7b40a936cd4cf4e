"""Closing the account (the owner's): the export of every list with its consent columns, then
a confirmation, then the deletion path an unappealed freeze takes (moderation.enforcement)."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, AccountEvent, AccountState, User
from lists.models import ConsentRecord, ExportJob, Subscriber
from moderation.models import AuditEntry
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

PASSWORD = "correct-horse-battery"


@pytest.fixture
def owner(db):
    return UserFactory(email="pat@acme.example", account__company_name="Acme Ltd")


@pytest.fixture
def filled(owner):
    news = MailingListFactory(account=owner.account, name="News, weekly")
    reader = SubscriberFactory(mailing_list=news, email="ann@example.org", name="=HYPERLINK()")
    ConsentRecord.objects.create(
        subscriber=reader,
        event="granted",
        source="paper_form",
        obtained_at=timezone.now(),
        ip="192.0.2.7",
        purpose_text=news.purpose,
        proof="Sign-up sheet, 3 May",
    )
    MailingListFactory(account=owner.account, name="Empty")
    # Another account's list never appears.
    MailingListFactory(account=UserFactory().account, name="Not ours")
    return news


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_export_is_a_zip_with_one_csv_per_list_and_the_consent_columns(
    owner, filled, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.EXPORTS_ROOT = str(tmp_path)
    client = _client(owner)
    # The ZIP holds every list, of any size: always written by a worker (run here on commit).
    assert client.get(reverse("account_export")).status_code == 200  # the button, no job
    assert not ExportJob.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(reverse("account_export"))
    job = ExportJob.objects.get()
    assert started.url == reverse("export_detail", args=[job.pk])
    assert (job.source, job.file_format, job.status) == ("account", "zip", "done")
    response = client.get(reverse("export_download", args=[job.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = sorted(archive.namelist())
    assert names == sorted([f"{filled.pk}-news-weekly.csv", f"{filled.pk + 1}-empty.csv"])
    text = archive.read(f"{filled.pk}-news-weekly.csv").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1
    row = rows[0]
    assert row["email"] == "ann@example.org"
    assert row["name"] == "'=HYPERLINK()"  # spreadsheet-safe
    assert (row["consent_source"], row["consent_ip"], row["consent_proof"]) == (
        "paper_form",
        "192.0.2.7",
        "Sign-up sheet, 3 May",
    )
    assert row["consent_obtained_at"] and row["consent_purpose"] == filled.purpose


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_only_the_owner_exports_or_closes(owner, filled, role):
    member = UserFactory(account=owner.account, role=role)
    client = _client(member)
    assert client.get(reverse("account_export")).status_code == 403
    assert client.post(reverse("account_export")).status_code == 403
    assert not ExportJob.objects.exists()
    assert client.get(reverse("account_close")).status_code == 403
    response = client.post(
        reverse("account_close"),
        {"company_name": "Acme Ltd", "password": PASSWORD, "exported": "on"},
    )
    assert response.status_code == 403
    assert Account.objects.get(pk=owner.account_id).state == AccountState.ACTIVE


def test_a_wrong_confirmation_closes_nothing(owner, filled):
    client = _client(owner)
    page = client.get(reverse("account_close"))
    assert page.status_code == 200 and reverse("account_export").encode() in page.content
    for data in (
        {"company_name": "Acme", "password": PASSWORD, "exported": "on"},
        {"company_name": "Acme Ltd", "password": "wrong-password", "exported": "on"},
        {"company_name": "Acme Ltd", "password": PASSWORD},
    ):
        assert client.post(reverse("account_close"), data).status_code == 200
    assert Account.objects.get(pk=owner.account_id).state == AccountState.ACTIVE
    assert Subscriber.objects.filter(mailing_list=filled).count() == 1


def test_closing_runs_the_deletion_path_and_logs_the_owner_out(owner, filled):
    colleague = UserFactory(account=owner.account, role="editor")
    client = _client(owner)
    response = client.post(
        reverse("account_close"),
        {"company_name": "acme ltd", "password": PASSWORD, "exported": "on"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("home")
    account = Account.objects.get(pk=owner.account_id)
    assert account.state == AccountState.DELETED
    assert account.company_name == f"Deleted account {account.pk}"
    assert not Subscriber.objects.filter(mailing_list__account=account).exists()
    assert not AccountEvent.objects.filter(account=account).exists()
    for user in (owner, colleague):
        user.refresh_from_db()
        assert not user.is_active and user.email.endswith("@deleted.invalid")
    deleted = AuditEntry.objects.get(action="account_deleted", account=account)
    assert deleted.actor_label == "pat@acme.example" and deleted.reason == "Closed by its owner."
    assert AuditEntry.objects.filter(action="deletion_scheduled", account=account).count() == 1
    # The session is gone.
    assert client.get(reverse("dashboard")).status_code == 302
    assert not User.objects.filter(email="pat@acme.example").exists()
