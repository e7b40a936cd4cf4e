"""The moderators' console and the sender's appeal page in Russian: a staff user who chose Russian
reads the queue, a review page (findings, common reasons, shortcuts), the accounts list, an
account page, the abuse reports and the audit log in it; without a choice the pages stay
English."""

import re
from html import unescape

import pytest
from django.urls import reverse
from django.utils import translation

from accounts.models import Notification
from complaints.models import AbuseReport
from config.coded_text import render
from moderation.enforcement import decisions
from moderation.models import AccountFlag
from tests.campaigns.factories import CampaignFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REASON = "The list was bought."


def _said(response) -> str:
    """The page's text as a reader sees it (tags dropped, entities decoded, spaces collapsed)."""
    assert response.status_code == 200
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


@pytest.fixture
def russian_staff(client):
    client.force_login(
        UserFactory(email="ru-mo@consentmail.example", is_staff=True, account=None, language="ru")
    )
    return client


@pytest.fixture
def english_staff(client, moderator):
    client.force_login(moderator)
    return client


@pytest.fixture
def record(sender, mailing_list, moderator, submitted):
    """A flagged, frozen account with an abuse report and audit entries; `submitted` waits in the
    queue with the analyser's findings."""
    account = sender.account
    AbuseReport.objects.create(
        reporter_email="kim@example.net",
        comment="I never signed up.",
        account=account,
        campaign=CampaignFactory(account=account, lists=[mailing_list], name="Winter sale"),
    )
    decisions.account_freeze(account_id=account.pk, moderator=moderator, reason=REASON)
    # After the freeze, which answers the flags open then.
    AccountFlag.objects.create(account=account, reason="Complaints at 0.8%.")
    return account


# (url name, args from the fixtures, Russian strings, the same places' English strings)
PAGES = [
    (
        "moderation_queue",
        lambda record, campaign: [],
        ["Очередь модерации", "Ждут модерации", "1 рассылка", "Сочетания клавиш", "проверить: 1"],
        ["Moderation queue", "Submitted", "1 campaign", "Keyboard shortcuts", "to review"],
    ),
    (
        "moderation_review",
        lambda record, campaign: [campaign.pk],
        [
            "Замечания анализатора содержимого",
            "Анализатор не уверен: решите, допустимо ли это.",
            "Частые причины",
            "Нет, напишу свою",
            "Из письма должно быть ясно, кто его отправляет",
            "Вернуть на доработку",
            "Назад к очереди",
            "Состояние аккаунта: заморожен",
        ],
        [
            "Content analyser's findings",
            "The analyser is not sure: decide whether these are acceptable.",
            "Common reasons",
            "None: I write my own",
            "The message must say who sends it",
            "Reject, to be edited",
            "Back to the queue",
            "This account is frozen.",
        ],
    ),
    (
        "moderation_accounts",
        lambda record, campaign: [],
        ["Аккаунты", "Ждут модератора", "1 отметка", "Журнал аудита"],
        ["Accounts", "Waiting for a moderator", "1 flag", "Audit log"],
    ),
    (
        "moderation_account",
        lambda record, campaign: [record.pk],
        ["Показатели", "Открытые отметки", "Апелляции", "Разморозить аккаунт", "Заморозил аккаунт"],
        ["Health", "Open flags", "Appeals", "Unfreeze the account", "Froze an account"],
    ),
    (
        "moderation_abuse",
        lambda record, campaign: [],
        ["Сообщения о злоупотреблениях", "1 сообщение", "Подтвердить: аккаунт отправлял"],
        ["Abuse reports", "1 report", "Upheld: the account sent unwanted mail"],
    ),
    (
        "moderation_audit",
        lambda record, campaign: [],
        ["Журнал аудита", "Номер аккаунта", "Любое действие", "Заморозил аккаунт", "Кто"],
        ["Audit log", "Account id", "Any action", "Froze an account", "Who"],
    ),
]


@pytest.mark.parametrize(("name", "args", "russian", "english"), PAGES, ids=[p[0] for p in PAGES])
def test_a_moderator_who_chose_russian_reads_the_console_in_it(
    russian_staff, record, submitted, name, args, russian, english
):
    said = _said(russian_staff.get(reverse(name, args=args(record, submitted))))
    for text in russian:
        assert text in said
    for text in english:
        assert text not in said


@pytest.mark.parametrize(("name", "args", "russian", "english"), PAGES, ids=[p[0] for p in PAGES])
def test_without_a_choice_the_console_stays_english(
    english_staff, record, submitted, name, args, russian, english
):
    said = _said(english_staff.get(reverse(name, args=args(record, submitted))))
    for text in english:
        assert text in said
    for text in russian:
        assert text not in said


def test_a_common_reason_is_stored_in_the_moderators_language(russian_staff, submitted):
    response = russian_staff.post(
        reverse("moderation_reject", args=[submitted.pk]), {"reject-preset": "identity"}
    )
    assert response.status_code == 302
    submitted.refresh_from_db()
    assert submitted.moderation_note.startswith("Из письма должно быть ясно, кто его отправляет")
    done = _said(russian_staff.get(response["Location"]))
    assert "Рассылка «Spring offer» возвращена." in done


def test_the_sender_reads_the_appeal_page_in_russian(client, sender, moderator):
    decisions.account_freeze(account_id=sender.account.pk, moderator=moderator, reason=REASON)
    client.force_login(sender)
    said = _said(client.get(reverse("account_appeal"), headers={"accept-language": "ru"}))
    assert "Ваш аккаунт заморожен." in said
    assert "Отправить апелляцию" in said
    assert f"Причина: {REASON}" in said
    english = _said(client.get(reverse("account_appeal")))
    assert "Your account is frozen." in english and "Send the appeal" in english


def test_a_notification_to_a_sender_reads_in_the_readers_language(sender, moderator):
    sender.language = "ru"
    sender.save(update_fields=["language"])
    decisions.account_freeze(account_id=sender.account.pk, moderator=moderator, reason=REASON)
    notification = Notification.objects.get(account=sender.account)
    with translation.override("ru"):
        assert render(notification.subject) == "Ваш аккаунт заморожен"
        assert render(notification.body).startswith(f"Причина от модератора: {REASON}\n")
    with translation.override("en"):
        assert render(notification.subject) == "Your account is frozen"


def test_notifications_read_in_english_by_a_user_without_a_choice(sender, moderator):
    decisions.account_warn(account_id=sender.account.pk, moderator=moderator, reason=REASON)
    notification = Notification.objects.get(account=sender.account)
    with translation.override("en"):
        assert render(notification.subject) == "A warning about your account"
        assert render(notification.body) == (
            f"The moderator's reason: {REASON}\nIf it goes on, the account is frozen: "
            "it can no longer send."
        )


def test_a_probe_verdicts_notice_keeps_its_reasons_as_codes_for_each_readers_language(
    sender, mailing_list, monkeypatch
):
    from campaigns import sending
    from campaigns.verdict import Tier, Verdict
    from config.coded_text import coded
    from moderation import services

    campaign = CampaignFactory(account=sender.account, lists=[mailing_list], name="Sale")
    verdict = Verdict(
        tier=Tier.REVIEW,
        flag_account=False,
        rule="empty_probe",
        texts=[coded("campaigns.verdict.empty_probe")],
        rates={},
        intervals={},
        inactive={},
    )
    monkeypatch.setattr(sending, "campaign_judge_probe", lambda campaign_id: (campaign, verdict))

    with translation.override("en"):
        services.hold_evaluate(campaign_id=campaign.pk)

    notice = Notification.objects.get(account=sender.account)
    assert notice.body["params"]["reasons"] == [{"code": verdict.texts[0]["code"], "params": {}}]
    with translation.override("ru"):
        russian = render(notice.body)
    with translation.override("en"):
        english = render(notice.body)
    assert english.endswith(render(verdict.texts[0]))
    assert russian != english and not russian.endswith(english.split(". ")[-1])
