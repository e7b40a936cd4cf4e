"""Template helpers for enforcement: where an account stands with its appeal (the sender's frozen
banner shows the deadline), and percentages for the moderators' health panel."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy

from accounts.models import Account
from config.coded_text import coded, is_defined, render
from config.numbers import percent
from moderation.selectors import AppealState, appeal_state_for

register = template.Library()


@register.simple_tag
def appeal_state(account: Account | None) -> AppealState | None:
    """{% appeal_state account as appeal %}: deadline, the appeal of this freeze, whether one
    may be filed now (None without an account)."""
    if account is None:
        return None
    return appeal_state_for(account=account)


@register.filter
def as_percent(rate) -> str:
    """0.0123 -> "1.2%", 0.0042 -> "0.42%": a rate as the project writes one (config.numbers),
    in the language's decimal separator; "" for what is not a number."""
    try:
        return percent(float(rate))
    except (TypeError, ValueError):
        return ""


# A probe's verdict tiers (campaigns.verdict.Tier) as moderators read them.
TIER_LABELS = {
    "green": gettext_lazy("Green"),
    "amber": gettext_lazy("Amber"),
    "review": gettext_lazy("Review"),
}


@register.filter
def tier_label(tier) -> str:
    """A verdict tier's label in the reader's language ("green" -> "Green")."""
    label = TIER_LABELS.get(str(tier or ""))
    return str(label) if label is not None else str(tier or "").capitalize()


# Where the analyser found something (moderation.analyser's `where`), as a whole phrase so each
# language can inflect it.
WHERE_LABELS = {
    "subject": gettext_lazy("In the subject"),
    "body": gettext_lazy("In the body"),
    "sender": gettext_lazy("In the sender"),
    "links": gettext_lazy("In the links"),
    "lists": gettext_lazy("In the lists"),
}


@register.filter
def finding_where(where) -> str:
    """ "subject" -> "In the subject", in the reader's language."""
    label = WHERE_LABELS.get(str(where or ""))
    return str(label) if label is not None else f"In the {where}"


@register.filter
def rule_label(rule: str) -> str:
    """A verdict's rule ("complaints_limit") as readers name it, in the active language; never
    the code (campaigns/texts.py)."""
    code = f"campaigns.verdict.rule.{rule}"
    return render(coded(code)) if is_defined(code) else str(rule).replace("_", " ")
