"""Every sender page of lists renders in Russian for a user who chose it (no template error, the
key words translated, plurals by Russian rules), and the import page hands its script the
translated words; English stays the default."""

import re

import pytest
from django.urls import reverse

from lists.models import ImportJob, ImportStatus
from lists.services.suppression import suppression_add
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


@pytest.fixture
def russian(client):
    user = UserFactory(language="ru")
    client.force_login(user)
    mailing_list = MailingListFactory(
        account=user.account, name="Новости", adult_content=True, language="ru"
    )
    subscribers = [SubscriberFactory(mailing_list=mailing_list) for _ in range(3)]
    suppression_add(account=user.account, email="gone@example.org", reason="unsubscribed")
    job = ImportJob.objects.create(
        account=user.account,
        mailing_list=mailing_list,
        original_filename="clients.csv",
        file_format="csv",
        consent_source="paper_form",
        status=ImportStatus.DONE,
        total_rows=3,
        processed=3,
        imported=3,
    )
    return client, mailing_list, subscribers[0], job


def test_the_list_pages_read_in_russian(russian):
    client, mailing_list, subscriber, job = russian
    pk = mailing_list.pk
    expected = {
        reverse("lists"): ["Стоп-лист", "Запросы о персональных данных", "Новый список"],
        reverse("list_create"): ["Название списка", "Двойное подтверждение"],
        reverse("list_detail", args=[pk]): [
            "Назначение:",
            "3 подписчика",  # few: 2-4
            "Подписан",
            "Недавние импорты",
            "Контент для взрослых: возраст подтверждается при подписке",
        ],
        reverse("list_edit", args=[pk]): ["Настройки списка", "Сохранить настройки"],
        reverse("list_delete", args=[pk]): ["Удалить «Новости»?", "3 подписчика"],
        reverse("list_form_builder", args=[pk]): ["Форма подписки", "Встроить на сайт"],
        reverse("subscriber_add", args=[pk]): ["Источник согласия", "Бумажная форма"],
        reverse("subscriber_detail", args=[pk, subscriber.pk]): [
            "История согласия",
            "Согласие дано",
            "Когда (UTC)",
        ],
        reverse("import_upload", args=[pk]): ["Импорт подписчиков", "1. Загрузка"],
        reverse("import_progress", args=[job.pk]): ["Импорт clients.csv", "Готово"],
        reverse("suppressions"): ["1 адрес.", "Отписан"],  # one: 1
        reverse("privacy_requests"): ["Выгрузить данные (JSON)"],
    }
    for url, words in expected.items():
        text = _text(client.get(url))
        for word in words:
            assert word in text, (url, word)


def test_the_snippet_is_written_in_the_lists_language_and_says_so(russian):
    client, mailing_list, _, _ = russian
    body = client.get(reverse("list_form_builder", args=[mailing_list.pk])).content.decode()
    assert "form method=&quot;post&quot;" in body
    assert "lang=&quot;ru&quot;" in body
    assert "Я соглашаюсь получать «Новости»" in body


def test_the_import_script_gets_its_words_from_the_page(russian):
    client, _, _, job = russian
    body = client.get(reverse("import_progress", args=[job.pk])).content.decode()
    section = re.search(r'<section class="card" id="import"[^>]*>', body).group(0)
    assert 'data-label-running="Выполняется"' in section
    assert 'data-counting="подсчёт…"' in section
    assert 'data-failure="Импорт не удался."' in section


def test_english_stays_the_default(client):
    user = UserFactory()
    client.force_login(user)
    mailing_list = MailingListFactory(account=user.account)
    SubscriberFactory(mailing_list=mailing_list)
    text = _text(client.get(reverse("list_detail", args=[mailing_list.pk])))
    assert "1 subscriber." in text and "Recent imports" not in text
    assert "Purpose:" in text
