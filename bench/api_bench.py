"""Requests per second and p50/p99 latency of the subscriber API on a big list, over real HTTP.

    .venv/bin/python bench/api_bench.py [--subscribers 1000000] [--workers 2] [--clients 8]
        [--requests 400] [--bulk-requests 6] [--database-url postgres://...]

It uses its own database (default consentmail_api_bench on 127.0.0.1, created and migrated if
missing) and fills a list the way import_bench.py does (a generated CSV through `import_run`),
once: a later run reuses the list of that size. It then starts gunicorn (DEBUG off) on a free
port and drives it with a thread pool of HTTP clients, each with its own keep-alive session and
a read-write API token, for a fixed number of requests per scenario:

- `GET /api/v1/lists/{id}/subscribers/` for the first pages (1 to 5, in turn);
- the same with `?search=` and an address prefix;
- `POST /api/v1/lists/{id}/subscribers/bulk/` with 10,000 new subscribers each (then the same
  batches again: 10,000 updates each).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.import_bench import generate, measure, prepare_database  # noqa: E402

LIST_PREFIX = "api bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def big_list(subscribers: int):
    """The bench list of `subscribers` rows, made by an import the first time."""
    from django.conf import settings

    from accounts.models import Account
    from lists.models import MailingList

    name = f"{LIST_PREFIX} {subscribers}"
    mailing_list = MailingList.objects.filter(name=name).select_related("account").first()
    if mailing_list is not None:
        print(f"reusing list {mailing_list.pk} ({name})")
        return mailing_list
    account = Account.objects.create(
        company_name="API Bench Ltd", contact_name="B", phone="1", postal_address="1 Bench Rd"
    )
    mailing_list = MailingList.objects.create(account=account, name=name, purpose="Benchmark.")
    with tempfile.TemporaryDirectory() as tmp:
        settings.MEDIA_ROOT = tmp
        source = Path(tmp) / "subscribers.csv"
        generate(source, subscribers)
        settings.IMPORT_MAX_BYTES = max(settings.IMPORT_MAX_BYTES, source.stat().st_size + 1)
        measure(f"filling the list with {subscribers:,}", mailing_list, source)
    return mailing_list


def start_server(*, port: int, workers: int, env: dict) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    import requests

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/api/v1/lists/", timeout=5)
            return server
        except requests.RequestException:  # not listening yet, or still loading the app
            time.sleep(0.2)
    server.kill()
    sys.exit("gunicorn did not start")


def drive(label: str, *, clients: int, calls: list, expect: int) -> None:
    """Run `calls` (functions of a session returning a response) on `clients` threads; print
    the throughput and latency percentiles."""
    import requests

    local = threading.local()

    def run(call) -> float:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        started = time.perf_counter()
        response = call(session)
        elapsed = time.perf_counter() - started
        if response.status_code != expect:
            raise RuntimeError(f"{label}: {response.status_code} {response.text[:300]}")
        return elapsed

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        times = sorted(pool.map(run, calls))
    wall = time.perf_counter() - started
    p50 = statistics.median(times) * 1000
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))] * 1000
    print(
        f"{label:34s} {len(times):5d} req  {len(times) / wall:8.1f} req/s  "
        f"p50 {p50:8.1f} ms  p99 {p99:8.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--requests", type=int, default=400, help="per GET scenario")
    parser.add_argument("--bulk-requests", type=int, default=6, help="bulk upserts of 10,000")
    parser.add_argument("--bulk-clients", type=int, default=2)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/consentmail_api_bench"
    )
    args = parser.parse_args()

    prepare_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.models import User
    from accounts.services import api_token_create

    mailing_list = big_list(args.subscribers)
    count = mailing_list.subscribers.count()
    user, _ = User.objects.get_or_create(
        email=f"api-bench-{mailing_list.pk}@example.com", defaults={"account": mailing_list.account}
    )
    _, key = api_token_create(user=user, name="api bench")
    emails = list(
        mailing_list.subscribers.order_by("?").values_list("email", flat=True)[:1000]
        if count < 100_000
        else mailing_list.subscribers.filter(pk__in=_random_ids(mailing_list, 1000)).values_list(
            "email", flat=True
        )
    )
    from django.db import connections

    connections.close_all()

    port = free_port()
    env = {**os.environ, "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    print(
        f"list {mailing_list.pk} with {count:,} subscribers; gunicorn {args.workers} workers, "
        f"{args.clients} clients, database {args.database_url}",
        flush=True,
    )
    server = start_server(port=port, workers=args.workers, env=env)
    base = f"http://127.0.0.1:{port}/api/v1/lists/{mailing_list.pk}/subscribers/"
    headers = {"Authorization": f"Token {key}"}
    rng = random.Random(7)
    try:
        pages = [
            partial(_get, url=base, params={"page": 1 + i % 5}, headers=headers)
            for i in range(args.requests)
        ]
        drive("GET subscribers pages 1-5", clients=args.clients, calls=pages, expect=200)
        prefixes = [rng.choice(emails)[: rng.randint(4, 10)] for _ in range(args.requests)]
        searches = [
            partial(_get, url=base, params={"search": prefix}, headers=headers)
            for prefix in prefixes
        ]
        drive("GET subscribers ?search=prefix", clients=args.clients, calls=searches, expect=200)
        run_id = int(time.time())
        batches = [
            {
                "subscribers": [
                    {
                        "email": f"bulk.{run_id}.{b}.{i}@example.org",
                        "name": f"Bulk {i}",
                        "attributes": {"batch": str(b)},
                        "consent": {
                            "source": "api",
                            "obtained_at": "2026-01-01T00:00:00Z",
                            "proof": "CRM consent log",
                        },
                    }
                    for i in range(10_000)
                ]
            }
            for b in range(args.bulk_requests)
        ]
        bulk_url = f"{base}bulk/"
        for label in ("POST bulk 10,000 (all created)", "POST bulk 10,000 (all updated)"):
            calls = [partial(_post, url=bulk_url, body=batch, headers=headers) for batch in batches]
            drive(label, clients=args.bulk_clients, calls=calls, expect=200)
        print(f"  = {10_000 * args.bulk_requests:,} subscribers per bulk scenario")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    print(f"list now holds {mailing_list.subscribers.count():,} subscribers")


def _get(http, *, url: str, params: dict, headers: dict):
    return http.get(url, params=params, headers=headers)


def _post(http, *, url: str, body: dict, headers: dict):
    return http.post(url, json=body, headers=headers)


def _random_ids(mailing_list, n: int) -> list[int]:
    from django.db.models import Max, Min

    bounds = mailing_list.subscribers.aggregate(low=Min("id"), high=Max("id"))
    rng = random.Random(3)
    return [rng.randint(bounds["low"], bounds["high"]) for _ in range(n)]


if __name__ == "__main__":
    main()
