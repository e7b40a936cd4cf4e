"""Managing subscribers (issue 22): edit the details (recorded), remove from one list, export a
list to CSV and XLSX with its consent, page numbers and search by any part."""

import csv
import io
import json

import pytest
from django.core import mail
from django.urls import reverse
from openpyxl import load_workbook

from config.errors import ApplicationError
from lists import selectors
from lists.exports import SUBSCRIBER_EXPORT_HEADER, subscriber_export_rows, subscribers_xlsx
from lists.models import (
    ConsentEvent,
    ConsentRecord,
    Subscriber,
    SubscriberChange,
    SubscriberStatus,
    Suppression,
)
from lists.paging import SearchPaginator, page_numbers
from lists.services.privacy import subscriber_erase
from lists.services.subscribers import (
    REMOVED_BY_SENDER,
    subscriber_remove_from_list,
    subscriber_update,
)
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def mailing_list(user):
    return MailingListFactory(account=user.account, name="Bakery news")


@pytest.fixture
def subscriber(mailing_list):
    return SubscriberFactory(
        mailing_list=mailing_list,
        email="jane@example.org",
        name="Jane",
        phone="",
        attributes={"city": "Leeds", "visits": 3},
    )


def _rows_of_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


# --- editing --------------------------------------------------------------------------------------


def test_an_edit_is_saved_and_recorded_with_who_and_what(subscriber, user):
    subscriber_update(
        subscriber=subscriber,
        name=" Jane Smith ",
        phone="+44 (0)113 496-0000",
        attributes={"city": "York", "visits": 3},
        changed_by=user,
        channel="browser",
    )

    subscriber.refresh_from_db()
    assert (subscriber.name, subscriber.phone) == ("Jane Smith", "+44 (0)113 496-0000")
    assert subscriber.attributes == {"city": "York", "visits": 3}
    change = SubscriberChange.objects.get()
    assert change.changed_by == user and change.channel == "browser"
    assert change.changes == {
        "name": ["Jane", "Jane Smith"],
        "phone": ["", "+44 (0)113 496-0000"],
        "attributes": [{"city": "Leeds", "visits": 3}, {"city": "York", "visits": 3}],
    }


def test_an_edit_that_changes_nothing_writes_nothing(subscriber, user):
    before = Subscriber.objects.get(pk=subscriber.pk).updated_at
    subscriber_update(subscriber=subscriber, name="Jane", attributes=subscriber.attributes)
    assert not SubscriberChange.objects.exists()
    assert Subscriber.objects.get(pk=subscriber.pk).updated_at == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "call me"}, "phone"),
        ({"phone": "12"}, "phone"),
        ({"phone": "+1 234 567 890 123 456 789 012"}, "phone"),
        ({"attributes": {"first name": "x"}}, "attributes"),
        ({"attributes": {"1st": "x"}}, "attributes"),
        ({"attributes": {"city\n": "x"}}, "attributes"),
        ({"phone": "+44\n113 496"}, "phone"),
        ({"attributes": {"a" * 65: "x"}}, "attributes"),
        ({"attributes": {"note": "x" * 1001}}, "attributes"),
        ({"attributes": {f"k{n}": n for n in range(51)}}, "attributes"),
        ({"attributes": {"blob": ["x" * 900] * 20}}, "attributes"),
        ({"name": "x" * 201}, "name"),
        ({"name": "nul\x00"}, "name"),
    ],
)
def test_bad_details_are_refused_on_their_field_and_nothing_is_written(subscriber, changes, field):
    with pytest.raises(ApplicationError) as refused:
        subscriber_update(subscriber=subscriber, **{"name": "Changed", **changes})
    assert refused.value.field == field
    subscriber.refresh_from_db()
    assert subscriber.name == "Jane"
    assert not SubscriberChange.objects.exists()


def test_the_edit_page_saves_name_phone_and_attribute_rows(owner, user, subscriber):
    url = reverse("subscriber_edit", args=[subscriber.mailing_list_id, subscriber.pk])
    page = owner.get(url)
    assert page.status_code == 200
    assert b"jane@example.org" in page.content and b'name="email"' not in page.content

    response = owner.post(
        url,
        {
            "name": "Jane Smith",
            "phone": "0113 496 0000",
            # city changed, visits kept as it was (still the number 3), plan added.
            "attribute_name_0": "city",
            "attribute_value_0": "York",
            "attribute_name_1": "visits",
            "attribute_value_1": "3",
            "attribute_name_2": "plan",
            "attribute_value_2": "pro",
            "attribute_name_3": "",
            "attribute_value_3": "",
            "attribute_name_4": "",
            "attribute_value_4": "",
        },
    )

    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.attributes == {"city": "York", "visits": 3, "plan": "pro"}
    assert subscriber.phone == "0113 496 0000"
    detail = owner.get(response["Location"]).content.decode()
    assert "Changes to the details" in detail and user.email in detail
    assert SubscriberChange.objects.get().changed_by == user


def test_the_edit_page_shows_refusals_and_removes_a_cleared_row(owner, subscriber):
    url = reverse("subscriber_edit", args=[subscriber.mailing_list_id, subscriber.pk])
    refused = owner.post(
        url,
        {"name": "Jane", "phone": "not a phone", "attribute_name_0": "city"},
    )
    assert refused.status_code == 200
    assert "Enter a phone number" in refused.content.decode()
    bad_name = owner.post(
        url, {"name": "Jane", "attribute_name_0": "my city", "attribute_value_0": "x"}
    )
    assert "Attribute name “my city”" in bad_name.content.decode()
    assert not SubscriberChange.objects.exists()

    owner.post(url, {"name": "Jane", "attribute_name_0": "", "attribute_value_0": "Leeds"})
    assert Subscriber.objects.get(pk=subscriber.pk).attributes == {"city": "Leeds", "visits": 3}
    owner.post(url, {"name": "Jane", "attribute_name_1": "visits", "attribute_value_1": "3"})
    assert Subscriber.objects.get(pk=subscriber.pk).attributes == {"visits": 3}


def test_the_api_edit_records_the_token_user_and_never_the_address(token_client, subscriber):
    url = f"/api/v1/lists/{subscriber.mailing_list_id}/subscribers/{subscriber.pk}/"
    response = token_client.patch(
        url, {"phone": "+7 495 123-45-67", "email": "new@example.org"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["email"] == "jane@example.org"
    change = SubscriberChange.objects.get()
    assert (change.changed_by, change.channel) == (token_client.user, "api")
    assert change.changes == {"phone": ["", "+7 495 123-45-67"]}

    refused = token_client.patch(url, {"attributes": {"bad key": 1}}, format="json")
    assert refused.status_code == 400 and "attributes" in refused.json()


def test_the_privacy_export_holds_the_change_history(subscriber, user):
    subscriber_update(subscriber=subscriber, name="Jane Smith", changed_by=user, channel="api")
    export = selectors.subscriber_export(account=user.account, email="jane@example.org")
    [change] = export["subscriptions"][0]["changes"]
    assert (change["channel"], change["changes"]) == ("api", {"name": ["Jane", "Jane Smith"]})


def test_erasing_an_address_erases_its_change_history(subscriber, user):
    subscriber_update(subscriber=subscriber, name="Jane Smith", changed_by=user)
    subscriber_erase(account=user.account, email="jane@example.org")
    assert not SubscriberChange.objects.exists()


# --- removing from one list -----------------------------------------------------------------------


def test_removing_from_one_list_withdraws_there_only(
    user, mailing_list, subscriber, django_capture_on_commit_callbacks
):
    elsewhere = SubscriberFactory(
        mailing_list=MailingListFactory(account=user.account), email="jane@example.org"
    )
    assert selectors.status_counts(mailing_list=mailing_list)["subscribed"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        subscriber_remove_from_list(subscriber=subscriber, recorded_by=user)
        subscriber_remove_from_list(subscriber=subscriber, recorded_by=user)  # twice: no-op

    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED
    assert subscriber.unsubscribed_at is not None
    withdrawn = ConsentRecord.objects.filter(subscriber=subscriber, event=ConsentEvent.WITHDRAWN)
    assert [(r.source, r.recorded_by) for r in withdrawn] == [(REMOVED_BY_SENDER, user)]
    counts = selectors.status_counts(mailing_list=mailing_list)
    assert (counts["subscribed"], counts["unsubscribed"]) == (0, 1)
    # The address is not suppressed; the other list keeps it.
    assert not Suppression.objects.exists()
    elsewhere.refresh_from_db()
    assert elsewhere.status == SubscriberStatus.SUBSCRIBED
    assert mail.outbox == []


def test_the_remove_button_asks_first_then_removes(owner, subscriber):
    list_id = subscriber.mailing_list_id
    detail = owner.get(reverse("subscriber_detail", args=[list_id, subscriber.pk]))
    remove_url = reverse("subscriber_remove", args=[list_id, subscriber.pk])
    assert remove_url in detail.content.decode()

    confirm = owner.get(remove_url)
    assert confirm.status_code == 200 and "not suppressed" in confirm.content.decode()
    assert Subscriber.objects.get(pk=subscriber.pk).status == SubscriberStatus.SUBSCRIBED

    response = owner.post(remove_url)
    assert response.status_code == 302
    assert Subscriber.objects.get(pk=subscriber.pk).status == SubscriberStatus.UNSUBSCRIBED
    page = owner.get(response["Location"]).content.decode()
    assert "Removed from this list by the sender" in page


def test_the_api_removes_from_one_list(token_client, subscriber):
    url = f"/api/v1/lists/{subscriber.mailing_list_id}/subscribers/{subscriber.pk}/remove/"
    response = token_client.post(url)
    assert response.status_code == 200
    assert response.json()["status"] == "unsubscribed"
    assert ConsentRecord.objects.filter(source=REMOVED_BY_SENDER).count() == 1
    assert not Suppression.objects.exists()


# --- scoping --------------------------------------------------------------------------------------


def test_another_accounts_subscriber_and_list_are_not_found(owner, token_client, other_user):
    theirs = SubscriberFactory(mailing_list=MailingListFactory(account=other_user.account))
    list_id = theirs.mailing_list_id
    for name in ("subscriber_edit", "subscriber_remove"):
        url = reverse(name, args=[list_id, theirs.pk])
        assert owner.get(url).status_code == 404
        assert owner.post(url, {"name": "Mine now"}).status_code == 404
    assert owner.get(reverse("list_export", args=[list_id])).status_code == 404
    api = f"/api/v1/lists/{list_id}/subscribers/{theirs.pk}/"
    assert token_client.post(api + "remove/").status_code == 404
    assert token_client.patch(api, {"name": "x"}, format="json").status_code == 404
    assert token_client.get(f"/api/v1/lists/{list_id}/export/?format=csv").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == SubscriberStatus.SUBSCRIBED and theirs.name != "Mine now"
    assert not SubscriberChange.objects.exists()


# --- exports --------------------------------------------------------------------------------------


def _export_world(mailing_list):
    SubscriberFactory(mailing_list=mailing_list, email="ann@example.org", name="Ann")
    SubscriberFactory(
        mailing_list=mailing_list,
        email="bob@example.org",
        name='=HYPERLINK("http://evil.example")',
        attributes={"note": "+1 call"},
        status=SubscriberStatus.UNSUBSCRIBED,
    )
    # Not theirs: another list of another account.
    SubscriberFactory(email="stranger@example.org")


def test_the_csv_export_streams_every_subscriber_with_consent_and_safe_cells(owner, mailing_list):
    _export_world(mailing_list)
    response = owner.get(reverse("list_export", args=[mailing_list.pk]), {"format": "csv"})

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _rows_of_csv(b"".join(response.streaming_content))
    assert rows[0] == SUBSCRIBER_EXPORT_HEADER
    for column in ("consent_source", "consent_obtained_at", "consent_ip", "consent_form_url"):
        assert column in rows[0]
    by_email = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert set(by_email) == {"ann@example.org", "bob@example.org"}
    assert by_email["ann@example.org"]["consent_source"] == "web_form"
    assert by_email["ann@example.org"]["consent_ip"] == "203.0.113.9"
    assert by_email["ann@example.org"]["consent_obtained_at"]
    assert by_email["bob@example.org"]["name"] == '\'=HYPERLINK("http://evil.example")'
    assert by_email["bob@example.org"]["status"] == "unsubscribed"


def test_the_xlsx_export_opens_and_holds_no_formula(token_client, mailing_list):
    _export_world(mailing_list)
    response = token_client.get(f"/api/v1/lists/{mailing_list.pk}/export/?format=xlsx")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    assert rows[0] == SUBSCRIBER_EXPORT_HEADER
    assert [row[0] for row in rows[1:]] == ["ann@example.org", "bob@example.org"]
    bob = rows[2]
    assert bob[1] == '\'=HYPERLINK("http://evil.example")'
    assert json.loads(bob[6]) == {"note": "+1 call"}
    cells = [cell for row in workbook.worksheets[0].iter_rows() for cell in row]
    assert all(cell.data_type != "f" for cell in cells)


def test_the_api_csv_export_and_a_bad_format(token_client, mailing_list):
    _export_world(mailing_list)
    url = f"/api/v1/lists/{mailing_list.pk}/export/"
    response = token_client.get(url)  # csv unless asked
    rows = _rows_of_csv(b"".join(response.streaming_content))
    assert len(rows) == 3 and rows[1][0] == "ann@example.org"
    refused = token_client.get(url + "?format=pdf")
    assert refused.status_code == 400 and "format" in refused.json()


def test_export_rows_are_read_in_chunks_with_the_latest_consent(
    mailing_list, django_assert_max_num_queries
):
    people = SubscriberFactory.create_batch(5, mailing_list=mailing_list)
    from django.utils import timezone

    ConsentRecord.objects.create(
        subscriber=people[0],
        event=ConsentEvent.GRANTED,
        source="paper_form",
        obtained_at=timezone.now(),
        proof="Signed form, box 3",
    )
    with django_assert_max_num_queries(3):  # chunks of 2, 2 and 1, their consent joined
        rows = list(subscriber_export_rows(mailing_list.subscribers.all(), chunk=2))
    assert [row[0] for row in rows] == [p.email for p in people]
    assert (rows[0][7], rows[0][13]) == ("paper_form", "Signed form, box 3")


def test_a_long_xlsx_export_goes_on_over_more_sheets(mailing_list, tmp_path):
    SubscriberFactory.create_batch(5, mailing_list=mailing_list)
    target = tmp_path / "out.xlsx"
    with target.open("wb") as file:
        written = subscribers_xlsx(mailing_list.subscribers.all(), target=file, sheet_rows=2)
    workbook = load_workbook(target)
    assert written == 5
    assert [sheet.max_row for sheet in workbook.worksheets] == [3, 3, 2]


def test_the_list_page_offers_the_exports(owner, mailing_list):
    _export_world(mailing_list)
    page = owner.get(reverse("list_detail", args=[mailing_list.pk])).content.decode()
    assert 'id="export-csv"' in page and 'name="format" value="xlsx"' in page
    assert f'action="{reverse("list_export", args=[mailing_list.pk])}"' in page


# --- long lists and search ------------------------------------------------------------------------


def test_search_finds_part_of_an_address_or_a_name(user, mailing_list):
    SubscriberFactory(mailing_list=mailing_list, email="olga.petrova@mail.example", name="Olga")
    SubscriberFactory(mailing_list=mailing_list, email="x1@example.org", name="Ivan Sidorov")
    SubscriberFactory(email="petrov@example.org")  # another account

    def found(search):
        queryset = selectors.subscribers_for(
            account=user.account, mailing_list=mailing_list, search=search
        )
        return sorted(queryset.values_list("email", flat=True))

    assert found("petrov") == ["olga.petrova@mail.example"]
    assert found("SIDOR") == ["x1@example.org"]
    assert found("ail.exa") == ["olga.petrova@mail.example"]
    assert found("100%") == []  # LIKE's wildcards are matched as text
    # A whole address is that address (by the unique index), not every one containing it.
    SubscriberFactory(mailing_list=mailing_list, email="xolga.petrova@mail.example")
    assert found("Olga.Petrova@mail.example") == ["olga.petrova@mail.example"]
    assert found("ga.petrova@mail.exampl") == [
        "olga.petrova@mail.example",
        "xolga.petrova@mail.example",
    ]


def test_page_numbers_and_jump_to_page(owner, mailing_list):
    SubscriberFactory.create_batch(260, mailing_list=mailing_list)
    newest_first = list(mailing_list.subscribers.order_by("-id").values_list("email", flat=True))
    url = reverse("list_detail", args=[mailing_list.pk])

    response = owner.get(url, {"page": 4})
    page = response.context["page"]
    assert [s.email for s in page.object_list] == newest_first[150:200]
    assert response.context["page_numbers"] == [1, 2, 3, 4, 5, 6]
    html = response.content.decode()
    assert 'id="jump-to-page"' in html and 'max="6"' in html
    assert 'aria-current="page"' in html
    last = owner.get(url, {"page": 6}).context["page"]
    assert [s.email for s in last.object_list] == newest_first[250:]
    # Out of range: the last page; filters survive the jump form.
    assert owner.get(url, {"page": 99}).context["page"].number == 6
    filtered = owner.get(url, {"status": "subscribed", "page": 2}).content.decode()
    assert 'type="hidden" name="status" value="subscribed"' in filtered


def test_page_numbers_leave_out_the_middle():
    class Pages:
        num_pages = 40

    class Page:
        number = 20
        paginator = Pages

    assert page_numbers(Page) == [1, None, 18, 19, 20, 21, 22, None, 40]


def test_a_search_counts_only_up_to_the_cap(user, mailing_list, monkeypatch):
    monkeypatch.setattr("lists.paging.SEARCH_COUNT_CAP", 3)
    SubscriberFactory.create_batch(5, mailing_list=mailing_list)
    queryset = selectors.subscribers_for(
        account=user.account, mailing_list=mailing_list, search="example"
    )
    paginator = SearchPaginator(queryset, 2)
    assert (paginator.count, paginator.count_capped, paginator.num_pages) == (3, True, 2)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", "12"),
        ("phone", "x" * 41),
        ("attributes", {f"a{i}": i for i in range(51)}),
        ("attributes", {"note": "x" * 1001}),
        ("attributes", {"n" * 65: "x"}),
    ],
)
def test_adding_by_hand_meets_the_same_rules_as_editing(token_client, mailing_list, field, value):
    response = token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/subscribers/",
        {
            "email": "new@example.org",
            field: value,
            "consent": {"source": "paper_form", "proof": "Signed form no. 7"},
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Subscriber.objects.filter(email="new@example.org").exists()
