"""Issue 23: analyser findings, verdict and health reasons and the system's audit reasons are
stored as codes and parameters and read in the reader's language."""

import re
from html import unescape

import pytest
from django.urls import reverse
from django.utils import translation

from campaigns.models import Campaign
from config.coded_text import coded, defined_codes, render
from lists.models import Subscriber
from moderation.analyser import ContentUnderReview, analyse_campaign, analyse_content
from tests.campaigns.factories import CampaignFactory
from tests.factories import UserFactory
from tests.moderation.conftest import QUICK_MONEY_HTML, submit

# The codes this part of issue 23 declares (moderation/, campaigns/ and complaints/texts.py).
PREFIXES = ("moderation.", "campaigns.verdict.", "campaigns.status.", "complaints.health.")
PARAMETER = re.compile(r"%\((\w+)\)s")


def _sample(code: str) -> dict:
    """Parameters for every placeholder the code's English names (a count where one is used)."""
    from config.coded_text import _TEXTS

    singular, plural = _TEXTS[code]
    names = set(PARAMETER.findall(singular + (plural or "")))
    return {name: 3 if name == "count" else f"<{name}>" for name in names}


OUR_CODES = [code for code in defined_codes() if code.startswith(PREFIXES)]


def test_this_part_declares_its_codes():
    assert len(OUR_CODES) > 40
    assert "moderation.finding.category.dating" in OUR_CODES  # from content_rules.toml


@pytest.mark.parametrize("code", OUR_CODES)
def test_each_code_renders_in_english_and_in_russian(code):
    stored = coded(code, **_sample(code))
    with translation.override("en"):
        english = render(stored)
    with translation.override("ru"):
        russian = render(stored)
    assert "%(" not in english and "%(" not in russian, (english, russian)
    assert english != code and russian != code
    assert russian != english, f"{code} has no Russian: {english!r}"


# --- findings: stored as codes, read in the reader's language ------------------------------

QUICK_MONEY_EN = "The message appears to offer work from home or quick money"
QUICK_MONEY_RU = "Похоже, письмо предлагает работу на дому или быстрые деньги"


def _said(response) -> str:
    assert response.status_code == 200
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def test_a_stored_finding_holds_a_code_and_its_parameters(submitted):
    finding = next(f for f in submitted.findings if f["code"] == "category.quick_money")

    assert finding["reason"]["code"] == "moderation.finding.category.quick_money"
    assert "passive income" in finding["reason"]["params"]["found"]


@pytest.mark.django_db
def test_a_russian_moderator_reads_in_russian_what_an_english_sender_submitted(
    client, submitted, moderator
):
    review = reverse("moderation_review", args=[submitted.pk])
    client.force_login(UserFactory(email="ru-mo@consentmail.example", is_staff=True, language="ru"))
    russian = _said(client.get(review))
    client.force_login(moderator)
    english = _said(client.get(review))

    assert QUICK_MONEY_RU in russian and QUICK_MONEY_EN not in russian
    assert QUICK_MONEY_EN in english and QUICK_MONEY_RU not in english
    assert "'code'" not in russian and "{'code'" not in english


@pytest.mark.django_db
def test_an_english_moderator_reads_in_english_what_a_russian_sender_submitted(
    client, mailing_list, moderator
):
    mailing_list.account.users.update(language="ru")
    with translation.override("ru"):
        campaign = submit(mailing_list, name="Весна", html_body=QUICK_MONEY_HTML)
    sender = mailing_list.account.users.first()
    client.force_login(sender)
    russian = _said(client.get(reverse("campaign_detail", args=[campaign.pk])))
    client.force_login(moderator)
    english = _said(client.get(reverse("moderation_review", args=[campaign.pk])))

    assert QUICK_MONEY_EN in english and QUICK_MONEY_RU not in english
    assert QUICK_MONEY_RU in russian and QUICK_MONEY_EN not in russian


@pytest.mark.django_db
def test_the_api_gives_the_reason_in_the_requests_language_with_its_params(mod_api, submitted):
    queue = mod_api.get("/api/v1/moderation/campaigns/", headers={"accept-language": "ru"})

    finding = next(
        f for f in queue.json()["results"][0]["findings"] if f["code"] == "category.quick_money"
    )
    assert finding["reason"].startswith(QUICK_MONEY_RU)
    assert "passive income" in finding["params"]["found"]


@pytest.mark.django_db
def test_a_finding_stored_as_english_text_before_codes_still_reads(client, submitted, moderator):
    Campaign.objects.filter(pk=submitted.pk).update(
        findings=[{"code": "x.old", "severity": "review", "reason": "An old reason.", "where": ""}]
    )
    client.force_login(moderator)

    assert "An old reason." in _said(client.get(reverse("moderation_review", args=[submitted.pk])))


# --- item 4: merge tags that read nothing, a subject that starts with punctuation -------------


def _analysed(subject: str, html: str = "<p>Hi</p>", present=frozenset()) -> dict[str, str]:
    content = ContentUnderReview(
        subject=subject,
        from_name="Acme",
        from_email="news@acme.example",
        html_body=html,
        text_body="",
        company_name="Acme Ltd",
        postal_address="1 Main St",
        present_attributes=present,
    )
    return {finding.code: finding.reason for finding in analyse_content(content)}


def test_an_attribute_no_subscriber_has_is_flagged():
    found = _analysed("News", "<p>Your {{ subscriber.attributes.favourite }} cake</p>")

    assert found["merge.unknown_attribute"] == (
        'The merge tag {{ subscriber.attributes.favourite }} reads the attribute "favourite", '
        "which no subscriber of the campaign's lists has, so it is empty in every message."
    )


def test_an_attribute_some_subscriber_has_or_one_with_a_default_is_not_flagged():
    present = frozenset({"city"})
    assert "merge.unknown_attribute" not in _analysed(
        "News", "<p>{{ subscriber.attributes.city }}</p>", present
    )
    assert "merge.unknown_attribute" not in _analysed(
        "News", '<p>{{ subscriber.attributes.favourite | default("cake") }}</p>', present
    )


def test_a_field_subscribers_do_not_have_is_flagged():
    found = _analysed("News", "<p>Hi {{ subscriber.favourite }}</p>")

    assert found["merge.unknown_field"].startswith(
        "The merge tag {{ subscriber.favourite }} reads subscriber.favourite, which no "
        "subscriber has"
    )
    assert "merge.unknown_field" not in _analysed("News", "<p>Hi {{ subscriber.first_name }}</p>")


def test_a_subject_that_starts_with_punctuation_without_a_name_is_flagged():
    found = _analysed("{{ subscriber.first_name }}, our Christmas cakes are here")

    assert found["subject.leading_punctuation"].startswith(
        'For subscribers without that data the subject reads ", our Christmas cakes are here"'
    )
    assert "subject.leading_punctuation" in _analysed("Hi {{ subscriber.name }}, cakes")
    for fine in (
        '{{ subscriber.first_name | default("Hello") }}, our Christmas cakes are here',
        "Our Christmas cakes are here",
        "«Cakes» are here, {{ subscriber.first_name }}",
    ):
        assert "subject.leading_punctuation" not in _analysed(fine), fine


@pytest.mark.django_db
def test_the_campaign_is_analysed_against_its_subscribers_attributes(mailing_list):
    Subscriber.objects.filter(mailing_list=mailing_list).update(attributes={"city": "Leeds"})
    campaign = CampaignFactory(
        account=mailing_list.account,
        lists=[mailing_list],
        html_body="<p>{{ subscriber.attributes.city }} {{ subscriber.attributes.favourite }}</p>",
    )

    codes = [(f.code, f.excerpt) for f in analyse_campaign(campaign)]

    assert ("merge.unknown_attribute", "subscriber.attributes.favourite") in codes
    assert ("merge.unknown_attribute", "subscriber.attributes.city") not in codes
