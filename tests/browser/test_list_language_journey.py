"""Recipients of a Russian list and of an English list, in Chromium (issue 23): the footer of
the message they received, the confirmation, unsubscribe and report pages, each in the list's
language unless their browser asks for the other one; with screenshots in both languages.

Anna (Russian list, Russian browser) signs up, confirms from the Russian e-mail, opens the link
again (item 9: "already confirmed"), receives a campaign whose footer is Russian and reports it:
the page names the subject as she got it (item 1). Boris (same list, English browser) gets the
Russian footer but English pages. On the English list, Clara (English browser) gets an English
footer and pages, Dmitri (Russian browser) Russian pages.
"""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from lists.models import Subscriber, SubscriberStatus
from moderation import services as moderation
from tests.browser.test_received_message_journey import _link
from tests.campaigns.factories import submitted_campaign, waiting_version
from tests.factories import SenderDomainFactory, UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CAKES = "{{ subscriber.first_name | default('Hello') }}, our Christmas cakes are here"
DESKTOP = {"width": 1280, "height": 800}


def _browser(chromium, locale: str):
    context = chromium.new_context(viewport=DESKTOP, locale=locale)
    context.set_default_timeout(10_000)
    return context


def _send(mailing_list, sender_domain: str):
    campaign = submitted_campaign(
        mailing_list,
        from_email=f"news@{sender_domain}",
        subject=CAKES,
        html_body="<p>Fresh from the oven this week.</p>",
    )
    moderation.decision_approve(
        campaign_id=campaign.pk,
        moderator=UserFactory(is_staff=True),
        version_id=waiting_version(campaign),
    )
    return campaign


def _show_message(page, html: str, screenshot, name: str):
    """The received HTML part as a mail client would show it, for the screenshot."""
    page.set_content(html)
    expect(page.locator("#compliance-footer")).to_be_visible()
    screenshot(page, name)


def test_a_russian_lists_recipients_read_russian_unless_their_browser_asks_for_english(
    chromium, site, screenshot, settings
):
    settings.PROBE_SHARE = 1.0
    account = UserFactory(language="ru", account__company_name="Пекарня Берёзка").account
    SenderDomainFactory(account=account, domain="news.berezka.example", verified_at=timezone.now())
    bakery = MailingListFactory(
        account=account, name="Новости пекарни", purpose="Раз в месяц: новые торты и пироги."
    )
    bakery.language = "ru"
    bakery.save()
    boris = SubscriberFactory(mailing_list=bakery, email="boris@example.org", name="Boris Ivanov")

    russian = _browser(chromium, "ru-RU")
    english = _browser(chromium, "en-GB")
    try:
        anna_page = russian.new_page()
        # Anna signs up on the hosted form: Russian, as her list and her browser are.
        anna_page.goto(f"{site.url}/subscribe/{bakery.public_id}/")
        assert anna_page.locator("html").get_attribute("lang") == "ru"
        anna_page.locator("#id_email").fill("anna@example.org")
        anna_page.locator("#id_name").fill("Анна Петрова")
        anna_page.locator("#id_consent").check()
        anna_page.get_by_role("button", name="Подписаться").click()
        expect(anna_page.locator("main")).to_contain_text("Проверьте почту")

        # Her confirmation e-mail is Russian; the link shows the button, then "confirmed".
        confirmation = site.mail.wait_for(to="anna@example.org", subject="Подтвердите подписку")
        confirm_url = re.search(r"(http://\S+/confirm/\S+/)", confirmation.text).group(1)
        anna_page.goto(confirm_url)
        expect(anna_page.get_by_role("button", name="Да, подпишите меня")).to_be_visible()
        screenshot(anna_page, "list-language-ru-confirm")
        anna_page.get_by_role("button", name="Да, подпишите меня").click()
        expect(anna_page.locator("#confirmed")).to_have_text("Подписка подтверждена")

        # Item 9: the used link says so instead of offering the button again.
        anna_page.goto(confirm_url)
        expect(anna_page.locator("#already-confirmed")).to_have_text("Уже подтверждено")
        expect(anna_page.get_by_role("button", name="Да, подпишите меня")).to_have_count(0)
        screenshot(anna_page, "list-language-ru-already-confirmed")
        anna = Subscriber.objects.get(email="anna@example.org")
        assert anna.status == SubscriberStatus.SUBSCRIBED

        # A campaign goes out: both messages carry the Russian footer, the subject filled in.
        _send(bakery, "news.berezka.example")
        anna_mail = site.mail.wait_for(to="anna@example.org", subject="Christmas cakes")
        boris_mail = site.mail.wait_for(to="boris@example.org", subject="Christmas cakes")
        assert anna_mail.subject == "Анна, our Christmas cakes are here"
        for mail in (anna_mail, boris_mail):
            assert "Вы получаете это письмо, потому что" in mail.text
            assert "Unsubscribe" not in mail.text and "Report spam" not in mail.text
        _show_message(anna_page, anna_mail.html, screenshot, "list-language-ru-footer")
        footer = anna_page.locator("#compliance-footer")
        expect(footer).to_contain_text("Вы получаете это письмо, потому что")
        expect(footer.get_by_role("link", name="Отписаться")).to_be_visible()
        expect(footer.get_by_role("link", name="Пожаловаться на спам")).to_be_visible()

        # Anna reports it: the page is Russian and names the subject as she received it.
        anna_page.goto(_link(anna_mail.html, "Пожаловаться на спам"))
        expect(anna_page.locator("main")).to_contain_text(
            "Вы получили «Анна, our Christmas cakes are here» от Пекарня Берёзка"
        )
        expect(anna_page.locator("main")).not_to_contain_text("{{")
        screenshot(anna_page, "list-language-ru-report")
        anna_page.get_by_role("button", name="Пожаловаться на спам").click()
        expect(anna_page.locator("#reported")).to_have_text("Спасибо: ваша жалоба записана")

        # Boris's browser asks for English: his unsubscribe page is English.
        boris_page = english.new_page()
        boris_page.goto(_link(boris_mail.html, "Отписаться"))
        assert boris_page.locator("html").get_attribute("lang") == "en"
        expect(boris_page.locator("main")).to_contain_text(
            "Stop receiving “Новости пекарни” from Пекарня Берёзка at boris@example.org?"
        )
        screenshot(boris_page, "list-language-ru-list-en-browser-unsubscribe")
        boris_page.get_by_role("button", name="Unsubscribe").click()
        expect(boris_page.locator("#unsubscribed")).to_have_text("You are unsubscribed")
    finally:
        russian.close()
        english.close()
    assert Subscriber.objects.get(pk=anna.pk).status == SubscriberStatus.COMPLAINED
    assert Subscriber.objects.get(pk=boris.pk).status == SubscriberStatus.UNSUBSCRIBED


def test_an_english_lists_recipients_read_english_unless_their_browser_asks_for_russian(
    chromium, site, screenshot, settings
):
    settings.PROBE_SHARE = 1.0
    account = UserFactory(account__company_name="Harbour Bakery").account
    SenderDomainFactory(account=account, domain="news.harbour.example", verified_at=timezone.now())
    news = MailingListFactory(account=account, name="Bakery news")
    assert news.language == "en"
    clara = SubscriberFactory(mailing_list=news, email="clara@example.org", name="Clara Hill")
    dmitri = SubscriberFactory(mailing_list=news, email="dmitri@example.org", name="")

    _send(news, "news.harbour.example")
    clara_mail = site.mail.wait_for(to="clara@example.org", subject="Christmas cakes")
    dmitri_mail = site.mail.wait_for(to="dmitri@example.org", subject="Christmas cakes")
    assert dmitri_mail.subject == "Hello, our Christmas cakes are here"
    assert "You receive this because you subscribed to “Bakery news”" in clara_mail.text

    english = _browser(chromium, "en-GB")
    russian = _browser(chromium, "ru-RU")
    try:
        clara_page = english.new_page()
        _show_message(clara_page, clara_mail.html, screenshot, "list-language-en-footer")
        expect(clara_page.locator("#compliance-footer").get_by_role("link", name="Unsubscribe"))
        clara_page.goto(_link(clara_mail.html, "Report spam"))
        expect(clara_page.locator("main")).to_contain_text(
            "Did you receive “Clara, our Christmas cakes are here” from Harbour Bakery"
        )
        screenshot(clara_page, "list-language-en-report")
        clara_page.goto(_link(clara_mail.html, "Unsubscribe"))
        expect(clara_page.get_by_role("heading", name="Unsubscribe")).to_be_visible()
        screenshot(clara_page, "list-language-en-unsubscribe")

        # Dmitri's browser asks for Russian: the English list's pages speak Russian to him.
        dmitri_page = russian.new_page()
        dmitri_page.goto(_link(dmitri_mail.html, "Report spam"))
        assert dmitri_page.locator("html").get_attribute("lang") == "ru"
        expect(dmitri_page.locator("main")).to_contain_text(
            "Вы получили «Hello, our Christmas cakes are here» от Harbour Bakery"
        )
        screenshot(dmitri_page, "list-language-en-list-ru-browser-report")
        dmitri_page.goto(_link(dmitri_mail.html, "Unsubscribe"))
        dmitri_page.get_by_role("button", name="Отписаться").click()
        expect(dmitri_page.locator("main")).to_contain_text("Вы отписались")
        screenshot(dmitri_page, "list-language-en-list-ru-browser-unsubscribed")
    finally:
        english.close()
        russian.close()
    assert Subscriber.objects.get(pk=dmitri.pk).status == SubscriberStatus.UNSUBSCRIBED
    assert Subscriber.objects.get(pk=clara.pk).status == SubscriberStatus.SUBSCRIBED
