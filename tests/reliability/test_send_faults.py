"""Faults during a send: each scenario of tests/reliability/fault_harness.py (a 5,000-recipient
campaign, real Celery workers on a private Redis, a private PostgreSQL, a controllable SMTP
server) runs in a process of its own, and the test asserts on the outcome it prints: nobody
lost, no more duplicates than messages in flight at the fault, every delivery final, every
possible duplicate flagged by the product, and the fault really happened.

Run them with `pytest -m faults` (about a minute each on two cores). They start from one
template (the `scenario_template` fixture: a migrated, seeded cluster made once per pytest run,
shared by the xdist workers, copied per scenario) instead of initdb, migrations and seeding
each. Without redis-server or PostgreSQL's server binaries they skip locally and fail in CI.

The last test is quick and runs with the rest of the suite: a connection lost after the whole
message went (the server may have kept it) flags the retried delivery as possibly duplicated.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.utils import timezone

from campaigns import delivery, sending
from campaigns.models import Delivery, DeliveryStatus
from lists.models import Subscriber
from tests.campaigns.factories import submitted_campaign, subscribe_many, waiting_version
from tests.conftest import require_service
from tests.factories import SenderDomainFactory, UserFactory
from tests.lists.factories import MailingListFactory
from tests.reliability.fault_harness import (
    ROOT,
    TEMPLATE_FILE,
    ControlledSink,
    missing_binaries,
)

RECIPIENTS = 5000
# The harness gives a campaign 300 s from approval to finish (a stuck one fails there);
# setting up takes under a minute.
SCENARIO_TIMEOUT = 600


@pytest.fixture(scope="session")
def scenario_template() -> Iterator[Path]:
    """The harness's template (fault_harness.build_template), built once for the pytest run:
    under xdist the workers share it (the first to need it builds it, under a lock; the last to
    finish removes it), as building one costs a migration and a seeding (~10 CPU-s, and each
    xdist worker built its own before)."""
    missing = missing_binaries()
    if missing:
        require_service("fault harness", "missing " + ", ".join(missing))
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run_id is None:
        directory = Path(tempfile.mkdtemp(prefix="consentmail-faults-template-"))
        try:
            _build_template(directory)
            yield directory
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    # Under /tmp itself, not pytest's 0700 basetemp: the postgres user must reach the cluster.
    directory = Path(tempfile.gettempdir()) / f"consentmail-faults-template-{run_id}"
    users = directory.with_name(directory.name + ".users")
    with _template_lock(directory):
        if not (directory / TEMPLATE_FILE).exists():
            shutil.rmtree(directory, ignore_errors=True)  # a build that failed half-way
            directory.mkdir()
            _build_template(directory)
        users.write_text(str(int(users.read_text() or 0) + 1 if users.exists() else 1))
    try:
        yield directory
    finally:
        with _template_lock(directory):
            left = int(users.read_text() or 1) - 1
            users.write_text(str(left))
            if left <= 0:
                shutil.rmtree(directory, ignore_errors=True)
                users.unlink(missing_ok=True)


@contextlib.contextmanager
def _template_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock beside the shared template (the xdist workers' processes share it)."""
    with open(directory.with_name(directory.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build_template(directory: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "tests.reliability.fault_harness", "template",
         f"--template={directory}", f"--recipients={RECIPIENTS}"],
        cwd=ROOT, capture_output=True, text=True, timeout=SCENARIO_TIMEOUT,
    )  # fmt: skip
    assert built.returncode == 0, f"the template was not built:\n{built.stderr[-3000:]}"


def run_scenario(scenario: str, template: Path) -> dict:
    """Run one scenario in its own process, from a copy of `template`, and return the outcome
    it printed as JSON. A scenario still running at the timeout is stopped (SIGTERM lets it
    clean up) and fails."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.fault_harness", scenario, "--json",
         f"--recipients={RECIPIENTS}", f"--template={template}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        out, err = process.communicate(timeout=SCENARIO_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        pytest.fail(f"{scenario} still running after {SCENARIO_TIMEOUT} s:\n{err[-3000:]}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, f"{scenario} printed no outcome (exit {process.returncode}):\n{err[-3000:]}"
    # The counts and where the time went (`-rP` or `-s` shows them; a failure does too).
    print(lines[-1])
    return json.loads(lines[-1])


def assert_recovered(result: dict) -> None:
    """What every scenario must end with."""
    logs = "\n".join(f"--- {name}\n{tail}" for name, tail in result.get("logs", {}).items())
    assert result["problems"] == [], f"{result['problems']}\n{logs}"
    assert result["recipients"] == RECIPIENTS
    assert result["delivered_unique"] == RECIPIENTS
    assert result["lost"] == 0
    assert result["unexpected_recipients"] == 0
    assert result["duplicates"] <= result["in_flight_bound"]
    assert result["all_final"] is True
    assert set(result["deliveries"]) <= {"sent", "failed", "skipped"}
    assert result["deliveries"]["sent"] == RECIPIENTS
    assert result["campaign_status"] == "sent"
    # The workers came through by themselves (nothing restarts them in the harness).
    assert result["worker_exit_codes"] == [None] * len(result["worker_exit_codes"])
    # Whoever may have got the message twice is flagged on the delivery log.
    assert result["duplicated_unflagged"] == 0
    assert result["ok"] is True


@pytest.mark.slow
@pytest.mark.faults
def test_workers_killed_mid_batch_lose_nobody_and_duplicate_at_most_what_was_in_flight(
    scenario_template,
):
    result = run_scenario("worker-kill", scenario_template)

    assert_recovered(result)
    # The kills landed on running batches: the sweeper found them dead, gave their rows back
    # and flagged the one message each may have had in flight.
    assert result["fault"]["running_batches_killed"] >= 1
    assert result["dead_batches"] >= 1
    assert result["product_in_flight_at_death"] >= 1
    assert result["possibly_duplicated_flags"] == result["product_in_flight_at_death"]


@pytest.mark.slow
@pytest.mark.faults
def test_a_redis_restart_mid_campaign_loses_nobody_and_duplicates_nothing(scenario_template):
    result = run_scenario("redis-restart", scenario_template)

    assert_recovered(result)
    assert result["fault"]["down_seconds"] >= 3
    # Redis holds no delivery state: nothing was accepted without being recorded.
    assert result["duplicates"] == 0


@pytest.mark.slow
@pytest.mark.faults
def test_a_postgresql_restart_mid_campaign_loses_nobody_and_duplicates_at_most_what_was_in_flight(
    scenario_template,
):
    result = run_scenario("postgres-restart", scenario_template)

    assert_recovered(result)
    assert result["fault"]["shutdown"] == "fast"
    assert result["fault"]["down_seconds"] >= 3


@pytest.mark.slow
@pytest.mark.faults
def test_smtp_4xx_for_a_while_then_accepting_delivers_everyone_once(scenario_template):
    result = run_scenario("smtp-4xx", scenario_template)

    assert_recovered(result)
    deferred = result["sink"]["deferred"]
    assert set(deferred) == {"mail", "rcpt", "data"} and min(deferred.values()) > 0
    # A 4xx keeps nothing: every deferred message went again, and only once.
    assert result["duplicates"] == 0


@pytest.mark.slow
@pytest.mark.faults
def test_smtp_dropped_connections_duplicate_only_the_messages_kept_without_a_reply(
    scenario_template,
):
    result = run_scenario("smtp-drops", scenario_template)

    assert_recovered(result)
    dropped = result["sink"]["dropped"]
    assert dropped == {"mail": 10, "rcpt": 10, "data-kept": 10, "data-discarded": 10}
    kept = result["in_flight_detail"]["kept_without_reply"]
    assert kept == 10
    # Each message the server kept without answering went again (the sender cannot know),
    # and nothing else did.
    assert result["duplicates"] == kept


@pytest.mark.django_db
def test_a_connection_lost_after_the_message_flags_its_retry_as_possibly_duplicated(settings):
    sink = ControlledSink()
    sink.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = sink.port
    settings.PROBE_SHARE = 1.0
    account = UserFactory().account
    SenderDomainFactory(account=account, domain="news.acme.example", verified_at=timezone.now())
    mailing_list = MailingListFactory(account=account)
    subscribe_many(mailing_list, 4, domains=("example.org",))
    campaign = submitted_campaign(mailing_list, from_email="news@news.acme.example")
    sending.campaign_approve(
        campaign_id=campaign.pk, actor=None, version_id=waiting_version(campaign)
    )
    sending.campaign_start_probe(campaign_id=campaign.pk, seed=1)
    emails = dict(Subscriber.objects.values_list("pk", "email"))
    # Rows are sent in id order: kept, discarded, dropped at RCPT, delivered.
    kept, discarded, at_rcpt, delivered = (
        emails[row.subscriber_id]
        for row in Delivery.objects.filter(campaign=campaign).order_by("id")
    )
    # The first three transactions lose their connection: after the message, which the server
    # kept; after the message, which it discarded; at RCPT. The fourth goes through.
    sink.drop(["data-kept", "data-discarded", "rcpt"], every=1)
    try:
        transport = delivery.open_transport()
        delivery.send_batch(campaign_id=campaign.pk, transport=transport)
        Delivery.objects.filter(campaign=campaign).update(next_attempt_at=None)  # due now
        delivery.send_batch(campaign_id=campaign.pk, transport=transport)
        transport.close()
        received = Counter({rcpt: len(times) for rcpt, times in sink.snapshot().items()})
    finally:
        sink.close()

    rows = {emails[row.subscriber_id]: row for row in Delivery.objects.filter(campaign=campaign)}
    assert {row.status for row in rows.values()} == {DeliveryStatus.SENT}
    # The one kept without a reply was sent again (the sender cannot know): it arrived twice.
    assert received == {kept: 2, discarded: 1, at_rcpt: 1, delivered: 1}
    flagged = {email for email, row in rows.items() if row.possibly_duplicated}
    # Both losses after the message are in doubt from the sender's side; a loss at RCPT is not.
    assert flagged == {kept, discarded}
    attempts = {email: row.attempts for email, row in rows.items()}
    assert attempts == {kept: 2, discarded: 2, at_rcpt: 2, delivered: 1}
