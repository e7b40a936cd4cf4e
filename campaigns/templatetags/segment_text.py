"""A segment's conditions in words, for the pages that show an audience (the moderators' review
shows the copy the version froze)."""

from django import template

register = template.Library()


@register.filter
def condition_text(condition: dict) -> str:
    from campaigns.segment_views import condition_text as in_words

    return in_words(condition)
