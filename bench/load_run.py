"""Open-loop load run of the busiest public endpoints against gunicorn on PostgreSQL.

    .venv/bin/python bench/load_run.py [--rate 50] [--duration 60] [--deliveries 20000]
        [--workers CPUS] [--threads 1] [--database-url postgres://postgres@127.0.0.1:5432/NAME]
        [--p99-limit-ms 250] [--mix open=50,click=30,unsubscribe=10,webhook=10] [--json FILE]

    # the highest rate that holds: stages at rising rates, stopping at the first that fails
    .venv/bin/python bench/load_run.py --rate 30,40,50,60,70,80 --duration 20

The database named by --database-url (default: consentmail_load on the PostgreSQL server of
DATABASE_URL, or of 127.0.0.1) is dropped, created and migrated, then
seeded with one account, one list and one sent campaign (five tracked links) with
`--deliveries` sent deliveries. gunicorn serves it with the production settings
(config.settings.production: DEBUG off, CONN_MAX_AGE 60 as in docker-compose.yml), bound to a
free port on 127.0.0.1; each request carries the X-Forwarded-Proto and X-Forwarded-For headers
that the TLS proxy in front of it would add.

The load is open-loop: request i is due at start + i / rate whatever happened to the ones
before, and its latency is measured from that due time, not from when it was sent, so a server
that falls behind shows as latency (and then errors), never as fewer requests. The mix, each
request with a different recipient's signed token:

- 50% GET  /o/<token>.gif       the open pixel (records an open, recounts the delivery)
- 30% GET  /c/<token>/          the click redirect (records a click, answers 302)
- 10% POST /u/<token>/          RFC 8058 one-click unsubscribe (each recipient once)
- 10% POST /webhooks/...        ESP events, half Mailgun (HMAC-signed JSON), half Postmark
                                (basic auth): deliveries, opens, hard bounces, complaints

An error is a connection error, a timeout (--timeout) or any status other than 2xx/3xx. Per
endpoint the run prints requests, errors, the achieved rate, and p50/p95/p99/max latency; a
stage passes with no errors and p99 under --p99-limit-ms. The generator runs in this process
and shares the machine's cores with gunicorn and PostgreSQL: "behind schedule" is how late it
dispatched a request (already included in the latencies). Rates and latencies depend on
whatever else the machine runs, so the run also prints the CPU time gunicorn's workers, our
database's PostgreSQL backends and the generator spent per request, which does not.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE_NAME = "consentmail_load"
SECRET_KEY = "load-run-secret-key-" + "x" * 40
MAILGUN_SIGNING_KEY = "key-load-run-mailgun-signing"
WEBHOOK_AUTH = "hooks:load-run-webhook-pass"
HOST = "127.0.0.1"
LINKS = [f"https://shop.example.com/item/{n}" for n in range(5)]
# Weights of the mix, in percent.
MIX = {"open": 50, "click": 30, "unsubscribe": 10, "webhook": 10}
OPEN_USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/140.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148",
    "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
]


# --- the database ----------------------------------------------------------------------------


def default_database_url() -> str:
    """consentmail_load on DATABASE_URL's PostgreSQL server (never the database it names: this
    one is dropped), else on 127.0.0.1."""
    configured = os.environ.get("DATABASE_URL", "")
    server = "postgres://postgres@127.0.0.1:5432"
    if configured.startswith("postgres"):
        server = configured.rsplit("/", 1)[0]
    return f"{server}/{DATABASE_NAME}"


def prepare_database(url: str) -> None:
    """Drop and create the database `url` names (its server's `postgres` database is used)."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


@dataclass
class Seed:
    campaign_id: int
    subscribers: list[tuple[int, str]]  # (id, email) of every delivery's recipient


def seed(deliveries: int) -> Seed:
    """One account, list and sent campaign with `deliveries` sent deliveries (sent an hour ago,
    so no open or click counts as "too fast" to be a person's)."""
    from django.utils import timezone

    from accounts.models import Account
    from campaigns.models import Campaign, Delivery
    from lists.models import MailingList, Subscriber

    account = Account.objects.create(
        company_name="Load Ltd", contact_name="L", phone="1", postal_address="1 Load Rd, Leeds"
    )
    mailing_list = MailingList.objects.create(account=account, name="Load", purpose="News")
    links = "".join(f'<p><a href="{url}">Item {n}</a></p>' for n, url in enumerate(LINKS))
    campaign = Campaign.objects.create(
        account=account,
        name="Load",
        subject="News",
        from_name="Load",
        from_email="news@news.load.example",
        html_body=f"<p>Hi</p>{links}",
        status="sent",
    )
    campaign.lists.set([mailing_list])
    # Approved as a moderator's approval leaves it: the click redirect goes only to the links
    # of the approved version.
    from campaigns.versions import version_freeze

    version = version_freeze(campaign=campaign, actor=None)
    Campaign.objects.filter(pk=campaign.pk).update(
        submitted_version=version, approved_version=version, approved_at=timezone.now()
    )
    sent_at = timezone.now() - timedelta(hours=1)
    subscribers = Subscriber.objects.bulk_create(
        (
            Subscriber(
                mailing_list=mailing_list,
                email=f"r{n}@example.org",
                status="subscribed",
                subscribed_at=sent_at - timedelta(days=30),
            )
            for n in range(deliveries)
        ),
        batch_size=5000,
    )
    Delivery.objects.bulk_create(
        (
            Delivery(
                campaign=campaign, subscriber=s, provider="other", status="sent", sent_at=sent_at
            )
            for s in subscribers
        ),
        batch_size=5000,
    )
    return Seed(campaign_id=campaign.pk, subscribers=[(s.pk, s.email) for s in subscribers])


COUNT_LABELS = {
    "opens": "opens recorded (pixel and ESP)",
    "machine_opens": "  of them set apart as machines'",
    "clicks": "clicks recorded",
    "one_click_unsubscribes": "one-click unsubscribes",
    "mailgun_events": "webhook events (Mailgun)",
    "postmark_events": "webhook events (Postmark)",
    "subscribers_off_list": "subscribers off the list",
    "suppressions": "suppressions",
}


def server_side_counts(campaign_id: int) -> dict[str, int]:
    """What the requests did to the database, to show they did real work."""
    from django.db.models import Q

    from campaigns.models import TrackingEvent
    from complaints.models import FeedbackEvent
    from lists.models import Subscriber, Suppression

    events = TrackingEvent.objects.filter(delivery__campaign_id=campaign_id)
    feedback = FeedbackEvent.objects.filter(campaign_id=campaign_id)
    return {
        "opens": events.filter(kind="open").count(),
        "machine_opens": events.filter(Q(kind="open") & ~Q(machine_reason="")).count(),
        "clicks": events.filter(kind="click").count(),
        "one_click_unsubscribes": feedback.filter(source="one_click").count(),
        "mailgun_events": feedback.filter(source="mailgun").count(),
        "postmark_events": feedback.filter(source="postmark").count(),
        "subscribers_off_list": Subscriber.objects.exclude(status="subscribed").count(),
        "suppressions": Suppression.objects.count(),
    }


# --- the requests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    kind: str
    raw: bytes  # the whole HTTP/1.1 request


def _request(
    method: str, path: str, *, client_ip: str, headers: dict[str, str], body: bytes = b""
) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {HOST}",
        "X-Forwarded-Proto: https",
        f"X-Forwarded-For: {client_ip}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    if method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class RequestMaker:
    """Builds the mix's requests, each with its own recipient; unsubscribes and the webhooks'
    bounces and complaints each take a recipient nobody else took (until they run out)."""

    def __init__(self, seeded: Seed, *, rng: random.Random, mix: dict[str, int]):
        from campaigns.tokens import MessageTokens

        self.mix = mix
        self._tokens = MessageTokens
        self.campaign_id = seeded.campaign_id
        self.subscribers = seeded.subscribers
        self.rng = rng
        order = list(range(len(self.subscribers)))
        rng.shuffle(order)
        self._leaving = order  # recipients who unsubscribe, bounce or complain, in turn
        self._next_leaving = 0
        self._webhook_serial = 0
        self._auth = "Basic " + base64.b64encode(WEBHOOK_AUTH.encode()).decode()

    def plan(self, count: int) -> list[Planned]:
        kinds = self.rng.choices(list(self.mix), weights=list(self.mix.values()), k=count)
        return [getattr(self, f"_{kind}")() for kind in kinds]

    def _message(self, index: int):
        subscriber_id, email = self.subscribers[index]
        return self._tokens(campaign_id=self.campaign_id, subscriber_id=subscriber_id), email

    def _any_recipient(self):
        return self._message(self.rng.randrange(len(self.subscribers)))

    def _leaving_recipient(self):
        index = self._leaving[self._next_leaving % len(self._leaving)]
        self._next_leaving += 1
        return self._message(index)

    def _client_ip(self) -> str:
        return f"198.51.{self.rng.randrange(100)}.{self.rng.randrange(1, 255)}"

    def _open(self) -> Planned:
        tokens, _ = self._any_recipient()
        headers = {"User-Agent": self.rng.choice(OPEN_USER_AGENTS), "Accept": "image/*"}
        path = f"/o/{tokens.open()}.gif"
        return Planned("open", _request("GET", path, client_ip=self._client_ip(), headers=headers))

    def _click(self) -> Planned:
        tokens, _ = self._any_recipient()
        headers = {"User-Agent": OPEN_USER_AGENTS[0], "Accept": "text/html"}
        path = f"/c/{tokens.click(self.rng.randrange(len(LINKS)))}/"
        return Planned("click", _request("GET", path, client_ip=self._client_ip(), headers=headers))

    def _unsubscribe(self) -> Planned:
        # The mailbox provider posts this (RFC 8058), not the recipient's browser.
        tokens, _ = self._leaving_recipient()
        body = b"List-Unsubscribe=One-Click"
        headers = {
            "User-Agent": "Mozilla/5.0 (compatible; Google-List-Unsubscribe)",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        path = f"/u/{tokens.unsubscribe()}/"
        raw = _request("POST", path, client_ip=self._client_ip(), headers=headers, body=body)
        return Planned("unsubscribe", raw)

    def _webhook(self) -> Planned:
        self._webhook_serial += 1
        serial = self._webhook_serial
        event = self.rng.choices(
            ["delivered", "opened", "bounced", "complained"], weights=[60, 25, 10, 5]
        )[0]
        if event in ("bounced", "complained"):
            tokens, email = self._leaving_recipient()
        else:
            tokens, email = self._any_recipient()
        if serial % 2:
            path, body = "/webhooks/mailgun/tracking/", _mailgun(event, tokens, email, serial)
        else:
            path, body = "/webhooks/postmark/tracking/", _postmark(event, tokens, email, serial)
        headers = {
            "User-Agent": "load-run-esp",
            "Content-Type": "application/json",
            "Authorization": self._auth,
        }
        raw = _request("POST", path, client_ip=self._client_ip(), headers=headers, body=body)
        return Planned("webhook", raw)


def _mailgun(event: str, tokens, email: str, serial: int) -> bytes:
    """A Mailgun tracking event, signed as Mailgun signs it (the token is the event's id)."""
    timestamp = str(int(time.time()))
    token = f"load{serial:046d}"
    signature = hmac.new(
        MAILGUN_SIGNING_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    ref = tokens.message_ref()
    data: dict = {
        "id": f"load-{serial}",
        "timestamp": time.time(),
        "event": {"bounced": "failed", "complained": "complained"}.get(event, event),
        "recipient": email,
        "message": {"headers": {"to": email, "message-id": f"{ref}@news.load.example"}},
        "user-variables": {"message_ref": ref},
    }
    if event == "bounced":
        data |= {"severity": "permanent", "reason": "bounce", "log-level": "error"}
        data["delivery-status"] = {"code": 550, "enhanced-code": "5.1.1", "message": "No user"}
    elif event == "delivered":
        data["delivery-status"] = {"code": 250, "message": "OK"}
    elif event == "opened":
        data |= {"ip": "203.0.113.9", "client-info": {"user-agent": OPEN_USER_AGENTS[0]}}
    signed = {"timestamp": timestamp, "token": token, "signature": signature}
    return json.dumps({"signature": signed, "event-data": data}).encode()


def _postmark(event: str, tokens, email: str, serial: int) -> bytes:
    """A Postmark webhook post (Postmark signs nothing: basic auth is the proof)."""
    meta = {"message_ref": tokens.message_ref()}
    message_id = f"00000000-0000-4000-8000-{serial:012d}"
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if event == "delivered":
        payload = {"RecordType": "Delivery", "Recipient": email, "DeliveredAt": now}
    elif event == "opened":
        payload = {
            "RecordType": "Open",
            "Recipient": email,
            "ReceivedAt": now,
            "UserAgent": OPEN_USER_AGENTS[0],
            "Geo": {"IP": "203.0.113.9"},
            "FirstOpen": True,
        }
    elif event == "bounced":
        payload = {
            "RecordType": "Bounce",
            "ID": serial,
            "Type": "HardBounce",
            "TypeCode": 1,
            "Email": email,
            "BouncedAt": now,
            "Details": "smtp;550 5.1.1 The email account does not exist.",
        }
    else:
        payload = {
            "RecordType": "SpamComplaint",
            "ID": serial,
            "Type": "SpamComplaint",
            "TypeCode": 512,
            "Email": email,
            "BouncedAt": now,
        }
    payload |= {"MessageID": message_id, "Metadata": meta, "MessageStream": "broadcast"}
    return json.dumps(payload).encode()


# --- the open-loop client ----------------------------------------------------------------------


class HttpError(Exception):
    pass


@dataclass
class Outcome:
    kind: str
    latency: float  # seconds from the request's due time to its whole answer
    status: int  # 0: no answer
    error: str = ""


@dataclass
class Pool:
    """Keep-alive connections to one port, at most `limit` at once; a request that finds none
    free waits (and its latency counts the wait)."""

    port: int
    limit: int
    idle: list = field(default_factory=list)
    opened: int = 0

    def __post_init__(self):
        self.slots = asyncio.Semaphore(self.limit)

    async def send(self, raw: bytes) -> int:
        async with self.slots:
            reused = bool(self.idle)
            connection = self.idle.pop() if reused else await self._open()
            try:
                try:
                    status, keep_alive = await _exchange(connection, raw)
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    # A kept-alive connection the server had closed before reading this
                    # request: like any HTTP client, send it once more on a new connection.
                    if not reused or getattr(exc, "partial", b""):
                        raise
                    connection[1].close()
                    connection = await self._open()
                    status, keep_alive = await _exchange(connection, raw)
            except BaseException:  # an error or our timeout: the connection is in an unknown state
                connection[1].close()
                raise
            if keep_alive:
                self.idle.append(connection)
            else:
                connection[1].close()
            return status

    async def _open(self):
        self.opened += 1
        return await asyncio.open_connection("127.0.0.1", self.port)

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def _exchange(connection, raw: bytes) -> tuple[int, bool]:
    """Send one request and read its whole answer: (status, whether the connection stays)."""
    reader, writer = connection
    writer.write(raw)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, status = lines[0].split(" ", 2)[:2]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)  # the chunk and its CRLF
            if size == 0:
                break
    else:
        await reader.read()
        return int(status), False
    keep_alive = version == "HTTP/1.1" and headers.get("connection") != "close"
    return int(status), keep_alive


async def run_stage(
    plan: list[Planned], *, rate: float, port: int, connections: int, timeout: float
) -> tuple[list[Outcome], float, float]:
    """Send `plan` at `rate` per second, open-loop. Returns the outcomes, the wall time from
    the first due time to the last answer, and the worst dispatch lateness."""
    loop = asyncio.get_running_loop()
    pool = Pool(port=port, limit=connections)
    outcomes: list[Outcome] = []
    worst_late = 0.0

    async def one(item: Planned, due: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                status = await pool.send(item.raw)
        except TimeoutError:
            outcomes.append(Outcome(item.kind, loop.time() - due, 0, "timeout"))
            return
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            outcomes.append(Outcome(item.kind, loop.time() - due, 0, type(e).__name__))
            return
        error = "" if 200 <= status < 400 else f"HTTP {status}"
        outcomes.append(Outcome(item.kind, loop.time() - due, status, error))

    start = loop.time() + 0.1
    tasks = []
    for index, item in enumerate(plan):
        due = start + index / rate
        wait = due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        worst_late = max(worst_late, loop.time() - due)
        tasks.append(asyncio.create_task(one(item, due)))
    await asyncio.gather(*tasks)
    wall = loop.time() - start
    pool.close()
    return outcomes, wall, worst_late


def percentile(ordered: list[float], share: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summarise(outcomes: list[Outcome], wall: float) -> dict[str, dict]:
    """Per endpoint and in total: requests, errors, achieved rate, latency percentiles (ms)."""
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.kind, []).append(outcome)
    groups = {kind: groups[kind] for kind in MIX if kind in groups}
    groups["all"] = outcomes
    summary = {}
    for kind, items in groups.items():
        answered = sorted(o.latency for o in items if not o.error)
        summary[kind] = {
            "requests": len(items),
            "errors": sum(1 for o in items if o.error),
            "error_kinds": dict(Counter(o.error for o in items if o.error)),
            "statuses": dict(Counter(str(o.status) for o in items)),
            "rps": len(answered) / wall if wall else 0.0,
            "p50_ms": percentile(answered, 0.50) * 1000,
            "p95_ms": percentile(answered, 0.95) * 1000,
            "p99_ms": percentile(answered, 0.99) * 1000,
            "max_ms": (answered[-1] if answered else float("nan")) * 1000,
        }
    return summary


def print_summary(rate: float, summary: dict[str, dict], late: float) -> None:
    print(
        f"{'endpoint':12s} {'requests':>8s} {'errors':>6s} {'req/s':>7s} "
        f"{'p50 ms':>7s} {'p95 ms':>7s} {'p99 ms':>7s} {'max ms':>7s}  statuses"
    )
    for kind, row in summary.items():
        print(
            f"{kind:12s} {row['requests']:8d} {row['errors']:6d} {row['rps']:7.1f} "
            f"{row['p50_ms']:7.1f} {row['p95_ms']:7.1f} {row['p99_ms']:7.1f} "
            f"{row['max_ms']:7.1f}  {row['statuses']}"
            + (f" errors {row['error_kinds']}" if row["errors"] else "")
        )
    print(f"offered {rate:g} req/s; generator at worst {late * 1000:.1f} ms behind schedule")


# --- CPU accounting --------------------------------------------------------------------------


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (0 if it is gone or /proc is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _backend_pids(database: str) -> list[int]:
    """PostgreSQL's server processes for our database, by their process titles ("postgres:
    ... user database host(port) state"); none when the server runs on another host."""
    needle = f" {database} ".encode()
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            title = cmdline.read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and needle in title.replace(b"\0", b" "):
            found.append(int(cmdline.parent.name))
    return found


class CpuMeter:
    """CPU seconds spent by gunicorn's workers, our database's PostgreSQL backends and this
    generator over a stage: a cost per request that does not depend on who else shares the
    machine (latencies and rates do). Processes are sampled every `interval` seconds, so a
    backend that connects during the stage (CONN_MAX_AGE renews them) is counted from its start
    and one that quits up to its last sample."""

    def __init__(self, server_pid: int, database: str, interval: float = 2.0):
        self.server_pid, self.database, self.interval = server_pid, database, interval
        self._stop = threading.Event()

    def _sample(self) -> dict[str, dict[int, float]]:
        return {
            "gunicorn": {pid: _cpu_seconds(pid) for pid in _children(self.server_pid)},
            "postgres": {pid: _cpu_seconds(pid) for pid in _backend_pids(self.database)},
        }

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for part, now in self._sample().items():
                self._latest[part].update({pid: s for pid, s in now.items() if s})

    def __enter__(self) -> CpuMeter:
        self._base = self._sample()
        self._latest = {part: dict(seen) for part, seen in self._base.items()}
        self._generator = time.process_time()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        for part, now in self._sample().items():
            self._latest[part].update({pid: s for pid, s in now.items() if s})
        self.spent = {
            part: sum(s - self._base[part].get(pid, 0.0) for pid, s in seen.items())
            for part, seen in self._latest.items()
        }
        self.spent["generator"] = time.process_time() - self._generator


# --- gunicorn ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(*, port: int, workers: int, threads: int, env: dict, log: Path):
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--timeout",
        "60",
        "--log-level",
        "warning",
    ]
    with open(log, "ab") as out:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited with {server.returncode}; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(_request("GET", "/healthz/", client_ip="127.0.0.1", headers={}))
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return server
        except OSError:
            pass
        time.sleep(0.2)
    stop_server(server)
    sys.exit("gunicorn did not start")


def stop_server(server: subprocess.Popen) -> None:
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


# --- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rate", default="50", help="requests per second; several (40,50,60) run in turn"
    )
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per rate")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds at half rate first")
    parser.add_argument("--deliveries", type=int, default=20_000)
    # One per core: the work is CPU-bound (short database round trips), and gunicorn shares the
    # cores with PostgreSQL and this generator.
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gthread)")
    parser.add_argument("--connections", type=int, default=256, help="client connections at most")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--p99-limit-ms", type=float, default=250.0)
    parser.add_argument("--keep-going", action="store_true", help="go on after a failed rate")
    parser.add_argument("--conn-max-age", default="60", help="CONN_MAX_AGE of the server")
    parser.add_argument(
        "--database-url",
        default=default_database_url(),
        help="dropped and created again (default: consentmail_load on DATABASE_URL's server)",
    )
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--mix",
        default=",".join(f"{kind}={share}" for kind, share in MIX.items()),
        help="weights of the endpoints, e.g. open=100 for the pixel alone",
    )
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rate.split(",")]
    mix = {kind: int(share) for kind, _, share in (p.partition("=") for p in args.mix.split(","))}
    if not set(mix) <= set(MIX) or not any(mix.values()):
        sys.exit(f"--mix takes weights of {', '.join(MIX)}")
    if not args.database_url.startswith("postgres"):
        sys.exit("The load run needs PostgreSQL: --database-url postgres://...")

    var_dir = Path(tempfile.mkdtemp(prefix="load-run-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": args.database_url,
        "CONN_MAX_AGE": args.conn_max_age,
        "SECRET_KEY": SECRET_KEY,
        "SUPPRESSION_HASH_KEY": SECRET_KEY + "-suppressions",
        "DKIM_KEY_SECRET": SECRET_KEY + "-dkim-keys",
        "ALLOWED_HOSTS": HOST,
        "SITE_URL": f"https://{HOST}",
        "ANYMAIL": json.dumps(
            {"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_SIGNING_KEY, "WEBHOOK_SECRET": WEBHOOK_AUTH}
        ),
        "VAR_DIR": str(var_dir),
        "LOG_LEVEL": "WARNING",
    }
    # Nothing these endpoints do queues a task (no subscriber webhooks are configured); a
    # broker of our own keeps it that way if that changes.
    env.setdefault("CELERY_BROKER_URL", "filesystem://")
    os.environ.update(env)
    prepare_database(args.database_url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    seeded = seed(args.deliveries)
    print(f"seeded {args.deliveries:,} sent deliveries in {time.perf_counter() - started:.1f} s")
    connections.close_all()

    maker = RequestMaker(seeded, rng=random.Random(args.seed), mix=mix)
    port = free_port()
    log = var_dir / "gunicorn.log"
    server = start_server(port=port, workers=args.workers, threads=args.threads, env=env, log=log)
    print(
        f"gunicorn: {args.workers} workers x {args.threads} threads on 127.0.0.1:{port}, "
        f"production settings, CONN_MAX_AGE={args.conn_max_age}; database {args.database_url}; "
        f"{os.cpu_count()} CPUs shared with the generator and PostgreSQL",
        flush=True,
    )
    results = {"config": vars(args) | {"json": str(args.json)}, "stages": []}
    passed_rates = []
    try:
        for rate in rates:
            if args.warmup > 0:
                warm = maker.plan(max(1, int(rate / 2 * args.warmup)))
                asyncio.run(
                    run_stage(
                        warm,
                        rate=rate / 2,
                        port=port,
                        connections=args.connections,
                        timeout=args.timeout,
                    )
                )
            plan = maker.plan(max(1, int(rate * args.duration)))
            print(f"\n--- {rate:g} req/s, {args.duration:g} s: {len(plan):,} requests", flush=True)
            with CpuMeter(server.pid, args.database_url.rsplit("/", 1)[1]) as meter:
                outcomes, wall, late = asyncio.run(
                    run_stage(
                        plan,
                        rate=rate,
                        port=port,
                        connections=args.connections,
                        timeout=args.timeout,
                    )
                )
            cpu = meter.spent
            summary = summarise(outcomes, wall)
            print_summary(rate, summary, late)
            cpu_ms = {part: seconds * 1000 / len(plan) for part, seconds in cpu.items()}
            print(
                "CPU per request: "
                + ", ".join(f"{part} {ms:.1f} ms" for part, ms in cpu_ms.items())
                + f"; the machine's load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
            )
            total = summary["all"]
            passed = total["errors"] == 0 and total["p99_ms"] <= args.p99_limit_ms
            print(
                f"{'PASS' if passed else 'FAIL'}: {total['errors']} errors, p99 "
                f"{total['p99_ms']:.1f} ms (limit {args.p99_limit_ms:g} ms)",
                flush=True,
            )
            results["stages"].append(
                {
                    "rate": rate,
                    "passed": passed,
                    "late_ms": late * 1000,
                    "cpu_ms_per_request": cpu_ms,
                    "endpoints": summary,
                }
            )
            if passed:
                passed_rates.append(rate)
            elif not args.keep_going:
                break
    finally:
        stop_server(server)
    counts = server_side_counts(seeded.campaign_id)
    print("\nin the database afterwards:")
    for name, value in counts.items():
        print(f"  {COUNT_LABELS[name]:34s} {value:8,d}")
    if len(rates) > 1:
        best = f"{max(passed_rates):g} req/s" if passed_rates else "none of the rates"
        print(f"\nhighest rate held (0 errors, p99 <= {args.p99_limit_ms:g} ms): {best}")
    server_errors = [line for line in log.read_text().splitlines() if "Traceback" in line]
    if server_errors:
        print(f"gunicorn logged {len(server_errors)} tracebacks: see {log}")
    results["database"] = counts
    results["server_tracebacks"] = len(server_errors)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if passed_rates else 1


if __name__ == "__main__":
    sys.exit(main())
