"""The subscription form and double opt-in: only the click on the e-mailed link subscribes."""

from __future__ import annotations

import enum
from datetime import timedelta

from django.conf import settings
from django.core import signing
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
from lists.models import (
    ConsentEvent,
    ConsentSource,
    MailingList,
    Subscriber,
    SubscriberStatus,
)
from lists.services.consent import consent_record_add
from lists.services.subscribers import subscriber_create, subscriber_emit_event
from lists.services.suppression import suppression_lift, suppression_reason

CONFIRM_SALT = "lists.subscribe-confirm"


class FormOutcome(enum.Enum):
    CONFIRMATION_SENT = "confirmation_sent"
    SUBSCRIBED = "subscribed"


def subscription_confirm_token(subscriber: Subscriber) -> str:
    """A signed, expiring token naming the subscriber and the address it confirms."""
    return signing.dumps({"s": subscriber.pk, "e": subscriber.email}, salt=CONFIRM_SALT)


def subscriber_request_confirmation(*, subscriber: Subscriber) -> None:
    """Enqueue (after commit) the double opt-in e-mail for an unconfirmed subscriber."""
    from lists.tasks import send_confirmation_email

    subscriber_id = subscriber.pk
    transaction.on_commit(lambda: send_confirmation_email.delay(subscriber_id))


def subscriber_send_confirmation(*, subscriber_id: int) -> bool:
    """Send the confirmation link, at most once per CONFIRMATION_RESEND_SECONDS per address (the
    form must not become a way to flood someone's inbox). A no-op for a gone or no longer
    unconfirmed subscriber. Claims the send with a conditional update, so two workers never
    both send; a failed send gives the claim back for the retry."""
    now = timezone.now()
    recently = now - timedelta(seconds=settings.CONFIRMATION_RESEND_SECONDS)
    claimed = (
        Subscriber.objects.filter(pk=subscriber_id, status=SubscriberStatus.UNCONFIRMED)
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
    the site's default."""
    languages = dict(settings.LANGUAGES)
    return subscriber.language if subscriber.language in languages else settings.LANGUAGE_CODE


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
        subject=subject,
        body=text,
        # The sender's name, our sending address (aligned for DMARC), replies to the sender.
        from_email=f'"{account.company_name}" <{_address_of(settings.DEFAULT_FROM_EMAIL)}>',
        to=[subscriber.email],
        reply_to=[owner.email] if owner else None,
        headers={"Content-Language": language},
    )
    message.attach_alternative(html, "text/html")
    message.send()


def _address_of(value: str) -> str:
    from email.utils import parseaddr

    return parseaddr(value)[1]


INVALID_CONFIRM_LINK = gettext_lazy("This confirmation link is invalid or has expired.")


def subscriber_for_confirm_token(token: str) -> Subscriber:
    """The subscriber a confirmation token names, or NotFound (bad, expired, gone)."""
    try:
        payload = signing.loads(
            token, salt=CONFIRM_SALT, max_age=settings.SUBSCRIBE_CONFIRM_MAX_AGE
        )
    except signing.BadSignature as exc:
        raise NotFound(INVALID_CONFIRM_LINK) from exc
    subscriber = (
        Subscriber.objects.select_related("mailing_list__account")
        .filter(pk=payload.get("s"), email=payload.get("e"))
        .first()
    )
    if subscriber is None:
        raise NotFound(INVALID_CONFIRM_LINK)
    return subscriber


def subscription_confirm(*, token: str, ip: str | None, user_agent: str = "") -> Subscriber:
    """Subscribe the person who clicked the e-mailed link, recording the IP and time.

    Idempotent (a second click changes nothing). The click is the person's own new consent, so
    it lifts a suppression of the address. Raises NotFound for a bad, expired or stale token.
    """
    found = subscriber_for_confirm_token(token)
    with transaction.atomic():
        subscriber = (
            Subscriber.objects.select_for_update(of=("self",))
            .select_related("mailing_list__account")
            .get(pk=found.pk)
        )
        if subscriber.status == SubscriberStatus.SUBSCRIBED:
            return subscriber
        if subscriber.status != SubscriberStatus.UNCONFIRMED:
            # Unsubscribed after asking: an old link must not bring them back.
            raise NotFound(INVALID_CONFIRM_LINK)
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
            previous_status=SubscriberStatus.UNCONFIRMED,
            channel="confirmation_link",
        )
    return subscriber


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
) -> FormOutcome:
    """Take a sign-up from the hosted or embedded form.

    Needs the separate consent checkbox ticked, and the age confirmation for adult lists. With
    double opt-in, or when the address is suppressed, the subscriber stays unconfirmed until
    the e-mailed link is clicked. The outcome never reveals whether the address was known.
    `language` is the page's: the confirmation e-mail is written in it.
    """
    if not consent_given:
        raise ApplicationError(
            _("Tick the box to agree to receive these e-mails."), field="consent"
        )
    if mailing_list.adult_content and not adult_confirmed:
        raise ApplicationError(_("This list is for adults only: confirm your age."), field="adult")
    language = language if language in dict(settings.LANGUAGES) else ""
    email = normalise_address(email)
    account = mailing_list.account
    needs_confirmation = mailing_list.double_opt_in or bool(
        suppression_reason(account=account, email=email)
    )
    consent = {
        "event": ConsentEvent.GRANTED,
        "source": ConsentSource.WEB_FORM,
        "ip": ip,
        "user_agent": user_agent,
        "purpose_text": mailing_list.purpose,
        "form_url": form_url,
    }
    with transaction.atomic():
        subscriber = (
            Subscriber.objects.select_for_update()
            .filter(mailing_list=mailing_list, email=email)
            .first()
        )
        if subscriber is not None and subscriber.status == SubscriberStatus.SUBSCRIBED:
            # Answer as for a new address, so the form cannot tell who is on the list.
            return (
                FormOutcome.CONFIRMATION_SENT
                if mailing_list.double_opt_in
                else FormOutcome.SUBSCRIBED
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
            except IntegrityError:  # a simultaneous post of the same address
                return (
                    FormOutcome.CONFIRMATION_SENT if needs_confirmation else FormOutcome.SUBSCRIBED
                )
        else:
            # Known but not subscribed (unconfirmed or unsubscribed): they must confirm again.
            needs_confirmation = True
            subscriber.status = SubscriberStatus.UNCONFIRMED
            subscriber.language = language or subscriber.language
            subscriber.save(update_fields=["status", "language", "updated_at"])
        consent_record_add(subscriber=subscriber, **consent)
        if needs_confirmation:
            subscriber_request_confirmation(subscriber=subscriber)
            return FormOutcome.CONFIRMATION_SENT
    return FormOutcome.SUBSCRIBED
