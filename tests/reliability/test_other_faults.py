"""Faults away from the send itself.

1. An import whose worker is SIGKILLed half-way resumes on a new worker (through beat's sweeper,
   or through Redis redelivering the unacknowledged task) and ends with exactly the right
   subscribers, each with one consent record; or, when its file is gone, ends failed with a
   reason and nothing half-written.
2. ESP webhooks and recipients' links delivered twice, out of order and through two channels
   (one after the other, and at the same moment), through the real HTTP endpoints, change
   everything exactly once.
3. Two schedulers judging the same ended hold at the same moment, and two moderators releasing
   the same campaign at the same moment (separate PostgreSQL connections, started together by
   a barrier, one held inside its row lock until the other is seen waiting for it) release the
   campaign once: one status change, one audit entry, one notification, each recipient one
   message.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Notification, WebhookDelivery, WebhookEndpoint
from accounts.services import api_token_create
from campaigns import sending
from campaigns.models import Campaign, Delivery, DeliveryStatus
from campaigns.states import CampaignStatus
from campaigns.tokens import MessageTokens
from complaints import services as complaints_services
from complaints.models import FeedbackEvent
from config.coded_text import render
from lists.models import (
    ConsentEvent,
    ConsentRecord,
    ImportJob,
    ImportRowIssue,
    ImportStatus,
    PlatformSuppression,
    Subscriber,
    SubscriberStatus,
    Suppression,
    SuppressionReason,
)
from lists.services.suppression import platform_address_hash, suppression_add
from moderation import services as moderation
from moderation.models import AuditAction, AuditEntry
from moderation.services import holds_evaluate
from tests.campaigns.factories import (
    CampaignFactory,
    submitted_campaign,
    subscribe_many,
    waiting_version,
)
from tests.complaints.payloads import basic_auth
from tests.conftest import require_service
from tests.factories import UserFactory
from tests.integration import conftest as integration
from tests.integration.conftest import wait_for
from tests.lists.factories import MailingListFactory, SubscriberFactory

# The real worker process on Redis (tests/integration/conftest.py), for the tests here too.
redis_broker = integration.redis_broker
celery_worker_process = integration.celery_worker_process

# --- running things really at once, on PostgreSQL -----------------------------------------------


def _require_postgresql() -> None:
    """Row locks between two connections need PostgreSQL (skipped locally on SQLite, a failure
    in CI, where DATABASE_URL names PostgreSQL)."""
    if connection.vendor != "postgresql":
        require_service("PostgreSQL", "concurrent transactions need PostgreSQL, not SQLite")


def _waiting_on_a_lock() -> int:
    """Connections of this test database blocked on a lock (a row lock of another)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def _at_once(monkeypatch, calls: list, *, hold: tuple, waiters: int = 1) -> tuple[list, int]:
    """Run `calls` in threads, each on its own database connection, released together by a
    barrier. The first to reach `hold` (module, function name: a step taken under the row lock
    under test) is held there until `waiters` others are seen waiting for a lock in PostgreSQL,
    or another has reached it too (what a missing lock would allow): so the calls really
    overlap. Returns the results (or exceptions) in call order and how many reached `hold`."""
    module, name = hold
    real = getattr(module, name)
    reached: list[int] = []
    go_on = threading.Event()

    def held(*args, **kwargs):
        if not go_on.is_set():
            reached.append(threading.get_ident())
        assert go_on.wait(timeout=60), "the test never let the held call go on"
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, held)
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index: int, call) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except BaseException as exc:  # handed to the test thread, which asserts on it
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    try:
        wait_for(
            lambda: reached and (_waiting_on_a_lock() >= waiters or len(reached) > 1),
            timeout=60,
            interval=0.01,
            what=f"one call under way and {waiters} more waiting for its lock",
        )
    finally:
        go_on.set()
        for thread in threads:
            thread.join(timeout=120)
    return results, len(reached)


# --- 1. an import whose worker dies half-way -----------------------------------------------------

IMPORT_ROWS = 6000
IMPORT_BATCH = 25


def _import_file() -> tuple[bytes, set[str]]:
    """A CSV of IMPORT_ROWS good addresses plus a bad one, a role address, a suppressed one and
    a repeat of row 2 near the end (in a later batch than the first). Returns the file and the
    addresses the list must end with."""
    good = [f"reader{i}@example.org" for i in range(IMPORT_ROWS)]
    lines = [f"{email};Reader {i}" for i, email in enumerate(good)]
    lines.insert(100, "not-an-address;Nobody")
    lines.insert(200, "info@example.org;Front desk")
    lines.insert(300, "gone@example.org;Left us")
    lines.append(f"{good[0]};Reader again")
    content = ("email;name\n" + "\n".join(lines) + "\n").encode()
    return content, {*good, "info@example.org"}


def _start_import(token_client, mailing_list, content: bytes) -> ImportJob:
    response = token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/imports/",
        {
            "file": SimpleUploadedFile("readers.csv", content),
            "consent_source": "client_reconfirmed",
            "proof": "Consent campaign of March 2026",
        },
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    return ImportJob.objects.get(pk=response.json()["id"])


def _kill_half_way(worker, job: ImportJob) -> ImportJob:
    """SIGKILL the worker once a few batches are in, and return the import as it was left."""

    def a_few_batches_in():
        job.refresh_from_db()
        return job.processed >= 10 * IMPORT_BATCH

    wait_for(a_few_batches_in, timeout=120, interval=0.02, what="the import to get going")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    job.refresh_from_db()
    return job


def _assert_whole_batches_only(job: ImportJob, mailing_list) -> None:
    """What a dead worker left: committed batches and their progress, nothing in between."""
    assert job.processed % IMPORT_BATCH == 0
    assert mailing_list.subscribers.count() == job.imported
    assert ConsentRecord.objects.filter(import_job=job).count() == job.imported + job.updated
    assert ImportRowIssue.objects.filter(import_job=job, skipped=True).count() == job.skipped


def _assert_imported_exactly_once(job: ImportJob, mailing_list, expected: set[str]) -> None:
    emails = list(mailing_list.subscribers.values_list("email", flat=True))
    assert len(emails) == len(expected)
    assert set(emails) == expected
    assert mailing_list.subscribers.exclude(status=SubscriberStatus.SUBSCRIBED).count() == 0
    records = ConsentRecord.objects.filter(subscriber__mailing_list=mailing_list)
    assert records.count() == len(expected)  # one consent record per subscriber, no more
    assert records.filter(import_job=job, event=ConsentEvent.GRANTED).count() == len(expected)
    assert (job.total_rows, job.processed) == (IMPORT_ROWS + 4, IMPORT_ROWS + 4)
    assert (job.imported, job.updated, job.skipped) == (len(expected), 0, 3)
    issues = ImportRowIssue.objects.filter(import_job=job).order_by("row")
    # Each row's issue once (file rows count from 1, the header is row 1), none of a re-done batch.
    assert [(issue.row, render(issue.reason).split(":")[0], issue.skipped) for issue in issues] == [
        (102, "Invalid address", True),
        (202, "Role address (info@, sales@…)", False),
        (302, "Suppressed", True),
        (IMPORT_ROWS + 5, "Duplicate of an earlier row of this file.", True),
    ]


@pytest.fixture
def import_setup(settings, tmp_path, token_client):
    media = tmp_path / "media"
    settings.MEDIA_ROOT = str(media)
    settings.IMPORT_BATCH_SIZE = IMPORT_BATCH
    mailing_list = MailingListFactory(account=token_client.user.account)
    suppression_add(
        account=mailing_list.account,
        email="gone@example.org",
        reason=SuppressionReason.UNSUBSCRIBED,
    )
    env = {"MEDIA_ROOT": str(media), "IMPORT_BATCH_SIZE": str(IMPORT_BATCH)}
    return mailing_list, env, media


def _watch_progress(token_client, job: ImportJob) -> list[int]:
    """Poll the import's API (the progress bar's source) until it ends; the values it showed."""
    seen: list[int] = []

    def finished():
        body = token_client.get(f"/api/v1/imports/{job.pk}/").json()
        seen.append(body["processed"])
        return body["status"] in ("done", "failed")

    wait_for(finished, timeout=180, interval=0.05, what="the import to end")
    return seen


@pytest.mark.slow
def test_an_import_killed_half_way_is_resumed_by_the_sweeper_and_imports_each_row_once(
    celery_worker_process, token_client, import_setup, import_webhook
):
    from lists.tasks import resume_stalled_imports

    mailing_list, env, media = import_setup
    content, expected = _import_file()
    first = celery_worker_process(env)
    job = _start_import(token_client, mailing_list, content)

    job = _kill_half_way(first, job)

    assert job.status == ImportStatus.RUNNING
    assert 0 < job.processed < IMPORT_ROWS, "the kill must land in the middle of the import"
    at_kill = job.processed
    _assert_whole_batches_only(job, mailing_list)

    # A new worker comes up; beat's sweeper finds the import silent for 15 minutes (the clock is
    # moved, not waited for) and enqueues it again.
    celery_worker_process(env)
    ImportJob.objects.filter(pk=job.pk).update(progress_at=timezone.now() - timedelta(minutes=16))
    assert resume_stalled_imports() == [job.pk]

    seen = _watch_progress(token_client, job)

    job.refresh_from_db()
    assert job.status == ImportStatus.DONE, job.failure_reason
    assert seen == sorted(seen), "the progress bar never goes back"
    assert seen[0] >= at_kill, "the import continues after its last batch, not from the start"
    _assert_imported_exactly_once(job, mailing_list, expected)
    assert _finished_events(job) == ["done"]
    assert not list(media.rglob("*.csv"))  # the upload is deleted when the import ends
    # The sweeper running again, now or later, finds nothing to do.
    ImportJob.objects.filter(pk=job.pk).update(progress_at=timezone.now() - timedelta(hours=1))
    assert resume_stalled_imports() == []


@pytest.mark.slow
def test_an_import_killed_half_way_is_redelivered_by_redis_and_resumes(
    celery_worker_process, token_client, import_setup, import_webhook
):
    """No sweeper: the task is acknowledged late, so Redis hands it to the next worker once its
    visibility timeout (one second here, an hour in production) has passed."""
    mailing_list, env, _ = import_setup
    env = env | {"CELERY_VISIBILITY_TIMEOUT": "1"}
    content, expected = _import_file()
    first = celery_worker_process(env)
    job = _start_import(token_client, mailing_list, content)

    job = _kill_half_way(first, job)
    assert job.status == ImportStatus.RUNNING and 0 < job.processed < IMPORT_ROWS
    at_kill = job.processed
    time.sleep(1.5)  # older than the visibility timeout: the next worker takes the task back

    celery_worker_process(env)
    seen = _watch_progress(token_client, job)

    job.refresh_from_db()
    assert job.status == ImportStatus.DONE, job.failure_reason
    assert seen == sorted(seen) and seen[0] >= at_kill
    _assert_imported_exactly_once(job, mailing_list, expected)
    assert _finished_events(job) == ["done"]


@pytest.mark.slow
def test_an_import_whose_file_is_gone_after_the_kill_fails_saying_so_with_nothing_half_written(
    celery_worker_process, token_client, import_setup, import_webhook
):
    """The worker died and the upload went with it (a worker-local disk, a purge): the resumed
    import cannot go on. It ends failed, says how far it got, and keeps its whole batches."""
    from lists.tasks import resume_stalled_imports

    mailing_list, env, _ = import_setup
    content, _ = _import_file()
    first = celery_worker_process(env)
    job = _start_import(token_client, mailing_list, content)
    job = _kill_half_way(first, job)
    at_kill = (job.processed, job.imported, job.skipped)
    Path(job.file.path).unlink()

    celery_worker_process(env)
    ImportJob.objects.filter(pk=job.pk).update(progress_at=timezone.now() - timedelta(minutes=16))
    assert resume_stalled_imports() == [job.pk]
    _watch_progress(token_client, job)

    body = token_client.get(f"/api/v1/imports/{job.pk}/").json()
    assert body["status"] == "failed"
    assert body["failure_reason"] == (
        "The uploaded file is no longer available, so the import could not go on. "
        f"The first {at_kill[0]} rows were imported; the rest were not. Upload the file again to "
        "import the rest: rows already imported are not added twice."
    )
    job.refresh_from_db()
    assert (job.processed, job.imported, job.skipped) == at_kill
    _assert_whole_batches_only(job, mailing_list)
    assert _finished_events(job) == ["failed"]
    assert not job.file


@pytest.fixture
def import_webhook(user):
    """An endpoint for `import.finished`: how many times the account hears an import ended."""
    return WebhookEndpoint.objects.create(
        account=user.account, url="http://127.0.0.1:9/hook", events=["import.finished"], secret="s"
    )


def _finished_events(job: ImportJob) -> list[str]:
    return list(
        WebhookDelivery.objects.filter(
            event="import.finished", payload__data__import_id=job.pk
        ).values_list("payload__data__status", flat=True)
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_runs_of_one_import_at_its_end_finish_it_once(
    token_client, import_setup, import_webhook, monkeypatch, settings
):
    """A redelivered task and the sweeper's can both run an import: the second claims it just
    after the first committed the last batch, before the first ended it. One of them ends it:
    one status, one `import.finished`, the file deleted once; the other stops quietly."""
    from lists.services import imports

    mailing_list, _, media = import_setup
    settings.IMPORT_BATCH_SIZE = 2000  # in this process: no kill to aim for, fewer batches
    with monkeypatch.context() as queued_only:
        queued_only.setattr("lists.tasks.run_import.delay", lambda import_id: None)
        job = _start_import(token_client, mailing_list, _import_file()[0])
    real_finish = imports._finish
    runs: list[str] = []
    second_run: list[str] = []

    def finish_after_another_run(job, status, **kwargs):
        runs.append("finishing")
        if len(runs) == 1:  # the first run, between its last batch and its end
            second_run.append(imports.import_run(import_id=job.pk))
        return real_finish(job, status, **kwargs)

    monkeypatch.setattr(imports, "_finish", finish_after_another_run)

    first_run = imports.import_run(import_id=job.pk)

    job.refresh_from_db()
    assert (first_run, second_run, job.status) == ("done", ["done"], "done")
    assert _finished_events(job) == ["done"]
    assert (job.processed, job.imported, job.skipped) == (IMPORT_ROWS + 4, IMPORT_ROWS + 1, 3)
    assert not list(media.rglob("*.csv"))


@pytest.mark.django_db(transaction=True)
def test_a_run_that_died_while_ending_the_import_is_ended_by_the_next_without_its_file(
    token_client, import_setup, import_webhook, monkeypatch
):
    """Every batch committed, the file deleted, then the worker died before marking the import
    done: the next run has nothing left to read and ends it done, not "file gone"."""
    from lists.services import imports

    mailing_list, _, _ = import_setup
    rows = "".join(f"late{i}@example.org\n" for i in range(30))
    with monkeypatch.context() as dying:
        dying.setattr("lists.tasks.run_import.delay", lambda import_id: None)
        job = _start_import(token_client, mailing_list, ("email\n" + rows).encode())

        def killed_after_deleting_the_file(job, status, **kwargs):
            job.file.delete(save=False)
            raise KeyboardInterrupt("worker killed")  # not an Exception: nothing ends it

        dying.setattr(imports, "_finish", killed_after_deleting_the_file)
        with pytest.raises(KeyboardInterrupt):
            imports.import_run(import_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.processed, job.total_rows) == ("running", 30, 30)

    assert imports.import_run(import_id=job.pk) == ImportStatus.DONE

    job.refresh_from_db()
    assert (job.imported, job.failure_reason) == (30, "")
    assert mailing_list.subscribers.count() == 30
    assert _finished_events(job) == ["done"]


# --- 2. feedback delivered twice, out of order, through two channels ----------------------------

WEBHOOK_SECRET = "hooks:s3cret-webhook-pass"
SENDGRID_URL = "/webhooks/sendgrid/tracking/"
SUBSCRIBER_EVENTS = [
    "subscriber.unsubscribed",
    "subscriber.bounced",
    "subscriber.complained",
]


@pytest.fixture
def sent_probe(user, settings):
    """A holding campaign whose probe went to Ann, Bob and Cid; the account has a webhook
    endpoint for subscriber events (its outgoing notifications, counted below)."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    account = user.account
    WebhookEndpoint.objects.create(
        account=account, url="http://127.0.0.1:9/hook", events=SUBSCRIBER_EVENTS, secret="s"
    )
    mailing_list = MailingListFactory(account=account, name="Monthly news")
    campaign = CampaignFactory(account=account, lists=[mailing_list], status="holding")
    people = {}
    for name in ("ann", "bob", "cid"):
        subscriber = SubscriberFactory(mailing_list=mailing_list, email=f"{name}@example.org")
        Delivery.objects.create(
            campaign=campaign,
            subscriber=subscriber,
            provider="other",
            is_probe=True,
            status=DeliveryStatus.SENT,
            sent_at=timezone.now() - timedelta(hours=1),
        )
        people[name] = MessageTokens(campaign_id=campaign.pk, subscriber_id=subscriber.pk)
    return campaign, people


def _sendgrid(client, *events: dict) -> None:
    response = client.post(
        SENDGRID_URL,
        data=json.dumps(list(events)),
        content_type="application/json",
        **basic_auth(WEBHOOK_SECRET),
    )
    assert response.status_code == 200, response.content


def _event(kind: str, tokens: MessageTokens, event_id: str, *, ago: int, **fields) -> dict:
    """One SendGrid event about the message `tokens` names, `ago` seconds ago."""
    email = Subscriber.objects.get(pk=tokens.subscriber_id).email
    return {
        "email": email,
        "timestamp": int(time.time()) - ago,
        "event": kind,
        "sg_event_id": event_id,
        "sg_message_id": f"sg-{tokens.subscriber_id}.filter0001",
        "message_ref": tokens.message_ref(),
        **fields,
    }


def _everything(client, token_client, campaign) -> dict:
    """Every figure a report can change: per person, the account's and the campaign's."""
    account = campaign.account
    subscribers = Subscriber.objects.filter(mailing_list__account=account).order_by("email")
    stats = token_client.get(f"/api/v1/campaigns/{campaign.pk}/stats/").json()
    complaints = token_client.get("/api/v1/complaints/?type=complaint").json()
    return {
        "status": {s.email: s.status for s in subscribers},
        "withdrawn": {
            s.email: s.consent_records.filter(event=ConsentEvent.WITHDRAWN).count()
            for s in subscribers
        },
        "suppressed": sorted(
            Suppression.objects.filter(account=account).values_list("email", "reason")
        ),
        "platform_suppressed": sorted(
            PlatformSuppression.objects.values_list("email_hash", flat=True)
        ),
        "webhooks": sorted(
            WebhookDelivery.objects.filter(endpoint__account=account).values_list(
                "event", "payload__data__email"
            )
        ),
        "notifications": Notification.objects.filter(account=account).count(),
        "stats": {
            name: stats[name]
            for name in ("delivered", "hard_bounced", "soft_bounced", "complained", "unsubscribed")
        },
        "probe_complained": stats["probe"]["complained"],
        "complaints_listed": sorted(item["email"] for item in complaints["results"]),
        "unsubscribes_listed": _listed(client, "unsubscribes", column="email"),
        "bounces_listed": _listed(client, "bounces", column="email"),
    }


def _listed(client, tab: str, *, column: str) -> list[str]:
    """One column of a tab of the sender's "Unsubscribes and complaints" page, as its CSV."""
    response = client.get(f"/feedback/?tab={tab}&format=csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    return sorted(row[column] for row in csv.DictReader(io.StringIO(text)))


@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")
def test_feedback_twice_out_of_order_and_by_two_channels_changes_everything_once(
    client, token_client, user, sent_probe
):
    campaign, people = sent_probe
    client.force_login(user)
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    bounced = _event(
        "bounce",
        ann,
        "sg-ann-bounce",
        ago=50,
        type="bounce",
        status="5.1.1",
        reason="550 5.1.1 The email account that you tried to reach does not exist.",
    )
    delivered_earlier = _event("delivered", ann, "sg-ann-delivered", ago=55, response="250 OK")
    complained = _event("spamreport", bob, "sg-bob-spam", ago=40)
    late_unsubscribe = _event("unsubscribe", bob, "sg-bob-unsub", ago=30)
    unsubscribed = _event("unsubscribe", cid, "sg-cid-unsub", ago=20)

    def deliver_all():
        # Ann: the hard bounce arrives before the "delivered" that happened earlier.
        _sendgrid(client, bounced)
        _sendgrid(client, delivered_earlier)
        # Bob: a spam report, then the same report again through the report-spam link, then a
        # late (weaker) unsubscribe from the ESP and through the one-click header.
        _sendgrid(client, complained)
        assert client.post(f"/r/{bob.report()}/", {"comment": "Spam"}).status_code == 302
        _sendgrid(client, late_unsubscribe)
        one_click = {"data": "List-Unsubscribe=One-Click"}
        one_click["content_type"] = "application/x-www-form-urlencoded"
        assert client.post(f"/u/{bob.unsubscribe()}/", **one_click).status_code == 200
        # Cid: unsubscribes with the one-click header, and the ESP reports the same.
        assert client.post(f"/u/{cid.unsubscribe()}/", **one_click).status_code == 200
        _sendgrid(client, unsubscribed)

    deliver_all()
    once = _everything(client, token_client, campaign)

    # Every post again (ESP retries, a second click), then all of them in one batch, reversed.
    deliver_all()
    _sendgrid(
        client, *reversed([bounced, delivered_earlier, complained, late_unsubscribe, unsubscribed])
    )
    again = _everything(client, token_client, campaign)

    assert again == once
    assert once == {
        "status": {
            "ann@example.org": "bounced",
            "bob@example.org": "complained",
            "cid@example.org": "unsubscribed",
        },
        "withdrawn": {"ann@example.org": 1, "bob@example.org": 1, "cid@example.org": 1},
        "suppressed": [
            ("ann@example.org", "hard_bounce"),
            ("bob@example.org", "complained"),
            ("cid@example.org", "unsubscribed"),
        ],
        "platform_suppressed": [platform_address_hash("ann@example.org")],
        "webhooks": [
            ("subscriber.bounced", "ann@example.org"),
            ("subscriber.complained", "bob@example.org"),
            ("subscriber.unsubscribed", "cid@example.org"),
        ],
        "notifications": 0,
        "stats": {
            "delivered": 2,  # Bob's and Cid's; Ann's bounce stands although "delivered" came later
            "hard_bounced": 1,
            "soft_bounced": 0,
            "complained": 1,
            "unsubscribed": 2,  # Bob's late unsubscribe is recorded on his message, Cid's once
        },
        "probe_complained": 1,
        "complaints_listed": ["bob@example.org"],
        "unsubscribes_listed": ["bob@example.org", "cid@example.org"],
        "bounces_listed": ["ann@example.org"],
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")
def test_one_unsubscribe_through_two_channels_and_a_retry_at_the_same_moment_counts_once(
    client, token_client, user, sent_probe, monkeypatch
):
    """The one-click header, the ESP's report of the same unsubscribe and the ESP's retry of
    that report, all at once: the delivery's row lock orders the two channels, the event's
    unique key the retry."""
    _require_postgresql()
    campaign, people = sent_probe
    cid = people["cid"]
    one_click = {
        "data": "List-Unsubscribe=One-Click",
        "content_type": "application/x-www-form-urlencoded",
    }
    unsubscribed = _event("unsubscribe", cid, "sg-cid-unsub", ago=5)

    results, reached = _at_once(
        monkeypatch,
        [
            lambda: Client().post(f"/u/{cid.unsubscribe()}/", **one_click),
            lambda: Client().post(
                SENDGRID_URL,
                data=json.dumps([unsubscribed]),
                content_type="application/json",
                **basic_auth(WEBHOOK_SECRET),
            ),
            lambda: Client().post(
                SENDGRID_URL,
                data=json.dumps([unsubscribed]),
                content_type="application/json",
                **basic_auth(WEBHOOK_SECRET),
            ),
        ],
        hold=(complaints_services, "subscriptions_ended_write"),
        waiters=2,
    )

    assert reached == 1, "the other two must wait for the first one's locks"
    assert [response.status_code for response in results] == [200, 200, 200]
    client.force_login(user)
    figures = _everything(client, token_client, campaign)
    assert figures["status"]["cid@example.org"] == "unsubscribed"
    assert figures["withdrawn"]["cid@example.org"] == 1
    assert figures["suppressed"] == [("cid@example.org", "unsubscribed")]
    assert figures["webhooks"] == [("subscriber.unsubscribed", "cid@example.org")]
    assert figures["stats"]["unsubscribed"] == 1
    assert figures["unsubscribes_listed"] == ["cid@example.org"]
    outcomes = FeedbackEvent.objects.filter(kind="unsubscribed").values_list("outcome", flat=True)
    assert sorted(outcomes) == ["applied", "duplicate"]  # the retry left no row at all


# --- 3. two schedulers, two moderators: one release ----------------------------------------------

RECIPIENTS = 200


@pytest.fixture
def holding_campaign(transactional_db, settings, user, mailoutbox):
    """A campaign whose probe went out (eagerly, to the locmem outbox) and whose hold has ended."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _require_postgresql()
    mailing_list = MailingListFactory(account=user.account)
    subscribe_many(mailing_list, RECIPIENTS)
    campaign = submitted_campaign(mailing_list)
    moderation.decision_approve(
        campaign_id=campaign.pk,
        moderator=UserFactory(is_staff=True),
        version_id=waiting_version(campaign),
    )
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.HOLDING
    assert len(_campaign_mail(mailoutbox)) == campaign.probe_size == RECIPIENTS // 10
    Campaign.objects.filter(pk=campaign.pk).update(hold_until=timezone.now() - timedelta(seconds=1))
    return campaign


def _campaign_mail(outbox) -> list:
    """The campaign's messages (not the sender's notifications about it)."""
    return [message for message in outbox if message.subject.startswith("News for")]


def _assert_released_once(campaign: Campaign, mailoutbox, *, released_by: str) -> None:
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    changes = list(campaign.changes.values_list("old_status", "new_status"))
    assert changes.count((released_by, CampaignStatus.RELEASING)) == 1
    assert len([c for c in changes if c[1] == CampaignStatus.RELEASING]) == 1
    deliveries = Delivery.objects.filter(campaign=campaign)
    assert deliveries.count() == RECIPIENTS
    assert deliveries.filter(is_probe=False).count() == RECIPIENTS - campaign.probe_size
    assert deliveries.filter(status=DeliveryStatus.SENT).count() == RECIPIENTS
    per_recipient = Counter(
        address for message in _campaign_mail(mailoutbox) for address in message.to
    )
    assert len(per_recipient) == RECIPIENTS
    assert set(per_recipient.values()) == {1}  # nobody got the campaign twice


def test_two_schedulers_judging_the_same_ended_hold_at_once_release_it_once(
    holding_campaign, monkeypatch, mailoutbox
):
    campaign = holding_campaign

    # What beat's `moderation.evaluate_holds` task and `manage.py evaluate_holds` both run.
    results, reached = _at_once(
        monkeypatch, [holds_evaluate, holds_evaluate], hold=(sending, "_release")
    )

    assert reached == 1, "the second scheduler must wait for the first's row lock"
    assert sorted(results, key=len) == [{}, {campaign.pk: "green"}]
    _assert_released_once(campaign, mailoutbox, released_by=CampaignStatus.HOLDING)
    audit = AuditEntry.objects.filter(campaign=campaign)
    assert audit.filter(action=AuditAction.VERDICT).count() == 1
    assert (
        Notification.objects.filter(
            account=campaign.account, subject__code="accounts.notice.campaign_passed.subject"
        ).count()
        == 1
    )
    # Beat again later: nothing left to judge.
    assert holds_evaluate() == {}


def test_two_moderators_releasing_the_same_campaign_at_once_release_it_once(
    holding_campaign, monkeypatch, mailoutbox, settings
):
    campaign = holding_campaign
    # Make the probe's verdict "review": complaints far over the threshold.
    probe = Delivery.objects.filter(campaign=campaign, is_probe=True)
    probe.filter(pk__in=probe.values("pk")[:5]).update(complained_at=timezone.now())
    assert holds_evaluate() == {campaign.pk: "review"}
    clients = []
    for _ in range(2):
        moderator = UserFactory(is_staff=True)
        _, key = api_token_create(user=moderator, name="moderation")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        clients.append(client)
    url = f"/api/v1/moderation/campaigns/{campaign.pk}/release/"

    results, reached = _at_once(
        monkeypatch,
        [lambda c=c: c.post(url, {"reason": "Checked the list."}, format="json") for c in clients],
        hold=(sending, "_release"),
    )

    assert reached == 1, "the second release must wait for the first's row lock"
    assert [r.status_code for r in results] == [200, 200], [r.content for r in results]
    _assert_released_once(campaign, mailoutbox, released_by=CampaignStatus.REVIEW)
    assert AuditEntry.objects.filter(campaign=campaign, action=AuditAction.RELEASED).count() == 1
    assert (
        Notification.objects.filter(
            account=campaign.account, subject__code__startswith="accounts.notice.campaign_released"
        ).count()
        == 1
    )
