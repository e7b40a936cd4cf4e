"""Adult-content lists (issue 25): every way a subscriber comes in records an age confirmation
or is refused with a reason: the hosted form, the import (an age_confirmed column), the API's
single add and bulk upsert (an age_confirmed field) and the browser's manual add (a checkbox)."""

from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from lists.models import ConsentRecord, ImportJob, ImportRowIssue, Subscriber
from lists.parsers import cell_says_yes, guess_column_map
from lists.services.imports import AGE_NOT_CONFIRMED
from tests.lists.factories import MailingListFactory

pytestmark = pytest.mark.django_db

REFUSED = "This list has adult content: confirm that the person is 18 or older (age_confirmed)."
FORM_LINE = "Age confirmed: 18 or older (the person ticked the age box on the subscription form)."
IMPORT_LINE = "Age confirmed: 18 or older (the import's age_confirmed column says yes)."
API_LINE = "Age confirmed: 18 or older (the API request's age_confirmed field is true)."
BROWSER_LINE = (
    "Age confirmed: 18 or older (the sender ticked the age box when adding the subscriber)."
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def adult_list(user):
    return MailingListFactory(account=user.account, name="After dark", adult_content=True)


@pytest.fixture
def plain_list(user):
    return MailingListFactory(account=user.account, name="Daylight")


def _add(token_client, mailing_list, **fields):
    return token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/subscribers/",
        {
            "email": "ann@example.org",
            "consent": {"source": "paper_form", "proof": "Signed form, box 4"},
            **fields,
        },
        format="json",
    )


# --- the hosted form --------------------------------------------------------------------------


def test_the_hosted_form_records_the_ticked_age_box(
    client, adult_list, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/subscribe/{adult_list.public_id}/",
            {"email": "ann@example.org", "consent": "on", "adult": "on"},
            HTTP_ACCEPT_LANGUAGE="en",
        )

    assert response.status_code == 302
    record = ConsentRecord.objects.get(subscriber__email="ann@example.org")
    assert record.proof == FORM_LINE
    assert "[x] I confirm I am 18 or older." in record.purpose_text


def test_the_hosted_form_refuses_without_the_age_box(
    client, adult_list, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            f"/subscribe/{adult_list.public_id}/",
            {"email": "ann@example.org", "consent": "on"},
            HTTP_ACCEPT_LANGUAGE="en",
        )

    assert response.status_code == 400
    assert callbacks == []
    assert not Subscriber.objects.exists()


# --- the API's single add ---------------------------------------------------------------------


@pytest.mark.parametrize("given", [{}, {"age_confirmed": False}])
def test_the_api_refuses_an_adult_list_add_without_the_age_confirmation(
    token_client, adult_list, given, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _add(token_client, adult_list, **given)

    assert response.status_code == 400
    assert response.json() == {"age_confirmed": [REFUSED]}
    assert callbacks == []
    assert not Subscriber.objects.exists()
    assert not ConsentRecord.objects.exists()


def test_the_api_records_the_age_confirmation(token_client, adult_list):
    response = _add(token_client, adult_list, age_confirmed=True, double_opt_in=False)

    assert response.status_code == 201
    record = ConsentRecord.objects.get(subscriber__email="ann@example.org")
    assert record.proof == "Signed form, box 4\n" + API_LINE


def test_other_lists_need_no_age_confirmation(token_client, plain_list):
    response = _add(token_client, plain_list, double_opt_in=False)

    assert response.status_code == 201
    assert ConsentRecord.objects.get().proof == "Signed form, box 4"


# --- the API's bulk upsert --------------------------------------------------------------------


def test_the_bulk_upsert_refuses_items_without_the_age_confirmation(token_client, adult_list):
    consent = {"source": "paper_form", "proof": "Signed forms, box 4"}
    response = token_client.post(
        f"/api/v1/lists/{adult_list.pk}/subscribers/bulk/",
        {
            "subscribers": [
                {"email": "ann@example.org", "consent": consent, "age_confirmed": True},
                {"email": "bob@example.org", "consent": consent},
                {"email": "cy@example.org", "consent": consent, "age_confirmed": False},
                {"email": "di@example.org", "consent": consent, "age_confirmed": "maybe"},
            ]
        },
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["errors"]) == (1, 3)
    assert [item["status"] for item in body["results"]] == ["created", "error", "error", "error"]
    assert body["results"][1]["errors"] == {"age_confirmed": [REFUSED]}
    assert body["results"][2]["errors"] == {"age_confirmed": [REFUSED]}
    assert body["results"][3]["errors"] == {"age_confirmed": ["Must be a valid boolean."]}
    assert list(Subscriber.objects.values_list("email", flat=True)) == ["ann@example.org"]
    assert ConsentRecord.objects.get().proof == "Signed forms, box 4\n" + API_LINE


def test_the_bulk_upsert_needs_no_age_confirmation_on_other_lists(token_client, plain_list):
    response = token_client.post(
        f"/api/v1/lists/{plain_list.pk}/subscribers/bulk/",
        {"subscribers": [{"email": "ann@example.org", "consent": {"source": "api", "proof": "p"}}]},
        format="json",
    )

    assert response.json()["created"] == 1
    assert ConsentRecord.objects.get().proof == "p"


# --- the import -------------------------------------------------------------------------------

CSV = (
    b"Email,Name,Age confirmed\n"
    b"ann@example.org,Ann,yes\n"
    b"bob@example.org,Bob,no\n"
    b"cy@example.org,Cy,\n"
    b"di@example.org,Di,TRUE\n"
    b"ed@example.org,Ed,1\n"
)


def _import(token_client, mailing_list, content, **fields):
    response = token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/imports/",
        {
            "file": SimpleUploadedFile("people.csv", content),
            "consent_source": "paper_form",
            "proof": "Signed forms, box 4",
            **fields,
        },
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    return ImportJob.objects.get(pk=response.json()["id"])


@pytest.mark.django_db(transaction=True)
def test_an_import_into_an_adult_list_refuses_rows_without_a_yes(token_client, adult_list):
    job = _import(token_client, adult_list, CSV)

    job.refresh_from_db()
    assert job.column_map["age_confirmed"] == 2  # guessed from the header
    assert (job.status, job.imported, job.skipped) == ("done", 3, 2)
    assert sorted(adult_list.subscribers.values_list("email", flat=True)) == [
        "ann@example.org",
        "di@example.org",
        "ed@example.org",
    ]
    assert list(ImportRowIssue.objects.values_list("row", "email", "reason", "skipped")) == [
        (3, "bob@example.org", AGE_NOT_CONFIRMED, True),
        (4, "cy@example.org", AGE_NOT_CONFIRMED, True),
    ]
    assert set(ConsentRecord.objects.values_list("proof", flat=True)) == {
        "Signed forms, box 4\n" + IMPORT_LINE
    }


@pytest.mark.django_db(transaction=True)
def test_an_import_into_an_adult_list_without_the_column_refuses_every_row(
    token_client, adult_list
):
    job = _import(
        token_client, adult_list, b"Email,Name\nann@example.org,Ann\nbob@example.org,Bob\n"
    )

    job.refresh_from_db()
    assert (job.status, job.imported, job.skipped) == ("done", 0, 2)
    assert [*ImportRowIssue.objects.values_list("reason", flat=True)] == [AGE_NOT_CONFIRMED] * 2
    assert not Subscriber.objects.exists()
    assert not ConsentRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_explicit_column_map_names_the_age_column(token_client, adult_list):
    content = b"ann@example.org,Ann,y\nbob@example.org,Bob,n\n"
    job = _import(
        token_client, adult_list, content, column_map='{"email": 0, "name": 1, "age_confirmed": 2}'
    )

    job.refresh_from_db()
    assert (job.imported, job.skipped) == (1, 1)
    assert list(adult_list.subscribers.values_list("email", flat=True)) == ["ann@example.org"]


@pytest.mark.django_db(transaction=True)
def test_other_lists_ignore_the_age_column(token_client, plain_list):
    job = _import(token_client, plain_list, CSV)

    job.refresh_from_db()
    assert (job.imported, job.skipped) == (5, 0)
    assert set(ConsentRecord.objects.values_list("proof", flat=True)) == {"Signed forms, box 4"}


def test_the_age_column_and_its_yes_values():
    assert guess_column_map(["E-mail", "Name", "Over 18"]) == {
        "email": 0,
        "name": 1,
        "age_confirmed": 2,
    }
    assert guess_column_map(["Email", "Возраст подтверждён"])["age_confirmed"] == 1
    assert [cell_says_yes(v) for v in ("yes", " Y ", "true", "1", "да", "x")] == [True] * 6
    assert [cell_says_yes(v) for v in ("no", "", "0", "false", "maybe", "18")] == [False] * 6


# --- the browser's manual add ------------------------------------------------------------------


def _browser_add(client, mailing_list, **fields):
    return client.post(
        f"/lists/{mailing_list.pk}/subscribers/add/",
        {"email": "ann@example.org", "source": "paper_form", "proof": "Signed form", **fields},
        HTTP_ACCEPT_LANGUAGE="en",
    )


def test_the_browser_add_asks_for_the_age_box_on_adult_lists_only(client, user, adult_list):
    client.force_login(user)
    plain = MailingListFactory(account=user.account, name="Daylight")

    assert 'name="age_confirmed"' in client.get(f"/lists/{adult_list.pk}/subscribers/add/").text
    assert 'name="age_confirmed"' not in client.get(f"/lists/{plain.pk}/subscribers/add/").text


def test_the_browser_add_refuses_without_the_age_box(
    client, user, adult_list, django_capture_on_commit_callbacks
):
    client.force_login(user)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        page = _browser_add(client, adult_list)

    assert page.status_code == 200
    assert REFUSED in unescape(page.text)
    assert callbacks == []
    assert not Subscriber.objects.exists()


def test_the_browser_add_records_the_ticked_age_box(client, user, adult_list):
    client.force_login(user)
    adult_list.double_opt_in = False
    adult_list.save()

    page = _browser_add(client, adult_list, age_confirmed="on")

    assert page.status_code == 302
    record = ConsentRecord.objects.get(subscriber__email="ann@example.org")
    assert record.proof == "Signed form\n" + BROWSER_LINE
    assert record.recorded_by == user


def test_the_browser_import_wizard_maps_the_age_column(
    client, user, adult_list, django_capture_on_commit_callbacks
):
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        upload = client.post(
            f"/lists/{adult_list.pk}/import/",
            {
                "file": SimpleUploadedFile(
                    "people.csv", b"Email,Name,Adult?\n" + CSV.split(b"\n", 1)[1]
                ),
                "consent_source": "paper_form",
                "proof": "Signed forms, box 4",
            },
        )
    job = ImportJob.objects.get()
    assert upload["Location"] == f"/imports/{job.pk}/map/"
    page = client.get(upload["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert '<option value="age_confirmed">Age confirmed, 18 or older (yes/no)</option>' in page.text
    assert 'id="age-column-note"' in page.text
    plain = MailingListFactory(account=user.account, name="Daylight")
    assert 'id="age-column-note"' not in client.get(f"/lists/{plain.pk}/import/").text
    assert 'id="age-column-note"' in client.get(f"/lists/{adult_list.pk}/import/").text

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            upload["Location"],
            {
                "column_0": "email",
                "column_1": "name",
                "column_2": "age_confirmed",
                "action": "start",
            },
        )

    job.refresh_from_db()
    assert job.column_map == {"email": 0, "name": 1, "age_confirmed": 2, "attributes": {}}
    assert (job.status, job.imported, job.skipped) == ("done", 3, 2)
    assert [*job.issues.values_list("reason", flat=True)] == [AGE_NOT_CONFIRMED] * 2
