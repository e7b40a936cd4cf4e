"""The "Tags" section of a subscriber's page, as its own include (the page's view need not
know about tags)."""

from django import template

from lists.selectors import subscriber_tag_names

register = template.Library()


@register.inclusion_tag("lists/_subscriber_tags.html", takes_context=True)
def subscriber_tags_section(context, subscriber):
    return {
        "subscriber": subscriber,
        "tags": subscriber_tag_names(subscriber=subscriber),
        "csrf_token": context.get("csrf_token"),
    }
