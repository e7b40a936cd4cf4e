"""The compliance footer speaks the recipient's list's language (issue 23), whatever language
is active where the message is rendered, and is translated once per campaign, not per message."""

import re
from datetime import datetime

from django.utils import translation

from campaigns.rendering import compile_campaign
from tests.campaigns.test_rendering import content, parsed, parts, recipient


def _footer_text(html: str) -> str:
    footer = html[html.index('id="compliance-footer"') :]
    return " ".join(re.sub(r"<[^>]+>", " ", footer).split())


def test_a_russian_lists_recipient_gets_the_footer_in_russian():
    compiled = compile_campaign(content())
    who = recipient(1, language="ru", consented_at=datetime(2026, 3, 14, 9, 30))

    html, text = parts(parsed(compiled.render(who)))

    footer = _footer_text(html)
    assert (
        "Вы получаете это письмо, потому что 14 марта 2026 подписались на «Monthly news» от "
        "Acme Ltd через нашу форму подписки."
    ) in footer
    assert "Отписаться · Пожаловаться на спам" in footer.replace("&middot;", "·")
    assert "Unsubscribe" not in footer and "You receive this" not in footer
    assert 'lang="ru"' in html
    assert re.search(r"\nОтписаться: \S+/u/\S+/\n", text)
    assert re.search(r"\nПожаловаться на спам: \S+/r/\S+/\n", text)
    assert "Unsubscribe:" not in text


def test_an_english_lists_recipient_gets_english_even_where_russian_is_active():
    compiled = compile_campaign(content())
    with translation.override("ru"):  # a Russian-speaking sender's preview, a worker's locale
        html, text = parts(parsed(compiled.render(recipient(2, language="en"))))

    footer = _footer_text(html)
    assert (
        "You receive this because you subscribed to “Monthly news” of Acme Ltd via our sign-up "
        "form on 14 March 2026."
    ) in footer
    assert "Unsubscribe" in footer and "Report spam" in footer
    assert "\nUnsubscribe: http" in text
    assert "Отписаться" not in html + text


def test_one_campaign_to_lists_of_both_languages_and_an_unknown_language():
    compiled = compile_campaign(content())
    russian = parts(parsed(compiled.render(recipient(3, language="ru"))))[1]
    unknown = parts(parsed(compiled.render(recipient(4, language="xx"))))[1]
    default = parts(parsed(compiled.render(recipient(5))))[1]

    assert "Отписаться:" in russian
    assert "Unsubscribe:" in unknown and "Unsubscribe:" in default


def test_a_consent_requests_sentence_and_a_sign_up_without_a_date_in_russian():
    compiled = compile_campaign(content())
    who = recipient(6, language="ru", consented_at=None, consent_source="paper_form")
    html = parts(parsed(compiled.render(who)))[0]
    assert (
        "Вы получаете это письмо, потому что подписались на «Monthly news» от Acme Ltd через "
        "подписанную бумажную анкету."
    ) in _footer_text(html)


def test_the_footer_is_translated_once_per_language_not_per_message(monkeypatch):
    compiled = compile_campaign(content(subject="Once per language"))
    compiled.render(recipient(7, language="ru"))
    compiled.render(recipient(7, language="en"))
    calls = []
    monkeypatch.setattr(translation, "override", lambda *a, **k: calls.append(a))

    for n in range(20):
        compiled.render(recipient(n, language="ru"))
        compiled.render(recipient(n, language="en"))

    assert calls == []
