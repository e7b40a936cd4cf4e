"""Uploads kept for a second try: when the import form is refused for something other than its
file (a missing proof, no consent source), the file the person chose is stored here and offered
back, so they need not choose it again (a browser always clears a file input it redraws).

A held file is named by a signed token that carries the account it belongs to and where it is;
it lives at most HELD_UPLOAD_SECONDS and is deleted once used or on the hourly purge, like an
import uploaded but never started. Nothing here is served to anyone: it is only read back into
the same form."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from lists.services.consent import upload_name

HELD_DIR = "held-uploads"
_SALT = "lists.held-upload"


@dataclass(frozen=True)
class HeldUpload:
    token: str
    name: str
    size: int


def upload_hold(*, account_id: int, upload: UploadedFile) -> HeldUpload:
    """Store `upload` privately for the account's next try; return its token, name and size."""
    name = upload_name(upload.name)
    upload.seek(0)
    path = default_storage.save(f"{HELD_DIR}/{account_id}/{secrets.token_hex(16)}/{name}", upload)
    token = signing.dumps({"a": account_id, "p": path, "n": name}, salt=_SALT)
    return HeldUpload(token=token, name=name, size=upload.size or 0)


def _held_path(token: str, account_id: int) -> tuple[str, str] | None:
    try:
        data = signing.loads(token, salt=_SALT, max_age=settings.HELD_UPLOAD_SECONDS)
    except signing.BadSignature:
        return None
    path, name = str(data.get("p", "")), str(data.get("n", ""))
    # Signed, so never another account's or outside the held area; checked all the same.
    if data.get("a") != account_id or not path.startswith(f"{HELD_DIR}/{account_id}/"):
        return None
    if ".." in path.split("/") or not default_storage.exists(path):
        return None
    return path, name


def upload_held(*, token: str, account_id: int) -> tuple[File, HeldUpload] | None:
    """The held file named by `token`, opened, if it is the account's and still kept; else None
    (a forged, expired or used token)."""
    found = _held_path(token or "", account_id)
    if found is None:
        return None
    path, name = found
    opened = File(default_storage.open(path, "rb"), name=name)
    return opened, HeldUpload(token=token, name=name, size=opened.size)


def upload_release(*, token: str, account_id: int) -> None:
    """Delete a held file once used (idempotent)."""
    found = _held_path(token or "", account_id)
    if found is not None:
        default_storage.delete(found[0])


def held_uploads_purge(*, older_than: timedelta | None = None) -> int:
    """Delete held files older than `older_than` (default HELD_UPLOAD_SECONDS). Returns how many
    went. Safe to run twice."""
    cutoff = timezone.now() - (older_than or timedelta(seconds=settings.HELD_UPLOAD_SECONDS))
    count = 0
    if not default_storage.exists(HELD_DIR):
        return 0
    accounts, _ = default_storage.listdir(HELD_DIR)
    for account in accounts:
        holds, _ = default_storage.listdir(f"{HELD_DIR}/{account}")
        for hold in holds:
            _, names = default_storage.listdir(f"{HELD_DIR}/{account}/{hold}")
            for name in names:
                path = f"{HELD_DIR}/{account}/{hold}/{name}"
                if default_storage.get_modified_time(path) < cutoff:
                    default_storage.delete(path)
                    count += 1
    return count
