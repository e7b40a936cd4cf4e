"""English and Russian: every marked string has a Russian translation, the catalogue Django loads
is the parts merged, and the language follows the user's choice, else the browser's."""

import os
import re

import polib
import pytest
from django.urls import reverse

from config import translations
from tests.factories import UserFactory

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w*\}")


def test_every_marked_string_is_translated():
    if not translations.xgettext_available():
        if os.environ.get("CI"):
            pytest.fail("GNU gettext's xgettext is missing; .ci/run installs the gettext package")
        pytest.skip("xgettext (GNU gettext) is not installed")
    untranslated = translations.missing()
    listing = "\n".join(f"{e.occurrences[0][0]}: {e.msgid!r}" for e in untranslated[:40])
    assert not untranslated, (
        f"{len(untranslated)} strings lack Russian (bin/translations missing):\n{listing}"
    )


@pytest.mark.parametrize("path", sorted(translations.PARTS_DIR.glob("*.po")), ids=lambda p: p.name)
def test_a_translation_keeps_the_placeholders_of_its_original(path):
    for entry in polib.pofile(str(path)):
        originals = {entry.msgid: [entry.msgstr]}
        if entry.msgid_plural:
            originals = {entry.msgid_plural: list(entry.msgstr_plural.values())}
        for original, translated in originals.items():
            expected = sorted(set(PLACEHOLDER.findall(original)))
            for text in translated:
                assert sorted(set(PLACEHOLDER.findall(text))) == expected, (path.name, entry.msgid)


def test_the_catalogue_django_loads_is_the_parts_merged():
    built = translations.build()
    merged = {(e.msgctxt or "", e.msgid) for e in polib.mofile(str(built)) if e.msgid}
    assert merged == set(translations.load_parts())


def test_the_area_of_a_reference():
    assert translations.area_of("templates/lists/list_detail.html:3") == "lists"
    assert translations.area_of("campaigns/forms.py:12") == "campaigns"
    assert translations.area_of("templates/base.html:9") == "shared"
    assert translations.area_of("config/i18n.py:1") == "shared"


@pytest.mark.django_db
def test_a_visitor_gets_the_browsers_language(client):
    page = client.get(reverse("login"), headers={"accept-language": "ru,en;q=0.5"})
    assert page["Content-Language"] == "ru"
    assert '<html lang="ru">' in page.content.decode()
    assert "Регистрация" in page.content.decode()
    english = client.get(reverse("login"), headers={"accept-language": "de,en;q=0.5"})
    assert english["Content-Language"] == "en"
    assert "Sign up" in english.content.decode()


@pytest.mark.django_db
def test_a_visitors_choice_beats_the_browser_and_sets_no_cookie_of_its_own(client):
    response = client.post(reverse("choose_language"), {"language": "ru", "next": "/login/"})
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert "django_language" not in response.cookies
    page = client.get(reverse("login"), headers={"accept-language": "en"})
    assert page["Content-Language"] == "ru"


@pytest.mark.django_db
def test_a_users_choice_is_saved_and_followed_on_every_device(client):
    user = UserFactory()
    client.force_login(user)
    client.post(reverse("choose_language"), {"language": "ru", "next": "/dashboard/"})
    user.refresh_from_db()
    assert user.language == "ru"
    other_device = type(client)()
    other_device.force_login(user)
    page = other_device.get(reverse("dashboard"), headers={"accept-language": "en"})
    assert page["Content-Language"] == "ru"
    assert "Выйти" in page.content.decode()


@pytest.mark.django_db
def test_an_unknown_language_clears_the_choice_and_next_cannot_leave_the_site(client):
    user = UserFactory(language="ru")
    client.force_login(user)
    response = client.post(
        reverse("choose_language"), {"language": "xx", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"
    user.refresh_from_db()
    assert user.language == ""
