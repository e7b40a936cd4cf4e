from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from lists.models import ImportJob, ImportStatus
from tests.lists.factories import MailingListFactory

pytestmark = pytest.mark.django_db


def _job(mailing_list, status, age_hours, media):
    job = ImportJob(
        account=mailing_list.account,
        mailing_list=mailing_list,
        original_filename="a.csv",
        file_format="csv",
        consent_source="paper_form",
        status=status,
    )
    job.file.save("a.csv", ContentFile(b"email\nann@example.org\n"), save=True)
    ImportJob.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - timedelta(hours=age_hours)
    )
    return job


def test_purge_deletes_only_stale_pending_imports_with_their_files(settings, tmp_path, capsys):
    settings.MEDIA_ROOT = str(tmp_path)
    mailing_list = MailingListFactory()
    stale = _job(mailing_list, ImportStatus.PENDING, 25, tmp_path)
    fresh = _job(mailing_list, ImportStatus.PENDING, 1, tmp_path)
    queued = _job(mailing_list, ImportStatus.QUEUED, 48, tmp_path)
    stale_path = stale.file.path

    call_command("purge_expired")

    assert "Deleted 1 import(s)" in capsys.readouterr().out
    assert set(ImportJob.objects.values_list("pk", flat=True)) == {fresh.pk, queued.pk}
    assert not (tmp_path / stale_path).exists()
    assert (tmp_path / fresh.file.name).exists()
