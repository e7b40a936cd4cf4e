"""Every coded text the apps declare (their texts.py) renders, in English and in Russian, with
its parameters filled and no template syntax left; and the Russian is a translation."""

import re

import pytest
from django.utils import translation

from config.coded_text import coded, defined_codes, render

PARAMETER = re.compile(r"%\((\w+)\)s")
APP_CODES = [code for code in defined_codes() if not code.startswith("tests.")]


def _sample(code: str) -> dict:
    """A value for each parameter the English text names (a count as a number)."""
    from config.coded_text import _TEXTS

    singular, plural = _TEXTS[code]
    names = set(PARAMETER.findall(singular + (plural or "")))
    return {name: 3 if name == "count" else f"<{name}>" for name in names}


def test_the_apps_declare_their_texts():
    prefixes = {code.split(".")[0] for code in APP_CODES}
    assert {"accounts", "lists"} <= prefixes
    assert "accounts.notice.frozen.subject" in APP_CODES
    assert "lists.import.duplicate_row" in APP_CODES
    assert "accounts.dns.spf_missing" in APP_CODES


@pytest.mark.parametrize("code", APP_CODES)
def test_each_code_renders_in_english_and_russian(code):
    params = _sample(code)
    stored = coded(code, **params)
    with translation.override("en"):
        english = render(stored)
    with translation.override("ru"):
        russian = render(stored)
    for text in (english, russian):
        assert "%(" not in text and "…" not in text.replace("(info@, sales@…)", ""), text
        for value in params.values():
            assert str(value) in text, (code, text)
    assert russian != english, f"{code} has no Russian translation"
    assert re.search("[а-яА-ЯёЁ]", russian), russian
