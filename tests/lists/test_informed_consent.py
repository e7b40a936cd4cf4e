"""Informed consent (issue 25): the hosted and embedded form say who sends, what for, the
person's rights, how the address is stored and used, and link the sender's privacy policy; the
consent record stores exactly the text shown; every list needs a privacy policy link."""

from html import unescape

import pytest
from django.utils import translation

from lists.models import ConsentRecord, MailingList, Subscriber
from lists.services.consent import form_notice
from lists.views import embed_snippet
from tests.factories import AccountFactory
from tests.lists.factories import MailingListFactory

pytestmark = pytest.mark.django_db

PURPOSE = "Seasonal garden tips."
POLICY = "https://garden.example.org/privacy"

ENGLISH_NOTICE = "\n".join(
    [
        "What you will receive: Seasonal garden tips.",
        "Sender: Green Thumb Ltd, 12 Garden Row, Leeds LS1 4AB.",
        "You can withdraw your consent at any time with the unsubscribe link in every message, "
        "and ask Green Thumb Ltd for access to your data or for its erasure.",
        "Green Thumb Ltd stores your e-mail address and the details you give here, and uses them "
        "for automated bulk mailing of “Garden notes”.",
        "Privacy policy of Green Thumb Ltd: https://garden.example.org/privacy",
        "[x] I agree to receive “Garden notes” from Green Thumb Ltd.",
        "We will e-mail you a link to confirm.",
    ]
)


@pytest.fixture
def garden():
    account = AccountFactory(
        company_name="Green Thumb Ltd", postal_address="12 Garden Row\nLeeds LS1 4AB"
    )
    return MailingListFactory(
        account=account, name="Garden notes", purpose=PURPOSE, privacy_policy_url=POLICY
    )


def _post(client, mailing_list, language, **fields):
    return client.post(
        f"/subscribe/{mailing_list.public_id}/",
        {"email": "reader@example.org", "consent": "on", **fields},
        REMOTE_ADDR="198.51.100.23",
        HTTP_ACCEPT_LANGUAGE=language,
    )


def test_the_hosted_form_shows_purpose_sender_rights_storage_and_the_privacy_link(client, garden):
    page = client.get(f"/subscribe/{garden.public_id}/", HTTP_ACCEPT_LANGUAGE="en")

    text = unescape(page.text)
    assert page.status_code == 200
    for line in ENGLISH_NOTICE.replace("[x] ", "").split("\n"):
        assert line in text, line
    assert f'href="{POLICY}"' in page.text


def test_the_consent_record_stores_exactly_the_text_shown(
    client, garden, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, garden, "en")

    assert response.status_code == 302
    granted = ConsentRecord.objects.get(subscriber__email="reader@example.org")
    assert granted.purpose_text == ENGLISH_NOTICE
    assert granted.proof == ""  # not an adult list: no age line
    with translation.override("en"):
        assert form_notice(garden).text() == ENGLISH_NOTICE


def test_the_form_in_russian_shows_and_stores_the_russian_text(
    client, garden, django_capture_on_commit_callbacks
):
    page = client.get(f"/subscribe/{garden.public_id}/", HTTP_ACCEPT_LANGUAGE="ru")
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, garden, "ru")

    with translation.override("ru"):
        russian = form_notice(garden)
    stored = ConsentRecord.objects.get().purpose_text
    assert stored == russian.text()
    assert "Вы можете в любой момент отозвать согласие" in stored
    assert "автоматической массовой рассылки" in stored
    assert "Политика конфиденциальности Green Thumb Ltd: " + POLICY in stored
    text = unescape(page.text)
    for line in (russian.sender, russian.rights, russian.storage, russian.privacy):
        assert line in text


def test_the_embedded_snippet_shows_the_same_notice(garden):
    with translation.override("en"):
        snippet = unescape(embed_snippet(garden))
        notice = form_notice(garden)

    for line in (notice.purpose, notice.sender, notice.rights, notice.storage, notice.privacy):
        assert line in snippet
    assert f'<a href="{POLICY}">' in snippet
    assert notice.agreement in snippet


def test_a_list_without_a_privacy_link_says_so_on_its_form_and_to_its_sender(client, user):
    legacy = MailingListFactory(account=user.account, name="Old list", privacy_policy_url="")
    page = client.get(f"/subscribe/{legacy.public_id}/", HTTP_ACCEPT_LANGUAGE="en")

    company = legacy.account.company_name
    assert (
        f"{company} has not yet given a link to its privacy policy for this list; ask them for "
        "it before you subscribe."
    ) in unescape(page.text)
    assert "Privacy policy of" not in unescape(page.text)
    client.force_login(user)
    detail = client.get(f"/lists/{legacy.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert 'id="privacy-policy-missing"' in detail.text
    with_link = MailingListFactory(account=user.account, name="New list")
    assert 'id="privacy-policy-missing"' not in client.get(f"/lists/{with_link.pk}/").text


def test_the_api_refuses_a_list_without_a_privacy_policy_link(token_client):
    response = token_client.post(
        "/api/v1/lists/", {"name": "News", "purpose": "Monthly news."}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "privacy_policy_url": [
            "Give the address of your privacy policy: the subscription form links to it."
        ]
    }
    assert not MailingList.objects.exists()


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://example.org/p", "not a url"])
def test_the_api_refuses_a_privacy_link_that_is_not_a_web_address(token_client, url):
    response = token_client.post(
        "/api/v1/lists/",
        {"name": "News", "purpose": "Monthly news.", "privacy_policy_url": url},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "privacy_policy_url": [
            "Enter the full address of your privacy policy, starting with https://."
        ]
    }
    assert not MailingList.objects.exists()


def test_the_api_creates_a_list_with_its_privacy_link(token_client):
    response = token_client.post(
        "/api/v1/lists/",
        {"name": "News", "purpose": "Monthly news.", "privacy_policy_url": POLICY},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["privacy_policy_url"] == POLICY
    assert MailingList.objects.get().privacy_policy_url == POLICY


def test_changing_a_list_without_a_link_asks_for_one(token_client):
    legacy = MailingListFactory(account=token_client.user.account, privacy_policy_url="")

    refused = token_client.patch(
        f"/api/v1/lists/{legacy.pk}/", {"track_opens": False}, format="json"
    )
    assert refused.status_code == 400
    assert list(refused.json()) == ["privacy_policy_url"]
    legacy.refresh_from_db()
    assert legacy.track_opens is True

    done = token_client.patch(
        f"/api/v1/lists/{legacy.pk}/",
        {"track_opens": False, "privacy_policy_url": POLICY},
        format="json",
    )
    assert done.status_code == 200
    legacy.refresh_from_db()
    assert (legacy.track_opens, legacy.privacy_policy_url) == (False, POLICY)


def test_the_browser_requires_the_privacy_link_to_create_a_list(client, user):
    client.force_login(user)

    page = client.post(
        "/lists/new/", {"name": "News", "purpose": "Monthly news."}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert page.status_code == 200
    assert "Give the address of your privacy policy: the subscription form links to it." in (
        unescape(page.text)
    )
    assert not MailingList.objects.exists()

    created = client.post(
        "/lists/new/",
        {"name": "News", "purpose": "Monthly news.", "privacy_policy_url": POLICY},
    )
    assert created.status_code == 302
    assert MailingList.objects.get().privacy_policy_url == POLICY


def test_the_browser_edit_of_an_old_list_requires_the_link(client, user):
    legacy = MailingListFactory(account=user.account, name="Old", privacy_policy_url="")
    client.force_login(user)

    page = client.post(
        f"/lists/{legacy.pk}/edit/",
        {"name": "Old", "purpose": "Renamed purpose."},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert page.status_code == 200
    assert "Give the address of your privacy policy" in unescape(page.text)
    legacy.refresh_from_db()
    assert legacy.purpose == "A monthly letter about our new products and events."
    assert not Subscriber.objects.exists()


def test_a_post_from_the_snippet_stores_the_text_in_the_snippets_language(
    client, garden, django_capture_on_commit_callbacks
):
    garden.language = "ru"  # the snippet speaks its list's language, not the sender's
    garden.save()
    with translation.override("en"):
        snippet = embed_snippet(garden)
    with translation.override("ru"):
        russian = form_notice(garden).text()
    assert '<input type="hidden" name="lang" value="ru">' in snippet

    # The visitor's browser asks for English; the snippet they read was in Russian.
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, garden, "en", lang="ru")

    assert response.status_code == 302
    assert ConsentRecord.objects.get().purpose_text == russian


def test_an_unknown_snippet_language_stores_the_pages_text(
    client, garden, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, garden, "en", lang="xx")

    assert ConsentRecord.objects.get().purpose_text == ENGLISH_NOTICE
