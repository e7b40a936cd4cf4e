"""CSV files we hand to senders, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.utils import translation

from config.coded_text import render
from lists.models import ImportJob, MailingList

# A cell starting with one of these is a formula to Excel and LibreOffice (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str:
    """The cell as text, with a leading apostrophe when a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """Stream CSV text line by line, every cell spreadsheet-safe."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(header)  # a BOM so Excel reads UTF-8
    for row in rows:
        yield writer.writerow([spreadsheet_safe(cell) for cell in row])


def import_issues_csv(job: ImportJob) -> Iterator[str]:
    """The import's error report: every row skipped or flagged, with the reason in the
    language active now (the request's: the rows are streamed after the view returns)."""
    rows = job.issues.order_by("row", "id").values_list(
        "row", "email", "reason", "skipped", "suppressed"
    )
    language = translation.get_language()

    def reason_of(reason) -> str:
        with translation.override(language):
            return render(reason)

    return csv_lines(
        ["row", "email", "reason", "outcome"],
        (
            (row, email, reason_of(reason), _OUTCOMES[skipped, suppressed])
            for row, email, reason, skipped, suppressed in rows.iterator(chunk_size=2000)
        ),
    )


# (skipped, suppressed) -> the report's outcome: suppressed rows are skipped ones the file
# marks as opted out, whose addresses were added to the suppressions.
_OUTCOMES = {
    (True, False): "skipped",
    (True, True): "suppressed",
    (False, False): "imported",
    (False, True): "imported",
}


# The columns of a list in the account's export: the subscriber, then the consent they gave
# (the latest "granted" record: how, when, from where, what they were told, the proof).
ACCOUNT_EXPORT_HEADER = [
    "email",
    "name",
    "phone",
    "status",
    "subscribed_at",
    "unsubscribed_at",
    "attributes",
    "consent_source",
    "consent_obtained_at",
    "consent_ip",
    "consent_user_agent",
    "consent_purpose",
    "consent_form_url",
    "consent_proof",
]


# A list's own export adds where the proof file is kept (the account ZIP above keeps its columns).
SUBSCRIBER_EXPORT_HEADER = [*ACCOUNT_EXPORT_HEADER, "consent_proof_file"]
_CONSENT_FIELDS = ["source", "obtained_at", "ip", "user_agent", "purpose_text", "form_url", "proof"]
_SUBSCRIBER_FIELDS = [
    "pk",
    "email",
    "name",
    "phone",
    "status",
    "subscribed_at",
    "unsubscribed_at",
    "attributes",
]
EXPORT_CHUNK = 2000


def _iso(value) -> str:
    return value.isoformat() if value else ""


def subscriber_export_rows(subscribers: QuerySet, *, chunk: int = EXPORT_CHUNK) -> Iterator[list]:
    """Each subscriber of `subscribers` (any queryset: a list, a segment, a search) as a row of
    SUBSCRIBER_EXPORT_HEADER, with the consent they gave (their latest "granted" record), in
    primary-key order. Memory is bounded by `chunk`: the rows are read `chunk` at a time by key
    (keyset, not OFFSET), and each chunk's consent records in one more query (DISTINCT ON), not
    one subquery per column per row. The caller scopes `subscribers` to the account."""
    import json

    from lists.models import ConsentEvent, ConsentRecord

    subscribers = subscribers.order_by("pk").values_list(*_SUBSCRIBER_FIELDS)
    after = 0
    while True:
        batch = list(subscribers.filter(pk__gt=after)[:chunk])
        if not batch:
            return
        after = batch[-1][0]
        consent = {
            row[0]: row[1:]
            for row in ConsentRecord.objects.filter(
                subscriber_id__in=[row[0] for row in batch], event=ConsentEvent.GRANTED
            )
            .order_by("subscriber_id", "-obtained_at", "-pk")
            .distinct("subscriber_id")
            .values_list("subscriber_id", *_CONSENT_FIELDS, "proof_file")
        }
        for pk, email, name, phone, status, subscribed, unsubscribed, attributes in batch:
            given = consent.get(pk) or ("",) * (len(_CONSENT_FIELDS) + 1)
            source, obtained, ip, agent, purpose, form_url, proof, proof_file = given
            yield [
                email,
                name,
                phone,
                status,
                _iso(subscribed),
                _iso(unsubscribed),
                json.dumps(attributes or {}, ensure_ascii=False, sort_keys=True),
                source,
                _iso(obtained),
                ip or "",
                agent,
                purpose,
                form_url,
                proof,
                proof_file or "",
            ]
        if len(batch) < chunk:
            return


def subscribers_csv(subscribers: QuerySet) -> Iterator[str]:
    """`subscribers` as CSV text, line by line, every cell spreadsheet-safe (for a
    StreamingHttpResponse: nothing is held but the current chunk)."""
    return csv_lines(SUBSCRIBER_EXPORT_HEADER, subscriber_export_rows(subscribers))


# A sheet holds 1,048,576 rows; a longer export goes on over more sheets, each with the header.
XLSX_SHEET_ROWS = 1_000_000
# Control characters an .xlsx cell cannot hold (openpyxl refuses them): dropped.
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def subscribers_xlsx(subscribers: QuerySet, *, target, sheet_rows: int = XLSX_SHEET_ROWS) -> int:
    """Write `subscribers` as an .xlsx workbook to the binary file `target` (openpyxl's
    write-only mode: rows go to disk as they come, memory stays flat). Every cell is text and
    spreadsheet-safe: a value starting with "=" is not a formula. Returns the rows written."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = None
    written = 0
    for row in subscriber_export_rows(subscribers):
        if written % sheet_rows == 0:
            sheet = workbook.create_sheet(f"Subscribers {written // sheet_rows + 1}")
            sheet.append(SUBSCRIBER_EXPORT_HEADER)
        sheet.append([_XLSX_ILLEGAL.sub("", spreadsheet_safe(cell)) for cell in row])
        written += 1
    if sheet is None:
        workbook.create_sheet("Subscribers 1").append(SUBSCRIBER_EXPORT_HEADER)
    workbook.save(target)
    return written


def _list_rows(mailing_list) -> Iterator[list]:
    """The account ZIP's rows of one list (ACCOUNT_EXPORT_HEADER)."""
    for row in subscriber_export_rows(mailing_list.subscribers.all()):
        yield row[: len(ACCOUNT_EXPORT_HEADER)]


def account_lists_zip(*, account, target) -> int:
    """Write a ZIP of the account's lists to the binary file `target`: one spreadsheet-safe
    CSV per list (ACCOUNT_EXPORT_HEADER: every subscriber with their consent record). Reads
    only the account's lists. Returns the number of lists written."""
    import zipfile

    from django.utils.text import slugify

    from lists.models import MailingList

    lists = MailingList.objects.filter(account=account).order_by("pk")
    count = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for mailing_list in lists:
            name = f"{mailing_list.pk}-{slugify(mailing_list.name) or 'list'}.csv"
            with archive.open(name, "w") as member:
                for line in csv_lines(ACCOUNT_EXPORT_HEADER, _list_rows(mailing_list)):
                    member.write(line.encode("utf-8"))
            count += 1
    return count


EXPORT_FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def subscribers_export_response(subscribers, *, file_format: str, filename: str):
    """A download of `subscribers` (a queryset the caller scoped to the account) with their
    consent: CSV streamed as it is read; XLSX written to a temporary file first (a zip cannot be
    streamed before it is finished), then sent from it. Memory stays flat either way."""
    import tempfile

    from django.http import FileResponse, StreamingHttpResponse

    if file_format == "xlsx":
        target = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it when sent
        subscribers_xlsx(subscribers, target=target)
        target.seek(0)
        return FileResponse(
            target, as_attachment=True, filename=f"{filename}.xlsx", content_type=XLSX_TYPE
        )
    response = StreamingHttpResponse(
        subscribers_csv(subscribers), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def export_filename(mailing_list: MailingList) -> str:
    """The download's name (ASCII, no quotes: it goes into a header)."""
    from django.utils import timezone
    from django.utils.text import slugify

    slug = slugify(mailing_list.name)[:40] or "list"
    return f"{mailing_list.pk}-{slug}-{timezone.now():%Y-%m-%d}"
