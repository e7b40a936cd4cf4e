"""The accounts pages and the e-mails to senders in Russian: the page follows the language (the
user's, else the browser's), the e-mails the user's saved language (set at sign-up, changed on
the profile page), and English stays as it was."""

import re
from html import unescape

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Notification, User
from accounts.services import notification_send_email, user_send_verification_email
from tests.factories import AccountFactory, SenderDomainFactory, UserFactory

pytestmark = pytest.mark.django_db

RU = {"accept-language": "ru"}
SIGN_UP = {
    "company_name": "Пекарня",
    "contact_name": "Анна",
    "email": "anna@example.com",
    "phone": "+7 495 000-00-00",
    "postal_address": "Москва, ул. Тверская, 1",
    "password": "a-long-unusual-passphrase",
    "accept_terms": "on",
    "accept_privacy": "on",
}


def _said(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


@pytest.mark.parametrize(
    ("name", "russian", "english"),
    [
        ("login", "Забыли пароль?", "Forgot your password?"),
        ("signup", "Название компании или бренда", "Create your account"),
        ("password_reset", "Прислать ссылку для сброса", "Send me a reset link"),
    ],
)
def test_public_account_pages_follow_the_browser(client, name, russian, english):
    assert russian in _said(client.get(reverse(name), headers=RU))
    said = _said(client.get(reverse(name)))
    assert english in said and russian not in said


@pytest.mark.parametrize(
    ("name", "russian"),
    [
        ("profile", "Данные компании"),
        ("api_tokens", "Ваши токены"),
        ("sender_domains", "Писать и тестировать рассылки можно с любого адреса"),
        ("webhooks", "Вебхуков пока нет."),
        ("notifications", "Уведомлений пока нет"),
        ("password_change", "Сменить пароль"),
    ],
)
def test_signed_in_pages_in_russian(client, user, name, russian):
    client.force_login(user)
    assert russian in _said(client.get(reverse(name), headers=RU))


def test_a_sender_domain_page_and_its_messages_in_russian(client, user):
    client.force_login(user)
    domain = SenderDomainFactory(account=user.account, domain="news.example.com")
    said = _said(client.get(reverse("sender_domain", args=[domain.pk]), headers=RU))
    assert "Записи для публикации" in said
    assert "Ключ DKIM (мы подписываем им)" in said
    assert "не проверено" in said

    response = client.post(reverse("sender_domains"), {"domain": "https://bad"}, headers=RU)
    assert "Введите только имя домена, например example.com." in _said(response)
    response = client.post(reverse("sender_domains"), {"domain": "news.example.com"}, headers=RU)
    assert "news.example.com уже есть среди ваших доменов отправителя." in _said(response)


def test_sign_up_in_russian_keeps_the_language_and_writes_the_link_in_it(
    client, django_capture_on_commit_callbacks
):
    form = client.get(reverse("signup"), headers=RU)
    assert "Я принимаю политику конфиденциальности" in _said(form)
    refused = client.post(reverse("signup"), SIGN_UP | {"accept_terms": ""}, headers=RU)
    assert "Нужно принять условия обслуживания." in _said(refused)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("signup"), SIGN_UP, headers=RU)

    assert response.status_code == 302
    user = User.objects.get(email="anna@example.com")
    assert user.language == "ru"
    (message,) = mail.outbox
    assert message.subject == "Подтвердите адрес электронной почты для ConsentMail"
    assert message.body.startswith("Здравствуйте, Анна!")
    assert "/verify/" in message.body
    html = message.alternatives[0][0]
    assert "Подтвердить мой адрес" in html
    # The welcome on the next page is Russian too, whatever the browser says next.
    dashboard = client.get(reverse("dashboard"), headers={"accept-language": "en"})
    assert "Добро пожаловать! Мы отправили ссылку для подтверждения на anna@example.com." in _said(
        dashboard
    )


def test_the_verification_mail_of_a_user_without_a_language_is_english_unless_asked_in_another():
    user = UserFactory(email_verified_at=None, first_name="O'Brien")
    user_send_verification_email(user_id=user.pk)
    user_send_verification_email(user_id=user.pk, language="ru")

    english, russian = mail.outbox
    assert english.subject == "Confirm your e-mail address for ConsentMail"
    # Plain text is not HTML: the apostrophe stays an apostrophe.
    assert english.body.startswith("Hello O'Brien,\n\nplease confirm that ")
    assert russian.subject.startswith("Подтвердите адрес")


def test_the_password_reset_mail_is_in_the_users_language(client):
    UserFactory(email="ru@example.com", language="ru")
    UserFactory(email="en@example.com")

    client.post(reverse("password_reset"), {"email": "ru@example.com"})
    client.post(reverse("password_reset"), {"email": "en@example.com"}, headers=RU)

    russian, from_russian_page = mail.outbox
    assert russian.to == ["ru@example.com"]
    assert russian.subject == "Сброс пароля ConsentMail"
    assert "кто-то попросил сбросить пароль аккаунта ru@example.com" in russian.body
    # A user with no language of their own gets the language of the page that asked.
    assert from_russian_page.to == ["en@example.com"]
    assert from_russian_page.subject == "Сброс пароля ConsentMail"
    assert "/password-reset/" in from_russian_page.body


def test_a_notification_goes_out_once_per_language(settings):
    account = AccountFactory()
    UserFactory(account=account, email="a@example.com", language="ru")
    UserFactory(account=account, email="b@example.com")
    UserFactory(account=account, email="c@example.com", language="en")
    UserFactory(account=account, email="unverified@example.com", email_verified_at=None)
    notification = Notification.objects.create(
        account=account,
        subject="“Spring” was rejected",
        body="The moderator's reason: Say what you sell.",
        link="/campaigns/1/",
    )

    assert notification_send_email(notification_id=notification.pk) == 3
    assert notification_send_email(notification_id=notification.pk) == 0  # once

    by_recipients = {tuple(sorted(m.to)): m for m in mail.outbox}
    assert set(by_recipients) == {("a@example.com",), ("b@example.com", "c@example.com")}
    russian = by_recipients[("a@example.com",)].body
    english = by_recipients[("b@example.com", "c@example.com")].body
    assert f"Все ваши уведомления: {settings.SITE_URL}/notifications/" in russian
    assert f"All your notifications: {settings.SITE_URL}/notifications/" in english
    # The notifier's words as written; a plain-text mail does not escape them.
    assert "The moderator's reason: Say what you sell." in english
    assert by_recipients[("a@example.com",)].subject == "[ConsentMail] “Spring” was rejected"


def test_the_profile_page_saves_the_users_language(client, user):
    client.force_login(user)
    page = client.get(reverse("profile"))
    said = _said(page)
    assert "Language The one your browser asks for English Русский" in said
    assert 'action="/language/"' in page.content.decode()

    response = client.post(
        reverse("choose_language"), {"language": "ru", "next": "/account/profile/"}
    )
    assert response["Location"] == "/account/profile/"
    user.refresh_from_db()
    assert user.language == "ru"
    page = client.get(reverse("profile"), headers={"accept-language": "en"})
    assert '<option value="ru" selected>Русский</option>' in page.content.decode()
    assert "Сохранить язык" in _said(page)

    client.post(reverse("choose_language"), {"language": "", "next": "/account/profile/"})
    user.refresh_from_db()
    assert user.language == ""


def test_messages_after_an_action_are_in_the_language(client, user):
    client.force_login(user)
    response = client.post(reverse("api_tokens"), {"name": "CRM sync"}, headers=RU, follow=True)
    assert "Токен «CRM sync» создан." in _said(response)
    token = user.api_tokens.get()
    response = client.post(reverse("api_token_revoke", args=[token.pk]), headers=RU, follow=True)
    assert "Токен «CRM sync» отозван." in _said(response)
    assert "отозван" in _said(response)


@pytest.mark.parametrize("unread", [1, 3, 5, 21])
def test_the_unread_badge_in_russian_counts_with_the_right_plural(client, user, unread):
    # The count is lazy (only pages that show the nav count); Russian's plural formula takes
    # n % 10 of it, which a plain lazy object could not do.
    for n in range(unread):
        Notification.objects.create(account=user.account, subject=f"Notice {n}")
    client.force_login(user)

    response = client.get(reverse("dashboard"), headers=RU)

    assert response.status_code == 200
    expected = {1: "(1 непрочитанное)", 3: "(3 непрочитанных)", 5: "(5 непрочитанных)"}
    expected[21] = "(21 непрочитанное)"
    assert expected[unread] in _said(response)
