"""`{% load coded_text %}{{ finding.reason|coded }}`: a stored coded text (config.coded_text) in the
reader's language; a plain string shows as it is."""

from __future__ import annotations

from django import template

from config.coded_text import render

register = template.Library()


@register.filter(name="coded")
def coded(value) -> str:
    return render(value)
