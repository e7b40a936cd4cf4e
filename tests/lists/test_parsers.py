import tracemalloc
import zipfile
from pathlib import Path

import pytest

from lists import parsers
from lists.parsers import (
    ImportFileError,
    check_file,
    count_rows,
    detect_format,
    guess_column_map,
    has_header,
    open_table,
)

FILES = Path(__file__).parent / "files"
MB = 1024 * 1024
XLSX_DAMAGED = "This .xlsx file is damaged or not a spreadsheet."
XLS_DAMAGED = "This .xls file is damaged or not a spreadsheet."
NOT_TEXT = "This file is not a text file; save it as CSV (UTF-8) or plain text and try again."

READABLE = [
    "bom.csv",
    "semicolon.csv",
    "tab.csv",
    "quoted.csv",
    "cp1251.csv",
    "latin1.csv",
    "blank_lines.csv",
    "single_column.csv",
    "headerless.csv",
    "list.txt",
    "sheet.xlsx",
    "wrong_dimension.xlsx",
    "sheet.xls",
]


def read(path: Path, filename: str | None = None) -> tuple[list[str], bool, list]:
    """Detect, check and read a file the way an import does: (header, header_in_file, rows)."""
    fmt = detect_format(filename=filename or path.name, path=path)
    check_file(path=path, fmt=fmt, max_bytes=50 * MB)
    with open_table(path=path, fmt=fmt) as table:
        return table.header, table.header_in_file, list(table.rows)


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def refusal(call, **kwargs) -> str:
    with pytest.raises(ImportFileError) as caught:
        call(**kwargs)
    assert caught.value.field == "file"
    return caught.value.message


def test_utf8_bom_does_not_reach_the_header():
    assert read(FILES / "bom.csv") == (
        ["email", "name"],
        True,
        [(2, ["ann@example.com", "Ann Lee"]), (3, ["bob@example.com", "Bob Stone"])],
    )


def test_semicolon_delimiter_wins_over_commas_inside_cells():
    assert read(FILES / "semicolon.csv") == (
        ["Email", "Name", "Phone"],
        True,
        [
            (2, ["ann@example.com", "Lee, Ann", "+1 555 0100"]),
            (3, ["bob@example.com", "Stone, Bob"]),
        ],
    )


def test_tab_delimiter():
    assert read(FILES / "tab.csv") == (
        ["E-mail address", "Full name"],
        True,
        [(2, ["ann@example.com", "Ann Lee"]), (3, ["bob@example.com", "Bob, Jr. Stone"])],
    )


def test_pipe_delimiter(tmp_path):
    path = write(tmp_path, "pipe.csv", b"email|name\nann@example.com|Ann, Lee\n")
    assert read(path) == (["email", "name"], True, [(2, ["ann@example.com", "Ann, Lee"])])


def test_quoted_commas_doubled_quotes_and_embedded_newline_keep_row_numbers():
    assert read(FILES / "quoted.csv") == (
        ["email", "name", "note"],
        True,
        [
            (2, ["ann@example.com", "Lee, Ann", 'said "hi"']),
            (3, ["bob@example.com", "Bob Stone", "two\r\nlines"]),
            (4, ["carol@example.com", "Carol", "plain"]),
        ],
    )


def test_windows_1251_is_recognised():
    assert read(FILES / "cp1251.csv") == (
        ["email", "имя"],
        True,
        [(2, ["ivan@example.ru", "Иван Петров"]), (3, ["olga@example.ru", "Ольга Смирнова"])],
    )


def test_latin1_is_not_mistaken_for_windows_1251():
    assert read(FILES / "latin1.csv") == (
        ["email", "name"],
        True,
        [(2, ["jose@example.com", "José Müller"]), (3, ["francois@example.com", "François Höß"])],
    )


def test_a_bad_utf8_byte_late_in_the_file_spoils_only_its_row(tmp_path):
    filler = b"".join(b"user%d@example.com,Name\n" % i for i in range(60_000))  # past 1 MB
    path = write(tmp_path, "late.csv", b"email,name\n" + filler + b"last@example.com,Jos\xe9\n")
    header, _, rows = read(path)
    assert len(filler) > parsers.ENCODING_PROBE_BYTES
    assert rows[0] == (2, ["user0@example.com", "Name"])
    assert rows[-1] == (60_002, ["last@example.com", "Jos\ufffd"])


def test_blank_and_empty_cell_rows_are_skipped_with_true_row_numbers():
    assert read(FILES / "blank_lines.csv") == (
        ["email", "name"],
        True,
        [(5, ["ann@example.com", "Ann Lee"]), (9, ["bob@example.com", "Bob Stone"])],
    )


def test_single_column_without_header_is_all_data():
    assert read(FILES / "single_column.csv") == (
        ["column 1"],
        False,
        [(1, ["ann@example.com"]), (2, ["bob@example.com"]), (4, ["carol@example.com"])],
    )


def test_headerless_csv_yields_its_first_row_as_data():
    assert read(FILES / "headerless.csv") == (
        ["column 1", "column 2"],
        False,
        [(1, ["ann@example.com", "Ann Lee"]), (2, ["bob@example.com", "Bob Stone"])],
    )


def test_txt_lines_are_all_data_with_optional_display_names():
    assert read(FILES / "list.txt") == (
        ["email", "name"],
        False,
        [
            (1, ["ann@example.com"]),
            (3, ["bob@example.com", "Bob Stone"]),
            (4, ["carol@example.com", "Lee, Carol"]),
            (6, ["ivan@example.ru", "Иван Петров"]),
            (7, ["dave@example.com"]),
        ],
    )


def test_xlsx_first_sheet_numbers_dates_formulas_and_blank_rows():
    assert read(FILES / "sheet.xlsx") == (
        ["Email", "Name", "Phone", "Joined", "Score", "Double"],
        True,
        [
            (2, ["ann@example.com", "Ann Lee", "79161234567", "2024-03-01", "2.5", "5"]),
            # F4's formula has no cached value: "" and, being last, dropped.
            (4, ["bob@example.com", "Bob Stone", "15551234567", "2024-03-02T14:30:00", "0.3"]),
            (6, ["carol@example.com", "Carol", "", "", "TRUE"]),
            (7, ["dave@example.com"]),
        ],
    )


def test_xlsx_with_a_wrong_recorded_dimension_is_read_in_full():
    assert read(FILES / "wrong_dimension.xlsx") == (
        ["email", "name"],
        True,
        [(2, ["ann@example.com", "Ann Lee"]), (3, ["bob@example.com", "Bob"])],
    )


def test_xls_first_sheet_numbers_dates_and_blank_rows():
    assert read(FILES / "sheet.xls") == (
        ["Email", "Name", "Phone", "Joined", "Score"],
        True,
        [
            (2, ["ivan@example.ru", "Иван Петров", "79161234567", "2024-03-01", "2.5"]),
            (4, ["ann@example.com", "Ann Lee", "15551234567", "", "TRUE"]),
            (6, ["bob@example.com"]),
        ],
    )


@pytest.mark.parametrize("name", READABLE)
def test_count_rows_agrees_with_open_table(name):
    path = FILES / name
    fmt = detect_format(filename=name, path=path)
    with open_table(path=path, fmt=fmt) as table:
        rows = list(table.rows)
    assert count_rows(path=path, fmt=fmt) == len(rows) > 0


def test_detect_format_ignores_the_case_of_the_extension():
    assert detect_format(filename="Export.CSV", path=FILES / "bom.csv") == "csv"
    assert detect_format(filename="Book.XLSX", path=FILES / "sheet.xlsx") == "xlsx"


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        (
            "report.pdf",
            "Files of type .pdf cannot be imported; upload a .txt, .csv, .xls or .xlsx file.",
        ),
        (
            "letter.docx",
            "Files of type .docx cannot be imported; upload a .txt, .csv, .xls or .xlsx file.",
        ),
        (
            "addresses",
            "Files without an extension cannot be imported; "
            "upload a .txt, .csv, .xls or .xlsx file.",
        ),
    ],
)
def test_unknown_extensions_are_refused(filename, message):
    assert refusal(detect_format, filename=filename, path=FILES / "bom.csv") == message


@pytest.mark.parametrize("suffix", ["txt", "csv", "xls", "xlsx"])
@pytest.mark.parametrize("content", [b"", b" \r\n\t\n", b"\xef\xbb\xbf\n\n"])
def test_empty_and_whitespace_only_files_are_refused(tmp_path, suffix, content):
    path = write(tmp_path, f"upload.{suffix}", content)
    assert refusal(detect_format, filename=path.name, path=path) == "The file is empty."


def test_text_renamed_xlsx_is_refused():
    message = refusal(detect_format, filename="text.xlsx", path=FILES / "text.xlsx")
    assert message == XLSX_DAMAGED


def test_xls_renamed_xlsx_is_refused_with_a_hint():
    assert refusal(detect_format, filename="book.xlsx", path=FILES / "sheet.xls") == (
        "This file is named .xlsx but is password-protected or an old .xls file; "
        "remove the password or save it as .xlsx again."
    )


def test_xlsx_renamed_xls_is_refused_with_a_hint():
    assert refusal(detect_format, filename="book.xls", path=FILES / "sheet.xlsx") == (
        "This file is named .xls but is an .xlsx spreadsheet; rename it to .xlsx."
    )


def test_text_renamed_xls_is_refused(tmp_path):
    path = write(tmp_path, "book.xls", b"email\nann@example.com\n")
    assert refusal(detect_format, filename="book.xls", path=path) == XLS_DAMAGED


def test_spreadsheet_named_csv_is_not_text():
    assert refusal(detect_format, filename="list.csv", path=FILES / "sheet.xlsx") == NOT_TEXT


def test_ole2_file_that_is_not_a_workbook_is_refused(tmp_path):
    path = write(tmp_path, "book.xls", bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 600)
    assert detect_format(filename="book.xls", path=path) == "xls"
    assert refusal(check_file, path=path, fmt="xls", max_bytes=MB) == XLS_DAMAGED


def test_truncated_xlsx_is_refused():
    path = FILES / "truncated.xlsx"
    assert detect_format(filename="truncated.xlsx", path=path) == "xlsx"
    assert refusal(check_file, path=path, fmt="xlsx", max_bytes=MB) == XLSX_DAMAGED


def test_zip_without_a_workbook_is_refused():
    path = FILES / "no_workbook.xlsx"
    assert refusal(check_file, path=path, fmt="xlsx", max_bytes=MB) == XLSX_DAMAGED


def test_xlsx_broken_part_way_fails_while_reading():
    path = FILES / "broken_sheet.xlsx"
    check_file(path=path, fmt="xlsx", max_bytes=MB)
    seen = []
    with pytest.raises(ImportFileError) as caught, open_table(path=path, fmt="xlsx") as table:
        for row in table.rows:
            seen.append(row)
    assert caught.value.message == XLSX_DAMAGED
    # It breaks within the first HEADER_SCAN_ROWS rows, which are read to find the header: the
    # file is refused before any row is handed out.
    assert seen == []


def test_xlsx_zip_bomb_is_refused_before_unpacking(tmp_path):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            zeros = bytes(MB)
            for _ in range(20):
                member.write(zeros)
    assert path.stat().st_size < 100_000
    assert refusal(check_file, path=path, fmt="xlsx", max_bytes=MB) == (
        "This .xlsx file is compressed suspiciously well (a zip bomb?); it cannot be imported."
    )


def test_xlsx_unpacking_past_the_total_cap_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(parsers, "MAX_XLSX_UNCOMPRESSED_BYTES", 4 * MB)
    path = tmp_path / "big.xlsx"
    path.write_bytes((FILES / "sheet.xlsx").read_bytes())
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", bytes(5 * MB))
    assert refusal(check_file, path=path, fmt="xlsx", max_bytes=MB) == (
        "This .xlsx file unpacks to more than 4 MB; it cannot be imported."
    )


def test_xlsx_with_too_many_parts_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(parsers, "MAX_XLSX_MEMBERS", 20)
    path = tmp_path / "many.xlsx"
    path.write_bytes((FILES / "sheet.xlsx").read_bytes())
    check_file(path=path, fmt="xlsx", max_bytes=MB)
    with zipfile.ZipFile(path, "a") as archive:
        for number in range(20):
            archive.writestr(f"xl/media/{number}.txt", "x")
    assert refusal(check_file, path=path, fmt="xlsx", max_bytes=MB) == (
        "This .xlsx file has too many parts to be a spreadsheet."
    )


def test_file_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.truncate(int(61.15 * MB))  # sparse: nothing is written
    assert refusal(check_file, path=path, fmt="csv", max_bytes=50 * MB) == (
        "The file is 61.2 MB; the limit is 50 MB."
    )


def test_file_at_the_size_limit_is_accepted(tmp_path):
    path = write(tmp_path, "list.csv", b"email\n" + b"a" * 1018)
    check_file(path=path, fmt="csv", max_bytes=1024)
    message = refusal(check_file, path=path, fmt="csv", max_bytes=1023)
    assert message == "The file is 1 KB; the limit is 1023 bytes."


def test_nul_bytes_at_the_start_are_refused_by_detect_format(tmp_path):
    path = write(tmp_path, "list.csv", b"email\nann@example.com\x00\n")
    assert refusal(detect_format, filename="list.csv", path=path) == NOT_TEXT


def test_nul_bytes_after_the_first_64kb_are_refused_while_streaming(tmp_path):
    filler = b"".join(b"user%d@example.com\n" % i for i in range(5_000))
    path = write(tmp_path, "list.csv", b"email\n" + filler + b"bad\x00@example.com\n")
    assert len(filler) > 64 * 1024
    assert detect_format(filename="list.csv", path=path) == "csv"
    assert refusal(count_rows, path=path, fmt="csv") == NOT_TEXT


def test_a_2mb_cell_is_refused_with_its_row(tmp_path):
    path = write(tmp_path, "list.csv", b"email,name\nann@example.com,Ann\nbob@example.com,")
    with path.open("ab") as handle:
        handle.write(b"x" * (2 * MB) + b"\n")
    assert refusal(count_rows, path=path, fmt="csv") == (
        "Row 3 is longer than 1 MB; this does not look like a list of addresses."
    )


def test_a_2mb_quoted_cell_over_many_lines_is_refused_with_its_row(tmp_path):
    path = write(tmp_path, "list.csv", b'email,name\nann@example.com,"')
    with path.open("ab") as handle:
        handle.write((b"x" * 1023 + b"\n") * 2048 + b'"\n')
    assert refusal(count_rows, path=path, fmt="csv") == (
        "Row 2 is longer than 1 MB; this does not look like a list of addresses."
    )


def test_a_file_of_empty_cells_has_no_data(tmp_path):
    path = write(tmp_path, "list.csv", b",,,\n  \n, ,\n")
    assert refusal(count_rows, path=path, fmt="csv") == "The file has no rows with data."


def test_has_header():
    assert has_header(["Email", "Name"]) is True
    assert has_header(["E-mail (required)", "@handle"]) is True
    assert has_header(["ann@example.com", "Ann"]) is False
    assert has_header(["Ann", "Ann Lee <ann@example.com>"]) is False
    # A title that mentions an address is not a row of data.
    assert has_header(["Exported 2024-05-01 by admin@example.com"]) is True


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([["email", "name"], ["ann@example.com", "Ann"]], 0),
        ([["ann@example.com", "Ann"], ["bob@example.com"]], None),
        ([["Subscribers"], ["Exported by admin@example.com"], ["Mail", "Name"], ["a@b.co"]], 2),
        # A note between the header and the data: the row naming the e-mail column wins.
        ([["Title"], ["Email", "Name"], ["(names optional)"], ["a@b.co", "A"]], 1),
        # No data among the first rows: the first row naming an e-mail column, else the first.
        ([["Title"], ["E-mail", "Name"], ["not an address", "A"]], 1),
        ([["who", "what"], ["ann", "hello"]], 0),
    ],
)
def test_find_header(rows, expected):
    assert parsers.find_header(rows) == expected


def test_title_rows_above_the_header_are_left_out(tmp_path):
    path = write(
        tmp_path,
        "titled.csv",
        b"Harbour Books subscribers\n"
        b"Exported by admin@harbour.example\n"
        b"\n"
        b"Email,Name\n"
        b"ann@example.com,Ann Lee\n"
        b"bob@example.com,Bob,met at the fair\n",
    )
    with open_table(path=path, fmt="csv") as table:
        assert (table.header, table.header_in_file, table.header_row) == (
            ["Email", "Name", ""],
            True,
            4,
        )
        assert list(table.rows) == [
            (5, ["ann@example.com", "Ann Lee"]),
            (6, ["bob@example.com", "Bob", "met at the fair"]),
        ]
    assert count_rows(path=path, fmt="csv") == 2


def test_titled_xlsx_from_the_export_fixtures():
    path = Path(__file__).parents[1] / "fixtures" / "exports" / "spreadsheets" / "titled.xlsx"
    header, header_in_file, rows = read(path)
    assert (header, header_in_file) == (
        ["E-mail", "First name", "Last name", "Phone", "Signed up", ""],
        True,
    )
    assert [number for number, _ in rows] == [5, 6, 7]


def test_a_headerless_file_is_as_wide_as_its_widest_first_row(tmp_path):
    path = write(tmp_path, "h.csv", b"ann@example.com\nbob@example.com,Bob,x\n")
    with open_table(path=path, fmt="csv") as table:
        assert table.header == ["column 1", "column 2", "column 3"]
        assert table.header_row is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["email", "name", "phone"], {"email": 0, "name": 1, "phone": 2}),
        (["Full name", "E-mail address", "Telephone"], {"email": 1, "name": 0, "phone": 2}),
        (["ФИО", "Эл. почта", "Телефон"], {"email": 1, "name": 0, "phone": 2}),
        (["Имя", "Email адрес", "Мобильный"], {"email": 1, "name": 0, "phone": 2}),
        (["Почта", "Имя клиента"], {"email": 0, "name": 1}),
        (["Company name", "Work e-mail", "Name"], {"email": 1, "name": 2}),
        (["Mail", "Mobile"], {"email": 0, "phone": 1}),
        (["id", "created"], {}),
        # Split names: joined on import.
        (["Email Address", "First Name", "Last Name"], {"email": 0, "name": 1, "last_name": 2}),
        (
            ["EMAIL", "FIRSTNAME", "LASTNAME", "SMS"],
            {"email": 0, "name": 1, "last_name": 2, "phone": 3},
        ),
        (["email", "name", "last_name"], {"email": 0, "name": 1, "last_name": 2}),
        (["Email", "Фамилия", "Имя"], {"email": 0, "name": 2, "last_name": 1}),
        # A whole name is never joined to a last name.
        (["Full name", "Last name", "Email"], {"email": 2, "name": 0}),
        (["Name", "First name", "Last name", "Mail"], {"email": 3, "name": 1, "last_name": 2}),
    ],
)
def test_guess_column_map(header, expected):
    assert guess_column_map(header) == expected


def test_the_address_column_is_found_by_its_content_when_no_header_names_it():
    header = ["Subscriber", "name", "status"]
    sample = [["ann@example.com", "Ann", "active"], ["bob@example.com", "Bob", "junk"], []]
    assert guess_column_map(header, sample) == {"email": 0, "name": 1}
    # Fewer than half of the rows hold an address there: no guess.
    assert guess_column_map(header, [["ann@example.com"], ["x"], ["y"]]) == {"name": 1}


def test_open_table_streams_a_large_csv_in_flat_memory(tmp_path):
    path = tmp_path / "large.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("email,name\n")
        for number in range(200_000):
            handle.write(f"user{number}@example.com,Name {number}\n")
    tracemalloc.start()
    try:
        with open_table(path=path, fmt="csv") as table:
            count = sum(1 for _ in table.rows)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 200_000
    assert peak < 20 * MB


@pytest.mark.parametrize(("fmt", "rows"), [("csv", 5000), ("xlsx", 5000), ("xls", 3)])
def test_row_estimates_are_close_and_xls_counts_are_exact(tmp_path, fmt, rows):
    from lists.parsers import count_rows, estimate_rows

    if fmt == "xls":
        path = FILES / "sheet.xls"
    elif fmt == "csv":
        path = tmp_path / "big.csv"
        path.write_text(
            "email,name\n" + "".join(f"user{i}@example.com,User {i}\n" for i in range(rows))
        )
    else:
        import openpyxl

        path = tmp_path / "big.xlsx"
        workbook = openpyxl.Workbook(write_only=True)
        sheet = workbook.create_sheet()
        sheet.append(["email", "name"])
        for i in range(rows):
            sheet.append([f"user{i}@example.com", f"User {i}"])
        workbook.save(path)
    estimate, exact = estimate_rows(path=path, fmt=fmt)
    actual = count_rows(path=path, fmt=fmt)
    assert exact is (fmt == "xls")
    assert abs(estimate - actual) <= actual * 0.1


def test_xlsx_with_a_shared_strings_table_past_the_cap_is_refused(tmp_path, monkeypatch):
    """The reader holds the shared strings whole: a table past the cap is refused up front."""
    monkeypatch.setattr(parsers, "MAX_XLSX_SHARED_STRINGS_BYTES", MB)
    path = tmp_path / "wordy.xlsx"
    path.write_bytes((FILES / "sheet.xlsx").read_bytes())
    check_file(path=path, fmt="xlsx", max_bytes=MB)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        strings = "".join(f"<si><t>text {n}</t></si>" for n in range(80_000))
        archive.writestr("xl/sharedStrings2.xml", f"<sst>{strings}</sst>")
    assert refusal(check_file, path=path, fmt="xlsx", max_bytes=10 * MB) == (
        "This .xlsx file's text (its shared strings) unpacks to more than 1 MB; "
        "split it into smaller files or save it as CSV."
    )


def test_an_xlsx_estimate_samples_the_sheet_imported_not_the_largest(tmp_path):
    """The import reads the first sheet: a bigger second sheet must not inflate the estimate."""
    import openpyxl

    from lists.parsers import count_rows, estimate_rows

    path = tmp_path / "two.xlsx"
    workbook = openpyxl.Workbook(write_only=True)
    first = workbook.create_sheet("Subscribers")
    first.append(["email", "name"])
    for i in range(200):
        first.append([f"user{i}@example.com", f"User {i}"])
    notes = workbook.create_sheet("Notes")
    for i in range(5000):
        notes.append([f"note {i}", "a longer line of text than the first sheet holds"])
    workbook.save(path)

    estimate, exact = estimate_rows(path=path, fmt="xlsx")

    assert not exact
    assert count_rows(path=path, fmt="xlsx") == 200
    assert abs(estimate - 200) <= 20


def test_the_first_sheet_is_found_through_the_workbook_whatever_its_part_is_named(tmp_path):
    import openpyxl

    from lists.parsers import _first_sheet_member

    path = tmp_path / "renamed.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["email"])
    workbook.active.append(["ann@example.com"])
    workbook.create_sheet("Second").append(["other"])
    workbook.save(path)
    # Swap the two parts' names, as some writers number them otherwise: the workbook's
    # relationships still name the first sheet's part.
    renamed = tmp_path / "swapped.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(renamed, "w") as target:
        swap = {"xl/worksheets/sheet1.xml": "xl/worksheets/sheet2.xml"}
        swap.update({v: k for k, v in swap.items()})
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "xl/_rels/workbook.xml.rels":
                data = (
                    data.replace(b"worksheets/sheet1.xml", b"worksheets/sheetX.xml")
                    .replace(b"worksheets/sheet2.xml", b"worksheets/sheet1.xml")
                    .replace(b"worksheets/sheetX.xml", b"worksheets/sheet2.xml")
                )
            target.writestr(swap.get(member.filename, member.filename), data)

    with zipfile.ZipFile(path) as original:
        first_sheet = original.read("xl/worksheets/sheet1.xml")
    with zipfile.ZipFile(renamed) as archive:
        first = _first_sheet_member(archive)
        assert first.filename == "xl/worksheets/sheet2.xml"
        assert archive.read(first) == first_sheet
    assert count_rows(path=renamed, fmt="xlsx") == 1
