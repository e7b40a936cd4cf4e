"""The recipient's pages (unsubscribe, report spam, abuse) in the recipient's language and the
sender's branding, and the sender's complaints and lists pages in Russian; English unchanged."""

import re

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from complaints.models import FeedbackEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

RU = {"accept-language": "ru-RU,ru;q=0.9,en;q=0.5"}
EN = {"accept-language": "en-GB,en;q=0.8"}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    cache.clear()


def _text(response) -> str:
    """The page's text without tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def test_the_unsubscribe_page_speaks_the_browsers_language(client, tokens, subscriber):
    url = f"/u/{tokens.unsubscribe()}/"
    company = subscriber.mailing_list.account.company_name

    russian = client.get(url, headers=RU)
    english = client.get(url, headers=EN)

    assert russian["Content-Language"] == "ru"
    assert '<html lang="ru">' in russian.content.decode()
    assert (
        f"Больше не получать «Monthly news» от {company} на адрес "
        "<strong>ann.lee@example.org</strong>?"
    ) in russian.content.decode()
    assert '<button type="submit" id="unsubscribe-button">Отписаться</button>' in (
        russian.content.decode()
    )
    assert f"Отправлено {company} через ConsentMail" in _text(russian)
    assert english["Content-Language"] == "en"
    assert (
        f"Stop receiving “Monthly news” from {company} at <strong>ann.lee@example.org</strong>?"
    ) in english.content.decode()
    assert f"Sent by {company} via ConsentMail" in _text(english)


def test_unsubscribing_in_russian_says_so_in_russian(client, tokens, subscriber):
    url = f"/u/{tokens.unsubscribe()}/"
    response = client.post(url, headers=RU, follow=True)

    subscriber.refresh_from_db()
    assert subscriber.status == "unsubscribed"
    text = _text(response)
    assert "Вы отписались" in text
    assert "Ваш адрес внесён в стоп-лист отправителя" in text
    assert "внесён в стоп-лист меньше чем за секунду" in text
    assert re.search(r"Обработано \d+ [а-я]+ \d{4}, \d\d:\d\d UTC", text)  # a Russian month


def test_the_report_page_in_russian_records_the_complaint(client, tokens, subscriber):
    url = f"/r/{tokens.report()}/"
    page = client.get(url, headers=RU)
    assert "Пожаловаться на это письмо как на спам" in _text(page)
    assert 'placeholder="Например: никакой подписки не было."' in page.content.decode()

    done = client.post(url, {"comment": "Не подписывался."}, headers=RU, follow=True)

    assert "Спасибо: ваша жалоба записана" in _text(done)
    assert FeedbackEvent.objects.get(kind="complained").comment == "Не подписывался."


def test_the_abuse_form_in_russian_with_its_errors(client):
    page = client.get(reverse("abuse"), headers=RU)
    text = _text(page)
    assert "Сообщить о спаме, отправленном через этот сервис" in text
    assert "Ваш адрес электронной почты (обязательно)" in text
    assert '<p class="sender" id="sender-name">ConsentMail</p>' in page.content.decode()

    refused = client.post(reverse("abuse"), {"reporter_email": "a@example.net"}, headers=RU)

    assert refused.status_code == 400
    assert "Вставьте заголовки или текст письма либо опишите, что вы получили." in (_text(refused))


def test_a_test_messages_banner_is_translated(client, delivery):
    from campaigns.tokens import MessageTokens

    test_tokens = MessageTokens(
        campaign_id=delivery.campaign_id, subscriber_id=delivery.subscriber_id, is_test=True
    )
    page = client.get(f"/u/{test_tokens.unsubscribe()}/", headers=RU)
    assert "Эта ссылка из тестового письма" in _text(page)


def test_the_recipients_choice_of_language_beats_the_browser_without_a_cookie_of_its_own(
    client, tokens
):
    url = f"/u/{tokens.unsubscribe()}/"
    page = client.get(url, headers=EN).content.decode()
    switcher = re.search(r'<form class="language".*?</form>', page, re.S).group(0)
    assert f'name="next" value="{url}"' in switcher

    chosen = client.post(reverse("choose_language"), {"language": "ru", "next": url}, headers=EN)

    assert chosen["Location"] == url
    assert "django_language" not in chosen.cookies
    assert client.get(url, headers=EN)["Content-Language"] == "ru"


def test_the_recipient_pages_show_the_senders_logo(client, tokens, account):
    account.logo.save(
        "fedcba9876543210fedcba9876543210",
        SimpleUploadedFile("x", b"GIF89a" + b"\x00" * 20),
        save=False,
    )
    account.logo_content_type = "image/gif"
    account.save()

    for url in (f"/u/{tokens.unsubscribe()}/", f"/r/{tokens.report()}/"):
        body = client.get(url).content.decode()
        assert (
            f'<img class="brand-logo" id="brand-logo" src="{account.logo_url}" '
            f'alt="{account.company_name}">'
        ) in body
    assert client.get(account.logo_url)["Content-Type"] == "image/gif"


def test_the_senders_complaints_page_in_russian(client, user, tokens):
    client.post(f"/u/{tokens.unsubscribe()}/")
    user.language = "ru"
    user.save(update_fields=["language"])
    client.force_login(user)

    text = _text(client.get(reverse("feedback")))

    assert "Отписки и жалобы" in text
    assert "Обработанные отписки" in text
    assert "Страница отписки" in text  # the channel, a model choice
    assert "Время до внесения в стоп-лист" in text


def test_the_senders_list_pages_in_russian_and_english(client):
    user = UserFactory(language="ru")
    client.force_login(user)
    russian = _text(client.get(reverse("lists")))
    assert "Списков пока нет" in russian and "Стоп-лист" in russian

    user.language = "en"
    user.save(update_fields=["language"])
    english = _text(client.get(reverse("lists")))
    assert "No lists yet" in english and "Suppression list" in english
