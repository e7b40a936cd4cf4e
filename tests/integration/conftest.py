"""Fixtures that run real processes: a Celery worker on Redis and an SMTP sink."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.db import connection

from config.celery import app as celery_app
from outbox.sink import StoredMessage, read_message
from tests.conftest import MailSink, require_service
from tests.workers import redis_url as worker_redis_url

ROOT = Path(__file__).resolve().parents[2]


def redis_url_for_this_test_process() -> str:
    """Redis on CELERY_BROKER_URL (or localhost), on the database of this xdist worker."""
    return worker_redis_url()


def database_url_of_test_db() -> str:
    """A DATABASE_URL naming the test database this test runs on, for a worker process."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@dataclass
class ParsedOnceSink(MailSink):
    """The sink, each message parsed once however often a test polls it. The sink writes a file
    per message atomically and never changes it, so what was parsed stays true; parsing every
    file again at each poll (thousands, five times a second) took a core from the worker the
    test was waiting for."""

    parsed: dict[str, StoredMessage] = field(default_factory=dict)

    def messages(self) -> list[StoredMessage]:
        directory = Path(self.directory)
        names = sorted(path.name for path in directory.glob("*.eml")) if directory.exists() else []
        for name in names:
            if name not in self.parsed:
                self.parsed[name] = read_message(directory / name)
        return [self.parsed[name] for name in names]


@pytest.fixture
def mail_sink(mail_sink):
    """tests/conftest.py's sink, read through ParsedOnceSink."""
    return ParsedOnceSink(directory=mail_sink.directory, port=mail_sink.port)


@pytest.fixture
def redis_broker():
    url = redis_url_for_this_test_process()
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        require_service("Redis", f"{url}: {exc}")
    client.flushdb()
    yield url
    client.flushdb()


@pytest.fixture
def celery_worker_process(redis_broker, transactional_db, tmp_path, monkeypatch):
    """Start a real `celery worker` process on Redis, sharing this test's database.

    The test process becomes a real producer too: tasks are no longer run eagerly.
    """

    def start(extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        env = (
            os.environ
            | {
                "DJANGO_SETTINGS_MODULE": "config.settings.test",
                "DATABASE_URL": database_url_of_test_db(),
                "CELERY_BROKER_URL": redis_broker,
                "CELERY_RESULT_BACKEND": redis_broker,
            }
            | (extra_env or {})
        )
        log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"test-{uuid.uuid4().hex[:8]}@%h",
                "-Q",
                "default",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append((process, log))
        return process

    processes: list = []
    # Celery reads these variables before its configuration, so they must name this test's Redis.
    monkeypatch.setenv("CELERY_BROKER_URL", redis_broker)
    monkeypatch.setenv("CELERY_RESULT_BACKEND", redis_broker)
    # Only what is changed below and restored after (copying the whole configuration fails once
    # a test's `settings` fixture has wrapped Django's settings, as the browser tests' do).
    changed = ("broker_url", "result_backend", "task_always_eager", "broker_transport_options")
    saved = {key: celery_app.conf[key] for key in changed}
    # Keys set explicitly (conf.changes) hide Django's settings from then on: one left there
    # would make a later test's `settings.CELERY_TASK_ALWAYS_EAGER = False` in this process do
    # nothing. Only those set before are put back; the others are removed.
    set_before = {key for key in changed if key in celery_app.conf.changes}
    celery_app.conf.update(
        broker_url=redis_broker,
        result_backend=redis_broker,
        task_always_eager=False,
        broker_transport_options={},
    )
    reset_celery_connections()
    yield start
    for process, log in processes:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    for key in changed:
        celery_app.conf.changes.pop(key, None)
    celery_app.conf.update({key: saved[key] for key in set_before})
    reset_celery_connections()


def reset_celery_connections() -> None:
    """Drop the app's pooled broker connections and cached result backend (they name a URL)."""
    celery_app._after_fork()
    celery_app._backend_cache = None
    celery_app._local.__dict__.pop("backend", None)


def wait_for(predicate, *, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns something true (returned) or `timeout` passes. The
    predicates are a query or a directory listing: polling often costs little and ends each
    wait within 50 ms of what it waits for (it was 200 ms, dozens of times a test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def let_pass(seconds: float) -> None:
    """Let `seconds` pass before checking that nothing more happened (no late message, no new
    batch): what would happen does so within them. (These waits were `wait_for(lambda: True,
    timeout=...)`, which returns at once: its predicate is true at the first call.)"""
    time.sleep(seconds)
