"""The sender's browser pages for lists: lists, subscribers, imports, the form, privacy."""

import json
import re
from html import unescape

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from lists.models import (
    ConsentEvent,
    ConsentRecord,
    ConsentSource,
    ImportJob,
    ImportStatus,
    MailingList,
    Subscriber,
    SubscriberStatus,
    Suppression,
    SuppressionReason,
)
from lists.services.suppression import suppression_add
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

CSV = (
    b"Email,Name,City\n"
    b"ann@example.org,Ann,Paris\n"
    b"bob@example.org,Bob,Berlin\n"
    b"not-an-address,Carl,Rome\n"
    b"ANN@example.org,Ann again,Paris\n"
    b"info@example.org,Info desk,Oslo\n"
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def owner(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def mailing_list(user):
    return MailingListFactory(account=user.account, name="Bakery news")


@pytest.fixture
def foreign_list(other_user):
    return MailingListFactory(account=other_user.account, name="Someone else's list")


def _text(response) -> str:
    return unescape(response.content.decode())


def _words(response) -> str:
    """The page's text without tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", _text(response)).split())


def _emails_on_page(response) -> list[str]:
    table = re.search(r'<table id="subscribers">.*?</table>', response.content.decode(), re.S)
    if table is None:
        return []
    return re.findall(r'/subscribers/\d+/">([^<]+)</a>', table.group(0))


# --- access --------------------------------------------------------------------------------------


def test_pages_need_a_login(client, mailing_list):
    response = client.get(reverse("list_detail", args=[mailing_list.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def _foreign_urls(foreign_list, foreign_subscriber, foreign_import):
    list_id, sub_id, import_id = foreign_list.pk, foreign_subscriber.pk, foreign_import.pk
    return [
        ("get", reverse("list_detail", args=[list_id])),
        ("get", reverse("list_edit", args=[list_id])),
        ("post", reverse("list_edit", args=[list_id])),
        ("get", reverse("list_delete", args=[list_id])),
        ("post", reverse("list_delete", args=[list_id])),
        ("get", reverse("list_form_builder", args=[list_id])),
        ("get", reverse("subscriber_add", args=[list_id])),
        ("post", reverse("subscriber_add", args=[list_id])),
        ("get", reverse("import_upload", args=[list_id])),
        ("get", reverse("subscriber_detail", args=[list_id, sub_id])),
        ("post", reverse("subscriber_unsubscribe", args=[list_id, sub_id])),
        ("get", reverse("import_progress", args=[import_id])),
        ("get", reverse("import_map", args=[import_id])),
        ("post", reverse("import_map", args=[import_id])),
    ]


def test_another_accounts_lists_subscribers_and_imports_answer_404(owner, foreign_list, user):
    foreign_subscriber = SubscriberFactory(mailing_list=foreign_list)
    foreign_import = ImportJob.objects.create(
        account=foreign_list.account,
        mailing_list=foreign_list,
        original_filename="theirs.csv",
        file_format="csv",
        consent_source=ConsentSource.PAPER_FORM,
        status=ImportStatus.DONE,
    )
    for method, url in _foreign_urls(foreign_list, foreign_subscriber, foreign_import):
        response = getattr(owner, method)(url)
        assert response.status_code == 404, (method, url)
    # A subscriber of another account is not reachable through one's own list either.
    own = MailingListFactory(account=user.account)
    url = reverse("subscriber_detail", args=[own.pk, foreign_subscriber.pk])
    assert owner.get(url).status_code == 404
    # Nothing changed.
    foreign_subscriber.refresh_from_db()
    assert foreign_subscriber.status == SubscriberStatus.SUBSCRIBED
    assert MailingList.objects.filter(pk=foreign_list.pk).exists()
    assert ImportJob.objects.filter(pk=foreign_import.pk).exists()


# --- lists ---------------------------------------------------------------------------------------


def test_list_index_shows_the_accounts_lists_with_subscribed_counts(owner, mailing_list):
    SubscriberFactory.create_batch(2, mailing_list=mailing_list)
    SubscriberFactory(mailing_list=mailing_list, status=SubscriberStatus.UNSUBSCRIBED)
    MailingListFactory(name="Someone else's list")

    response = owner.get(reverse("lists"))

    assert response.status_code == 200
    assert list(response.context["lists"]) == [mailing_list]
    assert response.context["lists"][0].subscriber_count == 2
    text = _text(response)
    assert "Bakery news" in text
    assert "Someone else's list" not in text
    assert reverse("list_create") in text


def test_list_index_empty_state(owner):
    response = owner.get(reverse("lists"))
    assert "No lists yet" in _text(response)


def test_create_list(owner, user):
    response = owner.post(
        reverse("list_create"),
        {
            "name": "Weekly offers",
            "purpose": "Our weekly offers on bread and cakes.",
            "privacy_policy_url": "https://example.org/privacy",
            "double_opt_in": "on",
            "track_clicks": "on",
        },
    )

    created = MailingList.objects.get(account=user.account)
    assert response.status_code == 302
    assert response["Location"] == reverse("list_detail", args=[created.pk])
    assert (created.name, created.purpose) == (
        "Weekly offers",
        "Our weekly offers on bread and cakes.",
    )
    assert (created.double_opt_in, created.adult_content) == (True, False)
    assert (created.track_opens, created.track_clicks) == (False, True)


def test_the_new_list_form_has_double_opt_in_on_by_default(owner):
    response = owner.get(reverse("list_create"))
    assert response.context["form"]["double_opt_in"].value() is True
    assert "what subscribers will receive; shown on the form" in _text(response).lower()


def test_creating_a_list_without_a_purpose_shows_the_error_and_creates_nothing(owner):
    response = owner.post(reverse("list_create"), {"name": "Weekly offers", "purpose": "  "})

    assert response.status_code == 200
    assert response.context["form"].errors["purpose"] == [
        "Say what subscribers will receive: it is shown on the subscription form."
    ]
    assert not MailingList.objects.exists()


def test_a_second_list_of_the_same_name_is_refused_on_the_name(owner, mailing_list):
    response = owner.post(
        reverse("list_create"),
        {
            "name": "Bakery news",
            "purpose": "Again.",
            "privacy_policy_url": "https://example.org/privacy",
        },
    )
    assert response.context["form"].errors["name"] == ["You already have a list with this name."]
    assert MailingList.objects.count() == 1


def test_edit_list_settings(owner, mailing_list):
    url = reverse("list_edit", args=[mailing_list.pk])
    assert owner.get(url).context["form"]["name"].value() == "Bakery news"

    response = owner.post(
        url,
        {
            "name": "Bakery letters",
            "purpose": "Monthly.",
            "adult_content": "on",
            "privacy_policy_url": "https://example.org/privacy",
        },
    )

    assert response.status_code == 302
    mailing_list.refresh_from_db()
    assert (mailing_list.name, mailing_list.purpose) == ("Bakery letters", "Monthly.")
    assert mailing_list.adult_content is True
    assert mailing_list.double_opt_in is False


def test_list_detail_shows_counts_per_status(owner, mailing_list):
    SubscriberFactory.create_batch(3, mailing_list=mailing_list)
    SubscriberFactory(mailing_list=mailing_list, status=SubscriberStatus.UNCONFIRMED)
    SubscriberFactory(mailing_list=mailing_list, status=SubscriberStatus.BOUNCED)

    response = owner.get(reverse("list_detail", args=[mailing_list.pk]))

    assert response.status_code == 200
    assert response.context["counts"] == {
        "unconfirmed": 1,
        "subscribed": 3,
        "unsubscribed": 0,
        "bounced": 1,
        "complained": 0,
    }
    text = _text(response)
    assert '<span class="stat-value" id="count-all">5</span>' in text
    assert '<span class="stat-value" id="count-subscribed">3</span>' in text
    assert "Mostly role addresses" not in text
    for name in ("subscriber_add", "import_upload", "list_form_builder", "list_edit"):
        assert reverse(name, args=[mailing_list.pk]) in text


def test_list_detail_warns_when_role_addresses_dominate(owner, mailing_list):
    SubscriberFactory(mailing_list=mailing_list, email="info@shop.example", is_role_address=True)
    SubscriberFactory(mailing_list=mailing_list, email="sales@shop.example", is_role_address=True)
    SubscriberFactory(mailing_list=mailing_list, email="ann@shop.example")

    response = owner.get(reverse("list_detail", args=[mailing_list.pk]))

    assert response.context["role_dominated"] is True
    assert "Mostly role addresses" in _text(response)


def test_list_detail_empty_state(owner, mailing_list):
    text = _text(owner.get(reverse("list_detail", args=[mailing_list.pk])))
    assert "No subscribers yet — " in text
    assert "share the form" in text


def test_search_by_address_or_name_part_and_filter_by_status(owner, mailing_list):
    SubscriberFactory(mailing_list=mailing_list, email="anna@example.org", name="Anna Berg")
    SubscriberFactory(mailing_list=mailing_list, email="bert@example.org", name="Annette Roy")
    SubscriberFactory(
        mailing_list=mailing_list,
        email="anders@example.org",
        name="Anders",
        status=SubscriberStatus.UNSUBSCRIBED,
    )
    SubscriberFactory(mailing_list=mailing_list, email="carl@example.org", name="Carl")
    SubscriberFactory(email="annie@example.org", name="Annie")  # another account's list
    url = reverse("list_detail", args=[mailing_list.pk])

    # Newest first; the name prefix matches case-insensitively.
    assert _emails_on_page(owner.get(url, {"q": "AN"})) == [
        "anders@example.org",
        "bert@example.org",
        "anna@example.org",
    ]
    assert _emails_on_page(owner.get(url, {"q": "ann"})) == ["bert@example.org", "anna@example.org"]
    assert _emails_on_page(owner.get(url, {"status": "unsubscribed"})) == ["anders@example.org"]
    assert _emails_on_page(owner.get(url, {"q": "an", "status": "subscribed"})) == [
        "bert@example.org",
        "anna@example.org",
    ]
    # From three characters, any part of the address or the name (issue 22); never another
    # account's subscribers.
    assert _emails_on_page(owner.get(url, {"q": "xample.or"})) == [
        "carl@example.org",
        "anders@example.org",
        "bert@example.org",
        "anna@example.org",
    ]
    assert _emails_on_page(owner.get(url, {"q": "ETTE R"})) == ["bert@example.org"]
    # Below three characters, a prefix: "rl" is inside carl@ but starts nothing.
    response = owner.get(url, {"q": "rl"})
    assert _emails_on_page(response) == []
    assert "No subscribers match" in _text(response)


def test_subscribers_are_paged_by_50_newest_first_without_counting_them_again(owner, mailing_list):
    SubscriberFactory.create_batch(55, mailing_list=mailing_list)
    newest_first = list(mailing_list.subscribers.order_by("-id").values_list("email", flat=True))
    url = reverse("list_detail", args=[mailing_list.pk])

    with CaptureQueriesContext(connection) as queries:
        first = owner.get(url)
    second = owner.get(url, {"page": 2})
    filtered = owner.get(url, {"status": "subscribed", "page": 2})

    assert _emails_on_page(first) == newest_first[:50]
    assert _emails_on_page(second) == newest_first[50:]
    assert _emails_on_page(filtered) == newest_first[50:]
    assert first.context["page"].paginator.num_pages == 2
    assert "page=2" in _text(first)
    # The total comes from the per-status counts: no separate COUNT(*) of the subscribers.
    assert not [q["sql"] for q in queries.captured_queries if '"__count"' in q["sql"]]


def test_delete_confirm_page_says_how_many_subscribers_are_erased(owner, mailing_list):
    SubscriberFactory.create_batch(3, mailing_list=mailing_list)
    response = owner.get(reverse("list_delete", args=[mailing_list.pk]))
    assert response.status_code == 200
    assert "its 3 subscribers and their consent records" in _words(response)
    assert MailingList.objects.filter(pk=mailing_list.pk).exists()


def test_delete_erases_the_list_its_subscribers_and_consent_but_keeps_suppressions(
    owner, mailing_list, user
):
    SubscriberFactory.create_batch(2, mailing_list=mailing_list)
    gone = SubscriberFactory(mailing_list=mailing_list, status=SubscriberStatus.UNSUBSCRIBED)
    suppression_add(account=user.account, email=gone.email, reason=SuppressionReason.UNSUBSCRIBED)
    kept = SubscriberFactory(mailing_list=MailingListFactory(account=user.account))

    response = owner.post(reverse("list_delete", args=[mailing_list.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("lists")
    assert not MailingList.objects.filter(pk=mailing_list.pk).exists()
    assert list(Subscriber.objects.all()) == [kept]
    assert set(ConsentRecord.objects.values_list("subscriber_id", flat=True)) == {kept.pk}
    assert Suppression.objects.filter(account=user.account).count() == 1
    assert "with its 3 subscribers" in _text(owner.get(reverse("lists")))


# --- subscribers ---------------------------------------------------------------------------------


def test_add_a_subscriber_with_declared_consent(
    owner, mailing_list, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(
            reverse("subscriber_add", args=[mailing_list.pk]),
            {
                "email": " Dora@Example.ORG ",
                "name": "Dora",
                "phone": "+44 20 7946 0001",
                "source": "paper_form",
                "obtained_at": "2026-03-01T10:30",
                "proof": "Signed form in the shop's binder, page 12",
            },
        )

    assert response.status_code == 302
    subscriber = Subscriber.objects.get(mailing_list=mailing_list)
    assert (subscriber.email, subscriber.name, subscriber.phone) == (
        "dora@example.org",
        "Dora",
        "+44 20 7946 0001",
    )
    # The factory's list has double opt-in on: the person must confirm first.
    assert subscriber.status == SubscriberStatus.UNCONFIRMED
    record = subscriber.consent_records.get()
    assert (record.event, record.source, record.ip) == (ConsentEvent.GRANTED, "paper_form", None)
    assert record.proof == "Signed form in the shop's binder, page 12"
    assert record.obtained_at.strftime("%Y-%m-%d %H:%M") == "2026-03-01 10:30"
    assert record.recorded_by == user
    assert record.purpose_text == mailing_list.purpose
    assert [m.to for m in mail.outbox] == [["dora@example.org"]]
    assert "dora@example.org added" in _text(owner.get(response["Location"]))


def test_the_add_form_offers_only_the_allowed_sources(owner, mailing_list):
    response = owner.get(reverse("subscriber_add", args=[mailing_list.pk]))
    # The consent source's own select (the footer's language switcher has options too).
    select = re.search(r'<select name="source".*?</select>', response.content.decode(), re.S)
    options = re.findall(r'<option value="([^"]*)"', select.group(0))
    assert options == ["", *ConsentSource.values]


def test_a_forged_purchased_source_is_refused_and_nothing_is_written(
    owner, mailing_list, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = owner.post(
            reverse("subscriber_add", args=[mailing_list.pk]),
            {"email": "dora@example.org", "source": "purchased", "proof": "Invoice 42"},
        )

    assert response.status_code == 200
    assert response.context["form"].errors["source"] == [
        "Purchased lists are not accepted: the people on them never asked you for mail."
    ]
    assert not Subscriber.objects.exists()
    assert not ConsentRecord.objects.exists()
    assert callbacks == []
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"source": "paper_form", "proof": ""}, "proof", "Describe the proof of consent"),
        ({"source": "", "proof": "x"}, "source", "Choose how the consent was obtained."),
        ({"email": "not an address"}, "email", "An email address must have an @-sign."),
        ({"obtained_at": "2999-01-01T00:00"}, "obtained_at", "Consent cannot be obtained"),
    ],
)
def test_adding_a_subscriber_shows_refusals_on_the_field(owner, mailing_list, data, field, message):
    valid = {"email": "dora@example.org", "source": "paper_form", "proof": "Binder, page 12"}
    response = owner.post(reverse("subscriber_add", args=[mailing_list.pk]), valid | data)
    assert response.status_code == 200
    assert response.context["form"].errors[field][0].startswith(message)
    assert not Subscriber.objects.exists()


def test_a_suppressed_address_cannot_be_added(owner, mailing_list, user):
    suppression_add(
        account=user.account, email="dora@example.org", reason=SuppressionReason.COMPLAINED
    )
    response = owner.post(
        reverse("subscriber_add", args=[mailing_list.pk]),
        {"email": "dora@example.org", "source": "paper_form", "proof": "Binder"},
    )
    assert response.context["form"].errors["email"] == [
        "Suppressed: This address reported your mail as spam."
    ]
    assert not Subscriber.objects.exists()


def test_subscriber_detail_shows_the_consent_history(owner, mailing_list):
    subscriber = SubscriberFactory(
        mailing_list=mailing_list, email="eve@example.org", attributes={"city": "Lyon"}
    )
    ConsentRecord.objects.create(
        subscriber=subscriber,
        event=ConsentEvent.CONFIRMED,
        source="confirmation_link",
        obtained_at=subscriber.created_at,
        ip="198.51.100.7",
        user_agent="Mozilla/5.0 Firefox/140",
        form_url="https://bakery.example/news",
        proof="Clicked the link",
    )

    response = owner.get(reverse("subscriber_detail", args=[mailing_list.pk, subscriber.pk]))

    assert response.status_code == 200
    text = _text(response)
    for expected in (
        "eve@example.org",
        "Subscribed",
        "Consent given",
        "Confirmed by e-mail (double opt-in)",
        "Web form (our hosted or embedded form)",
        "Confirmation link",
        "203.0.113.9",
        "198.51.100.7",
        "Mozilla/5.0 Firefox/140",
        "https://bakery.example/news",
        "Clicked the link",
        mailing_list.purpose,
        "Lyon",
    ):
        assert expected in text, expected
    # Issue 23, item 2: the sources read as words, never as their codes.
    assert "web_form" not in text and "confirmation_link" not in text
    assert reverse("subscriber_unsubscribe", args=[mailing_list.pk, subscriber.pk]) in text


def test_a_reconfirmed_clients_source_reads_in_the_readers_language(owner, mailing_list, user):
    subscriber = SubscriberFactory(mailing_list=mailing_list)
    ConsentRecord.objects.create(
        subscriber=subscriber,
        event=ConsentEvent.GRANTED,
        source=ConsentSource.CLIENT_RECONFIRMED,
        obtained_at=subscriber.created_at,
        proof="Answered our consent request",
    )
    user.language = "ru"
    user.save(update_fields=["language"])

    text = _text(owner.get(reverse("subscriber_detail", args=[mailing_list.pk, subscriber.pk])))

    assert "client_reconfirmed" not in text
    assert "Существующий клиент" in text


def test_unsubscribe_from_the_detail_page(owner, mailing_list, user):
    subscriber = SubscriberFactory(mailing_list=mailing_list)
    url = reverse("subscriber_unsubscribe", args=[mailing_list.pk, subscriber.pk])

    assert owner.get(url).status_code == 405
    response = owner.post(url)
    owner.post(url)  # twice: nothing more happens

    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED
    withdrawn = subscriber.consent_records.get(event=ConsentEvent.WITHDRAWN)
    assert (withdrawn.source, withdrawn.recorded_by) == ("sender", user)
    suppression = Suppression.objects.get(account=user.account)
    assert (suppression.email, suppression.reason) == (subscriber.email, "unsubscribed")
    assert "is unsubscribed and suppressed" in _text(owner.get(response["Location"]))


# --- imports -------------------------------------------------------------------------------------


def _upload(client, mailing_list, content=CSV, name="customers.csv", **fields):
    data = {
        "file": SimpleUploadedFile(name, content, content_type="text/csv"),
        "consent_source": "paper_form",
        "proof": "Signed forms, box 4 at the office",
        "consent_obtained_at": "2026-02-01",
        **fields,
    }
    return client.post(reverse("import_upload", args=[mailing_list.pk]), data)


def test_import_wizard_upload_map_run_and_report(
    owner, mailing_list, user, django_capture_on_commit_callbacks
):
    # Step 1: upload. Nothing runs yet; the guess is kept for the mapping step.
    upload_page = owner.get(reverse("import_upload", args=[mailing_list.pk]))
    assert 'accept=".txt,.csv,.xls,.xlsx"' in upload_page.content.decode()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _upload(owner, mailing_list)
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("import_map", args=[job.pk])
    assert callbacks == []
    assert (job.status, job.column_map) == (
        ImportStatus.PENDING,
        {"email": 0, "name": 1, "attributes": {}},
    )
    assert job.consent_obtained_at.strftime("%Y-%m-%d") == "2026-02-01"
    assert not Subscriber.objects.exists()
    # The progress page of a pending import leads to the mapping.
    assert owner.get(reverse("import_progress", args=[job.pk]))["Location"] == response["Location"]

    # Step 2: the header and first rows, with the guess preselected.
    page = owner.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    for cell in ("Email", "City", "ann@example.org", "not-an-address", "Oslo"):
        assert cell in html
    form = page.context["form"]
    assert [form[f"column_{i}"].value() for i in range(3)] == ["email", "name", ""]

    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(
            response["Location"],
            {
                "column_0": "email",
                "column_1": "name",
                "column_2": "attribute",
                "attribute_2": "city",
                "action": "start",
            },
        )
    assert response["Location"] == reverse("import_progress", args=[job.pk])

    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert job.column_map == {"email": 0, "name": 1, "attributes": {"city": 2}}
    assert (job.total_rows, job.processed, job.imported, job.updated, job.skipped) == (
        5,
        5,
        3,
        0,
        2,
    )
    people = mailing_list.subscribers.order_by("email")
    assert list(people.values_list("email", "name", "attributes")) == [
        ("ann@example.org", "Ann", {"city": "Paris"}),
        ("bob@example.org", "Bob", {"city": "Berlin"}),
        ("info@example.org", "Info desk", {"city": "Oslo"}),
    ]

    # Step 3: the progress page shows the finished import, its issues and the report.
    page = owner.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert re.search(r'<progress id="import-progress" data-job-bar max="1" value="1\.0+"', html)
    assert 'id="import-status" data-job-status class="badge ok">Done<' in html
    for count_id, value in (
        ("total", 5),
        ("processed", 5),
        ("imported", 3),
        ("updated", 0),
        ("skipped", 2),
    ):
        assert f'<dd id="count-{count_id}">{value}</dd>' in html
    issues = [(i.row, i.email, i.skipped) for i in page.context["issues"]]
    assert issues == [
        (4, "not-an-address", True),
        (5, "ann@example.org", True),
        (6, "info@example.org", False),
    ]
    assert "Duplicate of row 2." in unescape(html)
    error_report = reverse("api-import-errors", args=[job.pk])
    assert f'href="{error_report}"' in html
    assert "http-equiv" not in html  # finished: no self-refresh
    report = owner.get(error_report)
    assert report.status_code == 200
    assert b"not-an-address" in b"".join(report.streaming_content)

    # The list shows it among its recent imports; the mapping step is closed now.
    detail = owner.get(reverse("list_detail", args=[mailing_list.pk]))
    assert list(detail.context["recent_imports"]) == [job]
    assert owner.get(reverse("import_map", args=[job.pk]))["Location"] == reverse(
        "import_progress", args=[job.pk]
    )


def test_a_running_import_page_polls_and_refreshes_without_javascript(owner, mailing_list):
    _upload(owner, mailing_list)
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING, total_rows=5, processed=2, imported=2
    )

    html = owner.get(reverse("import_progress", args=[job.pk])).content.decode()

    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in html
    assert 'value="0.4000"' in html
    assert f'data-status-url="{reverse("api-import", args=[job.pk])}"' in html
    assert "js/import-progress.js" in html
    assert '<section id="import-result" aria-labelledby="issues-heading" hidden>' in html


def test_import_mapping_needs_an_email_column_and_distinct_targets(owner, mailing_list):
    _upload(owner, mailing_list)
    job = ImportJob.objects.get()
    url = reverse("import_map", args=[job.pk])

    response = owner.post(url, {"column_0": "name", "column_1": "", "column_2": ""})
    assert response.context["form"].non_field_errors() == [
        "Choose the column that holds the e-mail address."
    ]
    response = owner.post(url, {"column_0": "email", "column_1": "email", "column_2": ""})
    assert response.context["form"].errors["column_1"] == [
        "Only one column can be the e-mail address."
    ]
    response = owner.post(url, {"column_0": "email", "column_2": "attribute"})
    assert response.context["form"].errors["attribute_2"] == ["Name the attribute, e.g. city."]
    response = owner.post(
        url, {"column_0": "email", "column_2": "attribute", "attribute_2": "home town"}
    )
    assert (
        "must be letters, digits and underscores" in response.context["form"].non_field_errors()[0]
    )

    job.refresh_from_db()
    assert job.status == ImportStatus.PENDING
    assert not Subscriber.objects.exists()


def test_cancelling_a_pending_import_drops_it_with_its_file(owner, mailing_list):
    _upload(owner, mailing_list)
    job = ImportJob.objects.get()
    path = job.file.path

    response = owner.post(reverse("import_map", args=[job.pk]), {"action": "cancel"})

    assert response["Location"] == reverse("list_detail", args=[mailing_list.pk])
    assert not ImportJob.objects.exists()
    import os

    assert not os.path.exists(path)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"consent_source": "purchased"}, "consent_source", "Purchased lists are not accepted"),
        ({"consent_source": "rented list"}, "consent_source", "Leased or rented lists"),
        ({"proof": ""}, "proof", "Describe the proof of consent"),
        ({"consent_obtained_at": "2999-01-01"}, "consent_obtained_at", "Consent cannot be"),
        ({"name": "customers.pdf"}, "file", "Files of type .pdf cannot be imported"),
        ({"content": b""}, "file", "The submitted file is empty."),
    ],
)
def test_import_upload_refusals_show_on_the_field_and_store_nothing(
    owner, mailing_list, fields, field, message
):
    response = _upload(owner, mailing_list, **fields)
    assert response.status_code == 200
    assert response.context["form"].errors[field][0].startswith(message)
    assert not ImportJob.objects.exists()


# --- the form builder ----------------------------------------------------------------------------


def _snippet(response) -> str:
    textarea = re.search(
        r'<textarea id="embed-snippet"[^>]*>(.*?)</textarea>', _text(response), re.S
    )
    return unescape(textarea.group(1))


def test_form_builder_shows_the_hosted_link_and_a_snippet_the_hosted_form_accepts(
    owner, mailing_list, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://mail.example.net"
    url = reverse("list_form_builder", args=[mailing_list.pk])
    hosted = f"https://mail.example.net/subscribe/{mailing_list.public_id}/"

    response = owner.get(url)

    assert response.status_code == 200
    assert f'href="{hosted}"' in response.content.decode()
    snippet = _snippet(response)
    assert f'<form method="post" action="{hosted}"' in snippet
    assert mailing_list.purpose in snippet
    assert f"I agree to receive “Bakery news” from {mailing_list.account.company_name}." in snippet
    assert '<input type="checkbox" name="consent" value="on">' in snippet  # never pre-ticked
    assert (
        '<div style="position:absolute;left:-10000px" aria-hidden="true">'
        '<input type="text" name="website" tabindex="-1" autocomplete="off"></div>'
    ) in snippet
    names = re.findall(r'name="([^"]+)"', snippet)
    # The name is collected by default; `lang` is the language the snippet is written in.
    assert names == ["email", "name", "consent", "lang", "website"]

    # Turn on the phone and off the name, mark the list adult: the snippet follows.
    response = owner.post(
        url,
        {
            "form_collect_phone": "on",
            "form_intro": "Hello!",
            "form_thank_you": "Thanks!",
            "privacy_policy_url": "https://example.org/privacy",
        },
    )
    assert response.status_code == 302
    mailing_list.refresh_from_db()
    assert (mailing_list.form_collect_name, mailing_list.form_collect_phone) == (False, True)
    assert (mailing_list.form_intro, mailing_list.form_thank_you) == ("Hello!", "Thanks!")
    mailing_list.adult_content = True
    mailing_list.save()
    snippet = _snippet(owner.get(url))
    assert re.findall(r'name="([^"]+)"', snippet) == [
        "email",
        "phone",
        "adult",
        "consent",
        "lang",
        "website",
    ]
    assert "Hello!" in snippet

    # Posted from another site (no CSRF token, no cookies), the snippet's fields subscribe.
    browser = Client(enforce_csrf_checks=True)
    fields = {"email": "fay@example.org", "phone": "+1 555 0101", "adult": "on", "consent": "on"}
    with django_capture_on_commit_callbacks(execute=True):
        answer = browser.post(f"/subscribe/{mailing_list.public_id}/", fields | {"website": ""})
    assert answer.status_code == 302
    assert answer["Location"].endswith("/thanks/?next=confirm")
    subscriber = Subscriber.objects.get(mailing_list=mailing_list)
    assert (subscriber.email, subscriber.phone) == ("fay@example.org", "+1 555 0101")


# --- privacy and suppression ---------------------------------------------------------------------


def test_privacy_export_downloads_the_addresss_data_as_json(owner, mailing_list, user):
    SubscriberFactory(mailing_list=mailing_list, email="gus@example.org", name="Gus")
    SubscriberFactory(email="gus@example.org")  # another account's: not exported

    response = owner.post(
        reverse("privacy_requests"), {"email": " GUS@example.org", "action": "export"}
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"] == (
        'attachment; filename="subscriber-data-gus-at-example.org.json"'
    )
    data = json.loads(response.content)
    assert data["email"] == "gus@example.org"
    assert [s["list"] for s in data["subscriptions"]] == ["Bakery news"]
    consent = data["subscriptions"][0]["consent"]
    assert [(c["event"], c["source"], c["ip"]) for c in consent] == [
        ("granted", "web_form", "203.0.113.9")
    ]


def test_privacy_export_of_an_unknown_address_says_so(owner):
    response = owner.post(
        reverse("privacy_requests"),
        {"email": "nobody@example.org", "action": "export"},
        follow=True,
    )
    assert "You hold no data about nobody@example.org." in _text(response)


def test_privacy_request_with_an_invalid_address_shows_the_error(owner):
    response = owner.post(reverse("privacy_requests"), {"email": "nobody@", "action": "export"})
    assert response.status_code == 200
    assert response.context["form"].errors["email"][0].startswith("There must be something")


def test_privacy_erase_confirms_then_leaves_only_a_hashed_suppression(owner, mailing_list, user):
    SubscriberFactory(mailing_list=mailing_list, email="hal@example.org")
    SubscriberFactory(
        mailing_list=MailingListFactory(account=user.account), email="hal@example.org"
    )
    theirs = SubscriberFactory(email="hal@example.org")
    url = reverse("privacy_requests")

    confirm = owner.post(url, {"email": "hal@example.org", "action": "erase"})
    assert confirm.status_code == 200
    assert "This erases 2 subscriptions" in _words(confirm)
    assert Subscriber.objects.count() == 3

    response = owner.post(url, {"email": "hal@example.org", "action": "erase-confirmed"})

    assert response.status_code == 302
    assert list(Subscriber.objects.all()) == [theirs]
    suppression = Suppression.objects.get(account=user.account)
    assert (suppression.email, suppression.reason) == ("", SuppressionReason.ERASED)
    assert len(suppression.email_hash) == 64
    assert "Erased: 2 subscriptions" in _text(owner.get(url))
    # The suppression list shows it as erased.
    assert (
        '<span class="badge" title="Only a keyed hash'
        in owner.get(reverse("suppressions")).content.decode()
    )


def test_subscriber_page_buttons_lead_to_export_and_erase(owner, mailing_list):
    subscriber = SubscriberFactory(mailing_list=mailing_list, email="ida@example.org")
    html = owner.get(reverse("subscriber_detail", args=[mailing_list.pk, subscriber.pk]))
    html = html.content.decode()
    assert f'action="{reverse("privacy_requests")}"' in html
    assert 'name="action" value="export"' in html
    assert 'name="action" value="erase"' in html


def test_suppressions_page_lists_the_accounts_suppressions_newest_first(owner, user, other_user):
    suppression_add(account=user.account, email="jo@example.org", reason="unsubscribed")
    suppression_add(account=user.account, email="kim@example.org", reason="hard_bounce")
    suppression_add(account=other_user.account, email="lee@example.org", reason="complained")

    response = owner.get(reverse("suppressions"))

    assert response.status_code == 200
    assert [s.email for s in response.context["page"]] == ["kim@example.org", "jo@example.org"]
    text = _text(response)
    assert "Hard bounce" in text
    assert "lee@example.org" not in text


def test_suppressions_empty_state(owner):
    assert "No suppressed addresses." in _text(owner.get(reverse("suppressions")))
