"""A rendered message as a Django e-mail, for Django's SMTP backend or any django-anymail ESP."""

from __future__ import annotations

from django.core.mail import EmailMultiAlternatives

from campaigns.rendering import RenderedMessage


def email_message(rendered: RenderedMessage, *, connection=None) -> EmailMultiAlternatives:
    """The message with its text and HTML parts and every compliance header.

    With a VERP return path the envelope sender is that address and the From header the sender's
    (Django's SMTP backend and anymail both read an explicit From header this way). anymail's
    `metadata` carries the message reference to ESPs, which echo it in their webhook events.
    """
    headers = dict(rendered.headers)
    if rendered.return_path:
        headers["From"] = rendered.from_header
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=rendered.return_path or rendered.from_header,
        to=[rendered.to],
        reply_to=[rendered.reply_to] if rendered.reply_to else None,
        headers=headers,
        connection=connection,
    )
    message.attach_alternative(rendered.html, "text/html")
    message.metadata = {"message_ref": rendered.message_ref}
    return message
