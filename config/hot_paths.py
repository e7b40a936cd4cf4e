"""The public hot paths, answered in front of Django's browser stack.

The open pixel, the click redirect and RFC 8058's one-click unsubscribe POST come from mailbox
providers and image proxies at the rate we send, not at the rate people browse, and so do the
ESPs' tracking webhooks: a campaign released at 1,000 messages a second brings hundreds of pixel
fetches a second (Apple's Mail Privacy Protection fetches every image on delivery) and as many
delivery reports. Through Django's middleware (sessions, CSRF, auth, messages, locale, axes,
CSP, the terms gate) each one cost 7 to 15 ms of CPU. None of that serves them: they carry no
cookie, show no page and are authorised by the signed token alone (the webhooks by basic auth
and the ESP's signature). `HotPaths` answers their common case in a few plain functions and
hands everything else (a bad or test token, an unknown link, a HEAD, a non-one-click POST, plain
HTTP when HTTPS is required, an unsubscribe already done, a webhook post its view would refuse
or could not parse) to Django unchanged, so those answers stay Django's.

With the tracking queue, a webhook post is checked by its own view's validators and parser
(complaints.webhook_views.verified_post_reports), queued raw, and answered once Redis has it;
the consumer applies it (complaints.esp.posts_apply).

What they keep: the responses carry the security headers that matter for them (no caching,
nosniff, referrer policy, frame denial, a CSP that allows nothing, HSTS over HTTPS), and the
database connection is handled as Django handles it (request_started/request_finished).
"""

from __future__ import annotations

import io
import logging
import re
from email.utils import formatdate
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core import signals
from django.core.handlers.wsgi import WSGIRequest
from django.utils import timezone

# Imported with the WSGI application (config.wsgi, after Django's set-up), not by a worker's
# first request: the server loads the app in every worker before it takes requests.
from campaigns import tracking, tracking_queue
from campaigns.public_views import PIXEL
from campaigns.selectors import approved_link_cached, approved_links_cached
from campaigns.tokens import BadToken, TokenKind, unpack
from complaints.services import one_click_unsubscribe_accept, one_click_unsubscribes_apply
from complaints.webhook_views import verified_post_reports
from config.group_commit import GroupCommit
from config.http import client_ip_of

logger = logging.getLogger(__name__)

_SIGNED = r"([A-Za-z0-9_-]{1,64})"
_OPEN = re.compile(rf"/o/{_SIGNED}\.gif")
_CLICK = re.compile(rf"/c/{_SIGNED}/")
_UNSUBSCRIBE = re.compile(rf"/u/{_SIGNED}/")
_ONE_CLICK = b"List-Unsubscribe=One-Click"
_BODY_LIMIT = 1024
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_WEBHOOK = re.compile(r"/webhooks/(amazon_ses|mailgun|sendgrid|postmark)/tracking/")
# A larger post (a SendGrid batch of thousands of events) goes to the view, which applies it
# at once as before.
_WEBHOOK_BODY_LIMIT = 1024 * 1024
_ONE_CLICKS = GroupCommit(one_click_unsubscribes_apply, max_batch=200)


class HotPaths:
    """A WSGI application: the hot paths' common case here, everything else to `django`."""

    def __init__(self, django_app):
        self.django = django_app
        self._headers: list[tuple[str, str]] | None = None
        # The tracking queue's client, with the redis package it imports, loads now, in each
        # worker before it takes requests (config.wsgi): else the worker's first pixel or
        # click pays for that import (0.1-0.5 s of CPU, the more where Python may not write
        # bytecode), and on a busy machine its first answers wait seconds. No connection yet.
        if _queued():
            tracking_queue.connection()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "")
        if (
            method == "POST"
            and path.startswith("/webhooks/")
            and (match := _WEBHOOK.fullmatch(path))
            and _queued()
            and self._may_answer(environ)
        ):
            return self._webhook(environ, start_response, match.group(1))
        if len(path) > 3 and path[0] == "/" and path[2] == "/" and self._may_answer(environ):
            head = path[1]
            if head == "o" and method == "GET" and (match := _OPEN.fullmatch(path)):
                return self._pixel(environ, start_response, match.group(1))
            if head == "c" and method == "GET" and (match := _CLICK.fullmatch(path)):
                return self._click(environ, start_response, match.group(1))
            if head == "u" and method == "POST" and (match := _UNSUBSCRIBE.fullmatch(path)):
                return self._unsubscribe(environ, start_response, match.group(1))
        return self.django(environ, start_response)

    # --- the answers -----------------------------------------------------------------------

    def _pixel(self, environ, start_response, token):

        try:
            data = unpack(token, kind=TokenKind.OPEN)
        except BadToken:
            data = None
        if data is not None and not data.is_test:
            _record(environ, "open", data, link_index=None)
        headers = [("Content-Type", "image/gif"), ("Content-Length", str(len(PIXEL)))]
        start_response("200 OK", headers + self._security_headers(environ))
        return [PIXEL]

    def _click(self, environ, start_response, token):

        try:
            data = unpack(token, kind=TokenKind.CLICK)
        except BadToken:
            return self.django(environ, start_response)
        if data.is_test:
            return self.django(environ, start_response)
        # Only a miss of the links' cache asks the database.
        with _django_request(environ, needed=not approved_links_cached(data.campaign_id)):
            url = approved_link_cached(campaign_id=data.campaign_id, index=data.link)
        if url is None or not _redirectable(url):
            return self.django(environ, start_response)
        _record(environ, "click", data, link_index=data.link)
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", "0"),
            ("Location", url),
        ]
        start_response("302 Found", headers + self._security_headers(environ))
        return [b""]

    def _unsubscribe(self, environ, start_response, token):

        body = _read_body(environ)
        if body is None or not _is_one_click(environ, body):
            return self.django(environ, start_response)
        try:
            data = unpack(token, kind=TokenKind.UNSUBSCRIBE)
        except BadToken:
            return self.django(environ, start_response)
        if data.is_test:
            return self.django(environ, start_response)
        try:
            with _django_request(environ):
                if _queued():
                    # With the consumer running: the address suppressed and the rest queued,
                    # in one statement committed before the answer (any send that starts
                    # after it skips the address); the consumer applies the rest.
                    already = not one_click_unsubscribe_accept(data)
                else:
                    # Durable before the answer: the batch this one-click is in commits before
                    # submit returns. Concurrent one-clicks of this process share that
                    # transaction (config.group_commit).
                    already = _ONE_CLICKS.submit(data).already
        except Exception:
            # Django's view applies this one alone, as it always could.
            logger.exception("A one-click unsubscribe failed; applying it through the view")
            return self.django(environ, start_response)
        if already:
            # Gone or already off the list: Django's view says which, as it always did.
            return self.django(environ, start_response)
        text = b"Unsubscribed.\n"
        headers = [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(text))),
        ]
        start_response("200 OK", headers + self._security_headers(environ))
        return [text]

    def _webhook(self, environ, start_response, esp):
        """An ESP's tracking post: verified here as its view verifies it, queued raw, and
        answered 200 once Redis has it (the consumer parses and applies it: complaints.esp).
        Anything the view would answer otherwise, and any post Redis does not take, goes to the
        view, which answers or applies it as it always did."""
        body = _read_body(environ, limit=_WEBHOOK_BODY_LIMIT)
        if body is None:
            return self.django(environ, start_response)
        try:
            text = body.decode("utf-8")
            # A request of its own: Django's view reads the body again from wsgi.input.
            request = WSGIRequest({**environ, "wsgi.input": io.BytesIO(body)})
            if verified_post_reports(esp, request) is None:
                return self.django(environ, start_response)
            tracking_queue.post_enqueue(
                tracking_queue.Post(
                    esp=esp,
                    content_type=environ.get("CONTENT_TYPE", ""),
                    body=text,
                    at=timezone.now(),
                )
            )
        except Exception:  # a body that is not text, Redis refusing it: the view's way
            logger.warning("Webhook post for %s handed to Django", esp, exc_info=True)
            return self.django(environ, start_response)
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "0")]
        start_response("200 OK", headers + self._security_headers(environ))
        return [b""]

    # --- helpers ---------------------------------------------------------------------------

    def _may_answer(self, environ) -> bool:
        """Plain HTTP where HTTPS is required goes to Django, which redirects it."""
        return not settings.SECURE_SSL_REDIRECT or _is_secure(environ)

    def _security_headers(self, environ) -> list[tuple[str, str]]:
        """What never_cache and the security, CSP and clickjacking middleware would add."""
        if self._headers is None:
            headers = [
                ("Cache-Control", "max-age=0, no-cache, no-store, must-revalidate, private"),
                ("X-Content-Type-Options", "nosniff"),
                ("X-Frame-Options", settings.X_FRAME_OPTIONS),
                ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
            ]
            if settings.SECURE_REFERRER_POLICY:
                headers.append(("Referrer-Policy", settings.SECURE_REFERRER_POLICY))
            if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
                headers.append(
                    ("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY)
                )
            self._headers = headers
        headers = [*self._headers, ("Expires", formatdate(usegmt=True))]
        if settings.SECURE_HSTS_SECONDS and _is_secure(environ):
            hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
            if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
                hsts += "; includeSubDomains"
            if settings.SECURE_HSTS_PRELOAD:
                hsts += "; preload"
            headers.append(("Strict-Transport-Security", hsts))
        return headers


class _django_request:
    """Database connections handled as around a Django request: stale ones closed before,
    CONN_MAX_AGE honoured after."""

    def __init__(self, environ, *, needed: bool = True):
        self.environ, self.needed = environ, needed

    def __enter__(self):
        if self.needed:
            signals.request_started.send(sender=HotPaths, environ=self.environ)

    def __exit__(self, *exc):
        if self.needed:
            signals.request_finished.send(sender=HotPaths)


def _record(environ, kind: str, data, *, link_index: int | None) -> None:
    """Queue the hit (or record it at once without a queue); never stands in the way of the
    answer, as in campaigns.public_views."""

    try:
        # With the queue up, a hit never touches the database (if Redis refuses it, it is
        # recorded at once on the worker's connection all the same).
        with _django_request(environ, needed=not _queued()):
            tracking.hit_accept(
                kind=kind,
                token_data=data,
                link_index=link_index,
                user_agent=environ.get("HTTP_USER_AGENT", ""),
                method=environ.get("REQUEST_METHOD", "GET"),
                ip=client_ip_of(environ) or "",
            )
    except Exception:  # the recipient's redirect or pixel matters more than one count
        logger.exception("Could not record the %s of campaign %s", kind, data.campaign_id)


def _queued() -> bool:
    return tracking_queue.queue_enabled()


def _is_secure(environ) -> bool:
    if environ.get("wsgi.url_scheme") == "https":
        return True
    header = settings.SECURE_PROXY_SSL_HEADER
    return header is not None and environ.get(header[0]) == header[1]


def _redirectable(url: str) -> bool:
    """What HttpResponseRedirect would accept: http(s), no control characters."""
    return urlsplit(url).scheme in ("http", "https") and not _CONTROL.search(url)


def _read_body(environ, *, limit: int = _BODY_LIMIT) -> bytes | None:
    """The POST body when it is small (put back for Django to read again); None when larger."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length > limit:
        return None
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _is_one_click(environ, body: bytes) -> bool:
    """RFC 8058's body, as complaints.views._is_one_click reads it."""
    if body.strip() == _ONE_CLICK:
        return True
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        fields = parse_qs(body.decode("latin-1"))
        return fields.get("List-Unsubscribe", [""])[-1] == "One-Click"
    return False
