"""Send a 100,000-recipient campaign through 2 Celery worker processes to a local SMTP sink and
print messages per second end to end, with the sink's own ceiling for messages of the same size
measured in the same run.

    .venv/bin/python bench/send_bench.py [--recipients 100000] [--workers 2] [--body-kb 30]
        [--pool prefork|threads] [--concurrency 2] [--batch 500] [--ceiling-messages 30000]
        [--database-url postgres://postgres@127.0.0.1:5432/consentmail_bench]
        [--broker-url redis://127.0.0.1:6379/7]

`--body-kb` is the size of the campaign's HTML as its author wrote it (render_bench's newsletter:
a <style> block, tables, images, a link every ~800 bytes). A message as sent is bigger: the
text version, the tracked links, the footer and the headers; `--body-kb 2` makes a ~6 KB
message, `--body-kb 30` (the default) a ~50 KB one. The bench prints the message's size.

The workers run Celery's threads pool by default, `--concurrency` senders each (`--threads` is
the same option); `--pool prefork` runs production's pool (docker-compose.yml) instead.

It needs PostgreSQL, Redis and Postfix's smtp-sink (bench/smtp_sink.py says how to install it).
The campaign goes the real way: a moderator approves it, a worker resolves the recipients and
sends the 1,000-message probe, the hold (0 seconds here) is judged, the rest is released and
the workers drain it. Every message is rendered with the compiled template, written as MIME
directly, and handed over on a reused SMTP connection; each delivery is recorded as it goes.
The rate limits are lifted (they are policy, not capacity). Figures: the sink's ceiling with
Python smtplib clients, then the campaign's phases and its messages per second from approval to
`sent`, with the sink's count checked against the deliveries recorded, the ceiling measured
again, and the figure as a share of the mean ceiling (the ratio).

The ceiling is the same work as the campaign's: `--workers` bare smtplib client processes, each
on one reused connection, sending one of this campaign's own messages (rendered and written as
the workers write them, so the same bytes) to the same sink. The sink's and the kernel's work
grow with the bytes, so a ceiling measured with smaller messages than the campaign's would
compare unequal work.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from render_bench import campaign_html  # noqa: E402
from smtp_sink import SmtpSink, measure_ceiling  # noqa: E402

DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "yandex.ru", "mail.ru", "example.org"]


def prepare_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def worker_env(args: argparse.Namespace, sink_port: int) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": args.database_url,
        "CELERY_BROKER_URL": args.broker_url,
        "DEBUG": "false",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(sink_port),
        "SITE_URL": "https://app.consentmail.example",
        "HOLD_SECONDS": "0",
        "SEND_BATCH_SIZE": str(args.batch),
        "SEND_TASKS_PER_CAMPAIGN": str(args.workers * args.threads * 2),
        "SEND_RATE_GLOBAL": "0",
        "SEND_RATE_PER_ACCOUNT": "0",
        "SEND_RATE_PROVIDER_DEFAULT": "0",
        "SEND_RATE_PER_PROVIDER": "{}",
    }


def create_campaign(recipients: int, body_kb: float = 30):
    """An account, a verified sender domain, a list of `recipients` consented subscribers and a
    submitted campaign (render_bench's realistic newsletter, its HTML `body_kb` KB)."""
    from django.utils import timezone

    from accounts.models import Account, SenderDomain
    from campaigns.models import Campaign
    from lists.models import ConsentEvent, ConsentRecord, MailingList, Subscriber

    account = Account.objects.create(
        company_name="Bench Ltd", contact_name="B", phone="1", postal_address="1 Bench Rd, Leeds"
    )
    SenderDomain.objects.create(
        account=account,
        domain="news.bench.example",
        verification_token=secrets.token_hex(16),
        verified_at=timezone.now(),
    )
    mailing_list = MailingList.objects.create(account=account, name="Bench", purpose="News")
    now = timezone.now()
    for start in range(0, recipients, 10_000):
        subscribers = Subscriber.objects.bulk_create(
            Subscriber(
                mailing_list=mailing_list,
                email=f"reader.{n}@{DOMAINS[n % len(DOMAINS)]}",
                name=f"Reader {n}",
                attributes={"city": "Leeds"},
                status="subscribed",
                subscribed_at=now,
            )
            for n in range(start, min(recipients, start + 10_000))
        )
        ConsentRecord.objects.bulk_create(
            ConsentRecord(
                subscriber=subscriber,
                event=ConsentEvent.GRANTED,
                source="web_form",
                obtained_at=now,
                purpose_text="News",
            )
            for subscriber in subscribers
        )
    campaign = Campaign.objects.create(
        account=account,
        name="Bench",
        subject="November for {{ subscriber.first_name | default('you') }}",
        from_name="Bench News",
        from_email="news@news.bench.example",
        html_body=campaign_html(round(body_kb * 1024)),
        status="submitted",
        submitted_at=now,
    )
    campaign.lists.set([mailing_list])
    # Submitted as the sender's submit would have it: with its frozen version.
    from campaigns.versions import version_freeze

    campaign.submitted_version = version_freeze(campaign=campaign, actor=None)
    campaign.save(update_fields=["submitted_version"])
    return campaign


def sample_message(body_kb: float = 30) -> bytes:
    """One message of the bench campaign's template, rendered and written as the SMTP path
    writes it (no database: the compiled content of create_campaign's campaign)."""
    from campaigns.mime import raw_message
    from campaigns.rendering import CampaignContent, Recipient, compile_campaign

    content = CampaignContent(
        campaign_id=1,
        account_id=1,
        subject="November for {{ subscriber.first_name | default('you') }}",
        from_name="Bench News",
        from_email="news@news.bench.example",
        reply_to="",
        html_body=campaign_html(round(body_kb * 1024)),
        text_body="",
        company_name="Bench Ltd",
        postal_address="1 Bench Rd, Leeds",
    )
    recipient = Recipient(
        subscriber_id=1,
        email="reader.1@yahoo.com",
        name="Reader 1",
        phone="",
        attributes={"city": "Leeds"},
        list_id=1,
        list_name="Bench",
        consent_source="web_form",
        consented_at=None,
    )
    return bytes(raw_message(compile_campaign(content).render(recipient), eight_bit=True))


def wait_status(campaign, statuses: set[str], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        campaign.refresh_from_db(fields=["status"])
        if campaign.status in statuses:
            return time.perf_counter()
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {statuses}; the campaign is {campaign.status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--body-kb",
        type=float,
        default=30,
        help="the campaign's HTML as written, in KB (2: a ~6 KB message; 30: ~50 KB)",
    )
    parser.add_argument(
        "--pool",
        choices=["prefork", "threads"],
        default="threads",
        help="the Celery pool: threads (faster here: 729 against 472 messages/s at 100,000 "
        "recipients, 2x2, same machine, same hour) or prefork (production's, docker-compose.yml)",
    )
    parser.add_argument(
        "--threads",
        "--concurrency",
        dest="threads",
        type=int,
        default=2,
        help="senders per worker (pool processes or threads): one renders while another waits "
        "on the network or the database",
    )
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/consentmail_bench"
    )
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--ceiling-messages", type=int, default=30_000)
    parser.add_argument("--worker-loglevel", default="WARNING")
    args = parser.parse_args()

    with SmtpSink() as sink:
        prepare_database(args.database_url)
        env = worker_env(args, sink.port)
        os.environ.update(env)
        import django

        django.setup()
        # The campaign's own message, as the workers will write it: the ceiling sends these
        # very bytes, so that it does the same work per message as the campaign.
        campaign_message = sample_message(args.body_kb)
        size = f"{len(campaign_message) / 1024:.1f} KB"
        ceiling_before = measure_ceiling(
            sink.port,
            messages=args.ceiling_messages,
            connections=args.workers,
            message=campaign_message,
        )
        print(
            f"campaign: {args.body_kb:g} KB of HTML as written, {size} a message as sent; "
            f"sink ceiling {ceiling_before:,.0f} messages/s from {args.workers} bare smtplib "
            f"client processes sending one of its messages ({size})"
        )
        baseline = sink.accepted()
        import redis
        from django.core.management import call_command

        redis.Redis.from_url(args.broker_url).flushdb()
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        campaign = create_campaign(args.recipients, args.body_kb)
        print(f"created {args.recipients:,} subscribers in {time.perf_counter() - started:.1f} s")

        workers = [
            subprocess.Popen(
                [
                    sys.executable, "-m", "celery", "-A", "config", "worker",
                    f"--pool={args.pool}", f"--concurrency={args.threads}",
                    f"--loglevel={args.worker_loglevel}", "--without-gossip", "--without-mingle",
                    "--without-heartbeat", "-n", f"bench{i}@%h",
                ],
                cwd=ROOT,
                env=os.environ | env,
            )
            for i in range(args.workers)
        ]  # fmt: skip
        try:
            time.sleep(3)  # let the workers connect before the clock starts
            from accounts.models import User
            from campaigns.models import Delivery, SendBatch
            from moderation.services import decision_approve, holds_evaluate

            moderator = User.objects.create_user("bench-moderator@example.com", is_staff=True)
            t0 = time.perf_counter()
            decision_approve(
                campaign_id=campaign.pk,
                moderator=moderator,
                version_id=campaign.submitted_version_id,
            )
            t_probe = wait_status(campaign, {"holding"}, timeout=600)
            holds_evaluate()
            t_release = time.perf_counter()
            wait_status(campaign, {"sent"}, timeout=3600)
            t_sent = time.perf_counter()
            sink.wait_for(baseline + args.recipients, timeout=30)
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=30)

        campaign.refresh_from_db()
        sent = Delivery.objects.filter(campaign=campaign, status="sent").count()
        accepted = sink.accepted() - baseline
        duplicates = sum(
            SendBatch.objects.filter(campaign=campaign).values_list("in_flight_at_death", flat=True)
        )
        total = t_sent - t0
        released = sent - campaign.probe_size
        print(
            f"probe: {campaign.probe_size:,} messages, approval to hold {t_probe - t0:.1f} s "
            f"(resolving {campaign.recipients_at_approval:,} recipients included)"
        )
        print(
            f"release: {released:,} messages in {t_sent - t_release:.1f} s = "
            f"{released / (t_sent - t_release):,.0f} messages/s"
        )
        print(
            f"end to end: {sent:,} messages in {total:.1f} s = {sent / total:,.0f} messages/s "
            f"with {args.workers} workers of {args.threads} {args.pool} senders "
            f"(batch {args.batch})"
        )
        print(
            f"sink accepted {accepted:,}; deliveries recorded sent {sent:,}; in flight at a "
            f"worker's death {duplicates}; sink CPU {sink.cpu_seconds():.1f} s"
        )
        # Measured again after the campaign: on a shared machine the load may have changed.
        figure = sent / total
        ceiling_after = measure_ceiling(
            sink.port,
            messages=args.ceiling_messages,
            connections=args.workers,
            message=campaign_message,
        )
        ceiling = (ceiling_before + ceiling_after) / 2
        load = os.getloadavg()
        print(
            f"figure {figure:,.0f} messages/s end to end ({size} messages); ceiling (the same "
            f"{size} message, {args.workers} bare smtplib clients, same sink, mean of "
            f"{ceiling_before:,.0f} before and {ceiling_after:,.0f} after) {ceiling:,.0f} "
            f"messages/s: ratio {figure / ceiling:.0%}; load average {load[0]:.2f} "
            f"{load[1]:.2f} {load[2]:.2f}"
        )


if __name__ == "__main__":
    main()
