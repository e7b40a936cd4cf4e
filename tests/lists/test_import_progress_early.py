"""Issue 23, item 6 (fixed before, checked here with the shipped settings): a small import's
progress moves from its first batch, from an estimated total, instead of sitting at 0% until
IMPORT_BATCH_SIZE rows are written and jumping to 100%."""

from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from lists.services import imports as imports_module
from tests.lists.factories import MailingListFactory

pytestmark = pytest.mark.django_db


def test_a_file_of_three_thousand_rows_shows_progress_from_its_first_batch(
    token_client, user, django_capture_on_commit_callbacks
):
    mailing_list = MailingListFactory(account=user.account)
    lines = ["email"] + [f"reader{n}@example.com" for n in range(3000)]
    seen = []
    real_save = imports_module._save_progress

    def watching(job, count, result):
        real_save(job, count, result)
        seen.append((job.progress, job.total_rows, job.total_rows_estimated))

    with (
        mock.patch.object(imports_module, "_save_progress", watching),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = token_client.post(
            f"/api/v1/lists/{mailing_list.pk}/imports/",
            {
                "file": SimpleUploadedFile("readers.csv", "\n".join(lines).encode()),
                "consent_source": "paper_form",
                "proof": "Signed forms, box 4 at the office",
            },
            format="multipart",
        )
    assert response.status_code == 202, response.json()

    # An estimated total from the start, and the bar moving many times on the way, not once.
    assert seen[0][1] and seen[0][2] is True
    on_the_way = [progress for progress, _, _ in seen if 0 < progress < 1]
    assert len(on_the_way) >= 10
    assert on_the_way[0] <= 0.1
    assert mailing_list.subscribers.count() == 3000
