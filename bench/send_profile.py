"""Profile one send worker in-process: the campaign of send_bench, its probe sent by `drain`
under cProfile (or only timed), to a local smtp-sink. For finding where a message's CPU goes.

    .venv/bin/python bench/send_profile.py [--recipients 20000] [--messages 2000] [--no-profile]
        [--body-kb 30]
        [--database-url postgres://postgres@127.0.0.1:5432/consentmail_profile]
        [--broker-url redis://127.0.0.1:6379/7] [--sort tottime] [--lines 40]

The probe's share is raised so that `--messages` deliveries are pending; they are sent by one
`drain` in this process (one thread), and the profile's top lines are printed with the
messages per second of that one worker (profiled, so slower than for real; `--no-profile`
times it bare).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from send_bench import create_campaign, prepare_database, worker_env  # noqa: E402
from smtp_sink import SmtpSink  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=2_000)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/consentmail_profile"
    )
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--body-kb", type=float, default=30, help="the campaign's HTML as written (send_bench)"
    )
    args = parser.parse_args()
    args.batch, args.workers, args.threads = 500, 1, 1

    with SmtpSink() as sink:
        prepare_database(args.database_url)
        env = worker_env(args, sink.port)
        env["PROBE_SHARE"] = str(args.messages / args.recipients)
        env["PROBE_CAP"] = str(args.messages)
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        campaign = create_campaign(args.recipients, args.body_kb)
        from accounts.models import User
        from campaigns.delivery import drain
        from campaigns.sending import campaign_start_probe
        from moderation.services import decision_approve

        moderator = User.objects.create_user("profile-moderator@example.com", is_staff=True)
        started = time.perf_counter()
        decision_approve(
            campaign_id=campaign.pk, moderator=moderator, version_id=campaign.submitted_version_id
        )
        approved = time.perf_counter()
        campaign_start_probe(campaign_id=campaign.pk)
        print(
            f"approval {approved - started:.2f} s; fixing the audience of {args.recipients:,} and "
            f"choosing the probe {time.perf_counter() - approved:.2f} s"
        )
        baseline = sink.accepted()
        profile = cProfile.Profile()
        started = time.perf_counter()
        cpu_started = time.process_time()
        if args.no_profile:
            claimed, _ = drain(campaign_id=campaign.pk, seconds=3600)
        else:
            claimed, _ = profile.runcall(drain, campaign_id=campaign.pk, seconds=3600)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        sink.wait_for(baseline + claimed, timeout=30)
        print(
            f"one worker, one thread: {claimed:,} messages in {seconds:.2f} s = "
            f"{claimed / seconds:,.0f} messages/s ({seconds / claimed * 1e6:.0f} µs each"
            f"{', profiled' if not args.no_profile else ''}; this process's CPU "
            f"{cpu / claimed * 1e6:.0f} µs each); sink accepted "
            f"{sink.accepted() - baseline:,}"
        )
        if not args.no_profile:
            pstats.Stats(profile).sort_stats(args.sort).print_stats(args.lines)


if __name__ == "__main__":
    main()
