"""`{% load welcome_tags %}{% list_welcome list as welcome %}`: a list's welcome message
(campaigns.welcome) as its page shows it, for the list's page (the lists app may not import
campaigns; its template may ask)."""

from __future__ import annotations

from django import template

from campaigns.models import WelcomeMessage
from campaigns.welcome import welcome_summary

register = template.Library()


@register.simple_tag
def list_welcome(mailing_list) -> dict | None:
    """The welcome's summary (status, live version, figures), or None when the list has none."""
    found = (
        WelcomeMessage.objects.select_related("campaign", "live__approved_version", "account")
        .filter(mailing_list=mailing_list)
        .first()
    )
    return welcome_summary(found) if found is not None else None
