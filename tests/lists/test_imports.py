"""Imports through the API: real files, consent rules, suppression, the error report."""

import csv
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from config.coded_text import render
from lists.models import (
    ConsentRecord,
    ImportJob,
    ImportStatus,
    Subscriber,
    SubscriberStatus,
)
from lists.services.suppression import suppression_add
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db(transaction=True)

FILES = Path(__file__).parent / "files"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def mailing_list(user):
    return MailingListFactory(account=user.account)


def _upload(client, mailing_list, name, content=None, **fields):
    if content is None:
        content = (FILES / name).read_bytes()
    data = {
        "file": SimpleUploadedFile(name, content),
        "consent_source": "paper_form",
        "proof": "Signed forms, box 4 at the office",
        **fields,
    }
    return client.post(f"/api/v1/lists/{mailing_list.pk}/imports/", data, format="multipart")


def _run(client, mailing_list, name, content=None, **fields):
    response = _upload(client, mailing_list, name, content, **fields)
    assert response.status_code == 202, response.json()
    body = client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert body["status"] == "done", body
    return body


def _subscribers(mailing_list):
    return dict(mailing_list.subscribers.order_by("email").values_list("email", "name"))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bom.csv", None),
        ("semicolon.csv", {"ann@example.com": "Lee, Ann", "bob@example.com": "Stone, Bob"}),
        (
            "quoted.csv",
            {
                "ann@example.com": "Lee, Ann",
                "bob@example.com": "Bob Stone",
                "carol@example.com": "Carol",
            },
        ),
        ("cp1251.csv", {"ivan@example.ru": "Иван Петров", "olga@example.ru": "Ольга Смирнова"}),
        (
            "list.txt",
            {
                "ann@example.com": "",
                "bob@example.com": "Bob Stone",
                "carol@example.com": "Lee, Carol",
                "dave@example.com": "",
                "ivan@example.ru": "Иван Петров",
            },
        ),
        (
            "sheet.xlsx",
            {
                "ann@example.com": "Ann Lee",
                "bob@example.com": "Bob Stone",
                "carol@example.com": "Carol",
                "dave@example.com": "",
            },
        ),
        (
            "sheet.xls",
            {"ann@example.com": "Ann Lee", "bob@example.com": "", "ivan@example.ru": "Иван Петров"},
        ),
    ],
)
def test_each_format_imports_its_rows(token_client, mailing_list, name, expected):
    body = _run(token_client, mailing_list, name)
    imported = _subscribers(mailing_list)
    if expected is not None:
        assert imported == expected
    assert body["imported"] == len(imported) > 0
    assert body["progress"] == 1.0
    assert body["processed"] == body["total_rows"]
    assert set(mailing_list.subscribers.values_list("status", flat=True)) == {"subscribed"}
    consent = ConsentRecord.objects.filter(subscriber__mailing_list=mailing_list)
    assert consent.count() == len(imported)
    assert set(consent.values_list("source", "proof", "import_job_id")) == {
        ("paper_form", "Signed forms, box 4 at the office", body["id"])
    }
    job = ImportJob.objects.get(pk=body["id"])
    assert not job.file  # the uploaded file is deleted when the import ends


def test_bom_header_is_recognised(token_client, mailing_list):
    body = _run(token_client, mailing_list, "bom.csv")
    assert body["column_map"]["email"] == 0


def test_phone_and_attribute_columns_are_mapped(token_client, mailing_list):
    content = b"E-mail,Name,Phone,City\nann@example.com,Ann,+44 20 7946 0000,Leeds\n"
    column_map = '{"email": 0, "name": 1, "phone": 2, "attributes": {"city": 3}}'
    _run(token_client, mailing_list, "c.csv", content, column_map=column_map)
    ann = Subscriber.objects.get()
    assert (ann.phone, ann.attributes) == ("+44 20 7946 0000", {"city": "Leeds"})


def test_invalid_duplicate_suppressed_and_role_rows_are_reported(token_client, mailing_list, user):
    suppression_add(account=user.account, email="gone@example.com", reason="hard_bounce")
    content = (
        b"email,name\n"
        b"ann@example.com,Ann\n"
        b"not-an-address,Bad\n"
        b"ANN@example.com,Ann again\n"
        b"gone@example.com,Gone\n"
        b"info@example.com,Info desk\n"
        b",Nobody\n"
    )
    body = _run(token_client, mailing_list, "mixed.csv", content)
    assert (body["imported"], body["updated"], body["skipped"]) == (2, 0, 4)
    reasons = {(e["row"], e["email"]): (e["reason"], e["skipped"]) for e in body["errors"]}
    assert reasons[(3, "not-an-address")][0].startswith("Invalid address:")
    assert reasons[(4, "ann@example.com")] == ("Duplicate of row 2.", True)
    assert reasons[(5, "gone@example.com")] == (
        "Suppressed: This address bounced permanently.",
        True,
    )
    assert reasons[(6, "info@example.com")][1] is False
    assert reasons[(7, "")] == ("No e-mail address in this row.", True)
    assert Subscriber.objects.get(email="info@example.com").is_role_address

    report = token_client.get(body["error_report_url"])
    assert report.status_code == 200
    assert report["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["row", "email", "reason", "outcome"]
    assert [r[0] for r in rows[1:]] == ["3", "4", "5", "6", "7"]
    assert rows[4][3] == "imported"


def test_reimport_never_resubscribes_a_suppressed_address(token_client, mailing_list, user):
    left = SubscriberFactory(mailing_list=mailing_list, email="ann@example.com", name="Ann")
    from lists.services.subscribers import subscriber_unsubscribe

    subscriber_unsubscribe(subscriber=left)
    body = _run(token_client, mailing_list, "again.csv", b"email\nann@example.com\n")
    assert (body["imported"], body["updated"], body["skipped"]) == (0, 0, 1)
    left.refresh_from_db()
    assert left.status == SubscriberStatus.UNSUBSCRIBED
    other_list = MailingListFactory(account=user.account)
    _run(token_client, other_list, "again.csv", b"email\nann@example.com\n")
    assert not other_list.subscribers.exists()


def test_an_address_that_hard_bounced_for_another_account_is_skipped_and_said_so(
    token_client, mailing_list
):
    from lists.services.suppression import platform_suppression_add

    platform_suppression_add(email="gone@example.com", source="dsn")
    body = _run(
        token_client, mailing_list, "gone.csv", b"email\ngone@example.com\nann@example.com\n"
    )

    assert (body["imported"], body["skipped"]) == (1, 1)
    assert "bounced permanently (known across the service" in body["errors"][0]["reason"]
    assert set(mailing_list.subscribers.values_list("email", flat=True)) == {"ann@example.com"}


def test_reimport_updates_existing_subscribers(token_client, mailing_list):
    SubscriberFactory(
        mailing_list=mailing_list, email="ann@example.com", name="Ann", attributes={"plan": "pro"}
    )
    content = b"email,name,city\nann@example.com,Ann Lee,Leeds\n"
    body = _run(
        token_client,
        mailing_list,
        "update.csv",
        content,
        column_map='{"email": 0, "name": 1, "attributes": {"city": 2}}',
    )
    assert (body["imported"], body["updated"]) == (0, 1)
    ann = Subscriber.objects.get()
    assert ann.name == "Ann Lee"
    assert ann.attributes == {"plan": "pro", "city": "Leeds"}
    assert ann.consent_records.count() == 2  # history appended, not rewritten


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"  \n\n ", "empty"),
        ("truncated.xlsx", None, "damaged"),
        ("no_workbook.xlsx", None, "damaged"),
        ("text.xlsx", None, "damaged or not a spreadsheet"),
        ("notes.pdf", b"%PDF-1.4", "cannot be imported"),
        ("nul.csv", b"email\nann@example.com\x00\x00\n", "not a text file"),
    ],
)
def test_bad_files_are_refused_and_change_nothing(
    token_client, mailing_list, name, content, message, settings
):
    response = _upload(token_client, mailing_list, name, content)
    assert response.status_code == 400
    assert list(response.json()) == ["file"]
    assert message in response.json()["file"][0]
    assert not ImportJob.objects.exists()
    assert not Subscriber.objects.exists()
    media = Path(settings.MEDIA_ROOT) / "imports"
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_files_over_the_limit_are_refused(token_client, mailing_list, settings):
    settings.IMPORT_MAX_BYTES = 1024
    response = _upload(token_client, mailing_list, "big.csv", b"email\n" + b"a@example.com\n" * 200)
    assert response.status_code == 400
    assert response.json() == {"file": ["The file is 2.7\xa0KB; the limit is 1.0\xa0KB."]}
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("source", ["purchased", "leased", "third_party", "open_sources", "verbal"])
def test_forbidden_sources_refuse_the_import(token_client, mailing_list, source):
    response = _upload(token_client, mailing_list, "semicolon.csv", consent_source=source)
    assert response.status_code == 400
    assert "not accepted" in response.json()["consent_source"][0]
    assert not ImportJob.objects.exists()


def test_proof_is_required(token_client, mailing_list):
    response = _upload(token_client, mailing_list, "semicolon.csv", proof="")
    assert response.status_code == 400
    assert list(response.json()) == ["proof"]


def test_a_file_without_a_recognisable_email_column_asks_for_a_column_map(
    token_client, mailing_list
):
    response = _upload(token_client, mailing_list, "x.csv", b"who,what\nann,hello\n")
    assert response.status_code == 400
    assert "column_map" in response.json()
    bad_map = _upload(
        token_client, mailing_list, "x.csv", b"who,what\nann,x\n", column_map='{"email": 7}'
    )
    assert bad_map.json() == {
        "column_map": ["Column for 'email' must be a column number from 0 to 1."]
    }


def test_batches_commit_with_progress_and_a_rerun_resumes(token_client, mailing_list, settings):
    """A crash after some batches: the rerun continues after the last committed batch."""
    from lists.services.imports import import_run

    settings.IMPORT_BATCH_SIZE = 3
    rows = "".join(f"r{i}@example.com\n" for i in range(10))
    settings.CELERY_TASK_ALWAYS_EAGER = False  # queue, do not run
    from unittest import mock

    with mock.patch("lists.tasks.run_import.delay"):
        response = _upload(token_client, mailing_list, "r.csv", ("email\n" + rows).encode())
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert job.status == ImportStatus.QUEUED

    calls = {"n": 0}
    from lists.services import imports as imports_module

    real_batch = imports_module._write_batch

    def dying_batch(job, batch, suppressions):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("worker killed")  # not an Exception: nothing marks it failed
        return real_batch(job, batch, suppressions)

    with (
        mock.patch.object(imports_module, "_write_batch", dying_batch),
        pytest.raises(KeyboardInterrupt),
    ):
        import_run(import_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.processed, job.imported) == (ImportStatus.RUNNING, 6, 6)
    assert mailing_list.subscribers.count() == 6

    assert import_run(import_id=job.pk) == ImportStatus.DONE
    job.refresh_from_db()
    assert (job.processed, job.imported, job.total_rows) == (10, 10, 10)
    assert mailing_list.subscribers.count() == 10
    assert import_run(import_id=job.pk) == ImportStatus.DONE  # a third run changes nothing
    assert mailing_list.subscribers.count() == 10


def test_another_accounts_import_is_a_404(token_client, other_user, tmp_path):
    job = ImportJob.objects.create(
        account=other_user.account,
        mailing_list=MailingListFactory(account=other_user.account),
        original_filename="theirs.csv",
        file_format="csv",
        consent_source="paper_form",
    )
    assert token_client.get(f"/api/v1/imports/{job.pk}/").status_code == 404
    assert token_client.get(f"/api/v1/imports/{job.pk}/errors.csv").status_code == 404


@pytest.mark.parametrize("limit", [100, 0])
def test_an_import_sees_suppressions_added_while_it_runs(user, limit):
    """Loaded once (few suppressions) or looked up per batch (many): both see new ones."""
    from lists.addresses import address_hash
    from lists.services.suppression import SuppressionView

    suppression_add(account=user.account, email="old@example.org", reason="complained")
    view = SuppressionView(account_id=user.account.pk, limit=limit)
    emails = ("old@example.org", "new@example.org", "clean@example.org")
    by_digest = {address_hash(user.account.pk, e): e for e in emails}
    old, new, clean = by_digest
    assert view.reasons(by_digest) == {old: "complained"}

    suppression_add(account=user.account, email="new@example.org", reason="unsubscribed")

    assert view.reasons(by_digest) == {old: "complained", new: "unsubscribed"}


def test_a_zip_bomb_is_refused_through_the_api_and_changes_nothing(token_client, mailing_list):
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            for _ in range(20):
                member.write(bytes(1024 * 1024))
    response = _upload(token_client, mailing_list, "bomb.xlsx", buffer.getvalue())
    assert response.status_code == 400
    assert "zip bomb" in response.json()["file"][0]
    assert not ImportJob.objects.exists()


def test_a_batch_that_fails_half_way_leaves_nothing_of_itself(token_client, mailing_list, settings):
    """Subscribers of a batch are written before their consent records: if the second write
    fails, the first is rolled back with it and the import fails cleanly."""
    from unittest import mock

    from lists.services import imports as imports_module

    settings.IMPORT_BATCH_SIZE = 4
    real_insert = imports_module.insert_rows
    calls = {"consent": 0}

    def failing_insert(model, *args, **kwargs):
        if model is ConsentRecord:
            calls["consent"] += 1
            if calls["consent"] == 2:
                raise OSError("disk full")
        return real_insert(model, *args, **kwargs)

    rows = "".join(f"r{i}@example.com\n" for i in range(10))
    with (
        mock.patch.object(imports_module, "insert_rows", failing_insert),
        pytest.raises(OSError),
    ):
        _upload(token_client, mailing_list, "r.csv", ("email\n" + rows).encode())
    job = ImportJob.objects.get()
    assert (job.status, job.processed, job.imported) == (ImportStatus.FAILED, 4, 4)
    assert render(job.failure_reason) == "The import stopped on an unexpected error."
    # Exactly the first batch: every subscriber with its consent record, nothing of the second.
    assert mailing_list.subscribers.count() == 4
    assert ConsentRecord.objects.filter(subscriber__mailing_list=mailing_list).count() == 4


def test_a_stalled_import_is_enqueued_again_and_finishes(token_client, mailing_list, settings):
    """Its worker died (or its message was lost): beat's watchdog resumes it."""
    from datetime import timedelta
    from unittest import mock

    from django.utils import timezone

    from lists.services.imports import imports_resume_stalled

    with mock.patch("lists.tasks.run_import.delay"):
        response = _upload(token_client, mailing_list, "s.csv", b"email\na@example.com\n")
    job = ImportJob.objects.get(pk=response.json()["id"])
    fresh = ImportJob.objects.create(
        account=job.account,
        mailing_list=mailing_list,
        original_filename="fresh.csv",
        file_format="csv",
        consent_source="paper_form",
        status=ImportStatus.RUNNING,
        progress_at=timezone.now(),
    )
    assert imports_resume_stalled(quiet_for=timedelta(minutes=15)) == []

    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert imports_resume_stalled(quiet_for=timedelta(minutes=15)) == [job.pk]

    job.refresh_from_db()
    assert (job.status, job.imported) == (ImportStatus.DONE, 1)
    fresh.refresh_from_db()
    assert fresh.status == ImportStatus.RUNNING  # a live one is left alone


def test_reuploading_the_same_list_writes_no_subscriber_updates(token_client, mailing_list):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    content = b"email,name\nann@example.com,Ann\nbob@example.com,Bob\n"
    _run(token_client, mailing_list, "a.csv", content)
    with CaptureQueriesContext(connection) as queries:
        body = _run(token_client, mailing_list, "a.csv", content)
    assert (body["imported"], body["updated"]) == (0, 2)
    assert not [q for q in queries.captured_queries if 'UPDATE "lists_subscriber"' in q["sql"]]
    changed = _run(token_client, mailing_list, "a.csv", b"email,name\nann@example.com,Ann Lee\n")
    assert changed["updated"] == 1
    assert Subscriber.objects.get(email="ann@example.com").name == "Ann Lee"


def test_a_huge_upload_is_refused_before_it_is_spooled_to_disk(
    token_client, mailing_list, settings
):
    settings.IMPORT_MAX_BYTES = 1024
    settings.CONSENT_PROOF_MAX_BYTES = 1024
    big = b"email\n" + b"someone@example.com\n" * 60_000  # 1.2 MB > 1 KB + 1 KB + 1 MB framing
    response = _upload(token_client, mailing_list, "big.csv", big)
    assert response.status_code == 413
    assert response.json()["detail"].startswith("The upload is 1.1\xa0MB; files may be at most")
    assert not ImportJob.objects.exists()


def test_a_huge_upload_in_the_browser_gets_a_page_that_says_so(client, user, settings):
    settings.IMPORT_MAX_BYTES = 1024
    settings.CONSENT_PROOF_MAX_BYTES = 1024
    client.force_login(user)
    mailing_list = MailingListFactory(account=user.account)
    big = SimpleUploadedFile("big.csv", b"email\n" + b"someone@example.com\n" * 60_000)
    response = client.post(
        f"/lists/{mailing_list.pk}/import/",
        {"file": big, "consent_source": "paper_form", "proof": "box 4"},
    )
    assert response.status_code == 400
    assert "over the size limit" in response.text
    assert not ImportJob.objects.exists()


def _shared_strings_xlsx(rows: list[list[str]]) -> bytes:
    """An .xlsx laid out the way Excel writes one: every string in the shared-strings table
    (openpyxl writes inline strings, which no reader has to look up), and a <dimension> that
    claims far fewer rows than the sheet has."""
    import zipfile
    from xml.sax.saxutils import escape

    strings: dict[str, int] = {}
    body = []
    for number, cells in enumerate(rows, start=1):
        refs = "".join(
            f'<c r="{"ABCD"[i]}{number}" t="s"><v>{strings.setdefault(v, len(strings))}</v></c>'
            for i, v in enumerate(cells)
        )
        body.append(f'<row r="{number}">{refs}</row>')
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    package = "http://schemas.openxmlformats.org/package/2006/relationships"
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{sheet_type}.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            f'ContentType="{sheet_type}.worksheet+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" '
            f'ContentType="{sheet_type}.sharedStrings+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{package}"><Relationship Id="rId1" '
            f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
            '<sheet name="People" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{package}">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": (
            f'<worksheet xmlns="{main}"><dimension ref="A1:B2"/>'
            f"<sheetData>{''.join(body)}</sheetData></worksheet>"
        ),
        "xl/sharedStrings.xml": (
            f'<sst xmlns="{main}" uniqueCount="{len(strings)}">'
            + "".join(f"<si><t>{escape(text)}</t></si>" for text in strings)
            + "</sst>"
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_a_sheet_of_shared_strings_is_read_once_with_progress_on_the_way(
    token_client, mailing_list, settings
):
    """An Excel-style sheet (shared strings, a wrong <dimension>) is imported whole, read once:
    the progress bar moves batch by batch from an estimate, and the count ends exact."""
    from unittest import mock

    from lists import parsers
    from lists.services import imports as imports_module

    settings.IMPORT_MIN_BATCH_SIZE = 10
    rows = [["email", "name"]] + [[f"p{i}@example.com", f"Person {i}"] for i in range(500)]
    rows[300] = ["p1@example.com", "Person 1 again"]  # a repeat, in a later batch
    seen = []
    real_save = imports_module._save_progress

    def watching(job, count, result):
        real_save(job, count, result)
        seen.append((job.progress, job.total_rows_estimated))

    with (
        mock.patch.object(imports_module, "_save_progress", watching),
        mock.patch.object(parsers, "count_rows", side_effect=AssertionError("read twice")),
    ):
        body = _run(token_client, mailing_list, "people.xlsx", _shared_strings_xlsx(rows))

    assert (body["total_rows"], body["total_rows_estimated"], body["processed"]) == (
        500,
        False,
        500,
    )
    assert (body["imported"], body["skipped"]) == (499, 1)
    assert mailing_list.subscribers.get(email="p499@example.com").name == "Person 499"
    assert len(seen) >= 10  # 20 steps planned from the estimate
    progress = [value for value, _ in seen]
    assert progress == sorted(progress) and 0 < progress[0] < 0.2
    assert all(estimated for _, estimated in seen)  # exact only once the last row is read
    assert max(progress) < 1.0


def test_a_low_estimate_grows_and_the_count_ends_exact(token_client, mailing_list, settings):
    from unittest import mock

    from lists import parsers

    settings.IMPORT_MIN_BATCH_SIZE = 10
    rows = "".join(f"r{i}@example.com\n" for i in range(300))
    with mock.patch.object(parsers, "estimate_rows", return_value=(40, False)):
        body = _run(token_client, mailing_list, "r.csv", ("email\n" + rows).encode())
    assert (body["total_rows"], body["processed"], body["imported"]) == (300, 300, 300)
    assert body["total_rows_estimated"] is False
    assert body["progress"] == 1.0


def test_a_rerun_after_every_row_is_in_ends_the_import_without_the_file(
    token_client, mailing_list, settings
):
    """The exact count commits before the import ends: a run that died while ending it (its
    file already deleted) leaves an import the rerun ends as done."""
    from unittest import mock

    from lists.services import imports as imports_module
    from lists.services.imports import import_run

    settings.CELERY_TASK_ALWAYS_EAGER = False
    with mock.patch("lists.tasks.run_import.delay"):
        response = _upload(token_client, mailing_list, "r.csv", b"email\na@example.com\n")
    job = ImportJob.objects.get(pk=response.json()["id"])
    with (
        mock.patch.object(imports_module, "_finish", side_effect=KeyboardInterrupt("killed")),
        pytest.raises(KeyboardInterrupt),
    ):
        import_run(import_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.total_rows, job.total_rows_estimated) == ("running", 1, False)
    job.file.delete(save=False)

    assert import_run(import_id=job.pk) == ImportStatus.DONE
    assert mailing_list.subscribers.count() == 1
