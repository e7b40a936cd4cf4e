"""Exporting a segment: the list export's columns and safe cells, over the addresses the
segment's count counts (each once), scoped to the account, in the API and the browser."""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from campaigns import segment_selectors
from campaigns.models import Segment
from lists.exports import SUBSCRIBER_EXPORT_HEADER
from lists.models import SubscriberStatus, SuppressionReason
from lists.services.suppression import suppression_add
from lists.services.tags import subscribers_tags_add
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


def _rows_of_csv(content: bytes) -> list[dict]:
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == SUBSCRIBER_EXPORT_HEADER
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@pytest.fixture
def world(account, mailing_list):
    """Two lists; the segment takes the "vip" tag's subscribed addresses of both."""
    second = MailingListFactory(account=account, name="Second")
    ann = SubscriberFactory(mailing_list=mailing_list, email="ann@example.org", name="Ann")
    evil = SubscriberFactory(
        mailing_list=mailing_list,
        email="eve@example.org",
        name='=HYPERLINK("http://evil.example")',
        attributes={"note": "+1 call"},
    )
    gone = SubscriberFactory(
        mailing_list=mailing_list,
        email="gone@example.org",
        status=SubscriberStatus.UNSUBSCRIBED,
    )
    SubscriberFactory(mailing_list=mailing_list, email="plain@example.org")  # no tag
    blocked = SubscriberFactory(mailing_list=mailing_list, email="blocked@example.org")
    # Ann again on the second list, joined later (a higher id): exported once, from the first.
    ann_again = SubscriberFactory(mailing_list=second, email="ann@example.org", name="Ann Two")
    bob = SubscriberFactory(mailing_list=second, email="bob@example.org", name="Bob")
    tagged = [ann.pk, evil.pk, gone.pk, blocked.pk, ann_again.pk, bob.pk]
    subscribers_tags_add(account=account, subscriber_ids=tagged, names=["vip"])
    suppression_add(
        account=account, email="blocked@example.org", reason=SuppressionReason.UNSUBSCRIBED
    )
    segment = Segment.objects.create(
        account=account,
        name="VIPs",
        conditions=[{"field": "tag", "op": "has", "value": "vip"}],
    )
    segment.lists.set([mailing_list, second])
    return segment


def test_the_csv_export_has_the_counted_addresses_once_with_consent_and_safe_cells(
    token_client, world
):
    response = token_client.get(f"/api/v1/segments/{world.pk}/export/?format=csv")

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="segment-{world.pk}-vips-' in response["Content-Disposition"]
    rows = _rows_of_csv(b"".join(response.streaming_content))
    emails = [row["email"] for row in rows]
    # Subscribed, tagged, not suppressed; Ann once although she is on both lists.
    assert sorted(emails) == ["ann@example.org", "bob@example.org", "eve@example.org"]
    assert len(emails) == segment_selectors.segment_count(segment=world)
    by_email = {row["email"]: row for row in rows}
    assert by_email["ann@example.org"]["name"] == "Ann"  # the row she joined with first
    assert by_email["ann@example.org"]["consent_source"] == "web_form"
    assert by_email["ann@example.org"]["consent_ip"] == "203.0.113.9"
    assert by_email["ann@example.org"]["consent_obtained_at"]
    assert by_email["eve@example.org"]["name"] == '\'=HYPERLINK("http://evil.example")'
    assert by_email["eve@example.org"]["attributes"] == '{"note": "+1 call"}'


def test_the_xlsx_export_has_the_same_rows_and_no_formula(token_client, world):
    response = token_client.get(f"/api/v1/segments/{world.pk}/export/?format=xlsx")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert list(rows[0]) == SUBSCRIBER_EXPORT_HEADER
    assert sorted(row[0] for row in rows[1:]) == [
        "ann@example.org",
        "bob@example.org",
        "eve@example.org",
    ]
    names = {row[0]: row[1] for row in rows[1:]}
    assert names["eve@example.org"] == '\'=HYPERLINK("http://evil.example")'


def test_one_list_exports_its_rows_as_counted(token_client, account, mailing_list):
    for n in range(3):
        SubscriberFactory(mailing_list=mailing_list, email=f"r{n}@example.org")
    segment = Segment.objects.create(account=account, name="All of one list")
    segment.lists.set([mailing_list])

    response = token_client.get(f"/api/v1/segments/{segment.pk}/export/")

    rows = _rows_of_csv(b"".join(response.streaming_content))
    assert [row["email"] for row in rows] == [f"r{n}@example.org" for n in range(3)]
    assert segment_selectors.segment_count(segment=segment) == 3


def test_a_bad_format_is_a_400(token_client, world):
    response = token_client.get(f"/api/v1/segments/{world.pk}/export/?format=pdf")
    assert response.status_code == 400
    assert "format" in response.json()


def test_another_accounts_segment_is_a_404(token_client, other_user):
    theirs_list = MailingListFactory(account=other_user.account)
    SubscriberFactory(mailing_list=theirs_list, email="secret@example.org")
    theirs = Segment.objects.create(account=other_user.account, name="Theirs")
    theirs.lists.set([theirs_list])

    response = token_client.get(f"/api/v1/segments/{theirs.pk}/export/?format=csv")

    assert response.status_code == 404
    assert b"secret@example.org" not in response.content


def test_a_list_of_another_account_in_the_segment_adds_nobody(
    token_client, account, mailing_list, other_user
):
    SubscriberFactory(mailing_list=mailing_list, email="mine@example.org")
    theirs_list = MailingListFactory(account=other_user.account)
    SubscriberFactory(mailing_list=theirs_list, email="secret@example.org")
    segment = Segment.objects.create(account=account, name="Mixed")
    segment.lists.set([mailing_list, theirs_list])  # not possible through the services

    response = token_client.get(f"/api/v1/segments/{segment.pk}/export/")

    rows = _rows_of_csv(b"".join(response.streaming_content))
    assert [row["email"] for row in rows] == ["mine@example.org"]


def test_the_segment_page_offers_both_exports_and_they_download(user, world):
    browser = Client()
    browser.force_login(user)
    page = browser.get(reverse("segment_edit", args=[world.pk])).content.decode()
    url = reverse("segment_export", args=[world.pk])
    assert f'action="{url}"' in page
    assert 'name="format" value="csv"' in page and 'name="format" value="xlsx"' in page

    # A small export is the file itself, whether the button posts or an old link gets it.
    response = browser.post(url, {"format": "csv"})
    assert response.status_code == 200
    assert len(_rows_of_csv(b"".join(response.streaming_content))) == 3
    response = browser.get(url + "?format=csv")
    assert response.status_code == 200
    rows = _rows_of_csv(b"".join(response.streaming_content))
    assert len(rows) == 3
    assert (
        browser.get(reverse("segment_export", args=[world.pk]), {"format": "pdf"}).status_code
        == 404
    )


def test_the_browser_export_of_another_accounts_segment_is_a_404(user, other_user):
    theirs = Segment.objects.create(account=other_user.account, name="Theirs")
    browser = Client()
    browser.force_login(user)
    assert browser.get(reverse("segment_export", args=[theirs.pk])).status_code == 404


def test_a_read_only_token_may_export(read_only_token_client, world):
    response = read_only_token_client.get(f"/api/v1/segments/{world.pk}/export/")
    assert response.status_code == 200


def test_read_a_row_at_a_time_each_address_still_comes_once(world):
    from lists.exports import subscriber_export_rows

    subscribers = segment_selectors.segment_subscribers(segment=world)
    rows = list(subscriber_export_rows(subscribers, chunk=1))
    assert sorted(row[0] for row in rows) == [
        "ann@example.org",
        "bob@example.org",
        "eve@example.org",
    ]
    assert {row[0]: row[1] for row in rows}["ann@example.org"] == "Ann"
