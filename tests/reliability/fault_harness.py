"""Fault injection during a send: a campaign to 5,000 recipients goes out through real Celery
workers on a Redis broker to a real (controllable) SMTP server, and one fault hits it half-way:

    worker-kill       SIGKILL mid-batch: of one pool process of a worker (as the OOM killer
                      does) and, at the same moment, of another worker whole (main process and
                      pool: a container or host gone); a fresh worker replaces the dead one
    redis-restart     the broker (and the cache that holds the rate counters) stopped, then back
    postgres-restart  the database stopped (fast shutdown, as `pg_ctl restart` does), then back
    smtp-4xx          the SMTP server answers 4xx (at MAIL, RCPT or after the message) for a
                      while, then accepts again
    smtp-drops        the SMTP server closes connections: at MAIL, at RCPT, and after the whole
                      message, both having kept it (the reply is lost: the "in flight" case)
                      and having discarded it

    .venv/bin/python -m tests.reliability.fault_harness all          # or one scenario's name
    .venv/bin/python bench/fault_run.py all                          # the same

Setting a scenario up (initdb, migrations, seeding) took up to a minute on a busy two-core
machine, as long as the send. `template --template DIR` does it once, into DIR, and a scenario
given `--template DIR` starts from a copy of it (`all` and tests/reliability/test_send_faults.py
do so); without one a scenario makes its own.

After recovery the harness checks, from the SMTP server's own count, that every recipient got
the message (zero lost), that duplicates are no more than the messages in flight at the fault,
and that every Delivery is in a final state; it prints one line of counts per scenario (JSON with
--json). tests/reliability/test_send_faults.py runs each scenario and asserts the same.

Each scenario runs in a process of its own (Django reads its settings once) with PRIVATE
services, because it restarts them and the machine's PostgreSQL and Redis serve others:

- redis-server on a free port, append-only (`--appendonly yes --save ""`, noeviction), as
  docker-compose.yml runs production's: what a production restart does is what is tested. An
  unpersisted Redis would lose its queue on restart; the sweeper re-queues the work either way.
- a PostgreSQL cluster made by initdb in a temporary directory (as the postgres user when run
  as root), the postmaster started directly (not through pg_ctl) as a child of this process on a
  free port with its socket in that directory, so that it dies with the harness (the parent-death
  signal) even if the harness is SIGKILLed; it is stopped the way `pg_ctl stop -m fast` does it.
- the SMTP server below, in a thread of this process, counting what it accepted per recipient.
- two Celery workers run as production's do (docker-compose.yml): prefork pool (concurrency 2
  here, 4 there), CONN_MAX_AGE=60, results and rate counters on the same Redis; and one beat.
  No supervisor restarts a worker that exits: each must come through the fault by itself.
  (`--pool threads` shows why the pool matters: on a Redis restart such a worker exits.)

Every process is a child that gets a signal when the harness dies, and the temporary directory
goes at exit, on failure too. Settings lowered for a fast recovery (in the workers' environment):
SEND_LEASE_SECONDS=10, SEND_SWEEP_SECONDS=1 (beat's sweeper), SEND_RETRY_SECONDS=1,
SEND_TASK_SECONDS=10, SEND_BATCH_SIZE=100 and HOLD_SECONDS=0 (the harness judges the hold and
releases the rest through the service as soon as the probe is out). The rate limits keep their
defaults (their cache is the private Redis, as CACHE_URL is in production).

"In flight at the fault", counted from facts the harness sees, not from the product's own figure:
a message the SMTP server accepted by the end of the fault whose Delivery was not recorded sent
by then (its final sent_at is later, or it is not sent); plus, for dropped connections, each
message the server kept but whose reply it never sent. SMTP has no idempotency key, so only those
can arrive twice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import itertools
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ("worker-kill", "redis-restart", "postgres-restart", "smtp-4xx", "smtp-drops")
# Not among the five by default: an immediate (crash) shutdown of PostgreSQL, which may lose the
# last commits made with synchronous_commit off (campaigns/delivery.py says why it takes that).
EXTRA_SCENARIOS = ("postgres-crash",)
FINAL_STATES = ("sent", "failed", "skipped")
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "yandex.ru", "mail.ru", "example.org")

# Run settings (see the module docstring).
RUN_SETTINGS = {
    # Long enough that a worker starved of CPU on a busy machine is not declared dead: a false
    # death would send its message in flight twice, which no fault of the scenario explains.
    "SEND_LEASE_SECONDS": "10",
    "SEND_SWEEP_SECONDS": "1",
    "SEND_RETRY_SECONDS": "1",
    "SEND_TASK_SECONDS": "10",
    "SEND_BATCH_SIZE": "100",
    "SEND_TASKS_PER_CAMPAIGN": "4",
    "HOLD_SECONDS": "0",
}


class HarnessError(RuntimeError):
    """The harness could not set a scenario up (a missing binary, a service that did not
    start), as opposed to a scenario that ran and found a problem."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and postgres."""
    base = Path("/usr/lib/postgresql")
    found = [
        path / "bin"
        for path in (base.iterdir() if base.is_dir() else [])
        if (path / "bin" / "initdb").exists() and (path / "bin" / "postgres").exists()
    ]
    return max(
        found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, default=None
    )


def missing_binaries() -> list[str]:
    """What this machine lacks to run the harness (empty when it can run)."""
    missing = []
    if not shutil.which("redis-server"):
        missing.append("redis-server")
    if postgres_bin_dir() is None:
        missing.append("PostgreSQL server binaries (/usr/lib/postgresql/<version>/bin)")
    return missing


_prctl = ctypes.CDLL(None, use_errno=True).prctl
PR_SET_PDEATHSIG = 1


def _child_setup(sig: int, user: pwd.struct_passwd | None = None):
    """preexec_fn: become `user` (if given), then get `sig` when the harness dies. The order
    matters: changing the user clears the parent-death signal."""

    def setup() -> None:
        if user is not None:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
        _prctl(PR_SET_PDEATHSIG, sig)

    return setup


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            value = predicate()
            if value:
                return value
        time.sleep(interval)
    raise HarnessError(f"timed out after {timeout:.0f} s waiting for {what}")


def _stop_process(process: subprocess.Popen | None, sig: int, timeout: float = 20) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _children(pid: int) -> list[int]:
    """The process's children (a Celery worker's pool processes)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    """Not gone and not a zombie waiting for its parent to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


# --- private services ----------------------------------------------------------------------------


class PrivateRedis:
    """redis-server on a free port with an append-only file in `directory`."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log = open(directory / "redis.log", "ab")  # noqa: SIM115 - closed in stop()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
                "--dir", str(self.directory), "--save", "", "--appendonly", "yes",
                "--appendfsync", "everysec", "--maxmemory-policy", "noeviction",
                "--protected-mode", "no",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=_child_setup(signal.SIGKILL),
        )  # fmt: skip
        wait_until(self.ping, timeout=20, what="redis-server to answer")

    def ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        """SIGTERM: Redis writes its append-only file and exits (a clean restart)."""
        _stop_process(self.process, signal.SIGTERM)

    def close(self) -> None:
        self.stop()
        self.log.close()


class PrivatePostgres:
    """A throwaway PostgreSQL cluster in `directory`, its postmaster a child of this process:
    made by initdb, or copied from `template` (a cluster stopped cleanly: see build_template).
    Its port is chosen at once; with `create=False` the cluster is made later (`create()`), so
    that what needs only the port can start meanwhile."""

    def __init__(self, directory: Path, *, template: Path | None = None, create: bool = True):
        self.bin = postgres_bin_dir()
        if self.bin is None:
            raise HarnessError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        # initdb refuses to run as root: the cluster belongs to the postgres user then.
        self.user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        directory.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            os.chown(directory, self.user.pw_uid, self.user.pw_gid)
        self.process: subprocess.Popen | None = None
        self.log = open(directory.parent / "postgres.log", "ab")  # noqa: SIM115 - see close()
        self.template = template
        if create:
            self.create()

    def create(self) -> None:
        if self.template is not None:
            # cp -a keeps the owner (postgres) and the 0700 mode the postmaster insists on.
            subprocess.run(["cp", "-a", self.template / "data", self.data], check=True)
            return
        subprocess.run(
            [self.bin / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync"],
            check=True,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=_child_setup(signal.SIGKILL, self.user),
        )

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def start(self, *, fsync: bool = True) -> None:
        """Start the postmaster. fsync off is for building a template only: what a scenario
        runs on is production's setting."""
        # SIGQUIT on the harness's death is PostgreSQL's immediate shutdown.
        self.process = subprocess.Popen(
            [
                self.bin / "postgres", "-D", self.data, "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1",
                "-c", f"unix_socket_directories={self.directory}",
                "-c", "max_connections=100", "-c", f"fsync={'on' if fsync else 'off'}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=_child_setup(signal.SIGQUIT, self.user),
        )  # fmt: skip
        wait_until(self.ready, timeout=30, what="PostgreSQL to accept connections")

    def ready(self) -> bool:
        import psycopg

        with psycopg.connect(self.url("postgres"), connect_timeout=2) as connection:
            return connection.execute("SELECT 1").fetchone() == (1,)

    def stop(self, *, mode: str = "fast") -> None:
        """fast: SIGINT, as `pg_ctl stop -m fast` (sessions ended, a checkpoint, nothing lost);
        immediate: SIGQUIT, a crash (recovery from the WAL at the next start)."""
        _stop_process(self.process, signal.SIGINT if mode == "fast" else signal.SIGQUIT, 60)

    def close(self) -> None:
        self.stop(mode="immediate")
        self.log.close()


# --- the controllable SMTP server ----------------------------------------------------------------


@dataclass
class SinkCounters:
    transactions: int = 0
    accepted: int = 0
    deferred: Counter = field(default_factory=Counter)  # by stage
    dropped: Counter = field(default_factory=Counter)  # by stage
    # Messages kept whose connection was closed before the 250: the sender cannot know.
    kept_unacknowledged: int = 0


class ControlledSink:
    """A small SMTP server (PIPELINING, 8BITMIME) in a thread. It accepts, or for a while
    answers 4xx, or closes connections at a chosen point, and records every message it accepted
    (the recipient and the time). Faults are set from the harness's thread."""

    HOSTNAME = "sink.faults.test"

    def __init__(self) -> None:
        self.port = free_port()
        self.counters = SinkCounters()
        self.accepted_at: dict[str, list[float]] = {}
        self.kept_unacknowledged: Counter = Counter()
        self._lock = threading.Lock()
        self._defer_until = 0.0
        self._defer_stages = itertools.cycle(("mail", "rcpt", "data"))
        self._drops: deque[str] = deque()
        self._drop_every = 1
        self._queue_ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._run, name="smtp-sink", daemon=True)

    # The harness's side.

    def start(self) -> None:
        started = threading.Event()
        self._started = started
        self._thread.start()
        if not started.wait(10):
            raise HarnessError("the SMTP sink did not start")

    def close(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def defer_for(self, seconds: float) -> None:
        """Answer every transaction with a 4xx for `seconds` (at MAIL, RCPT or after the
        message, in turn), then accept again."""
        with self._lock:
            self._defer_until = time.time() + seconds

    def drop(self, stages: list[str], *, every: int) -> None:
        """Close the connection in one transaction of every `every`, at each of `stages` in
        turn: "mail", "rcpt", "data-kept" (after the message, having kept it), "data-discarded"."""
        with self._lock:
            self._drops.extend(stages)
            self._drop_every = every

    def drops_left(self) -> int:
        with self._lock:
            return len(self._drops)

    def accepted_total(self) -> int:
        with self._lock:
            return self.counters.accepted

    def snapshot(self) -> dict[str, list[float]]:
        with self._lock:
            return {rcpt: list(times) for rcpt, times in self.accepted_at.items()}

    def kept_without_reply(self) -> Counter:
        """Messages kept whose connection was closed instead of the 250, by recipient."""
        with self._lock:
            return Counter(self.kept_unacknowledged)

    def counters_dict(self) -> dict:
        with self._lock:
            c = self.counters
            return {
                "transactions": c.transactions,
                "accepted": c.accepted,
                "deferred": dict(c.deferred),
                "dropped": dict(c.dropped),
                "kept_unacknowledged": c.kept_unacknowledged,
            }

    # The server's side.

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._session, "127.0.0.1", self.port, limit=32 * 2**20)
        )
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            self._loop.close()

    def _fate(self) -> tuple[str, str]:
        """Decide a new transaction's fate: ("accept", ""), ("defer", stage), ("drop", stage)."""
        with self._lock:
            self.counters.transactions += 1
            if time.time() < self._defer_until:
                return "defer", next(self._defer_stages)
            if self._drops and self.counters.transactions % self._drop_every == 0:
                return "drop", self._drops.popleft()
            return "accept", ""

    def _record(self, recipients: list[str], *, acknowledged: bool) -> None:
        now = time.time()
        with self._lock:
            for rcpt in recipients:
                self.accepted_at.setdefault(rcpt, []).append(now)
            self.counters.accepted += len(recipients)
            if not acknowledged:
                self.counters.kept_unacknowledged += len(recipients)
                self.kept_unacknowledged.update(recipients)

    def _count(self, kind: str, stage: str) -> None:
        with self._lock:
            getattr(self.counters, kind)[stage] += 1

    @staticmethod
    def _address(argument: str) -> str:
        start, end = argument.find("<"), argument.find(">")
        return argument[start + 1 : end].strip().lower() if start >= 0 < end else argument.lower()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def reply(text: str) -> None:
            writer.write(text.encode() + b"\r\n")

        reply(f"220 {self.HOSTNAME} ESMTP")
        fate, mail_ok, recipients = ("accept", ""), False, []
        try:
            while True:
                await writer.drain()
                line = await reader.readline()
                if not line:
                    return
                command = line.decode("latin-1").rstrip("\r\n")
                verb = command[:4].upper()
                if verb == "EHLO":
                    reply(f"250-{self.HOSTNAME}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE")
                elif verb == "HELO":
                    reply(f"250 {self.HOSTNAME}")
                elif verb == "MAIL":
                    fate, recipients = self._fate(), []
                    if fate == ("drop", "mail"):
                        self._count("dropped", "mail")
                        return
                    if fate == ("defer", "mail"):
                        self._count("deferred", "mail")
                        mail_ok = False
                        reply("451 4.3.2 Try again later")
                        continue
                    mail_ok = True
                    reply("250 2.1.0 Ok")
                elif verb == "RCPT":
                    if not mail_ok:
                        reply("503 5.5.1 MAIL first")
                    elif fate == ("drop", "rcpt"):
                        self._count("dropped", "rcpt")
                        return
                    elif fate == ("defer", "rcpt"):
                        self._count("deferred", "rcpt")
                        reply("451 4.7.1 Greylisted, try again later")
                    else:
                        recipients.append(self._address(command[8:]))
                        reply("250 2.1.5 Ok")
                elif verb == "DATA":
                    if not mail_ok:
                        reply("503 5.5.1 MAIL first")
                        continue
                    if not recipients:
                        reply("554 5.5.1 No valid recipients")
                        continue
                    reply("354 End data with <CR><LF>.<CR><LF>")
                    await writer.drain()
                    await reader.readuntil(b"\r\n.\r\n")
                    taken, mail_ok = recipients, False
                    if fate == ("drop", "data-kept"):
                        self._record(taken, acknowledged=False)
                        self._count("dropped", "data-kept")
                        return
                    if fate == ("drop", "data-discarded"):
                        self._count("dropped", "data-discarded")
                        return
                    if fate == ("defer", "data"):
                        self._count("deferred", "data")
                        reply("451 4.3.0 Temporary failure, try again later")
                        continue
                    self._record(taken, acknowledged=True)
                    reply(f"250 2.0.0 Ok: queued as F{next(self._queue_ids):08d}")
                elif verb == "RSET":
                    mail_ok, recipients = False, []
                    reply("250 2.0.0 Ok")
                elif verb == "NOOP":
                    reply("250 2.0.0 Ok")
                elif verb == "QUIT":
                    reply("221 2.0.0 Bye")
                    await writer.drain()
                    return
                else:
                    reply("502 5.5.2 Command not recognized")
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        finally:
            # Closing without a reply is the fault itself in the "drop" cases.
            writer.close()


# --- the worker and beat processes ---------------------------------------------------------------


class CeleryProcesses:
    """Celery workers and one beat, started as this harness's children. The pool is
    production's (prefork, docker-compose.yml) unless told otherwise."""

    def __init__(self, directory: Path, env: dict[str, str], *, pool: str, concurrency: int):
        self.directory = directory
        self.env = env
        self.pool = pool
        self.concurrency = concurrency
        self.workers: list[subprocess.Popen] = []
        self.beat: subprocess.Popen | None = None
        self._logs: list = []
        self._names = itertools.count(1)

    def _popen(self, args: list[str], log_name: str) -> subprocess.Popen:
        log = open(self.directory / log_name, "ab")  # noqa: SIM115 - closed in close()
        self._logs.append(log)
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_child_setup(signal.SIGKILL),
        )

    def start_worker(self, *, wait: bool = True) -> subprocess.Popen:
        """Start a worker; with `wait`, return once it consumes (see wait_ready)."""
        number = next(self._names)
        log_name = f"worker{number}.log"
        process = self._popen(
            [
                "worker", f"--pool={self.pool}", f"--concurrency={self.concurrency}",
                "--loglevel=INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "-n", f"faults{number}@%h", "-Q", "default",
            ],
            log_name,
        )  # fmt: skip
        process.log_name = log_name
        self.workers.append(process)
        if wait:
            self.wait_ready()
        return process

    def wait_ready(self) -> None:
        for process in self.workers:
            wait_until(
                lambda p=process: b" ready." in (self.directory / p.log_name).read_bytes(),
                timeout=90,
                what=f"{process.log_name} to say the worker is ready",
            )

    def start_beat(self) -> None:
        self.beat = self._popen(
            ["beat", "--loglevel=INFO", "-s", str(self.directory / "beat-schedule")], "beat.log"
        )

    def log_tails(self, lines: int = 30) -> dict[str, str]:
        tails = {}
        for path in sorted(self.directory.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()
            tails[path.name] = "\n".join(text[-lines:])
        return tails

    def close(self) -> None:
        for process in [*self.workers, self.beat]:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in [*self.workers, self.beat]:
            _stop_process(process, signal.SIGTERM, 20)
        for log in self._logs:
            log.close()


# --- the scenario --------------------------------------------------------------------------------


def seed(recipients: int) -> tuple[int, int]:
    """An account with a verified sender domain, a list of `recipients` consented subscribers,
    a submitted campaign to it and a moderator. Returns (campaign id, moderator id)."""
    import secrets

    from django.utils import timezone

    from accounts.models import Account, SenderDomain, User
    from campaigns.models import Campaign
    from lists.models import ConsentEvent, ConsentRecord, MailingList, Subscriber

    now = timezone.now()
    account = Account.objects.create(
        company_name="Faults Ltd", contact_name="F", phone="1", postal_address="1 Fault Rd, Leeds"
    )
    SenderDomain.objects.create(
        account=account,
        domain="news.faults.example",
        verification_token=secrets.token_hex(16),
        verified_at=now,
    )
    mailing_list = MailingList.objects.create(account=account, name="Faults", purpose="News")
    subscribers = Subscriber.objects.bulk_create(
        Subscriber(
            mailing_list=mailing_list,
            email=f"reader.{n}@{DOMAINS[n % len(DOMAINS)]}",
            name=f"Reader {n}",
            status="subscribed",
            subscribed_at=now,
        )
        for n in range(recipients)
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
        name="Faults",
        subject="News for {{ subscriber.first_name | default('you') }}",
        from_name="Faults News",
        from_email="news@news.faults.example",
        html_body="<h1>November</h1><p>Hello {{ subscriber.first_name }}, here is the news.</p>",
        status="submitted",
        submitted_at=now,
    )
    campaign.lists.set([mailing_list])
    # Submitted as the sender's submit would have it: with its frozen version.
    from campaigns.versions import version_freeze

    campaign.submitted_version = version_freeze(campaign=campaign, actor=None)
    campaign.save(update_fields=["submitted_version"])
    moderator = User.objects.create_user("moderator@faults.example", is_staff=True)
    return campaign.pk, moderator.pk


def scenario_environment(
    workdir: Path, database_url: str, *, redis_url: str | None = None, smtp_port: int | None = None
) -> dict[str, str]:
    """The environment of a scenario's Django (this process's and the workers'): this one's,
    less what the run sets itself, plus RUN_SETTINGS and the private services."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CELERY_", "EMAIL_", "SEND_", "DJANGO_", "PYTEST_"))
        and key not in ("DATABASE_URL", "CACHE_URL", "CONN_MAX_AGE", "VAR_DIR", "HOLD_SECONDS")
    }
    env |= RUN_SETTINGS | {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "false",
        "VAR_DIR": str(workdir / "var"),
        "DATABASE_URL": database_url,
        "CONN_MAX_AGE": "60",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "SITE_URL": "https://app.consentmail.example",
    }
    if redis_url is not None:
        env |= {
            "CELERY_BROKER_URL": f"{redis_url}/0",
            "CELERY_RESULT_BACKEND": f"{redis_url}/1",
            "CACHE_URL": f"{redis_url}/2",
        }
    if smtp_port is not None:
        env["EMAIL_PORT"] = str(smtp_port)
    return env


def migrate_and_seed(recipients: int) -> tuple[int, int]:
    """Migrate the database Django is set up on and seed it; returns seed()'s ids."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return seed(recipients)


TEMPLATE_FILE = "template.json"


def build_template(directory: Path, *, recipients: int) -> None:
    """Make in `directory` what a scenario can start from instead of initdb, migrations and
    seeding (up to a minute each on a busy two-core machine): a cluster holding the migrated,
    seeded `faults` database, stopped cleanly (a fast shutdown's checkpoint: a copy of its files
    starts as it is), and TEMPLATE_FILE with the seed's ids. Sets Django up: a process of its
    own, as a scenario."""
    directory.chmod(0o711)  # the postgres user must reach its cluster inside
    postgres = PrivatePostgres(directory / "pg")
    try:
        # Nothing here has to survive a crash of the machine: what is copied is what the clean
        # stop below wrote.
        postgres.start(fsync=False)
        import psycopg

        with psycopg.connect(postgres.url("postgres"), autocommit=True) as connection:
            connection.execute("CREATE DATABASE faults")
        os.environ.clear()
        os.environ.update(scenario_environment(directory, postgres.url("faults")))
        import django

        django.setup()
        campaign_id, moderator_id = migrate_and_seed(recipients)
        from django.db import connections

        connections.close_all()
        postgres.stop(mode="fast")
        if postgres.process is None or postgres.process.returncode != 0:
            raise HarnessError("the template's PostgreSQL did not stop cleanly")
    finally:
        postgres.close()
    seeded = {"recipients": recipients, "campaign_id": campaign_id, "moderator_id": moderator_id}
    (directory / TEMPLATE_FILE).write_text(json.dumps(seeded))


@dataclass
class Fault:
    """What a scenario did, and when: [started, ended] bound the fault (wall clock)."""

    started: float = 0.0
    ended: float = 0.0
    started_monotonic: float = 0.0
    details: dict = field(default_factory=dict)


class Run:
    """One scenario on fresh private services; `result()` is the JSON-able outcome."""

    def __init__(self, scenario: str, *, recipients: int, workers: int, pool: str,
                 concurrency: int, deadline: float, workdir: Path,
                 template: Path | None = None):  # fmt: skip
        self.scenario = scenario
        self.template = template
        self.recipients = recipients
        self.worker_count = workers
        self.pool = pool
        self.concurrency = concurrency
        self.deadline = deadline
        self.workdir = workdir
        self.fault = Fault()
        self.problems: list[str] = []
        self.created = time.monotonic()
        self.setup_seconds = 0.0
        # (what, seconds since the run was created): where a scenario's time goes.
        self.timeline: list[tuple[str, float]] = []

    # Setup.

    def start(self, stack: contextlib.ExitStack) -> None:
        self.redis = PrivateRedis(self.workdir / "redis")
        stack.callback(self.redis.close)
        self.redis.start()
        # The ports first: the workers and beat start now, as their start-up (imports, ~4 CPU-s
        # each, up to a minute on a busy machine) needs no database; meanwhile the cluster is
        # copied and started, Django set up here and the campaign approved. A sweep beat sends
        # before PostgreSQL is up fails and the next one runs.
        self.postgres = PrivatePostgres(
            self.workdir / "pg",
            template=self.template / "pg" if self.template else None,
            create=False,
        )
        stack.callback(self.postgres.close)
        self.sink = ControlledSink()
        stack.callback(self.sink.close)
        env = scenario_environment(
            self.workdir, self.postgres.url("faults"), redis_url=self.redis.url,
            smtp_port=self.sink.port,
        )  # fmt: skip
        self.processes = CeleryProcesses(
            self.workdir, env, pool=self.pool, concurrency=self.concurrency
        )
        stack.callback(self.processes.close)
        for _ in range(self.worker_count):
            self.processes.start_worker(wait=False)
        self.processes.start_beat()
        self.progress("private Redis up, workers and beat starting")
        self.postgres.create()
        self.postgres.start()
        self.sink.start()
        self.progress("private PostgreSQL and the SMTP sink up")

        if self.template is None:
            import psycopg

            with psycopg.connect(self.postgres.url("postgres"), autocommit=True) as connection:
                connection.execute("CREATE DATABASE faults")
        os.environ.clear()
        os.environ.update(env)
        import django

        django.setup()
        if self.template is None:
            self.campaign_id, self.moderator_id = migrate_and_seed(self.recipients)
            self.progress(f"migrated, seeded {self.recipients} recipients")
        else:
            seeded = json.loads((self.template / TEMPLATE_FILE).read_text())
            if seeded["recipients"] != self.recipients:
                raise HarnessError(
                    f"the template has {seeded['recipients']} recipients, not {self.recipients}"
                )
            self.campaign_id, self.moderator_id = seeded["campaign_id"], seeded["moderator_id"]
            self.progress(f"copied the template ({self.recipients} recipients)")
        # The moderator approves while the workers start: the probe's task waits in Redis for
        # them, as it would in production.
        self.approve()
        self.processes.wait_ready()
        self.setup_seconds = time.monotonic() - self.created
        self.progress("workers ready")

    def approve(self) -> None:
        from accounts.models import User
        from campaigns.models import Campaign
        from moderation import services as moderation

        moderation.decision_approve(
            campaign_id=self.campaign_id,
            moderator=User.objects.get(pk=self.moderator_id),
            version_id=Campaign.objects.get(pk=self.campaign_id).submitted_version_id,
        )
        self.progress("approved")

    def progress(self, what: str) -> None:
        """A line on stderr, so a slow or stuck run shows where it is; kept in the timeline."""
        at = time.monotonic() - self.created
        self.timeline.append((what, round(at, 1)))
        print(f"[{self.scenario} +{at:.1f} s] {what}", file=sys.stderr)

    # Watching the campaign.

    def campaign_status(self) -> str:
        from campaigns.models import Campaign

        return Campaign.objects.values_list("status", flat=True).get(pk=self.campaign_id)

    def unfinished(self) -> int:
        from campaigns.models import Delivery

        return Delivery.objects.filter(
            campaign_id=self.campaign_id, status__in=("pending", "sending")
        ).count()

    def nudge(self) -> str:
        """Move the campaign on where a person would: judge the probe once it is out (the hold
        is 0 s), release it from review. Returns the status."""
        from accounts.models import User
        from moderation import services as moderation

        status = self.campaign_status()
        if status == "holding":
            moderation.holds_evaluate()
        elif status == "review":
            moderator = User.objects.get(pk=self.moderator_id)
            moderation.decision_release(
                campaign_id=self.campaign_id, moderator=moderator, reason="fault harness"
            )
        return self.campaign_status()

    def poll(self) -> str | None:
        """The campaign's status, or None while the database cannot be reached."""
        from django.db import Error, connection

        try:
            return self.nudge()
        except Error:
            connection.close()
            return None

    # Faults.

    def trigger_count(self) -> int:
        """Inject when the sink has accepted the probe plus a third of the rest."""
        probe = -(-self.recipients // 10)
        return probe + (self.recipients - probe) // 3

    def inject(self) -> None:
        handler = getattr(self, "fault_" + self.scenario.replace("-", "_"))
        self.progress(f"injecting {self.scenario} at {self.sink.accepted_total()} accepted")
        self.fault.started = time.time()
        self.fault.started_monotonic = time.monotonic()
        handler()
        if not self.fault.ended:
            self.fault.ended = time.time()
        self.progress(f"fault over: {self.fault.details}")

    def fault_worker_kill(self) -> None:
        """Two deaths at once, mid-batch: a pool process running a batch is SIGKILLed (as the
        OOM killer does) in one worker, and another worker is SIGKILLed whole, its main
        process with its pool (a container or host gone). The whole worker is replaced."""
        from campaigns.models import SendBatch

        running = SendBatch.objects.filter(
            campaign_id=self.campaign_id, status="running"
        ).values_list("worker", flat=True)
        busy = {int(name.rsplit(":", 1)[1]) for name in running}
        workers = list(self.processes.workers)
        children = {worker.pid: _children(worker.pid) for worker in workers}
        # The worker whose pool process dies alone, and the one that dies whole.
        workers.sort(key=lambda worker: -len(busy & set(children[worker.pid])))
        partly, whole = workers[0], workers[-1] if len(workers) > 1 else None
        busy_children = sorted(busy & set(children[partly.pid])) or children[partly.pid][:1]
        victims = busy_children[:1]
        if whole is not None:
            victims += [whole.pid, *children[whole.pid]]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if whole is not None:
            whole.wait(10)
        wait_until(
            lambda: not any(Path(f"/proc/{pid}").exists() and _alive(pid) for pid in victims),
            timeout=10,
            what="the killed processes to be gone",
        )
        self.fault.ended = time.time()
        self.fault.details = {
            "killed_pool_process": victims[0] if victims else None,
            "killed_whole_worker": whole.pid if whole is not None else None,
            "running_batches_killed": len(busy & set(victims)),
        }
        if whole is not None:
            self.processes.workers.remove(whole)
            # Capacity back; the recovery is the sweeper's. Not waited for here (a worker takes
            # from 5 to 40 s to start on a busy machine, and the campaign goes on meanwhile):
            # drive() waits for it to be ready once the campaign is done.
            self.processes.start_worker(wait=False)

    def fault_redis_restart(self, down: float = 3.0) -> None:
        self.redis.stop()
        time.sleep(down)
        self.redis.start()
        self.fault.details = {"down_seconds": round(time.time() - self.fault.started, 1)}

    def fault_postgres_restart(self, down: float = 3.0, mode: str = "fast") -> None:
        from django.db import connection

        self.postgres.stop(mode=mode)
        time.sleep(down)
        self.postgres.start()
        connection.close()
        self.fault.details = {
            "shutdown": mode,
            "down_seconds": round(time.time() - self.fault.started, 1),
        }

    def fault_postgres_crash(self) -> None:
        self.fault_postgres_restart(mode="immediate")

    def fault_smtp_4xx(self, seconds: float = 5.0) -> None:
        self.sink.defer_for(seconds)
        time.sleep(seconds)
        self.fault.details = {"deferring_seconds": seconds}

    def fault_smtp_drops(self) -> None:
        plan = ["mail", "rcpt", "data-kept", "data-discarded"] * 10
        self.sink.drop(plan, every=5)
        wait_until(lambda: self.sink.drops_left() == 0, timeout=60, what="the planned drops")
        self.fault.details = {"planned_drops": len(plan), "one_transaction_in": 5}

    # The run.

    def drive(self) -> dict:
        """Watch the campaign (approved in start) through its probe, hold and release, inject
        the fault on the way and wait for the end."""
        started = time.monotonic()
        injected = False
        finished_at = None
        seen = None
        while time.monotonic() - started < self.deadline:
            status = self.poll()
            if status != seen:
                self.progress(f"campaign {status} at {self.sink.accepted_total()} accepted")
                seen = status
            if not injected and self.sink.accepted_total() >= self.trigger_count():
                self.inject()
                injected = True
                continue
            if injected and status == "sent" and self.unfinished() == 0:
                finished_at = time.monotonic()
                self.progress("campaign sent, every delivery final")
                break
            time.sleep(0.2)
        if not injected:
            self.problems.append(f"the fault was never injected (campaign {self.poll()})")
        if finished_at is None:
            self.problems.append(
                f"not finished after {self.deadline:.0f} s: campaign {self.poll()}, "
                f"{self.unfinished()} deliveries pending or sending"
            )
        # The replacement of a killed worker came up (it must, as before this waited for it).
        self.processes.wait_ready()
        # Whatever is still on its way to the sink (nothing should be) arrives now.
        settled = self.sink.accepted_total()
        time.sleep(2)
        while self.sink.accepted_total() != settled:
            settled = self.sink.accepted_total()
            time.sleep(1)
        self.progress("settled")
        result = self.result(seconds=time.monotonic() - started, finished_at=finished_at)
        self.progress("checked")
        result["timeline"] = list(self.timeline)
        return result

    def result(self, *, seconds: float, finished_at: float | None) -> dict:
        from campaigns.models import Delivery, SendBatch

        accepted = self.sink.snapshot()
        rows = list(
            Delivery.objects.filter(campaign_id=self.campaign_id).values_list(
                "subscriber_id", "status", "sent_at", "possibly_duplicated"
            )
        )
        from lists.models import Subscriber

        emails = dict(
            Subscriber.objects.filter(pk__in=[row[0] for row in rows]).values_list("pk", "email")
        )
        by_status = Counter(row[1] for row in rows)
        recorded = {emails[row[0]].lower(): row for row in rows}
        expected = set(recorded)
        delivered = expected & set(accepted)
        duplicated = {rcpt for rcpt, times in accepted.items() if len(times) > 1}
        # In flight: accepted by the server by the fault's end, not recorded sent by then.
        end = self.fault.ended
        straddling = {
            rcpt
            for rcpt, times in accepted.items()
            if min(times) <= end
            and (
                recorded.get(rcpt) is None
                or recorded[rcpt][1] != "sent"
                or recorded[rcpt][2].timestamp() > end
            )
        }
        # The longest time from the fault on in which the sink accepted nothing: the recovery.
        after = sorted(t for times in accepted.values() for t in times if t >= self.fault.started)
        marks = [self.fault.started, *after]
        longest_pause = max((b - a for a, b in zip(marks, marks[1:], strict=False)), default=0.0)
        # Counted in messages: a recipient's message may be kept without a reply more than once.
        kept_unacknowledged = self.sink.kept_without_reply()
        in_flight = len(straddling - set(kept_unacknowledged)) + sum(kept_unacknowledged.values())
        flagged = {rcpt for rcpt, row in recorded.items() if row[3]}
        non_final = sum(count for state, count in by_status.items() if state not in FINAL_STATES)
        result = {
            "scenario": self.scenario,
            "recipients": len(expected),
            "delivered_unique": len(delivered),
            "lost": len(expected - delivered),
            "duplicates": sum(len(accepted[rcpt]) - 1 for rcpt in duplicated),
            "in_flight_bound": in_flight,
            "in_flight_detail": {
                "accepted_not_recorded_at_fault_end": len(straddling),
                "kept_without_reply": sum(kept_unacknowledged.values()),
            },
            "dead_batches": SendBatch.objects.filter(
                campaign_id=self.campaign_id, status="dead"
            ).count(),
            "product_in_flight_at_death": sum(
                SendBatch.objects.filter(campaign_id=self.campaign_id).values_list(
                    "in_flight_at_death", flat=True
                )
            ),
            "possibly_duplicated_flags": len(flagged),
            "duplicated_unflagged": len(duplicated - flagged),
            "unexpected_recipients": len(set(accepted) - expected),
            "deliveries": dict(sorted(by_status.items())),
            "all_final": non_final == 0,
            "campaign_status": self.poll(),
            "seconds": round(seconds, 1),
            "setup_seconds": round(self.setup_seconds, 1),
            "seconds_fault_to_done": (
                round(finished_at - self.fault.started_monotonic, 1)
                if finished_at is not None and self.fault.started
                else None
            ),
            "longest_pause_after_fault": round(longest_pause, 1),
            # None: still running at the end (a worker that exited would not recover anything).
            "worker_exit_codes": [process.poll() for process in self.processes.workers],
            "fault": self.fault.details,
            "sink": self.sink.counters_dict(),
            "problems": list(self.problems),
        }
        if result["lost"]:
            self.problems.append(f"{result['lost']} recipients never got the message")
        if result["duplicates"] > in_flight:
            self.problems.append(
                f"{result['duplicates']} duplicates, more than the {in_flight} in flight"
            )
        if non_final:
            self.problems.append(f"{non_final} deliveries not in a final state")
        exited = [code for code in result["worker_exit_codes"] if code is not None]
        if exited:
            self.problems.append(f"workers exited (status {exited}) instead of recovering")
        if result["unexpected_recipients"]:
            self.problems.append("the sink got mail for addresses outside the campaign")
        result["problems"] = list(self.problems)
        result["ok"] = not self.problems
        if self.problems:
            result["logs"] = self.processes.log_tails()
        return result


def run_scenario(scenario: str, *, recipients: int = 5000, workers: int = 2,
                 pool: str = "prefork", concurrency: int = 2, deadline: float = 300.0,
                 keep: bool = False, template: Path | None = None) -> dict:  # fmt: skip
    """Run one scenario in this process (Django is set up here, once: one scenario per
    process) and return its outcome; every process and file it made is gone afterwards (the
    template, if given, stays as it was: the scenario runs on a copy)."""
    missing = missing_binaries()
    if missing:
        raise HarnessError("missing: " + ", ".join(missing))
    workdir = Path(tempfile.mkdtemp(prefix=f"consentmail-faults-{scenario}-"))
    # The postgres user must reach its cluster and socket inside.
    workdir.chmod(0o711)
    with contextlib.ExitStack() as stack:
        if not keep:
            stack.callback(shutil.rmtree, workdir, True)
        run = Run(
            scenario,
            recipients=recipients,
            workers=workers,
            pool=pool,
            concurrency=concurrency,
            deadline=deadline,
            workdir=workdir,
            template=template,
        )
        run.start(stack)
        result = run.drive()
        if keep:
            result["workdir"] = str(workdir)
        return result


def _raise_on_sigterm(signum, frame):
    # A SIGTERM (a test's timeout) unwinds through the cleanups instead of leaving processes.
    raise SystemExit(f"stopped by signal {signum}")


ROW = (
    "{scenario:<17} {recipients:>10} {delivered_unique:>9} {lost:>4} {duplicates:>10} "
    "{in_flight_bound:>9} {all_final!s:>9} {seconds:>7}"
)
HEADER = (
    f"{'scenario':<17} {'recipients':>10} {'delivered':>9} {'lost':>4} {'duplicates':>10} "
    f"{'in flight':>9} {'all final':>9} {'seconds':>7}"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=[*SCENARIOS, *EXTRA_SCENARIOS, "all", "template"])
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--pool", choices=["prefork", "threads"], default="prefork")
    parser.add_argument("--concurrency", type=int, default=2, help="per worker process")
    parser.add_argument(
        "--deadline", type=float, default=300.0, help="seconds from the workers ready to the end"
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--template",
        type=Path,
        help="a directory made by `template --template DIR` (with the same --recipients): the "
        "scenario starts from a copy of its migrated, seeded database",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)

    if args.scenario == "template":
        if args.template is None:
            parser.error("template needs --template DIR (an empty directory)")
        build_template(args.template, recipients=args.recipients)
        return 0
    if args.scenario != "all":
        try:
            result = run_scenario(
                args.scenario,
                recipients=args.recipients,
                workers=args.workers,
                pool=args.pool,
                concurrency=args.concurrency,
                deadline=args.deadline,
                keep=args.keep,
                template=args.template,
            )
        except HarnessError as exc:
            result = {"scenario": args.scenario, "ok": False, "problems": [f"harness: {exc}"]}
        except Exception as exc:  # noqa: BLE001 - any crash is reported as a failed scenario
            import traceback

            traceback.print_exc()
            result = {"scenario": args.scenario, "ok": False, "problems": [f"crashed: {exc!r}"]}
        print(json.dumps(result, default=str) if args.json else _describe(result), flush=True)
        return 0 if result.get("ok") else 1

    # One process per scenario: each sets Django up on its own private services, all starting
    # from one template (built here unless given).
    with contextlib.ExitStack() as stack:
        template = args.template
        if template is None:
            template = Path(tempfile.mkdtemp(prefix="consentmail-faults-template-"))
            stack.callback(shutil.rmtree, template, True)
            subprocess.run(
                [sys.executable, "-m", "tests.reliability.fault_harness", "template",
                 f"--template={template}", f"--recipients={args.recipients}"],
                cwd=ROOT, check=True, timeout=600,
            )  # fmt: skip
        results = _run_all(args, template)
    if args.json:
        print(json.dumps(results, default=str))
    else:
        print()
        print(HEADER)
        for result in results:
            if "recipients" in result:
                print(ROW.format(**result))
            else:
                print(f"{result['scenario']:<17} did not run: {result['problems']}")
    return 0 if all(result.get("ok") for result in results) else 1


def _run_all(args: argparse.Namespace, template: Path) -> list[dict]:
    results = []
    forwarded = [f"--recipients={args.recipients}", f"--workers={args.workers}",
                 f"--pool={args.pool}", f"--concurrency={args.concurrency}",
                 f"--deadline={args.deadline}", f"--template={template}"]  # fmt: skip
    for scenario in SCENARIOS:
        completed = subprocess.run(
            [sys.executable, "-m", "tests.reliability.fault_harness", scenario, "--json",
             *forwarded],
            cwd=ROOT, capture_output=True, text=True, timeout=args.deadline + 180,
        )  # fmt: skip
        lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
        result = (
            json.loads(lines[-1])
            if lines
            else {"scenario": scenario, "ok": False, "problems": [completed.stderr[-2000:]]}
        )
        results.append(result)
        if not args.json:
            print(_describe(result), flush=True)
    return results


def _describe(result: dict) -> str:
    if "recipients" not in result:
        return f"{result['scenario']}: FAILED to run: {result.get('problems')}"
    lines = [
        f"{result['scenario']}: {'ok' if result['ok'] else 'FAILED'} in {result['seconds']} s "
        f"(fault to done {result['seconds_fault_to_done']} s, longest pause in acceptances "
        f"{result['longest_pause_after_fault']} s)",
        f"  recipients {result['recipients']}, delivered unique {result['delivered_unique']}, "
        f"lost {result['lost']}, duplicates {result['duplicates']}, in flight at the fault "
        f"{result['in_flight_bound']} {result['in_flight_detail']}",
        f"  deliveries {result['deliveries']} (all final: {result['all_final']}), campaign "
        f"{result['campaign_status']}; product's in-flight-at-death "
        f"{result['product_in_flight_at_death']}, "
        f"possibly-duplicated flags {result['possibly_duplicated_flags']}, duplicates unflagged "
        f"{result['duplicated_unflagged']}",
        f"  fault {result['fault']}; sink {result['sink']}",
    ]
    if result.get("timeline"):
        lines.append("  timeline " + ", ".join(f"{what} +{at}" for what, at in result["timeline"]))
    for problem in result["problems"]:
        lines.append(f"  PROBLEM: {problem}")
    for name, tail in result.get("logs", {}).items():
        lines.append(f"  --- {name} ---\n{tail}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
