"""Regenerate the import fixtures in this folder (the tests read the committed copies).

Run from the repository root with the project's venv:

    python tests/lists/files/make_fixtures.py

sheet.xls needs xlwt, which the project does not depend on; without it the committed sheet.xls is
kept. To remake it, install xlwt into a throwaway folder and point PYTHONPATH at it:

    pip install --target /tmp/xlwt xlwt==1.3.0
    PYTHONPATH=/tmp/xlwt python tests/lists/files/make_fixtures.py

Regenerated spreadsheets differ byte for byte (zip and document timestamps), not in content.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
from openpyxl.styles import Font

HERE = Path(__file__).resolve().parent


def write_text_fixtures() -> None:
    (HERE / "bom.csv").write_bytes(
        "email,name\r\nann@example.com,Ann Lee\r\nbob@example.com,Bob Stone\r\n".encode("utf-8-sig")
    )
    (HERE / "semicolon.csv").write_text(
        "Email;Name;Phone\nann@example.com;Lee, Ann;+1 555 0100\nbob@example.com;Stone, Bob;\n",
        encoding="utf-8",
    )
    (HERE / "tab.csv").write_text(
        "E-mail address\tFull name\nann@example.com\tAnn Lee\nbob@example.com\tBob, Jr. Stone\n",
        encoding="utf-8",
    )
    (HERE / "quoted.csv").write_bytes(
        b"email,name,note\r\n"
        b'ann@example.com,"Lee, Ann","said ""hi"""\r\n'
        b'bob@example.com,Bob Stone,"two\r\nlines"\r\n'
        b"carol@example.com,Carol,plain\r\n"
    )
    (HERE / "cp1251.csv").write_bytes(
        "email;имя\nivan@example.ru;Иван Петров\nolga@example.ru;Ольга Смирнова\n".encode("cp1251")
    )
    (HERE / "latin1.csv").write_bytes(
        "email,name\njose@example.com,José Müller\nfrancois@example.com,François Höß\n".encode(
            "latin-1"
        )
    )
    (HERE / "blank_lines.csv").write_text(
        "\n\nemail,name\n\nann@example.com,Ann Lee\n,,\n   \n\nbob@example.com,Bob Stone\n\n",
        encoding="utf-8",
    )
    (HERE / "single_column.csv").write_text(
        "ann@example.com\nbob@example.com\n\ncarol@example.com\n", encoding="utf-8"
    )
    (HERE / "headerless.csv").write_text(
        "ann@example.com,Ann Lee\nbob@example.com,Bob Stone\n", encoding="utf-8"
    )
    (HERE / "list.txt").write_text(
        "ann@example.com\n"
        "\n"
        "Bob Stone <bob@example.com>\n"
        '"Lee, Carol" <carol@example.com>;\n'
        "   \n"
        "Иван Петров <ivan@example.ru>,\n"
        "<dave@example.com>\n",
        encoding="utf-8",
    )
    (HERE / "text.xlsx").write_text("email\nann@example.com\n", encoding="utf-8")


def _rewrite_member(path: Path, member: str, change) -> None:
    """Rewrite one member of a zip in place, applying change(text) -> text."""
    with zipfile.ZipFile(path) as source:
        parts = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in parts:
            if info.filename == member:
                data = change(data.decode("utf-8")).encode("utf-8")
            target.writestr(info, data)


def write_xlsx_fixtures() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Subscribers"
    sheet.append(["Email", "Name", "Phone", "Joined", "Score", "Double"])
    sheet.append(["ann@example.com", "Ann Lee", 79161234567, date(2024, 3, 1), 2.5, "=E2*2"])
    sheet.append([])
    sheet.append(
        [
            "bob@example.com",
            "  Bob Stone  ",
            15551234567.0,
            datetime(2024, 3, 2, 14, 30),
            0.1 + 0.2,
            "=E4*2",
        ]
    )
    sheet.append([None, "   "])
    sheet.append(["carol@example.com", "Carol", None, None, True])
    sheet.append(["dave@example.com"])
    sheet["F7"].font = Font(bold=True)  # a styled empty cell: read back as a trailing None
    workbook.create_sheet("Other").append(["not@read.example"])
    workbook.save(HERE / "sheet.xlsx")
    # openpyxl cannot store a formula's cached result (Excel computes it on save); add one by
    # hand so data_only reading shows it. E4's formula keeps no cached value.
    _rewrite_member(
        HERE / "sheet.xlsx",
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(r"<f>E2\*2</f><v\s*/>", "<f>E2*2</f><v>5</v>", xml),
    )

    small = openpyxl.Workbook()
    for row in (["email", "name"], ["ann@example.com", "Ann Lee"], ["bob@example.com", "Bob"]):
        small.active.append(row)
    small.save(HERE / "wrong_dimension.xlsx")
    _rewrite_member(
        HERE / "wrong_dimension.xlsx",
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1"', xml),
    )

    # Well-formed zip, sheet XML cut off after the second row: fails part-way through reading.
    small.save(HERE / "broken_sheet.xlsx")
    _rewrite_member(
        HERE / "broken_sheet.xlsx",
        "xl/worksheets/sheet1.xml",
        lambda xml: xml[: xml.index('<row r="3"')] + '<row r="3"><c r="A3" t="inlineStr"><is><t>',
    )

    data = (HERE / "sheet.xlsx").read_bytes()
    (HERE / "truncated.xlsx").write_bytes(data[: len(data) // 2])

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("docProps/app.xml", '<?xml version="1.0"?><Properties/>')
    (HERE / "no_workbook.xlsx").write_bytes(buffer.getvalue())


def write_xls_fixture() -> None:
    try:
        import xlwt
    except ImportError:
        print("xlwt is not installed: keeping the committed sheet.xls (see the module docstring)")
        return
    workbook = xlwt.Workbook(encoding="utf-8")
    sheet = workbook.add_sheet("Subscribers")
    as_date = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    rows = [
        ["Email", "Name", "Phone", "Joined", "Score"],
        ["ivan@example.ru", "Иван Петров", 79161234567.0, date(2024, 3, 1), 2.5],
        [],
        ["ann@example.com", "  Ann Lee ", 15551234567, None, True],
        [None, "  "],
        ["bob@example.com"],
    ]
    for row_index, row in enumerate(rows):
        for column, value in enumerate(row):
            if isinstance(value, date):
                sheet.write(row_index, column, value, as_date)
            elif value is not None:
                sheet.write(row_index, column, value)
    workbook.add_sheet("Other").write(0, 0, "not@read.example")
    workbook.save(str(HERE / "sheet.xls"))


if __name__ == "__main__":
    write_text_fixtures()
    write_xlsx_fixtures()
    write_xls_fixture()
