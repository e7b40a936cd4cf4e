"""The import's set-based writer (`_staged_write`, PostgreSQL) and `candidates_write` (the bulk
API, other databases) decide every candidate by one rule: the same rows give the same outcome."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from lists.addresses import address_hash
from lists.models import ImportJob, ImportRowIssue, SubscriberStatus
from lists.services.imports import Candidate, candidates_write, import_create, import_run
from lists.services.subscribers import subscriber_unsubscribe
from lists.services.suppression import (
    SuppressionView,
    platform_suppression_add,
    suppression_add,
)
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = [
    ("new@example.com", "New"),
    ("live@example.com", "Live Again"),
    ("left@example.com", "Left"),
    ("gone@example.com", "Gone"),  # suppressed for the account, and still on the list
    ("bounced@example.com", "Bounced"),  # hard-bounced for another account
    ("info@example.com", "Info desk"),  # a role address, new
    ("sales@example.com", "Sales"),  # a role address, already on the list
]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _list_with_history(account):
    mailing_list = MailingListFactory(account=account)
    SubscriberFactory(mailing_list=mailing_list, email="live@example.com", name="Live")
    SubscriberFactory(mailing_list=mailing_list, email="gone@example.com", name="Gone")
    SubscriberFactory(mailing_list=mailing_list, email="sales@example.com", name="")
    left = SubscriberFactory(mailing_list=mailing_list, email="left@example.com", name="Left")
    subscriber_unsubscribe(subscriber=left)
    return mailing_list


def _outcome(mailing_list, issues):
    subscribers = {
        email: (name, status)
        for email, name, status in mailing_list.subscribers.values_list("email", "name", "status")
    }
    return subscribers, sorted(issues)


def _by_the_import(user, mailing_list):
    content = "email,name\n" + "".join(f"{email},{name}\n" for email, name in ROWS)
    job = import_create(
        mailing_list=mailing_list,
        user=user,
        upload=SimpleUploadedFile("rows.csv", content.encode()),
        consent_source="paper_form",
        proof="Signed forms",
        start=False,
    )
    ImportJob.objects.filter(pk=job.pk).update(status="queued", column_map={"email": 0, "name": 1})
    assert import_run(import_id=job.pk) == "done"
    issues = [
        (issue.row, issue.email, issue.reason, issue.skipped)
        for issue in ImportRowIssue.objects.filter(import_job=job)
    ]
    return _outcome(mailing_list, issues)


def _by_candidates_write(mailing_list):
    issues = []

    def issue(row, email, reason, *, skipped=True):
        issues.append((row, email, reason, skipped))

    account_id = mailing_list.account_id
    candidates_write(
        mailing_list=mailing_list,
        candidates={
            email: Candidate(
                row=row,
                name=name,
                phone="",
                attributes={},
                digest=address_hash(account_id, email),
            )
            for row, (email, name) in enumerate(ROWS, start=2)
        },
        suppressions=SuppressionView(account_id=account_id),
        issue=issue,
    )
    return _outcome(mailing_list, issues)


def test_the_import_and_candidates_write_decide_every_row_alike(user, other_user):
    platform_suppression_add(email="bounced@example.com", source="dsn")
    for account in (user.account, other_user.account):
        suppression_add(account=account, email="gone@example.com", reason="complained")

    imported = _by_the_import(user, _list_with_history(user.account))
    written = _by_candidates_write(_list_with_history(other_user.account))

    assert imported == written
    subscribers, issues = imported
    assert subscribers["new@example.com"] == ("New", SubscriberStatus.SUBSCRIBED)
    assert subscribers["live@example.com"] == ("Live Again", SubscriberStatus.SUBSCRIBED)
    assert subscribers["left@example.com"][1] == SubscriberStatus.UNSUBSCRIBED
    assert subscribers["sales@example.com"] == ("Sales", SubscriberStatus.SUBSCRIBED)
    assert "bounced@example.com" not in subscribers
    assert [(row, skipped) for row, _, _, skipped in issues] == [
        (4, True),  # left the list
        (5, True),  # suppressed (not refreshed although on the list)
        (6, True),  # bounced for another account
        (7, False),  # role, new
        (8, False),  # role, refreshed
    ]


def test_a_sign_up_committed_while_the_batch_is_written_is_taken_as_on_the_list(user, monkeypatch):
    """The set-based write skips a row the list gained after its lookups (ON CONFLICT) and
    refreshes it, in the same pass: no unique violation, no second write of the batch."""
    import threading

    from lists.services import imports

    mailing_list = MailingListFactory(account=user.account)
    real_insert_select_sql, real_stage_rows = imports.insert_select_sql, imports.stage_rows
    staged = []

    def sign_up():
        from django.db import connection

        try:
            SubscriberFactory(mailing_list=mailing_list, email="late@example.com", name="")
        finally:
            connection.close()  # the thread's own connection, or the test database stays busy

    def insert_select_sql(*args, **kwargs):
        if not any(s.email == "late@example.com" for s in mailing_list.subscribers.all()):
            thread = threading.Thread(target=sign_up)  # its own connection, committed at once
            thread.start()
            thread.join()
        return real_insert_select_sql(*args, **kwargs)

    def stage_rows(*args, **kwargs):
        staged.append(1)
        return real_stage_rows(*args, **kwargs)

    monkeypatch.setattr(imports, "insert_select_sql", insert_select_sql)
    monkeypatch.setattr(imports, "stage_rows", stage_rows)
    content = b"email,name\nearly@example.com,Early\nlate@example.com,Late\n"
    job = import_create(
        mailing_list=mailing_list,
        user=user,
        upload=SimpleUploadedFile("rows.csv", content),
        consent_source="paper_form",
        proof="Signed forms",
        start=False,
    )
    ImportJob.objects.filter(pk=job.pk).update(status="queued", column_map={"email": 0, "name": 1})

    assert import_run(import_id=job.pk) == "done"

    job.refresh_from_db()
    assert (job.imported, job.updated, job.skipped) == (1, 1, 0)
    assert staged == [1]
    late = mailing_list.subscribers.get(email="late@example.com")
    assert late.name == "Late"
    assert late.consent_records.filter(import_job=job).count() == 1
