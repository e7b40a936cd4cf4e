"""The terms page names every prohibited category the content analyser knows, in English and in
Russian, generated from the analyser's own list (moderation.analyser.prohibited_categories)."""

import re
from html import unescape

import pytest
from django.urls import reverse
from django.utils import translation

from campaigns.findings import Severity
from moderation.analyser import ProhibitedCategory, prohibited_categories
from moderation.templatetags import prohibited_content

pytestmark = pytest.mark.django_db

ITEM = re.compile(r'<li data-code="([^"]+)">([^<]*)</li>')
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)


def _terms(client, language):
    page = client.get(reverse("terms"), headers={"accept-language": language})
    assert page.status_code == 200
    assert page["Content-Language"] == language
    return page.content.decode()


def _listed(html):
    """The (code, label) items of the page's list of prohibited content, as a reader sees them."""
    [listing] = re.findall(r'<ul id="prohibited-categories">(.*?)</ul>', html, re.DOTALL)
    return [(code, unescape(label)) for code, label in ITEM.findall(listing)]


def test_the_terms_page_names_every_category_in_english(client):
    html = _terms(client, "en")

    assert _listed(html) == [(c.code, c.label) for c in prohibited_categories()]
    assert "<h2" in html and ">Prohibited content</h2>" in html
    assert ("category.rental", "Rental services: flats, cars, equipment") in _listed(html)
    assert ("link.malware", "Links to malware, phishing or programs to download") in _listed(html)


def test_the_terms_page_names_every_category_in_russian(client):
    listed = _listed(_terms(client, "ru"))

    with translation.override("ru"):
        expected = [(c.code, translation.gettext(c.label)) for c in prohibited_categories()]
    assert listed == expected
    untranslated = [
        label
        for (_code, label), category in zip(listed, prohibited_categories(), strict=True)
        if label == category.label or not CYRILLIC.search(label)
    ]
    assert untranslated == []
    assert ("category.message_boards", "Доски объявлений") in listed
    assert ">Запрещённое содержание</h2>" in _terms(client, "ru")


def test_a_category_the_analyser_learns_appears_on_the_terms_page(client, monkeypatch):
    learned = ProhibitedCategory("category.example", "Selling example widgets", Severity.REVIEW)
    monkeypatch.setattr(
        prohibited_content,
        "prohibited_categories",
        lambda: (*prohibited_categories(), learned),
    )

    listed = _listed(_terms(client, "en"))

    assert listed[-1] == ("category.example", "Selling example widgets")
    assert len(listed) == len(prohibited_categories()) + 1
