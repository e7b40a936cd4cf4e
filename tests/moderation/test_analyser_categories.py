"""The prohibited categories issue 25 added to the content analyser (pornography, others'
copyright or trademarks, advertising ordered by others, intimate goods, message boards, rental
services): each is found in English and Russian, and the innocent sentences next to each are not."""

import dataclasses
import tomllib

import pytest

from campaigns.findings import Severity
from moderation.analyser import (
    RULES_PATH,
    ContentUnderReview,
    analyse_content,
    content_rules,
    prohibited_categories,
)
from tests.moderation.test_analyser import CATEGORY_EXAMPLES

REVIEW = Severity.REVIEW

CLEAN = ContentUnderReview(
    subject="Our autumn newsletter",
    from_name="Rye & Crumb Bakery",
    from_email="news@ryeandcrumb.example",
    html_body="<p>Hello from the bakery.</p>",
    text_body="Hello from the bakery.",
    company_name="Rye & Crumb Ltd",
    postal_address="12 Mill Lane, Springfield",
)

NEW_CATEGORIES = (
    "category.pornography",
    "category.copyright",
    "category.third_party_ads",
    "category.intimate_goods",
    "category.message_boards",
    "category.rental",
)


@pytest.fixture(autouse=True)
def _service_settings(settings):
    settings.SITE_URL = "https://app.consentmail.example"
    settings.DEFAULT_FROM_EMAIL = "ConsentMail <no-reply@consentmail.example>"
    settings.SERVICE_NAME = "ConsentMail"


def analyse(text):
    return analyse_content(dataclasses.replace(CLEAN, text_body=text, html_body=f"<p>{text}</p>"))


def category_codes(findings):
    return [(f.code, f.severity) for f in findings if f.code.startswith("category.")]


# (code, language, text, the excerpt the finding shows)
FOUND = [
    ("category.pornography", "en", "Watch free porn videos tonight", "porn"),
    (
        "category.pornography",
        "en",
        "Pornographic pictures and a pornstar",
        "Pornographic, pornstar",
    ),
    ("category.pornography", "en", "New XXX videos every day", "XXX videos"),
    ("category.pornography", "en", "Hot webcam girls are online", "webcam girls"),
    ("category.pornography", "ru", "Лучшее порно бесплатно", "порно"),
    ("category.pornography", "ru", "Смотрите фильмы для взрослых в HD", "фильмы для взрослых"),
    ("category.pornography", "ru", "Эротическое видео каждый день", "Эротическое видео"),
    ("category.copyright", "en", "Replica watches from $49", "Replica watches"),
    ("category.copyright", "en", "Gucci brand copy bags, 1:1 copy quality", "brand copy, 1:1 copy"),
    (
        "category.copyright",
        "en",
        "Download free movies via torrent",
        "Download free movies, via torrent",
    ),
    ("category.copyright", "en", "Buy counterfeit sneakers cheap", "Buy counterfeit"),
    ("category.copyright", "ru", "Реплики часов Rolex по низким ценам", "Реплики часов"),
    ("category.copyright", "ru", "Копии брендовых сумок по низким ценам", "Копии брендовых"),
    ("category.copyright", "ru", "Новые фильмы на нашем торрент-трекере", "торрент"),
    (
        "category.copyright",
        "ru",
        "Скачать музыку бесплатно и без регистрации",
        "Скачать музыку бесплатно",
    ),
    (
        "category.third_party_ads",
        "en",
        "We write on behalf of our partner, Acme Loans",
        "on behalf of our partner",
    ),
    ("category.third_party_ads", "en", "This issue is sponsored by Acme Travel", "sponsored by"),
    (
        "category.third_party_ads",
        "en",
        "An advertisement from our partners: 20% off",
        "advertisement from our partners",
    ),
    ("category.third_party_ads", "en", "Paid placement: the best VPN", "Paid placement"),
    (
        "category.third_party_ads",
        "ru",
        "Письмо отправлено по заказу нашего партнёра",
        "по заказу нашего партнёра",
    ),
    ("category.third_party_ads", "ru", "На правах рекламы: новый банк", "На правах рекламы"),
    (
        "category.third_party_ads",
        "ru",
        "Специальное предложение от наших партнёров",
        "предложение от наших партнёров",
    ),
    ("category.intimate_goods", "en", "Our new sex toys collection", "sex toys"),
    (
        "category.intimate_goods",
        "en",
        "Erotic lingerie and vibrators, discreet delivery",
        "Erotic lingerie, vibrators",
    ),
    ("category.intimate_goods", "en", "Visit our intim shop today", "intim shop"),
    ("category.intimate_goods", "ru", "Интим-магазин: скидки до 50%", "Интим-магазин"),
    ("category.intimate_goods", "ru", "Секс-игрушки с доставкой", "Секс-игрушки"),
    ("category.intimate_goods", "ru", "Эротическое бельё для двоих", "Эротическое бельё"),
    ("category.message_boards", "en", "Post your ad for free today", "Post your ad"),
    ("category.message_boards", "en", "The biggest free classifieds in town", "free classifieds"),
    ("category.message_boards", "ru", "Доска объявлений вашего города", "Доска объявлений"),
    ("category.message_boards", "ru", "Подайте объявление за минуту", "Подайте объявление"),
    ("category.rental", "en", "Rent a car from $20 a day", "Rent a car"),
    ("category.rental", "en", "Apartments for rent in the city centre", "Apartments for rent"),
    ("category.rental", "en", "Equipment rental for builders", "Equipment rental"),
    ("category.rental", "ru", "Аренда квартир в центре города", "Аренда квартир"),
    ("category.rental", "ru", "Сдаём в аренду строительную технику", "Сдаём в аренду"),
    ("category.rental", "ru", "Прокат автомобилей без водителя", "Прокат автомобилей"),
]


@pytest.mark.parametrize(
    ("code", "language", "text", "excerpt"),
    FOUND,
    ids=[f"{code}-{language}-{index}" for index, (code, language, *_) in enumerate(FOUND)],
)
def test_each_new_category_is_found_in_english_and_russian(code, language, text, excerpt):
    findings = analyse(text)

    assert category_codes(findings) == [(code, REVIEW)]
    [finding] = [f for f in findings if f.code == code]
    assert finding.where == "body"
    assert finding.excerpt == excerpt
    assert finding.reason.startswith("The message appears to ")
    assert f'"{excerpt.split(", ")[0]}"' in finding.reason


# Sentences an honest newsletter writes, next to each category's words.
NOT_FOUND = [
    ("category.pornography", "en", "Our anti-porn filter protects school computers."),
    ("category.pornography", "en", "Dear XXX, try our nude lipstick and hardcore workout plan."),
    ("category.pornography", "en", "Thomas Pornin reviewed the code; dinner in Pornainen."),
    ("category.pornography", "ru", "Раскраски для взрослых и голы нашей команды в субботу."),
    ("category.pornography", "ru", "Фильмы для всей семьи и эротический роман в книжном клубе."),
    ("category.copyright", "en", "A replica of the Eiffel Tower stands in our window."),
    ("category.copyright", "en", "How to spot a counterfeit: buy only from our shop."),
    (
        "category.copyright",
        "en",
        "A torrent of rain, torrential storms and a brand new copy of the book.",
    ),
    (
        "category.copyright",
        "ru",
        "Реплика героя стала крылатой. Пришлём копию брендбука и копию чека.",
    ),
    ("category.copyright", "ru", "Подделки часто встречаются: покупайте у официальных дилеров."),
    ("category.third_party_ads", "en", "Our partners at the farm send their greetings."),
    ("category.third_party_ads", "en", "Our bakery sponsors the local football team."),
    (
        "category.third_party_ads",
        "ru",
        "Наши партнёры — фермеры из Тулы. Предложение о партнёрстве.",
    ),
    (
        "category.third_party_ads",
        "ru",
        "Мы благодарим спонсоров праздника и нашу рекламную команду.",
    ),
    ("category.intimate_goods", "en", "Intimate candlelit dinners and adult cooking classes."),
    ("category.intimate_goods", "en", "Soft cotton lingerie for every day, says Dildora Karimova."),
    ("category.intimate_goods", "ru", "Гель для интимной гигиены и товары для взрослых и детей."),
    ("category.intimate_goods", "ru", "Интимная атмосфера нашего кафе и новые игрушки для детей."),
    ("category.message_boards", "en", "We posted a job ad for a baker; see the notice board."),
    ("category.message_boards", "en", "Our board of directors met on Monday."),
    ("category.message_boards", "ru", "Мы разместили объявление о наборе пекарей."),
    ("category.message_boards", "ru", "Объявление: в субботу пекарня закрыта."),
    ("category.rental", "en", "Our office rental costs rose this year, our prices did not."),
    (
        "category.rental",
        "en",
        "The rental market report for Q3; our parents' recipes; rent is due.",
    ),
    ("category.rental", "ru", "Стоимость аренды нашего офиса выросла, но цены мы не поднимем."),
    ("category.rental", "ru", "Новый фильм в прокате с пятницы; металлопрокат для склада куплен."),
]


@pytest.mark.parametrize(
    ("code", "language", "text"),
    NOT_FOUND,
    ids=[f"{code}-{language}-{index}" for index, (code, language, _) in enumerate(NOT_FOUND)],
)
def test_innocent_sentences_near_each_new_category_are_not_flagged(code, language, text):
    assert analyse(text) == []


def test_every_category_has_a_label_and_positive_and_negative_examples_in_both_languages():
    with RULES_PATH.open("rb") as file:
        categories = tomllib.load(file)["category"]

    assert [category["code"] for category in categories][-len(NEW_CATEGORIES) :] == list(
        NEW_CATEGORIES
    )
    assert all(category["label"].strip() for category in categories)
    assert len({category["label"] for category in categories}) == len(categories)
    examples = {(code, language) for code, _severity, language, *_ in CATEGORY_EXAMPLES}
    examples |= {(code, language) for code, language, *_ in FOUND}
    assert examples == {
        (category["code"], language) for category in categories for language in ("en", "ru")
    }
    negatives = {(code, language) for code, language, _ in NOT_FOUND}
    assert negatives == {(code, language) for code in NEW_CATEGORIES for language in ("en", "ru")}


def test_the_prohibited_categories_are_the_rules_and_malware_links():
    categories = prohibited_categories()

    assert [(c.code, c.label, c.severity) for c in categories[:-1]] == [
        (rule.code, rule.label, rule.severity) for rule in content_rules().categories
    ]
    assert [(c.code, c.severity) for c in categories[-1:]] == [("link.malware", Severity.BLOCK)]
    assert [c.code for c in categories[-7:-1]] == list(NEW_CATEGORIES)
