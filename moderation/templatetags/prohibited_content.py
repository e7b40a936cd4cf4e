"""The prohibited content the analyser flags, as the terms page (templates/legal/terms.html)
names it.

The page is the accounts app's, which does not import moderation; it loads this library instead,
so the list it shows is the analyser's own and the two never drift."""

from django import template
from django.utils.translation import gettext

from moderation.analyser import prohibited_categories

register = template.Library()


@register.inclusion_tag("moderation/_prohibited_content.html")
def prohibited_content() -> dict:
    """Every category the analyser knows, its label in the active language."""
    # The labels are data (rules/content_rules.toml), so makemessages cannot see them: their
    # Russian is kept by hand in locale/parts/moderation.po, and a test holds each one translated.
    return {
        "categories": [
            {"code": category.code, "label": gettext(category.label)}
            for category in prohibited_categories()
        ]
    }
