"""Outgoing webhooks: endpoints, signed deliveries with retries, and the guard that keeps them
off private networks.

Every delivery is a POST of a JSON body::

    {"id": "<event uuid>", "type": "subscriber.unsubscribed", "created_at": "<ISO 8601>",
     "account_id": 1, "data": {...}}

with the headers ``Content-Type: application/json``, ``X-ConsentMail-Event: <type>``,
``X-ConsentMail-Delivery: <event uuid>`` and

    ``X-ConsentMail-Signature: t=<unix seconds>,v1=<hex>``

where ``<hex>`` is HMAC-SHA256, keyed with the endpoint's secret (the whole ``whsec_...`` string,
UTF-8), over ``"<t>." + <raw request body>``. Receivers recompute it, compare in constant time
and reject timestamps more than a few minutes old. A 2xx answer is success; anything else,
a timeout or a refused connection is logged, and 408, 429, 5xx and network errors are retried
with backoff (WEBHOOKS_RETRY_DELAYS). Redirects are never followed.

Secrets are stored in the clear in the database: they are HMAC keys we must be able to use.
Encrypting them at rest is out of scope here.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import (
    WEBHOOK_TEST_EVENT,
    Account,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)
from config.coded_text import CodedText, coded
from config.errors import ApplicationError, NotFound

SIGNATURE_HEADER = "X-ConsentMail-Signature"
EVENT_HEADER = "X-ConsentMail-Event"
DELIVERY_HEADER = "X-ConsentMail-Delivery"
USER_AGENT = "ConsentMail-Webhooks/1"
EVENTS: tuple[str, ...] = tuple(WebhookEvent.values)
MAX_ENDPOINTS_PER_ACCOUNT = 20
# Statuses a receiver may recover from; every other non-2xx answer is final.
_RETRYABLE_STATUSES = {408, 425, 429, 500, 502, 503, 504}


class UnsafeDestination(Exception):
    """The URL points somewhere webhooks may not go (a private address, a bad scheme...)."""


# --- Signing ---------------------------------------------------------------------------------


def secret_generate() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `"<timestamp>." + body`, keyed with the secret."""
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={int(timestamp)},v1={sign(secret, timestamp, body)}"


def signature_verify(
    *, secret: str, header: str, body: bytes, tolerance: int = 300, now: float | None = None
) -> bool:
    """What a receiver does: parse the header, check the age and the HMAC (constant time)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), parts.get("v1", ""))


# --- The destination guard -------------------------------------------------------------------


def _allow_private() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", False))


_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291, deprecated
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # RFC 2765


def _ipv4_public(ip: ipaddress.IPv4Address) -> bool:
    return ip.is_global and not ip.is_multicast


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses a packet to `ip` ends up at, for the IPv6 forms that carry one
    (NAT64, IPv4-compatible, -mapped, -translated, 6to4, Teredo's server and client); None for
    an address that carries none."""
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _NAT64_WELL_KNOWN or ip in _IPV4_COMPATIBLE or ip in _IPV4_TRANSLATED:
        return [low32]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:  # (server, client), the client already un-obfuscated
        return list(ip.teredo)
    return None


def address_is_public(address: str) -> bool:
    """True for a globally routable unicast address; False for private, loopback, link-local,
    shared, reserved, multicast and unspecified ones. An IPv6 address that carries an IPv4 one
    (NAT64 64:ff9b::/96, IPv4-compatible ::a.b.c.d, -mapped ::ffff:a.b.c.d, -translated, 6to4
    2002::/16, Teredo 2001::/32) is judged by the IPv4 addresses it leads to, all of which must
    be public; the local-use NAT64 prefix 64:ff9b:1::/48 never is."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return _ipv4_public(ip)
    if ip in _NAT64_LOCAL_USE:
        return False
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return all(_ipv4_public(v4) for v4 in embedded)
    return ip.is_global and not ip.is_multicast


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str
    port: int
    path: str  # with the query string
    address: str  # the checked address to connect to


def url_check(url: str) -> tuple[str, str, int, str]:
    """Parse a webhook URL: http(s) only, a host, no credentials. Returns scheme, host, port and
    path; raises UnsafeDestination. A literal IP must be public unless the setting allows it."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeDestination("The URL is not valid.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeDestination("Only http:// and https:// URLs can receive webhooks.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeDestination("The URL has no host.")
    if parts.username or parts.password:
        raise UnsafeDestination("Put no user name or password in the URL; check the signature.")
    if not _allow_private():
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if (literal is not None and not address_is_public(host)) or host.lower() == "localhost":
            raise UnsafeDestination("Webhooks cannot be sent to private or local addresses.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def destination_resolve(url: str) -> Destination:
    """Check the URL and resolve its host now; every resolved address must be public (unless
    WEBHOOKS_ALLOW_PRIVATE_ADDRESSES). The caller connects to the address returned, so a DNS
    answer that changes between this check and the connection cannot redirect the request."""
    scheme, host, port, path = url_check(url)
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise UnsafeDestination(f"Cannot resolve {host}.") from exc
    if not addresses:
        raise UnsafeDestination(f"Cannot resolve {host}.")
    if not _allow_private():
        refused = [a for a in addresses if not address_is_public(a)]
        if refused:
            raise UnsafeDestination(
                f"{host} resolves to a private or local address ({refused[0]}); refused."
            )
    return Destination(scheme=scheme, host=host, port=port, path=path, address=addresses[0])


# --- Endpoints -------------------------------------------------------------------------------


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if len(url) > 2000:
        raise ApplicationError("The URL is too long.", field="url")
    try:
        url_check(url)
    except UnsafeDestination as exc:
        raise ApplicationError(str(exc), field="url") from exc
    return url


def _clean_events(events: list[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(events or []))
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown:
        raise ApplicationError(f"Unknown event {unknown[0]!r}.", field="events")
    if not chosen:
        raise ApplicationError("Choose at least one event.", field="events")
    return [e for e in EVENTS if e in chosen]


def webhook_endpoints_for(*, account: Account) -> QuerySet[WebhookEndpoint]:
    """The account's endpoints, newest first."""
    return WebhookEndpoint.objects.filter(account=account)


def webhook_endpoint_get(*, account: Account, endpoint_id: int) -> WebhookEndpoint:
    """One of the account's endpoints; another account's (or none) is NotFound."""
    endpoint = WebhookEndpoint.objects.filter(account=account, pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("No such webhook.")
    return endpoint


def webhook_deliveries_for(*, account: Account, endpoint_id: int) -> QuerySet[WebhookDelivery]:
    """An endpoint's delivery log, newest first; NotFound for another account's endpoint."""
    endpoint = webhook_endpoint_get(account=account, endpoint_id=endpoint_id)
    return WebhookDelivery.objects.filter(endpoint=endpoint)


def webhook_endpoint_create(
    *, account: Account, url: str, events: list[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register a URL for events; returns the endpoint and its signing secret (show it once)."""
    url = _clean_url(url)
    events = _clean_events(events)
    if WebhookEndpoint.objects.filter(account=account).count() >= MAX_ENDPOINTS_PER_ACCOUNT:
        raise ApplicationError(f"An account can have at most {MAX_ENDPOINTS_PER_ACCOUNT} webhooks.")
    secret = secret_generate()
    endpoint = WebhookEndpoint.objects.create(
        account=account,
        url=url,
        events=events,
        secret=secret,
        description=(description or "").strip()[:200],
    )
    return endpoint, secret


def webhook_endpoint_update(
    *,
    account: Account,
    endpoint_id: int,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    is_active: bool | None = None,
) -> WebhookEndpoint:
    """Change an endpoint's URL, events, description or activity. Re-activating clears the
    reason it was disabled."""
    endpoint = webhook_endpoint_get(account=account, endpoint_id=endpoint_id)
    if url is not None:
        endpoint.url = _clean_url(url)
    if events is not None:
        endpoint.events = _clean_events(events)
    if description is not None:
        endpoint.description = description.strip()[:200]
    if is_active is not None:
        endpoint.is_active = is_active
        if is_active:
            endpoint.disabled_reason = ""
    endpoint.save(update_fields=["url", "events", "description", "is_active", "disabled_reason"])
    return endpoint


def webhook_endpoint_delete(*, account: Account, endpoint_id: int) -> None:
    """Delete an endpoint and its delivery log; pending deliveries are dropped."""
    webhook_endpoint_get(account=account, endpoint_id=endpoint_id).delete()


def webhook_endpoint_rotate_secret(
    *, account: Account, endpoint_id: int
) -> tuple[WebhookEndpoint, str]:
    """Replace the signing secret at once; returns the new one (show it once). Deliveries
    attempted from now on, retries included, are signed with the new secret."""
    endpoint = webhook_endpoint_get(account=account, endpoint_id=endpoint_id)
    endpoint.secret = secret_generate()
    endpoint.save(update_fields=["secret"])
    return endpoint, endpoint.secret


# --- Emitting events -------------------------------------------------------------------------


def _payload(*, account_id: int, event: str, event_id: uuid.UUID, data: dict) -> dict:
    body = {
        "id": str(event_id),
        "type": event,
        "created_at": timezone.now().isoformat(),
        "account_id": account_id,
        "data": data,
    }
    # Normalise dates, UUIDs and decimals to what the JSON column and the receiver will see.
    return json.loads(json.dumps(body, cls=DjangoJSONEncoder))


def _enqueue_on_commit(delivery_ids: list[int]) -> None:
    from accounts.tasks import deliver_webhook

    if delivery_ids:
        transaction.on_commit(lambda: [deliver_webhook.delay(pk) for pk in delivery_ids])


def emit_event(account_id: int, event: str, data: dict) -> list[WebhookDelivery]:
    """Create a delivery of the event for each active endpoint of the account subscribed to it
    and enqueue them after commit (in a rolled-back transaction nothing is sent). Returns them."""
    return emit_events([(account_id, event, data)])


def emit_events(events: list[tuple[int, str, dict]]) -> list[WebhookDelivery]:
    """`emit_event` for many (account id, event, data) at once: the accounts' endpoints read in
    one query and every delivery written in one INSERT, enqueued after commit. Returns them."""
    for _, event, _ in events:
        if event not in EVENTS:
            raise ValueError(f"Unknown webhook event {event!r}")
    if not events:
        return []
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(
        account_id__in={account_id for account_id, _, _ in events}, is_active=True
    ).only("pk", "account_id", "events"):
        endpoints.setdefault(endpoint.account_id, []).append(endpoint)
    rows = []
    for account_id, event, data in events:
        event = str(event)
        subscribed = [e for e in endpoints.get(account_id, ()) if event in e.events]
        if not subscribed:
            continue
        event_id = uuid.uuid4()
        payload = _payload(account_id=account_id, event=event, event_id=event_id, data=data)
        rows += [
            WebhookDelivery(endpoint=e, event=event, event_id=event_id, payload=payload)
            for e in subscribed
        ]
    if not rows:
        return []
    deliveries = WebhookDelivery.objects.bulk_create(rows)
    _enqueue_on_commit([d.pk for d in deliveries])
    return deliveries


def webhook_send_test(*, account: Account, endpoint_id: int) -> WebhookDelivery:
    """Queue a `webhook.test` event to one endpoint (even an inactive one), after commit."""
    endpoint = webhook_endpoint_get(account=account, endpoint_id=endpoint_id)
    event_id = uuid.uuid4()
    payload = _payload(
        account_id=account.pk,
        event=WEBHOOK_TEST_EVENT,
        event_id=event_id,
        data={"endpoint_id": endpoint.pk, "message": "A test event from ConsentMail."},
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event=WEBHOOK_TEST_EVENT, event_id=event_id, payload=payload
    )
    _enqueue_on_commit([delivery.pk])
    return delivery


# --- Delivering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None = None
    # Coded text (accounts/texts.py: accounts.webhook.*), or the address guard's own sentence.
    error: CodedText | str = ""
    response_excerpt: str = ""
    duration_ms: int = 0
    retryable: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _post(url: str, *, body: bytes, headers: dict[str, str]) -> AttemptResult:
    """One POST, to a checked address, no redirects, bounded time and response size."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        dest = destination_resolve(url)
    except UnsafeDestination as exc:
        return AttemptResult(error=str(exc)[:500], duration_ms=elapsed())
    timeout = urllib3.Timeout(
        connect=settings.WEBHOOKS_TIMEOUT_SECONDS, read=settings.WEBHOOKS_TIMEOUT_SECONDS
    )
    default_port = 443 if dest.scheme == "https" else 80
    host_header = dest.host if dest.port == default_port else f"{dest.host}:{dest.port}"
    if ":" in dest.host:  # an IPv6 literal
        host_header = f"[{dest.host}]" + ("" if dest.port == default_port else f":{dest.port}")
    if dest.scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            dest.address,
            dest.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            server_hostname=dest.host,
            assert_hostname=dest.host,
            cert_reqs="CERT_REQUIRED",
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            dest.address, dest.port, timeout=timeout, retries=False, maxsize=1
        )
    cap = settings.WEBHOOKS_RESPONSE_MAX_BYTES
    try:
        response = pool.urlopen(
            "POST",
            dest.path,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            excerpt = response.read(cap, decode_content=True)[:cap]
        finally:
            response.release_conn()
            response.close()
    except urllib3.exceptions.NewConnectionError as exc:  # before TimeoutError: a subclass
        return AttemptResult(
            error=coded("accounts.webhook.connection_failed", error=str(exc)[:400]),
            duration_ms=elapsed(),
            retryable=True,
        )
    except urllib3.exceptions.TimeoutError:
        return AttemptResult(
            error=coded("accounts.webhook.timed_out"), duration_ms=elapsed(), retryable=True
        )
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return AttemptResult(
            error=coded(
                "accounts.webhook.connection_failed",
                error=f"{exc.__class__.__name__}: {exc}"[:400],
            ),
            duration_ms=elapsed(),
            retryable=True,
        )
    finally:
        pool.close()
    code = response.status
    text = excerpt.decode("utf-8", errors="replace")
    if 200 <= code < 300:
        return AttemptResult(status_code=code, response_excerpt=text, duration_ms=elapsed())
    if 300 <= code < 400:
        error = coded("accounts.webhook.redirected", status=code)
    else:
        error = coded("accounts.webhook.http_status", status=code)
    return AttemptResult(
        status_code=code,
        error=error,
        response_excerpt=text,
        duration_ms=elapsed(),
        retryable=code in _RETRYABLE_STATUSES,
    )


def _retry_delays() -> list[int]:
    return list(settings.WEBHOOKS_RETRY_DELAYS)


def deliver(delivery_id: int) -> int | None:
    """Make one attempt at a pending delivery that is due, and record it.

    Claimed with a conditional update (a lease of WEBHOOKS_CLAIM_SECONDS), so two workers never
    send it at once; gone, finished or not-yet-due deliveries are a quiet no-op (safe to run
    twice). Returns the seconds until the retry is due when one was scheduled, else None.
    """
    now = timezone.now()
    lease = now + timedelta(seconds=settings.WEBHOOKS_CLAIM_SECONDS)
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDeliveryStatus.PENDING)
        .exclude(next_attempt_at__gt=now)
        .update(next_attempt_at=lease)
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    attempt = delivery.attempt + 1
    if not endpoint.is_active and delivery.event != WEBHOOK_TEST_EVENT:
        result = AttemptResult(error=coded("accounts.webhook.disabled"))
    else:
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_HEADER: delivery.event,
            DELIVERY_HEADER: str(delivery.event_id),
            SIGNATURE_HEADER: signature_header(endpoint.secret, int(time.time()), body),
        }
        result = _post(endpoint.url, body=body, headers=headers)
    delays = _retry_delays()
    retry_in = delays[attempt - 1] if result.retryable and attempt <= len(delays) else None
    finished = timezone.now()
    if result.succeeded:
        status = WebhookDeliveryStatus.SUCCEEDED
    elif retry_in is not None:
        status = WebhookDeliveryStatus.PENDING
    else:
        status = WebhookDeliveryStatus.FAILED
    WebhookDelivery.objects.filter(pk=delivery_id, next_attempt_at=lease).update(
        attempt=attempt,
        status=status,
        status_code=result.status_code,
        error=result.error,
        response_excerpt=result.response_excerpt,
        duration_ms=result.duration_ms,
        next_attempt_at=finished + timedelta(seconds=retry_in) if retry_in is not None else None,
        delivered_at=finished if result.succeeded else None,
    )
    return retry_in


def deliveries_due(*, grace_seconds: int = 60, limit: int = 500) -> list[int]:
    """Ids of pending deliveries due for more than `grace_seconds` (their queued retry was lost,
    or a worker died holding the claim): the sweeper enqueues them again."""
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    due = Q(next_attempt_at__lte=cutoff) | Q(next_attempt_at__isnull=True, created_at__lte=cutoff)
    return list(
        WebhookDelivery.objects.filter(due, status=WebhookDeliveryStatus.PENDING)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
