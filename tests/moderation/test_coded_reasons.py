"""Issue 23: analyser findings, verdict and health reasons and the system's audit reasons are
stored as codes and parameters and read in the reader's language."""

import re

import pytest
from django.utils import translation

from config.coded_text import coded, defined_codes, render

# The codes this part of issue 23 declares (moderation/, campaigns/ and complaints/texts.py).
PREFIXES = ("moderation.", "campaigns.verdict.", "campaigns.status.", "complaints.health.")
PARAMETER = re.compile(r"%\((\w+)\)s")


def _sample(code: str) -> dict:
    """Parameters for every placeholder the code's English names (a count where one is used)."""
    from config.coded_text import _TEXTS

    singular, plural = _TEXTS[code]
    names = set(PARAMETER.findall(singular + (plural or "")))
    return {name: 3 if name == "count" else f"<{name}>" for name in names}


OUR_CODES = [code for code in defined_codes() if code.startswith(PREFIXES)]


def test_this_part_declares_its_codes():
    assert len(OUR_CODES) > 40
    assert "moderation.finding.category.dating" in OUR_CODES  # from content_rules.toml


@pytest.mark.parametrize("code", OUR_CODES)
def test_each_code_renders_in_english_and_in_russian(code):
    stored = coded(code, **_sample(code))
    with translation.override("en"):
        english = render(stored)
    with translation.override("ru"):
        russian = render(stored)
    assert "%(" not in english and "%(" not in russian, (english, russian)
    assert english != code and russian != code
    assert russian != english, f"{code} has no Russian: {english!r}"
