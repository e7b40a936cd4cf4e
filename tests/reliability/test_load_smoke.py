"""The load run (bench/load_run.py) works: a short run of wrk against a real granian on
PostgreSQL, with the tracking queue on Redis and its consumer, answers every request of every
endpoint without an error, each request did its work in the database, and every event accepted
was recorded once. No timing is asserted: the figures are the load run's to print."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_service
from tests.workers import redis_url as worker_redis_url
from tests.workers import worker_name

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture
def load_database_url():
    """A database of its own on the PostgreSQL server of DATABASE_URL (the load run drops and
    creates it), dropped afterwards."""
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        require_service("PostgreSQL", "the load run needs DATABASE_URL=postgres://...")
    server, name = url.rsplit("/", 1)
    database = f"{name.split('?')[0]}_load_smoke_{worker_name()}"
    try:
        with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=5):
            pass
    except psycopg.OperationalError as exc:
        require_service("PostgreSQL", str(exc))
    yield f"{server}/{database}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_a_short_load_run_answers_every_endpoint_without_errors(load_database_url, tmp_path):
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        require_service("Redis", "the load run queues hits on CELERY_BROKER_URL's Redis")
    redis_url = worker_redis_url()
    results_file = tmp_path / "load.json"
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}

    run = subprocess.run(
        [
            sys.executable,
            "bench/load_run.py",
            # 150 requests, as 30 a second for 5 s were: in 2 s (the counts are what is checked).
            "--rate=75",
            "--duration=2",
            # A busy CI machine may queue requests for seconds; only a request lost or refused
            # (an error status, a dropped connection) should fail this test.
            "--timeout=60",
            "--warmup=0",
            "--deliveries=2000",
            "--workers=2",
            # Pass or fail on errors alone: latency and rates on a shared machine prove nothing.
            "--p99-limit-ms=1e9",
            "--p99-hot-ms=1e9",
            "--p99-unsubscribe-ms=1e9",
            "--min-share=0",
            "--ceiling-seconds=1",
            f"--redis-url={redis_url}",
            f"--database-url={load_database_url}",
            f"--json={results_file}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(results_file.read_text())
    (stage,) = results["stages"]
    endpoints = stage["endpoints"]
    assert stage["passed"] is True
    assert set(endpoints) == {"open", "click", "unsubscribe", "webhook"}
    expected_status = {"open": "200", "click": "302", "unsubscribe": "200", "webhook": "200"}
    for kind, status in expected_status.items():
        requests = endpoints[kind]["requests"]
        assert requests > 0, kind
        assert endpoints[kind]["errors"] == 0, kind
        assert endpoints[kind]["statuses"] == {status: requests}, kind
    # Each request did its work: a click event per redirect, a one-click unsubscribe per POST
    # (each to another recipient), a feedback event per webhook post. wrk stops with requests
    # in flight that the server still serves, so the database may hold a few more.
    counts = results["database"]
    assert counts["clicks"] >= endpoints["click"]["requests"]
    assert counts["one_click_unsubscribes"] >= endpoints["unsubscribe"]["requests"]
    webhooks = counts["mailgun_events"] + counts["postmark_events"]
    assert webhooks >= endpoints["webhook"]["requests"]
    assert counts["opens"] >= endpoints["open"]["requests"]
    assert counts["machine_opens"] == 0
    # Every pixel and click the server accepted (XADD) was recorded, once.
    assert results["events_in"] == counts["queued_events"] > 0
    # Every webhook post went through the queue (the hot front), each applied once.
    assert results["webhook_posts_in"] == webhooks > 0
    assert results["ceiling"]["bare"]["rps"] > 0 and results["ceiling"]["pixel"]["rps"] > 0
    assert results["server_tracebacks"] == 0
