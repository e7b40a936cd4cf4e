"""A rendered message as a Django e-mail, for Django's SMTP backend or any django-anymail ESP."""

from __future__ import annotations

from email.headerregistry import Address

from django.core.mail import EmailMultiAlternatives

from campaigns.rendering import RenderedMessage
from config.text import display_name


def from_address(rendered: RenderedMessage) -> str:
    """The From as an e-mail package Address, written out: the display name one line, quoted as
    it needs and never an encoded word in disguise (config.text.display_name), the address
    exactly the sender's (ValueError if it is not one address)."""
    return str(
        Address(display_name=display_name(rendered.from_name), addr_spec=rendered.from_email)
    )


def email_message(rendered: RenderedMessage, *, connection=None) -> EmailMultiAlternatives:
    """The message with its text and HTML parts and every compliance header.

    With a VERP return path the envelope sender is that address and the From header the sender's
    (Django's SMTP backend and anymail both read an explicit From header this way). anymail's
    `metadata` carries the message reference to ESPs, which echo it in their webhook events.
    """
    headers = dict(rendered.headers)
    sender = from_address(rendered)
    if rendered.return_path:
        headers["From"] = sender
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=rendered.return_path or sender,
        to=[str(Address(addr_spec=rendered.to))],
        reply_to=[str(Address(addr_spec=rendered.reply_to))] if rendered.reply_to else None,
        headers=headers,
        connection=connection,
    )
    message.attach_alternative(rendered.html, "text/html")
    # anymail's ESP-neutral metadata (on Django's message class, which the stubs know alone).
    message.metadata = {"message_ref": rendered.message_ref}  # type: ignore[attr-defined]
    return message
