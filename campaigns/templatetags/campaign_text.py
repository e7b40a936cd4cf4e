"""`{% load campaign_text %}{{ campaign.subject|readable_subject }}`: a subject as senders and
moderators read it in lists of campaigns (the index, the moderation queue).

Each merge tag becomes a readable placeholder, "[first name or “Hello”], our cakes are here",
rather than its Jinja source or one sample subscriber's value: a placeholder says the subject is
personalised and with what, which a sample ("Jane, our cakes...") would hide from the moderator,
and it needs no recipient. The review page and the preview still show the source and real
renderings.
"""

from __future__ import annotations

import re

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.merge import MERGE_TAG
from config.i18n import StrOrPromise

register = template.Library()

_FIELD_WORDS = {
    "subscriber.name": gettext_lazy("name"),
    "subscriber.first_name": gettext_lazy("first name"),
    "subscriber.last_name": gettext_lazy("last name"),
    "subscriber.email": gettext_lazy("e-mail address"),
    "subscriber.phone": gettext_lazy("phone"),
    "list.name": gettext_lazy("list name"),
    "company.name": gettext_lazy("company name"),
}
_DEFAULT = re.compile(r"\|\s*(?:default|d)\s*\(\s*(?P<q>['\"])(?P<value>.*?)(?P=q)")


def _placeholder(expression: str) -> str:
    path = re.sub(r"\s+", "", expression.split("|", 1)[0])
    words: StrOrPromise | None = _FIELD_WORDS.get(path)
    if words is None:
        # subscriber.attributes.city -> "city"; anything else by its last name part.
        words = path.rpartition(".")[2].replace("_", " ") or path
    default = _DEFAULT.search(expression)
    if default is not None and default.group("value"):
        return (
            "["
            + _("%(field)s or “%(default)s”")
            % {
                "field": words,
                "default": default.group("value"),
            }
            + "]"
        )
    return f"[{words}]"


@register.filter
def readable_subject(subject: str) -> str:
    """`subject` with each merge tag shown as a readable placeholder (autoescaped as usual)."""
    return MERGE_TAG.sub(lambda match: _placeholder(match.group(1)), subject or "")
