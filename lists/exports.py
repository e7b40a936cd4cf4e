"""CSV files we hand to senders, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

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


# The subscriber's own columns: named as the model's fields, which the rows read by these names.
SUBSCRIBER_COLUMNS = (
    "email",
    "name",
    "phone",
    "status",
    "subscribed_at",
    "unsubscribed_at",
    "attributes",
)
# The columns of a list in the account's export: the subscriber, then the consent they gave
# (the latest "granted" record: how, when, from where, what they were told, the proof).
ACCOUNT_EXPORT_HEADER = [
    *SUBSCRIBER_COLUMNS,
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
EXPORT_CHUNK = 5000

# One chunk of the export: the subscribers the queryset selects after a key, each joined to
# their latest "granted" consent record (LATERAL: one index probe per subscriber), every value
# already text in the database (ISO times in UTC, attributes as JSON), so Python parses no
# timestamps or JSON on a million rows. {subscribers} is the queryset's own SQL.
_CHUNK_SQL = """
SELECT s.id, s.email, s.name, s.phone, s.status,
       coalesce(to_char(s.subscribed_at AT TIME ZONE 'UTC', {iso}), ''),
       coalesce(to_char(s.unsubscribed_at AT TIME ZONE 'UTC', {iso}), ''),
       coalesce(s.attributes::text, '{{}}'),
       coalesce(c.source, ''),
       coalesce(to_char(c.obtained_at AT TIME ZONE 'UTC', {iso}), ''),
       coalesce(host(c.ip), ''),
       coalesce(c.user_agent, ''), coalesce(c.purpose_text, ''), coalesce(c.form_url, ''),
       coalesce(c.proof, ''), coalesce(c.proof_file, '')
FROM lists_subscriber s
LEFT JOIN LATERAL (
    SELECT r.source, r.obtained_at, r.ip, r.user_agent, r.purpose_text, r.form_url, r.proof,
           r.proof_file
    FROM lists_consentrecord r
    WHERE r.subscriber_id = s.id AND r.event = 'granted'
    ORDER BY r.obtained_at DESC, r.id DESC
    LIMIT 1
) c ON true
WHERE s.id IN ({subscribers})
ORDER BY s.id
"""
_ISO = '\'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"\''


# Told the rows written so far, after each chunk (a background export's progress).
Progress = Callable[[int], None] | None


def subscriber_export_rows(
    subscribers: QuerySet, *, chunk: int | None = None, progress: Progress = None
) -> Iterator[list]:
    """Each subscriber of `subscribers` (any queryset of subscribers: a list, a segment, a
    search; the caller scopes it to the account) as a row of SUBSCRIBER_EXPORT_HEADER, all text,
    with the consent they gave (their latest "granted" record), in primary-key order. Memory is
    bounded by `chunk`: rows are read `chunk` at a time by key (keyset, never OFFSET), one query
    per chunk. `progress`, when given, is told the rows yielded so far after each chunk.
    Elsewhere than PostgreSQL (SQLite, locally) a slower portable query."""
    from django.db import connections

    chunk = chunk or EXPORT_CHUNK
    connection = connections[subscribers.db]
    if connection.vendor != "postgresql":
        yield from _portable_rows(subscribers, chunk=chunk, progress=progress)
        return
    ids = subscribers.order_by("pk").values("pk")
    after = 0
    done = 0
    while True:
        inner, params = ids.filter(pk__gt=after)[:chunk].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(_CHUNK_SQL.format(iso=_ISO, subscribers=inner), params)
            batch = cursor.fetchall()
        if not batch:
            return
        after = batch[-1][0]
        for row in batch:
            yield list(row[1:])
        done += len(batch)
        if progress is not None:
            progress(done)
        if len(batch) < chunk:
            return


def _portable_rows(subscribers: QuerySet, *, chunk: int, progress: Progress) -> Iterator[list]:
    """subscriber_export_rows on databases without LATERAL (SQLite, for local work): the
    latest consent by one subquery per column, formatted in Python."""
    import json

    from django.db.models import OuterRef, Subquery

    from lists.models import ConsentEvent, ConsentRecord

    def iso(value) -> str:
        return value.isoformat() if value else ""

    latest = ConsentRecord.objects.filter(
        subscriber=OuterRef("pk"), event=ConsentEvent.GRANTED
    ).order_by("-obtained_at", "-pk")
    fields = [*_CONSENT_COLUMNS, "proof_file"]
    rows = (
        subscribers.order_by("pk")
        .annotate(**{f"consent_{f}": Subquery(latest.values(f)[:1]) for f in fields})
        .values_list(*SUBSCRIBER_COLUMNS, *[f"consent_{f}" for f in fields])
    )
    done = 0
    for row in rows.iterator(chunk_size=2000):
        row = ["" if cell is None else cell for cell in row]
        row[4], row[5], row[8] = iso(row[4]), iso(row[5]), iso(row[8])
        row[6] = json.dumps(row[6] or {}, ensure_ascii=False, sort_keys=True)
        yield [str(cell) for cell in row]
        done += 1
        if progress is not None and done % chunk == 0:
            progress(done)
    if progress is not None and done % chunk:
        progress(done)


_CONSENT_COLUMNS = [
    "source",
    "obtained_at",
    "ip",
    "user_agent",
    "purpose_text",
    "form_url",
    "proof",
]


def _safe_text_cells(row: list[str]) -> list[str]:
    # spreadsheet_safe for cells known to be text: a million rows of 15 cells each.
    return ["'" + cell if cell[:1] in _FORMULA_FIRST else cell for cell in row]


_FORMULA_FIRST = frozenset(_FORMULA_STARTS)


def subscribers_csv(subscribers: QuerySet, *, progress: Progress = None) -> Iterator[str]:
    """`subscribers` as CSV text, line by line, every cell spreadsheet-safe (for a
    StreamingHttpResponse: nothing is held but the current chunk)."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(SUBSCRIBER_EXPORT_HEADER)
    for row in subscriber_export_rows(subscribers, progress=progress):
        yield writer.writerow(_safe_text_cells(row))


def subscribers_csv_file(subscribers: QuerySet, *, target, progress: Progress = None) -> int:
    """Write `subscribers_csv` to the binary file `target` (UTF-8). Returns the rows written."""
    lines = subscribers_csv(subscribers, progress=progress)
    written = -1  # the header
    buffer: list[str] = []
    for line in lines:
        buffer.append(line)
        written += 1
        if len(buffer) == 1000:
            target.write("".join(buffer).encode("utf-8"))
            buffer.clear()
    target.write("".join(buffer).encode("utf-8"))
    return written


# A sheet holds 1,048,576 rows; a longer export goes on over more sheets, each with the header.
XLSX_SHEET_ROWS = 1_000_000
# Control characters an .xlsx cell cannot hold (openpyxl refuses them): dropped.
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def subscribers_xlsx(
    subscribers: QuerySet, *, target, sheet_rows: int = XLSX_SHEET_ROWS, progress: Progress = None
) -> int:
    """Write `subscribers` as an .xlsx workbook to the binary file `target` (openpyxl's
    write-only mode: rows go to disk as they come, memory stays flat). Every cell is text and
    spreadsheet-safe: a value starting with "=" is not a formula. Returns the rows written."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet: Any = None  # (openpyxl is untyped)
    written = 0
    for row in subscriber_export_rows(subscribers, progress=progress):
        if written % sheet_rows == 0:
            sheet = workbook.create_sheet(f"Subscribers {written // sheet_rows + 1}")
            sheet.append(SUBSCRIBER_EXPORT_HEADER)
        sheet.append([_XLSX_ILLEGAL.sub("", cell) for cell in _safe_text_cells(row)])
        written += 1
    if sheet is None:
        workbook.create_sheet("Subscribers 1").append(SUBSCRIBER_EXPORT_HEADER)
    workbook.save(target)
    return written


def _list_rows(mailing_list, progress: Progress = None) -> Iterator[list]:
    """The account ZIP's rows of one list (ACCOUNT_EXPORT_HEADER)."""
    for row in subscriber_export_rows(mailing_list.subscribers.all(), progress=progress):
        yield row[: len(ACCOUNT_EXPORT_HEADER)]


def account_lists_zip(*, account, target, progress: Progress = None) -> int:
    """Write a ZIP of the account's lists to the binary file `target`: one spreadsheet-safe
    CSV per list (ACCOUNT_EXPORT_HEADER: every subscriber with their consent record). Reads
    only the account's lists. `progress` is told the rows written so far, over every list.
    Returns the number of lists written."""
    import zipfile

    from django.utils.text import slugify

    lists = MailingList.objects.filter(account=account).order_by("pk")
    count = 0
    before = 0

    def list_progress(done: int) -> None:
        if progress is not None:
            progress(before + done)

    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for mailing_list in lists:
            name = f"{mailing_list.pk}-{slugify(mailing_list.name) or 'list'}.csv"
            rows = 0
            with archive.open(name, "w") as member:
                lines = csv_lines(ACCOUNT_EXPORT_HEADER, _list_rows(mailing_list, list_progress))
                for line in lines:
                    member.write(line.encode("utf-8"))
                    rows += 1
            before += rows - 1
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


class Exported(Protocol):
    """What an export is named after: a list, or a segment (campaigns)."""

    @property
    def pk(self) -> Any: ...
    @property
    def name(self) -> str: ...


def export_filename(mailing_list: Exported, *, kind: str = "") -> str:
    """The download's name (ASCII, no quotes: it goes into a header). `kind` ("segment")
    tells apart another thing with a pk and a name exported the same way."""
    from django.utils import timezone
    from django.utils.text import slugify

    slug = slugify(mailing_list.name)[:40] or kind or "list"
    prefix = f"{kind}-" if kind else ""
    return f"{prefix}{mailing_list.pk}-{slug}-{timezone.now():%Y-%m-%d}"
