"""Load run of the busiest public endpoints against the web server (granian, as in
docker-compose.yml, or gunicorn) on PostgreSQL and Redis, driven by wrk.

    .venv/bin/python bench/load_run.py [--rate 400,800,1200] [--duration 15] [--deliveries 20000]
        [--server granian|gunicorn] [--worker-class gthread|sync] [--workers 2] [--threads 8]
        [--consumers 1]
        [--database-url postgres://postgres@127.0.0.1:5432/NAME] [--redis-url redis://HOST:PORT/DB]
        [--mix open=50,click=30,unsubscribe=10,webhook=10] [--no-queue] [--json FILE]

    # the stepped figures of the README (issue 19): the whole mix, on a quiet machine
    .venv/bin/python bench/load_run.py --rate 500,1000,1250,1500 --duration 15 --keep-going

The database named by --database-url (default: consentmail_load on the PostgreSQL server of
DATABASE_URL, or of 127.0.0.1) is dropped, created and migrated, then seeded with one account,
one list and one sent campaign (five tracked links) with `--deliveries` sent deliveries. The
Redis database of --redis-url (default: database 15 of CELERY_BROKER_URL's Redis server) is
flushed and holds the tracking queue (TRACKING_QUEUE_URL); one `manage.py consume_events`
process per --consumers records the queued opens and clicks. granian (or with --server gunicorn,
gunicorn) serves config.wsgi with the production settings (DEBUG off, CONN_MAX_AGE 60 as in
docker-compose.yml), bound to a free port on 127.0.0.1; each request carries the
X-Forwarded-Proto and X-Forwarded-For headers that the TLS proxy in front of it would add.
--no-queue records every hit in the request instead (what happens without TRACKING_QUEUE_URL).

The load comes from wrk (Debian's `wrk`, C, a few percent of a core), one wrk per endpoint
running side by side, each paced to its share of the rate by a Lua script (bench/wrk_paced.lua:
wrk's delay() hook holds each connection until its next request is due, so the endpoint's
requests leave at the offered rate). A server that falls behind shows as a lower achieved rate
(wrk is closed-loop per connection), and a stage whose achieved rate is under 97% of the
offered one fails whatever its latencies. The mix, each request with a different recipient's
signed token:

- 50% GET  /o/<token>.gif       the open pixel (queues an open)
- 30% GET  /c/<token>/          the click redirect (queues a click, answers 302)
- 10% POST /u/<token>/          RFC 8058 one-click unsubscribe (each recipient once)
- 10% POST /webhooks/...        ESP events, half Mailgun (HMAC-signed JSON), half Postmark
                                (basic auth): deliveries, opens, hard bounces, complaints
                                (verified and queued by the hot front, applied by the consumer)

Per endpoint the run prints requests, errors (connection errors, timeouts and statuses of 400
and above), the achieved rate, and p50/p95/p99/max latency from wrk's histogram. A stage
passes when every endpoint answers without errors at >= 97% of its offered rate, pixel and
click within --p99-hot-ms (50), one-click unsubscribe within --p99-unsubscribe-ms (100) and the
webhooks within --p99-limit-ms (250). Rates and latencies depend on whatever else the machine
runs, so the run also prints the CPU time the web server's workers, the consumers, our database's
PostgreSQL backends and wrk spent per request, which does not.

After the stages it waits for the consumers to drain the queue and prints the events the web
processes accepted (answered after XADD) beside the events recorded in PostgreSQL, and the
webhook posts accepted beside the reports recorded: each pair must be equal. `uptime` is printed
with every stage: the machine may be shared, and rates and latencies say little under load.
Last, the ceiling: a bare WSGI app answering the same GIF (bench/bare_gif.py) under the same
server configuration, and our pixel endpoint, each driven unpaced by wrk for --ceiling-seconds;
it prints both rates and ours as a share of the bare one, and the highest mixed rate held as a
share of it too.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
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
    "queued_events": "opens and clicks from the queue",
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
        # The pixel's and the redirect's (an ESP's opens carry their report's id instead).
        "queued_events": events.filter(queue_id__isnull=False)
        .exclude(queue_id__startswith="feedback:")
        .count(),
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


# --- wrk ---------------------------------------------------------------------------------------

WRK_SCRIPT = ROOT / "bench" / "wrk_paced.lua"
# Share of the offered rate an endpoint must reach for its stage to pass.
MIN_ACHIEVED = 0.97
# Seconds after which wrk counts a request as timed out (--timeout).
wrk_timeout = 10.0


def write_requests(path: Path, planned: list[Planned]) -> None:
    """The requests wrk sends, NUL-separated (no request contains a NUL byte)."""
    path.write_bytes(b"\0".join(item.raw for item in planned) + b"\0")


def connections_for(rate: float) -> int:
    """Enough connections that a request is due on a free one while a few answers are slow
    (100 ms of the endpoint's rate), and at least 4."""
    return max(4, int(rate * 0.1) + 1)


def start_wrk(
    *, port: int, requests_file: Path, rate: float, duration: float, connections: int, out: Path
) -> subprocess.Popen:
    command = [
        "wrk",
        "--threads",
        "1",
        "--connections",
        str(connections),
        "--duration",
        f"{max(1, round(duration))}s",
        "--timeout",
        f"{wrk_timeout:g}s",
        "--script",
        str(WRK_SCRIPT),
        f"http://127.0.0.1:{port}/",
        "--",
        str(requests_file),
        repr(rate),
    ]
    return subprocess.Popen(
        command,
        env={**os.environ, "WRK_RESULT": str(out)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wrk_result(process: subprocess.Popen, out: Path, *, offered: float) -> dict:
    """One wrk's figures: requests, errors, achieved rate, latency percentiles in ms."""
    _, stderr = process.communicate()
    if process.returncode != 0 or not out.exists():
        sys.exit(f"wrk failed ({process.returncode}): {stderr.decode()[-2000:]}")
    raw = json.loads(out.read_text())
    seconds = raw["duration_us"] / 1e6
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"]
    return {
        "requests": raw["requests"],
        "errors": errors,
        "error_kinds": {
            kind: raw[kind]
            for kind in ("connect", "read", "write", "status", "timeout")
            if raw[kind]
        },
        "statuses": raw["statuses"],
        "offered_rps": offered,
        "rps": (raw["requests"] - errors) / seconds if seconds else 0.0,
        "p50_ms": raw["p50"] / 1000,
        "p95_ms": raw["p95"] / 1000,
        "p99_ms": raw["p99"] / 1000,
        "max_ms": raw["max"] / 1000,
    }


def run_stage(
    maker: RequestMaker, *, rate: float, duration: float, port: int, work: Path
) -> dict[str, dict]:
    """Every endpoint of the mix at its share of `rate`, each by its own paced wrk, side by
    side; their figures by endpoint."""
    total = sum(maker.mix.values())
    running = {}
    for kind, weight in maker.mix.items():
        if not weight:
            continue
        share = rate * weight / total
        # Enough distinct requests for the whole stage (unsubscribes must not repeat).
        planned = [getattr(maker, f"_{kind}")() for _ in range(int(share * duration * 1.2) + 10)]
        requests_file = work / f"{kind}.requests"
        write_requests(requests_file, planned)
        out = work / f"{kind}.json"
        out.unlink(missing_ok=True)
        process = start_wrk(
            port=port,
            requests_file=requests_file,
            rate=share,
            duration=duration,
            connections=connections_for(share),
            out=out,
        )
        running[kind] = (process, out, share)
    return {
        kind: wrk_result(process, out, offered=share)
        for kind, (process, out, share) in running.items()
    }


def unpaced(*, port: int, requests_file: Path, seconds: float, connections: int, out: Path):
    """wrk as fast as the server answers: the most it serves."""
    out.unlink(missing_ok=True)
    process = start_wrk(
        port=port,
        requests_file=requests_file,
        rate=0,
        duration=seconds,
        connections=connections,
        out=out,
    )
    return wrk_result(process, out, offered=0)


def print_summary(summary: dict[str, dict], limits: dict[str, float]) -> None:
    print(
        f"{'endpoint':12s} {'requests':>8s} {'errors':>6s} {'offered':>7s} {'req/s':>7s} "
        f"{'p50 ms':>7s} {'p95 ms':>7s} {'p99 ms':>7s} {'max ms':>7s} {'limit':>6s}  statuses"
    )
    for kind, row in summary.items():
        limit = limits.get(kind)
        print(
            f"{kind:12s} {row['requests']:8d} {row['errors']:6d} {row['offered_rps']:7.1f} "
            f"{row['rps']:7.1f} {row['p50_ms']:7.1f} {row['p95_ms']:7.1f} {row['p99_ms']:7.1f} "
            f"{row['max_ms']:7.1f} {limit if limit else '':>6}  {row['statuses']}"
            + (f" errors {row['error_kinds']}" if row["errors"] else "")
        )


def _one_clicks_answered(summary: dict[str, dict]) -> int:
    """One-click unsubscribes a stage's wrk saw answered 200."""
    statuses = summary.get("unsubscribe", {}).get("statuses", {})
    return int(statuses.get("200", 0))


def endpoint_passes(row: dict, limit: float, min_share: float = MIN_ACHIEVED) -> bool:
    return (
        row["errors"] == 0
        and row["rps"] >= min_share * row["offered_rps"]
        and row["p99_ms"] <= limit
    )


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


def _reaped_children_cpu() -> float:
    """CPU seconds of this process's children that ended and were waited for (the wrks)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU seconds spent by the web server's workers, the consumers, our database's PostgreSQL
    backends and the wrks over a stage: a cost per request that does not depend on who else
    shares the machine (latencies and rates do). Processes are sampled every `interval`
    seconds, so a backend that connects during the stage (CONN_MAX_AGE renews them) is counted
    from its start and one that quits up to its last sample."""

    def __init__(
        self, server_pid: int, consumer_pids: list[int], database: str, interval: float = 2.0
    ):
        self.server_pid, self.database, self.interval = server_pid, database, interval
        self.consumer_pids = consumer_pids
        self._stop = threading.Event()

    def _sample(self) -> dict[str, dict[int, float]]:
        return {
            "web": {pid: _cpu_seconds(pid) for pid in _children(self.server_pid)},
            "consumer": {pid: _cpu_seconds(pid) for pid in self.consumer_pids},
            "postgres": {pid: _cpu_seconds(pid) for pid in _backend_pids(self.database)},
        }

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for part, now in self._sample().items():
                self._latest[part].update({pid: s for pid, s in now.items() if s})

    def __enter__(self) -> CpuMeter:
        self._base = self._sample()
        self._latest = {part: dict(seen) for part, seen in self._base.items()}
        self._generator = _reaped_children_cpu()
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
        self.spent["wrk"] = _reaped_children_cpu() - self._generator


# --- the web server and the consumers -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_options(args) -> list[str]:
    """The worker settings under test (the same for the app and the bare ceiling)."""
    if args.server == "granian":
        # As docker-compose.yml runs it; a worker that dies is started again.
        return [
            "--interface",
            "wsgi",
            "--workers",
            str(args.workers),
            "--blocking-threads",
            str(args.threads),
            "--no-ws",
            "--respawn-failed-workers",
            "--log-level",
            "warning",
        ]
    return [
        "--worker-class",
        args.worker_class,
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--timeout",
        "60",
        "--log-level",
        "warning",
    ]


def server_line(args) -> str:
    """The server under test, as the run prints it."""
    if args.server == "granian":
        return f"granian: {args.workers} WSGI workers x {args.threads} blocking threads"
    line = f"gunicorn: {args.workers} {args.worker_class} workers"
    if args.worker_class == "gthread":
        line += f" x {args.threads} threads"
    return line


def start_server(*, app: str, port: int, args, env: dict, log: Path, chdir: Path = ROOT):
    if args.server == "granian":
        target = app if ":" in app else f"{app}:application"
        command = [str(ROOT / ".venv/bin/granian"), target, "--host", "127.0.0.1"]
        command += ["--port", str(port), *server_options(args)]
    else:
        command = [str(ROOT / ".venv/bin/gunicorn"), app, "--bind", f"127.0.0.1:{port}"]
        command += server_options(args)
    with open(log, "ab") as out:
        server = subprocess.Popen(
            command,
            cwd=chdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # granian's workers each listen on a socket of their own (SO_REUSEPORT), bound once the
    # worker has loaded the app; the kernel spreads connections over the sockets bound. One
    # worker's 200 is not enough: the stage would start while the others still load (seconds
    # of CPU on a busy machine, taken from the worker answering) and each of them would take
    # its share of the connections cold. gunicorn's workers share one socket.
    listeners = args.workers if args.server == "granian" else 1
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"{command[0]} exited with {server.returncode}; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(_request("GET", "/healthz/", client_ip="127.0.0.1", headers={}))
                if sock.recv(64).startswith(b"HTTP/1.1 200") and _listening(port) >= listeners:
                    return server
        except OSError:
            pass
        time.sleep(0.2)
    stop_process(server)
    sys.exit(f"{command[0]} did not start")


def _listening(port: int) -> int:
    """Sockets listening on 127.0.0.1:`port` (Linux's /proc/net/tcp: state 0A is LISTEN)."""
    local = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as table:
        return sum(1 for line in table if line.split()[1:4:2] == [local, "0A"])


def start_consumer(*, env: dict, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [str(ROOT / ".venv/bin/python"), "manage.py", "consume_events"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_process(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _uptime() -> str:
    """`uptime`, printed with every figure: the machine is shared, and its load shows here."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def default_redis_url() -> str:
    """Database 15 of CELERY_BROKER_URL's Redis server (flushed by the run), else of
    127.0.0.1:6379."""
    broker = os.environ.get("CELERY_BROKER_URL", "")
    server = broker.rsplit("/", 1)[0] if broker.startswith("redis://") else "redis://127.0.0.1:6379"
    return f"{server}/15"


def wait_for_drain(timeout: float) -> float:
    """Seconds until the consumers recorded everything queued, and applied every one-click
    unsubscribe the web process answered (or the timeout passed)."""
    from campaigns import tracking_queue
    from complaints.models import PendingOneClick

    started = time.monotonic()
    redis = tracking_queue.connection()
    while time.monotonic() - started < timeout:
        # Acknowledged entries are deleted: an empty stream is a drained one; applied one-clicks
        # are deleted from PendingOneClick in the same transaction.
        if not redis.xlen(tracking_queue.STREAM) and not PendingOneClick.objects.exists():
            break
        time.sleep(0.1)
    return time.monotonic() - started


# --- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rate", default="400", help="requests per second; several (400,800,1200) run in turn"
    )
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per rate")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds at half rate first")
    parser.add_argument("--deliveries", type=int, default=20_000)
    # docker-compose.yml's, chosen by this run (README, "Load"): gthread keeps connections
    # alive and lets the pixel through while a webhook or unsubscribe waits on PostgreSQL.
    parser.add_argument(
        "--server", choices=("granian", "gunicorn"), default="granian", help="the WSGI server"
    )
    parser.add_argument("--worker-class", default="gthread", help="gunicorn's worker class")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument(
        "--threads", type=int, default=8, help="threads per worker (granian, gthread)"
    )
    parser.add_argument("--consumers", type=int, default=1, help="consume_events processes")
    parser.add_argument("--p99-hot-ms", type=float, default=50.0, help="pixel and click")
    parser.add_argument("--p99-unsubscribe-ms", type=float, default=100.0)
    parser.add_argument("--p99-limit-ms", type=float, default=250.0, help="the webhooks")
    parser.add_argument(
        "--min-share",
        type=float,
        default=MIN_ACHIEVED,
        help="share of its offered rate an endpoint must reach (0: errors and p99 only)",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--ceiling-seconds", type=float, default=10.0, help="0: no ceiling")
    parser.add_argument("--keep-going", action="store_true", help="go on after a failed rate")
    parser.add_argument("--conn-max-age", default="60", help="CONN_MAX_AGE of the server")
    parser.add_argument(
        "--no-queue", action="store_true", help="record each hit in its request (no Redis)"
    )
    parser.add_argument(
        "--database-url",
        default=default_database_url(),
        help="dropped and created again (default: consentmail_load on DATABASE_URL's server)",
    )
    parser.add_argument(
        "--redis-url",
        default=default_redis_url(),
        help="flushed; holds the tracking queue (default: database 15 of CELERY_BROKER_URL's)",
    )
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--mix",
        default=",".join(f"{kind}={share}" for kind, share in MIX.items()),
        help="weights of the endpoints, e.g. open=100 for the pixel alone",
    )
    args = parser.parse_args(argv)
    global wrk_timeout
    wrk_timeout = args.timeout
    rates = [float(r) for r in args.rate.split(",")]
    mix = {kind: int(share) for kind, _, share in (p.partition("=") for p in args.mix.split(","))}
    if not set(mix) <= set(MIX) or not any(mix.values()):
        sys.exit(f"--mix takes weights of {', '.join(MIX)}")
    if not args.database_url.startswith("postgres"):
        sys.exit("The load run needs PostgreSQL: --database-url postgres://...")
    if not shutil.which("wrk"):
        sys.exit("The load run needs wrk (Debian: apt-get install wrk)")
    limits = {
        "open": args.p99_hot_ms,
        "click": args.p99_hot_ms,
        "unsubscribe": args.p99_unsubscribe_ms,
        "webhook": args.p99_limit_ms,
    }

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
        "TRACKING_QUEUE_URL": "" if args.no_queue else args.redis_url,
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

    from campaigns import tracking_queue

    if not args.no_queue:
        tracking_queue.connection().flushdb()
        tracking_queue.ensure_group()
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    seeded = seed(args.deliveries)
    print(f"seeded {args.deliveries:,} sent deliveries in {time.perf_counter() - started:.1f} s")
    connections.close_all()

    maker = RequestMaker(seeded, rng=random.Random(args.seed), mix=mix)
    port = free_port()
    log = var_dir / "web.log"
    server = start_server(app="config.wsgi", port=port, args=args, env=env, log=log)
    consumers = []
    if not args.no_queue:
        consumers = [
            start_consumer(env=env, log=var_dir / "consumer.log") for _ in range(args.consumers)
        ]
    worker_line = server_line(args)
    queue_line = (
        "hits recorded in the request"
        if args.no_queue
        else (f"hits queued on {args.redis_url}, {args.consumers} consume_events")
    )
    print(
        f"{worker_line} on 127.0.0.1:{port}, production settings, "
        f"CONN_MAX_AGE={args.conn_max_age}; {queue_line}; database {args.database_url}; "
        f"{os.cpu_count()} CPUs shared with wrk and PostgreSQL (and whatever else runs: load "
        f"average {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    results = {"config": vars(args) | {"json": str(args.json)}, "stages": []}
    passed_rates = []
    one_clicks = 0  # one-click unsubscribes answered 200, every recipient once
    work = var_dir / "wrk"
    work.mkdir()
    try:
        for rate in rates:
            if args.warmup > 0:
                warm = run_stage(maker, rate=rate / 2, duration=args.warmup, port=port, work=work)
                one_clicks += _one_clicks_answered(warm)
            print(f"\n--- {rate:g} req/s offered, {args.duration:g} s", flush=True)
            database = args.database_url.rsplit("/", 1)[1]
            with CpuMeter(server.pid, [c.pid for c in consumers], database) as meter:
                summary = run_stage(maker, rate=rate, duration=args.duration, port=port, work=work)
            print_summary(summary, limits)
            one_clicks += _one_clicks_answered(summary)
            answered = sum(row["requests"] for row in summary.values())
            cpu_ms = {
                part: seconds * 1000 / max(1, answered) for part, seconds in meter.spent.items()
            }
            print(f"uptime: {_uptime()}")
            print(
                "CPU per request: "
                + ", ".join(f"{part} {ms:.2f} ms" for part, ms in cpu_ms.items())
                + f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
            )
            hot = sum(summary[k]["rps"] for k in ("open", "click") if k in summary)
            failing = [
                k
                for k, row in summary.items()
                if not endpoint_passes(row, limits[k], args.min_share)
            ]
            passed = not failing
            print(
                f"{'PASS' if passed else 'FAIL'}: pixel + click {hot:.0f} req/s"
                + (f"; failing: {', '.join(failing)}" if failing else ""),
                flush=True,
            )
            results["stages"].append(
                {
                    "rate": rate,
                    "passed": passed,
                    "hot_rps": hot,
                    "cpu_ms_per_request": cpu_ms,
                    "endpoints": summary,
                }
            )
            if passed:
                passed_rates.append(rate)
            elif not args.keep_going:
                break

        ceiling = None
        if args.ceiling_seconds > 0:
            # Before the drain: its pixels are queued and recorded too.
            ceiling = measure_ceiling(args, env=env, port=port, maker=maker, work=work, log=log)
        drained = accepted = posts_in = None
        if not args.no_queue:
            drained = wait_for_drain(timeout=120)
            accepted = tracking_queue.accepted_total()
            posts_in = tracking_queue.posts_accepted_total()
            print(f"\nthe consumers drained the queue {drained:.1f} s after the last stage")

    finally:
        stop_process(server)
        for consumer in consumers:
            stop_process(consumer)
    counts = server_side_counts(seeded.campaign_id)
    print("\nin the database afterwards:")
    for name, value in counts.items():
        print(f"  {COUNT_LABELS[name]:34s} {value:8,d}")
    if accepted is not None:
        same = "equal" if accepted == counts["queued_events"] else "NOT EQUAL: events lost"
        print(
            f"events in (answered after XADD) {accepted:,}; events recorded "
            f"{counts['queued_events']:,}: {same}"
        )
        # Each post of the run carries one event, which makes one report.
        reports = counts["mailgun_events"] + counts["postmark_events"]
        same = "equal" if posts_in == reports else "NOT EQUAL: reports lost"
        print(
            f"webhook posts in (answered after XADD) {posts_in:,}; reports recorded "
            f"{reports:,}: {same}"
        )
    if "unsubscribe" in mix:
        # wrk stops with requests in flight: the server applies them, wrk never counts their
        # answers. Fewer applied than answered is a lost unsubscribe.
        applied = counts["one_click_unsubscribes"]
        verdict = "none lost" if applied >= one_clicks else "NOT ALL APPLIED: unsubscribes lost"
        print(
            f"one-click unsubscribes answered 200 {one_clicks:,}; applied {applied:,} (the rest "
            f"were in flight when wrk stopped): {verdict}"
        )
    best = max(passed_rates) if passed_rates else None
    if len(rates) > 1:
        held = f"{best:g} req/s" if best else "none of the rates"
        print(f"\nhighest mixed rate held: {held}")
    if ceiling:
        print(
            f"\nceiling, unpaced for {args.ceiling_seconds:g} s under the same server "
            f"({worker_line}):\n"
            f"  bare WSGI GIF (bench/bare_gif.py)   {ceiling['bare']['rps']:8.0f} req/s  "
            f"p99 {ceiling['bare']['p99_ms']:.1f} ms\n"
            f"  our pixel (/o/<token>.gif, queued)  {ceiling['pixel']['rps']:8.0f} req/s  "
            f"p99 {ceiling['pixel']['p99_ms']:.1f} ms\n"
            f"  our pixel as a share of the bare app: "
            f"{ceiling['pixel']['rps'] / ceiling['bare']['rps']:.0%}"
        )
        if best:
            hot_best = max(s["hot_rps"] for s in results["stages"] if s["rate"] == best)
            print(
                f"  pixel + click held in the mix ({hot_best:.0f} req/s at {best:g}) as a share "
                f"of the bare app: {hot_best / ceiling['bare']['rps']:.0%}"
            )
    server_errors = [line for line in log.read_text().splitlines() if "Traceback" in line]
    consumer_log = var_dir / "consumer.log"
    if consumer_log.exists():
        server_errors += [
            line for line in consumer_log.read_text().splitlines() if "Traceback" in line
        ]
    if server_errors:
        print(
            f"the web server or the consumers logged {len(server_errors)} tracebacks: see {var_dir}"
        )
    results |= {
        "database": counts,
        "server_tracebacks": len(server_errors),
        "events_in": accepted,
        "webhook_posts_in": posts_in,
        "uptime": _uptime(),
        "drain_seconds": drained,
        "ceiling": ceiling,
    }
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if passed_rates else 1


def measure_ceiling(args, *, env: dict, port: int, maker: RequestMaker, work: Path, log: Path):
    """Our pixel, then the bare GIF app under the same server options, each unpaced."""
    connections = 4 * args.workers * max(1, args.threads)
    pixels = work / "ceiling.requests"
    write_requests(pixels, [maker._open() for _ in range(20_000)])
    ours = unpaced(
        port=port,
        requests_file=pixels,
        seconds=args.ceiling_seconds,
        connections=connections,
        out=work / "ceiling-ours.json",
    )
    bare_port = free_port()
    bare = start_server(
        app="bare_gif", port=bare_port, args=args, env=env, log=log, chdir=ROOT / "bench"
    )
    try:
        theirs = unpaced(
            port=bare_port,
            requests_file=pixels,
            seconds=args.ceiling_seconds,
            connections=connections,
            out=work / "ceiling-bare.json",
        )
    finally:
        stop_process(bare)
    return {"pixel": ours, "bare": theirs, "connections": connections}


if __name__ == "__main__":
    sys.exit(main())
