"""Faults under tracking load (issue 19): pixels, clicks, signed ESP webhook posts and one-click
unsubscribes; the consumer killed in the middle of a batch and a granian worker killed
mid-load, then the consumer started again; every event the server acknowledged is recorded
exactly once (tests/reliability/tracking_faults.py runs the scenario in a process of its own and
prints what it saw). `pytest -m faults`; about half a minute."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import require_service
from tests.reliability.fault_harness import ROOT

pytestmark = pytest.mark.faults


def test_every_acknowledged_event_is_recorded_once_after_the_consumer_and_a_worker_die():
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        require_service("PostgreSQL", "the scenario needs DATABASE_URL=postgres://...")
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        require_service("Redis", "the scenario needs CELERY_BROKER_URL=redis://...")
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}

    run = subprocess.run(
        [sys.executable, "-m", "tests.reliability.tracking_faults", "--json", "--requests=3000"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    assert outcome["consumer_killed"] and outcome["worker_killed"], outcome
    assert outcome["consumer_restarted"], outcome
    # The consumer died holding a batch it had read and not acknowledged: the new one claimed it.
    assert outcome["pending_at_kill"] > 0, outcome
    assert outcome["acknowledged"] > 2 * outcome["requests"] // 3, outcome
    assert outcome["missing"] == 0, outcome
    assert outcome["duplicated"] == 0, outcome
    assert outcome["recorded"] == outcome["events_in"], outcome
    assert outcome["recorded"] == outcome["acknowledged"] + outcome["unacknowledged_recorded"]
    assert outcome["stream_left"] == 0, outcome
    # Webhook posts were in the load, and each acknowledged one was applied once too.
    assert outcome["webhooks_acknowledged"] > 0, outcome
    assert outcome["webhooks_recorded"] >= outcome["webhooks_acknowledged"], outcome
    # One-click unsubscribes too: each answered one suppressed at once and applied once, after
    # the consumer that held some of them died.
    assert outcome["one_clicks_acknowledged"] > 0, outcome
    assert outcome["one_clicks_unsuppressed"] == 0, outcome
    assert outcome["one_clicks_missing"] == 0, outcome
    assert outcome["one_clicks_duplicated"] == 0, outcome
    assert outcome["one_clicks_pending"] == 0, outcome
