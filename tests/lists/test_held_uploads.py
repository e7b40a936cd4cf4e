"""Files kept for an import form's next try (lists.services.held_uploads): only the account that
chose one can get it back, not after it expired, and the hourly purge deletes the old ones."""

import os
import time

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from lists.services import held_uploads

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def hold(account_id: int = 7):
    upload = SimpleUploadedFile("../../people.csv", b"email\nann@example.org\n")
    return held_uploads.upload_hold(account_id=account_id, upload=upload)


def test_the_account_gets_its_file_back_under_its_own_name():
    kept = hold()

    opened, again = held_uploads.upload_held(token=kept.token, account_id=7)

    assert (kept.name, again.name, again.size) == ("people.csv", "people.csv", 22)
    assert opened.read() == b"email\nann@example.org\n"
    opened.close()


def test_another_account_a_forged_or_an_expired_token_gets_nothing(settings):
    kept = hold()

    assert held_uploads.upload_held(token=kept.token, account_id=8) is None
    assert held_uploads.upload_held(token=kept.token + "x", account_id=7) is None
    settings.HELD_UPLOAD_SECONDS = -1
    assert held_uploads.upload_held(token=kept.token, account_id=7) is None


def test_a_released_file_is_gone_and_releasing_twice_is_harmless():
    kept = hold()

    held_uploads.upload_release(token=kept.token, account_id=7)
    held_uploads.upload_release(token=kept.token, account_id=7)

    assert held_uploads.upload_held(token=kept.token, account_id=7) is None


def test_the_purge_deletes_files_older_than_the_limit(settings):
    old, new = hold(), hold()
    old_path = held_uploads._held_path(old.token, 7)[0]
    an_hour_ago = time.time() - 3700
    os.utime(default_storage.path(old_path), (an_hour_ago, an_hour_ago))

    assert held_uploads.held_uploads_purge() == 1
    assert held_uploads.held_uploads_purge() == 0

    assert held_uploads.upload_held(token=old.token, account_id=7) is None
    assert held_uploads.upload_held(token=new.token, account_id=7) is not None
