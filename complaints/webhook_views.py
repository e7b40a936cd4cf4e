"""django-anymail's tracking webhook views, with what we add before trusting them.

All four answer alike:
- 401 (with a Basic challenge) when ANYMAIL["WEBHOOK_SECRET"] is set and the request sends no
  credentials, 403 when it sends wrong ones, before anything is parsed;
- 403 when the ESP's signature does not verify (anymail's checks, plus ours for SNS and
  Mailgun's timestamp), 400 for a body that cannot be parsed, and in every refused case nothing
  is applied;
- 503 when the webhook is not configured to authenticate anything at all: an open webhook would
  let anyone suppress addresses, and a 5xx makes the ESP retry once it is configured.

Where anymail would send its `tracking` signal once per event, these views hand the whole post
to complaints.esp, which applies its events in batches (a few statements per batch, not per
event), each once.
"""

from __future__ import annotations

import io
import json
import logging
import time
from functools import cache
from typing import TYPE_CHECKING

from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailWebhookValidationFailure,
)
from anymail.utils import get_anymail_setting, get_request_basic_auth
from anymail.webhooks.amazon_ses import AmazonSESBaseWebhookView, AmazonSESTrackingWebhookView
from anymail.webhooks.mailgun import MailgunBaseWebhookView, MailgunTrackingWebhookView
from anymail.webhooks.postmark import PostmarkTrackingWebhookView
from anymail.webhooks.sendgrid import SendGridTrackingWebhookView
from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare

from complaints import sns

if TYPE_CHECKING:
    from campaigns.tracking_queue import Post
    from complaints.services import Feedback

logger = logging.getLogger(__name__)

# Mailgun signs a timestamp with every post; a genuine post older than this is refused. Replays
# within it are harmless anyway: the signature token is the event id feedback_apply dedups on.
# A day, not minutes: Mailgun retries a failed post for about 8 hours.
MAILGUN_WEBHOOK_MAX_AGE_SECONDS = 24 * 3600
# How far in the future a signed timestamp may be (clock skew).
_MAX_CLOCK_SKEW_SECONDS = 15 * 60


class _BadPayload(Exception):
    pass


class _WebhookGuard:
    """What every view here adds to anymail's: HTTP-correct basic auth, refusals that change
    nothing, and no 500 for a malformed body."""

    # What anymail's webhook view (mixed in after this class) provides.
    basic_auth: list[str]
    esp_name: str
    if TYPE_CHECKING:

        def run_validators(self, request: HttpRequest) -> None: ...

    def configuration_error(self) -> str:
        """What is missing for posts to be authenticated at all ("" when nothing is). Basic
        auth is the only proof most ESPs offer."""
        return "" if self.basic_auth else "ANYMAIL['WEBHOOK_SECRET']"

    def post(self, request, *args, **kwargs):
        missing = self.configuration_error()
        if missing:
            logger.error("%s webhook refused: set %s", self.esp_name, missing)
            return HttpResponse("Webhook not configured.\n", status=503)
        if self.basic_auth:
            given = get_request_basic_auth(request)
            if given is None:
                response = HttpResponse("Authentication required.\n", status=401)
                response["WWW-Authenticate"] = 'Basic realm="webhooks"'
                return response
            if not any(constant_time_compare(given, allowed) for allowed in self.basic_auth):
                logger.warning("%s webhook: wrong basic auth", self.esp_name)
                return HttpResponse("Forbidden.\n", status=403)
        try:
            return self._receive(request)
        except AnymailWebhookValidationFailure as exc:
            logger.warning("%s webhook refused: %s", self.esp_name, exc)
            return HttpResponse("Forbidden.\n", status=403)
        except _BadPayload as exc:
            logger.warning("%s webhook: unparsable payload: %s", self.esp_name, exc)
            return HttpResponse("Bad request.\n", status=400)
        except sns.SnsFetchError as exc:
            logger.error("%s webhook: Amazon unreachable: %s", self.esp_name, exc)
            return HttpResponse("Try again later.\n", status=503)

    def _receive(self, request) -> HttpResponse:
        """anymail's post() (validate, parse), with the post's events applied together rather
        than one signal each."""
        from complaints.esp import handle_tracking_events

        self.run_validators(request)
        events = self.parse_events(request)
        handle_tracking_events(list(events), esp_name=self.esp_name)
        return HttpResponse()

    def parse_events(self, request):
        # Only parsing is guarded: an error while applying an event (the database) stays a
        # 500, so the ESP retries and nothing is lost.
        try:
            return super().parse_events(request)
        except (ValueError, KeyError, TypeError, AttributeError, AnymailAPIError) as exc:
            raise _BadPayload(str(exc)) from exc


class AmazonSESTrackingView(_WebhookGuard, AmazonSESTrackingWebhookView):
    """SES events through SNS, trusted only once the SNS signature verifies (complaints.sns),
    the topic is allowed (SNS_TOPIC_ARNS) and the basic auth matches."""

    def __init__(self, **kwargs):
        # anymail's SES view builds boto3 parameters for its own subscription confirming; we
        # confirm by visiting the signed SubscribeURL instead and need no boto3.
        self.auto_confirm_enabled = get_anymail_setting(
            "auto_confirm_sns_subscriptions", esp_name=self.esp_name, kwargs=kwargs, default=True
        )
        self.session_params, self.client_params = {}, {}
        super(AmazonSESBaseWebhookView, self).__init__(**kwargs)

    def configuration_error(self) -> str:
        # A valid SNS signature proves only that some topic sent it; our secret in the URL, or
        # an allow-list of our topics, proves it is one of ours.
        if self.basic_auth or getattr(settings, "SNS_TOPIC_ARNS", None):
            return ""
        return "ANYMAIL['WEBHOOK_SECRET'] or SNS_TOPIC_ARNS"

    def validate_request(self, request):
        # Runs before anymail's own validators (MRO order), after basic auth (in post()).
        try:
            message = json.loads(request.body.decode(request.encoding or "utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise AnymailWebhookValidationFailure("SNS body is not JSON") from exc
        if not isinstance(message, dict):
            raise AnymailWebhookValidationFailure("SNS body is not a JSON object")
        try:
            sns.verify_sns_message(message)
        except sns.SnsVerificationError as exc:
            raise AnymailWebhookValidationFailure(f"SNS message not verified: {exc}") from exc
        request._sns_message = message  # anymail's parse cache: parsed once, verified

    def auto_confirm_sns_subscription(self, sns_message):
        topic = sns_message.get("TopicArn")
        if not self.auto_confirm_enabled:
            logger.warning(
                "SNS subscription to %s not confirmed (auto-confirm is off): confirm it in the "
                "SNS console with token %s",
                topic,
                sns_message.get("Token"),
            )
            return
        if not self.basic_auth and not getattr(settings, "SNS_TOPIC_ARNS", None):
            # Only our secret in the URL (or the topic on our allow-list, checked with the
            # signature) says that we asked for this subscription.
            raise AnymailWebhookValidationFailure(
                f"unexpected SNS SubscriptionConfirmation for {topic}: set WEBHOOK_SECRET"
            )
        try:
            sns.confirm_subscription(sns_message)
        except sns.SnsVerificationError as exc:
            raise AnymailWebhookValidationFailure(str(exc)) from exc

    def parse_events(self, request):
        if request._sns_message.get("Type") == "UnsubscribeConfirmation":
            logger.warning(
                "SNS unsubscribed this endpoint from %s", request._sns_message.get("TopicArn")
            )
        return super().parse_events(request)


class MailgunTrackingView(_WebhookGuard, MailgunTrackingWebhookView):
    """Mailgun events, HMAC-checked by anymail (MAILGUN_WEBHOOK_SIGNING_KEY); we also refuse a
    signed timestamp older than MAILGUN_WEBHOOK_MAX_AGE_SECONDS."""

    def __init__(self, **kwargs):
        try:
            super().__init__(**kwargs)
        except AnymailConfigurationError:
            # No signing key: answered 503 by post() rather than a 500 from here.
            self.webhook_signing_key = b""
            super(MailgunBaseWebhookView, self).__init__(**kwargs)

    def configuration_error(self) -> str:
        # The HMAC is Mailgun's proof; basic auth is optional on top of it.
        return "" if self.webhook_signing_key else "ANYMAIL['MAILGUN_WEBHOOK_SIGNING_KEY']"

    def validate_request(self, request):
        if request.content_type == "application/json":
            try:
                body = json.loads(request.body.decode("utf-8"))
                timestamp = body["signature"]["timestamp"]
            except (ValueError, UnicodeDecodeError, KeyError, TypeError) as exc:
                raise AnymailWebhookValidationFailure(
                    "Mailgun payload without a signature"
                ) from exc
        else:
            timestamp = request.POST.get("timestamp")
        try:
            age = time.time() - float(timestamp)
        except (TypeError, ValueError) as exc:
            raise AnymailWebhookValidationFailure("Mailgun signature timestamp invalid") from exc
        max_age = getattr(
            settings, "MAILGUN_WEBHOOK_MAX_AGE_SECONDS", MAILGUN_WEBHOOK_MAX_AGE_SECONDS
        )
        if age > max_age or age < -_MAX_CLOCK_SKEW_SECONDS:
            # Checked before the signature (MRO order) but refused all the same either way.
            raise AnymailWebhookValidationFailure(f"Mailgun signature timestamp {age:.0f}s old")


class SendGridTrackingView(_WebhookGuard, SendGridTrackingWebhookView):
    """SendGrid events: basic auth, and SendGrid's ECDSA signature when
    SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY is set (anymail checks it)."""

    def configuration_error(self) -> str:
        if self.basic_auth or self.webhook_verification_key is not None:
            return ""
        return "ANYMAIL['WEBHOOK_SECRET'] or SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY"


class PostmarkTrackingView(_WebhookGuard, PostmarkTrackingWebhookView):
    """Postmark events: Postmark signs nothing, so basic auth is required."""


# --- the tracking queue's way (config.hot_paths, complaints.esp.posts_apply) ----------------

# The webhooks under /webhooks/<name>/tracking/ (complaints/webhook_urls.py), by URL name.
VIEWS: dict[str, type[_WebhookGuard]] = {
    "amazon_ses": AmazonSESTrackingView,
    "mailgun": MailgunTrackingView,
    "sendgrid": SendGridTrackingView,
    "postmark": PostmarkTrackingView,
}


@cache
def view_of(esp: str) -> _WebhookGuard:
    """One instance of the webhook's view per process (they keep only their settings)."""
    return VIEWS[esp]()


def _forget_views(**kwargs) -> None:
    view_of.cache_clear()  # they read ANYMAIL once, when made (tests change it)


setting_changed.connect(_forget_views, dispatch_uid="complaints.webhook_views.views")


def verified_post_reports(esp: str, request: HttpRequest) -> list[Feedback] | None:
    """For the hot front: the reports of a post that passes every check its view makes (basic
    auth, the ESP's signature, a body that parses), or None when the view would answer anything
    but 200 (refused, unconfigured, malformed, Amazon unreachable) or would do more than apply
    reports (an SNS subscription confirmation): the view answers those itself."""
    from complaints.esp import reports_of

    view = view_of(esp)
    if view.configuration_error():
        return None
    if view.basic_auth:
        given = get_request_basic_auth(request)
        if given is None or not any(constant_time_compare(given, a) for a in view.basic_auth):
            return None
    if esp == "amazon_ses" and request.META.get("HTTP_X_AMZ_SNS_MESSAGE_TYPE") != "Notification":
        return None
    try:
        view.run_validators(request)
        return reports_of(list(view.parse_events(request)), esp_name=view.esp_name)
    except Exception:  # whatever it is, the view answers it as it always did
        return None


def post_request(post: Post, **headers: str) -> WSGIRequest:
    """The request a queued post came in as (its body, content type and webhook path), with
    `headers` as WSGI environ keys (HTTP_AUTHORIZATION=...), for the webhook view's parser."""
    body = post.body.encode("utf-8")
    return WSGIRequest(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": f"/webhooks/{post.esp}/tracking/",
            "SCRIPT_NAME": "",
            "CONTENT_TYPE": post.content_type,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            **headers,
        }
    )


def queued_post_events(post: Post) -> tuple[list, str]:
    """The events of a queued post (verified before it was queued), parsed by its view's own
    parser, and the ESP's name as anymail spells it."""
    view = view_of(post.esp)
    request = post_request(post)
    if post.esp == "amazon_ses":
        # Verified (signature, topic) by the web process: parsed here as validate_request would.
        request._sns_message = json.loads(post.body)  # type: ignore[attr-defined]  # anymail's own
    return list(view.parse_events(request)), view.esp_name
