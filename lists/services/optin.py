"""The subscription form and double opt-in: only the click on the e-mailed link subscribes.

The form (hosted or embedded) answers every address alike and changes no existing subscriber:
- a new address is added, unconfirmed and asked to confirm (subscribed at once only on a single
  opt-in list and when the account does not suppress it);
- an address waiting for its confirmation, or one that unsubscribed (from this list or, by the
  account-wide suppression, any other), is asked to confirm again; its status changes only when
  the e-mailed link is followed;
- an address already subscribed gets nothing new;
- an address that reported spam, bounced (hard, or soft again and again), or hard-bounced for
  another account of the service gets nothing at all: not even a confirmation request goes to a
  mailbox that refused our mail or whose owner called it spam, and it cannot come back this way.
Confirmation e-mails go at most once per CONFIRMATION_RESEND_SECONDS per address.
"""

from __future__ import annotations

import enum
import time
from datetime import timedelta
from email import policy as email_policy
from email.headerregistry import Address
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.addresses import normalise_address
from accounts.models import WebhookEvent
from config.errors import ApplicationError, NotFound
from config.text import display_name, one_line
from lists.models import (
    ConsentEvent,
    ConsentSource,
    MailingList,
    Subscriber,
    SubscriberStatus,
    SuppressionReason,
)
from lists.services.consent import (
    AgeConfirmedBy,
    consent_record_add,
    form_notice,
    proof_with_age_confirmation,
)
from lists.services.subscribers import subscriber_create, subscriber_emit_event
from lists.services.suppression import (
    PLATFORM_HARD_BOUNCE,
    suppression_lift,
    suppression_reason,
)

CONFIRM_SALT = "lists.subscribe-confirm"


class FormOutcome(enum.Enum):
    """What a form post did; for tests and logs only: the person sees the same page for all."""

    SUBSCRIBED = "subscribed"
    CONFIRMATION_REQUESTED = "confirmation_requested"
    NOTHING = "nothing"


# Suppressions no confirmation request is ever sent to (see the module's docstring).
NO_CONFIRMATION_REASONS = frozenset(
    {
        SuppressionReason.COMPLAINED,
        SuppressionReason.HARD_BOUNCE,
        SuppressionReason.SOFT_BOUNCES,
        PLATFORM_HARD_BOUNCE,
    }
)
# The subscribers an e-mailed link may (re)subscribe.
CONFIRMABLE_STATUSES = frozenset({SubscriberStatus.UNCONFIRMED, SubscriberStatus.UNSUBSCRIBED})


def confirmation_allowed(*, account, email: str) -> bool:
    """True when the account may send `email` (normalised) a confirmation request: it is not
    suppressed for a complaint or a bounce."""
    return suppression_reason(account=account, email=email) not in NO_CONFIRMATION_REASONS


def subscription_confirm_token(subscriber: Subscriber) -> str:
    """A signed, expiring token naming the subscriber, the address it confirms and when it was
    issued (ms): a link issued before an unsubscribe never brings the person back."""
    payload = {"s": subscriber.pk, "e": subscriber.email, "t": int(time.time() * 1000)}
    return signing.dumps(payload, salt=CONFIRM_SALT)


# The list's welcome message (campaigns.welcome) is queued by name: lists may not import
# campaigns, and the task finds out whether the list has an approved welcome.
WELCOME_TASK = "campaigns.welcome_subscriber"


def subscriber_welcome_request(*, subscriber_id: int) -> None:
    """After the current transaction commits, have the list's welcome message queued for a
    subscriber whose subscription was just confirmed (nothing when the list has none)."""
    transaction.on_commit(lambda: _queue_welcome(subscriber_id))


def _queue_welcome(subscriber_id: int) -> None:
    from celery import current_app

    task = current_app.tasks.get(WELCOME_TASK)
    if task is not None:
        task.delay(subscriber_id)  # the registered task (run at once where tasks are eager)
    else:
        current_app.send_task(WELCOME_TASK, args=[subscriber_id])


def subscriber_request_confirmation(*, subscriber: Subscriber) -> None:
    """Enqueue (after commit) the double opt-in e-mail for an unconfirmed subscriber."""
    from lists.tasks import send_confirmation_email

    subscriber_id = subscriber.pk
    transaction.on_commit(lambda: send_confirmation_email.delay(subscriber_id))


def subscriber_send_confirmation(*, subscriber_id: int) -> bool:
    """Send the confirmation link, at most once per CONFIRMATION_RESEND_SECONDS per address (the
    form must not become a way to flood someone's inbox). A no-op for a gone subscriber, one
    neither unconfirmed nor unsubscribed, or an address suppressed for a complaint or bounce.
    Claims the send with a conditional update, so two workers never both send; a failed send
    gives the claim back for the retry."""
    subscriber = (
        Subscriber.objects.select_related("mailing_list__account")
        .filter(pk=subscriber_id, status__in=CONFIRMABLE_STATUSES)
        .first()
    )
    if subscriber is None or not confirmation_allowed(
        account=subscriber.mailing_list.account, email=subscriber.email
    ):
        return False
    now = timezone.now()
    recently = now - timedelta(seconds=settings.CONFIRMATION_RESEND_SECONDS)
    claimed = (
        Subscriber.objects.filter(pk=subscriber_id, status__in=CONFIRMABLE_STATUSES)
        .filter(Q(confirmation_sent_at__isnull=True) | Q(confirmation_sent_at__lt=recently))
        .update(confirmation_sent_at=now)
    )
    if not claimed:
        return False
    try:
        _send_confirmation(
            Subscriber.objects.select_related("mailing_list__account").get(pk=subscriber_id)
        )
    except BaseException:
        Subscriber.objects.filter(pk=subscriber_id, confirmation_sent_at=now).update(
            confirmation_sent_at=None
        )
        raise
    return True


def confirmation_language(subscriber: Subscriber) -> str:
    """The language of the subscriber's double opt-in e-mail: the page they signed up on, else
    their list's, else the site's default."""
    languages = dict(settings.LANGUAGES)
    for language in (subscriber.language, subscriber.mailing_list.language):
        if language in languages:
            return language
    return settings.LANGUAGE_CODE


def _send_confirmation(subscriber: Subscriber) -> None:
    mailing_list = subscriber.mailing_list
    account = mailing_list.account
    link = settings.SITE_URL + reverse(
        "subscribe_confirm", kwargs={"token": subscription_confirm_token(subscriber)}
    )
    language = confirmation_language(subscriber)
    context = {
        "subscriber": subscriber,
        "list": mailing_list,
        "account": account,
        "link": link,
        "language": language,
    }
    owner = account.users.order_by("pk").first()
    with translation.override(language):
        subject = _("Please confirm your subscription to %(list)s") % {"list": mailing_list.name}
        text = render_to_string("lists/email/confirm.txt", context)
        html = render_to_string("lists/email/confirm.html", context)
    message = EmailMultiAlternatives(
        subject=one_line(subject),
        body=text,
        # The sender's name on our own sending address (aligned for DMARC; the envelope sender
        # too), replies to the sender. An Address: no company name can add or swap an address.
        from_email=str(
            Address(display_name=display_name(account.company_name), addr_spec=_service_address())
        ),
        to=[subscriber.email],
        reply_to=[owner.email] if owner else None,
        headers={"Content-Language": language},
    )
    message.attach_alternative(html, "text/html")
    message.send()


def _service_address() -> str:
    """The address of settings.DEFAULT_FROM_EMAIL (which may carry a display name of its own)."""
    header = email_policy.default.header_factory("From", settings.DEFAULT_FROM_EMAIL)
    if len(header.addresses) != 1:
        raise ImproperlyConfigured("DEFAULT_FROM_EMAIL must be one e-mail address.")
    return header.addresses[0].addr_spec


INVALID_CONFIRM_LINK = gettext_lazy("This confirmation link is invalid or has expired.")


def _confirm_payload(token: str) -> dict:
    try:
        payload = signing.loads(
            token, salt=CONFIRM_SALT, max_age=settings.SUBSCRIBE_CONFIRM_MAX_AGE
        )
    except signing.BadSignature as exc:
        raise NotFound(str(INVALID_CONFIRM_LINK)) from exc
    if not isinstance(payload, dict):
        raise NotFound(str(INVALID_CONFIRM_LINK))
    return payload


def _link_may_confirm(subscriber: Subscriber, payload: dict) -> bool:
    """Whether a link can subscribe `subscriber` now: an unconfirmed one, or one that
    unsubscribed before the link was issued (they asked to come back); never a bounced or
    complained one, nor an address suppressed for a complaint or bounce since."""
    if subscriber.status == SubscriberStatus.UNSUBSCRIBED:
        issued_ms = payload.get("t")
        if not isinstance(issued_ms, int):
            return False
        left = subscriber.unsubscribed_at  # None: left before the time was recorded
        if left is not None and issued_ms <= left.timestamp() * 1000:
            return False
    elif subscriber.status != SubscriberStatus.UNCONFIRMED:
        return False
    return confirmation_allowed(account=subscriber.mailing_list.account, email=subscriber.email)


def subscriber_for_confirm_token(token: str) -> Subscriber:
    """The subscriber a confirmation token names, or NotFound (bad, expired, gone, or a link
    that can no longer subscribe them; an already subscribed one is returned)."""
    payload = _confirm_payload(token)
    subscriber = (
        Subscriber.objects.select_related("mailing_list__account")
        .filter(pk=payload.get("s", 0), email=payload.get("e", ""))
        .first()
    )
    if subscriber is None:
        raise NotFound(str(INVALID_CONFIRM_LINK))
    if subscriber.status != SubscriberStatus.SUBSCRIBED and not _link_may_confirm(
        subscriber, payload
    ):
        raise NotFound(str(INVALID_CONFIRM_LINK))
    return subscriber


def subscription_confirm(*, token: str, ip: str | None, user_agent: str = "") -> Subscriber:
    """Subscribe the person who clicked the e-mailed link, recording the IP and time.

    Idempotent (a second click changes nothing). The click is the person's own new consent, so
    it lifts a suppression of the address (one for an unsubscribe or an erasure: a complaint or
    a bounce is never lifted this way). Raises NotFound for a bad, expired or stale token.
    """
    payload = _confirm_payload(token)
    found = subscriber_for_confirm_token(token)
    with transaction.atomic():
        subscriber = (
            Subscriber.objects.select_for_update(of=("self",))
            .select_related("mailing_list__account")
            .get(pk=found.pk)
        )
        if subscriber.status == SubscriberStatus.SUBSCRIBED:
            return subscriber
        if not _link_may_confirm(subscriber, payload):
            # E.g. unsubscribed after this link was sent: an old link must not bring them back.
            raise NotFound(str(INVALID_CONFIRM_LINK))
        previous = subscriber.status
        now = timezone.now()
        subscriber.status = SubscriberStatus.SUBSCRIBED
        subscriber.subscribed_at = now
        subscriber.unsubscribed_at = None
        subscriber.save(update_fields=["status", "subscribed_at", "unsubscribed_at", "updated_at"])
        consent_record_add(
            subscriber=subscriber,
            event=ConsentEvent.CONFIRMED,
            source="confirmation_link",
            obtained_at=now,
            ip=ip,
            user_agent=user_agent,
            purpose_text=subscriber.mailing_list.purpose,
        )
        suppression_lift(account=subscriber.mailing_list.account, email=subscriber.email)
        subscriber_emit_event(
            subscriber,
            WebhookEvent.SUBSCRIBER_SUBSCRIBED,
            previous_status=previous,
            channel="confirmation_link",
        )
        subscriber_welcome_request(subscriber_id=subscriber.pk)
    return subscriber


def subscription_form_check(
    *, mailing_list: MailingList, email: str, consent_given: bool, adult_confirmed: bool
) -> str:
    """What a form post is refused for, the same whoever the address belongs to: the consent box,
    the age confirmation of an adult list, an address that is not one. Returns the address,
    normalised; raises ApplicationError (with the field) and reads nothing from the database."""
    problems = subscription_form_problems(
        mailing_list=mailing_list,
        email=email,
        consent_given=consent_given,
        adult_confirmed=adult_confirmed,
    )
    if problems:
        field, message = next(iter(problems.items()))
        raise ApplicationError(message, field=field)
    return normalise_address(email)


def subscription_form_problems(
    *, mailing_list: MailingList, email: str, consent_given: bool, adult_confirmed: bool
) -> dict[str, str]:
    """Every refusal subscription_form_check would make, by field, so the form shows them all
    at once. Reads nothing from the database (the answer says nothing about the address)."""
    problems: dict[str, str] = {}
    if not consent_given:
        problems["consent"] = _("Tick the box to agree to receive these e-mails.")
    if mailing_list.adult_content and not adult_confirmed:
        problems["adult"] = _("This list is for adults only: confirm your age.")
    try:
        normalise_address(email)
    except ApplicationError as exc:
        problems["email"] = exc.message
    return problems


def subscription_form_accept(
    *,
    mailing_list: MailingList,
    email: str,
    consent_given: bool,
    adult_confirmed: bool = False,
    name: str = "",
    phone: str = "",
    ip: str | None = None,
    user_agent: str = "",
    form_url: str = "",
    language: str = "",
    consent_text: str = "",
) -> None:
    """Check a form post (subscription_form_check) and enqueue, after commit, its handling by
    subscription_form_submit in a worker. What the page answers then costs the same for every
    address: no lookup of the address happens before the answer, so neither the answer nor its
    timing says whether or how the address is known."""
    from lists.tasks import process_subscription_form

    email = subscription_form_check(
        mailing_list=mailing_list,
        email=email,
        consent_given=consent_given,
        adult_confirmed=adult_confirmed,
    )
    post = {
        "list_id": mailing_list.pk,
        "email": email,
        "name": name,
        "phone": phone,
        "ip": ip,
        "user_agent": user_agent,
        "form_url": form_url,
        "language": language,
        "consent_text": consent_text,
    }
    transaction.on_commit(lambda: process_subscription_form.delay(**post))


def _notice_text(mailing_list: MailingList, language: str) -> str:
    with translation.override(language or settings.LANGUAGE_CODE):
        return form_notice(mailing_list).text()


def subscription_form_submit(
    *,
    mailing_list: MailingList,
    email: str,
    consent_given: bool,
    adult_confirmed: bool = False,
    name: str = "",
    phone: str = "",
    ip: str | None = None,
    user_agent: str = "",
    form_url: str = "",
    language: str = "",
    consent_text: str = "",
) -> FormOutcome:
    """Take a sign-up from the hosted or embedded form.

    Needs the separate consent checkbox ticked, and the age confirmation for adult lists. Changes
    no existing subscriber: see the module's docstring for what each address gets. With double
    opt-in, or when the address is suppressed, a new subscriber stays unconfirmed until the
    e-mailed link is followed. The caller must answer every outcome alike (the outcome is for
    tests and logs). `language` is the page's: the confirmation e-mail is written in it.
    `consent_text` is what the page showed (consent.form_notice); the consent record stores it,
    or, when not given, the notice rendered again in `language`.
    The form itself goes through subscription_form_accept, which runs this in a worker.
    """
    email = subscription_form_check(
        mailing_list=mailing_list,
        email=email,
        consent_given=consent_given,
        adult_confirmed=adult_confirmed,
    )
    language = language if language in dict(settings.LANGUAGES) else ""
    account = mailing_list.account
    reason = suppression_reason(account=account, email=email)
    if reason in NO_CONFIRMATION_REASONS:
        return FormOutcome.NOTHING
    needs_confirmation = mailing_list.double_opt_in or bool(reason)
    consent: dict[str, Any] = {
        "event": ConsentEvent.GRANTED,
        "source": ConsentSource.WEB_FORM,
        "ip": ip,
        "user_agent": user_agent,
        "purpose_text": consent_text or _notice_text(mailing_list, language),
        "form_url": form_url,
        # The age box was ticked: subscription_form_check refused the post otherwise.
        "proof": proof_with_age_confirmation(
            mailing_list=mailing_list, proof="", how=AgeConfirmedBy.FORM
        ),
    }
    with transaction.atomic():
        subscriber = (
            Subscriber.objects.select_for_update()
            .filter(mailing_list=mailing_list, email=email)
            .first()
        )
        if subscriber is None:
            try:
                with transaction.atomic():
                    subscriber = subscriber_create(
                        mailing_list=mailing_list,
                        email=email,
                        name=name,
                        phone=phone,
                        confirmed=not needs_confirmation,
                        language=language,
                    )
            except IntegrityError:  # a simultaneous post of the same address took it
                return FormOutcome.NOTHING
        elif subscriber.status in CONFIRMABLE_STATUSES:
            # Known and not subscribed: asked to confirm again; its status stays as it is
            # until the e-mailed link is followed (subscription_confirm). Only the language
            # follows the page, so that the e-mail is written in it.
            needs_confirmation = True
            if language and language != subscriber.language:
                subscriber.language = language
                subscriber.save(update_fields=["language", "updated_at"])
        else:
            # Subscribed already, or bounced or complained: nothing, as for a suppressed one.
            return FormOutcome.NOTHING
        consent_record_add(subscriber=subscriber, **consent)
        if needs_confirmation:
            subscriber_request_confirmation(subscriber=subscriber)
            return FormOutcome.CONFIRMATION_REQUESTED
        # Signed up on a single opt-in list: confirmed now.
        subscriber_welcome_request(subscriber_id=subscriber.pk)
    return FormOutcome.SUBSCRIBED
