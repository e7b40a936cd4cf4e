"""The privacy page states what we keep, why and how long, from the retention settings."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from accounts.privacy import data_kept

pytestmark = pytest.mark.django_db

RU = {"accept-language": "ru"}


def kept_row(response, key: str) -> str:
    """The text of the table row for one kind of data."""
    row = re.search(rf'<tr id="kept-{key}">(.*?)</tr>', response.content.decode(), re.S)
    assert row, f"no row for {key}"
    return html.unescape(re.sub(r"<[^>]+>", " ", row[1])).split()


def said(response, key: str) -> str:
    return " ".join(kept_row(response, key))


def test_the_page_lists_every_kind_of_data():
    assert [row.key for row in data_kept()] == [
        "account",
        "terms",
        "subscribers",
        "preferences",
        "consent",
        "suppressions",
        "tracking",
        "test_sends",
        "feedback",
        "imports",
        "logs",
        "session",
    ]


def test_the_periods_shown_are_the_settings(client, settings):
    settings.RETENTION_TRACKING_DAYS = 180
    settings.RETENTION_DORMANT_PREFERENCES_DAYS = 90
    page = client.get(reverse("privacy"))

    assert said(page, "tracking") == (
        "Opens and clicks When a message was opened or a link clicked, with the browser's user "
        "agent. To show senders and moderators how a campaign was received. 180 days; the counts "
        "per message stay."
    )
    assert said(page, "preferences").endswith(
        "Deleted after 90 days without use; the subscribers and their consent stay."
    )
    assert said(page, "feedback").endswith(f"{settings.RETENTION_FEEDBACK_DAYS} days")
    assert said(page, "imports").endswith(
        f"at the latest after {settings.RETENTION_IMPORT_FILE_DAYS} days; the import's report "
        "stays."
    )


def test_changing_a_retention_setting_changes_the_page(client, settings):
    settings.RETENTION_TRACKING_DAYS = 180
    before = said(client.get(reverse("privacy")), "tracking")

    settings.RETENTION_TRACKING_DAYS = 31
    settings.RETENTION_DORMANT_PREFERENCES_DAYS = 61
    page = client.get(reverse("privacy"))

    assert "180 days;" in before
    assert "31 days; the counts per message stay." in said(page, "tracking")
    assert "Deleted after 61 days without use" in said(page, "preferences")


def test_the_page_in_russian(client, settings):
    settings.RETENTION_TRACKING_DAYS = 31
    settings.RETENTION_DORMANT_PREFERENCES_DAYS = 90
    page = client.get(reverse("privacy"), headers=RU)

    assert "Что мы храним, зачем и как долго" in page.content.decode()
    assert said(page, "tracking").startswith("Открытия и переходы")
    assert said(page, "tracking").endswith("31 день; счётчики по письмам остаются.")
    assert "Удаляются через 90 дней без использования" in said(page, "preferences")
