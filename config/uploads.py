"""Refuse oversized request bodies before Django spools them to disk."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.template.defaultfilters import filesizeformat

# Form fields and multipart framing around the files.
_OVERHEAD = 1024 * 1024


class RequestSizeLimit(FileUploadHandler):
    """First upload handler: a body bigger than the largest upload we accept (an import file
    plus a proof file) is refused from its Content-Length, before any of it is written to a
    temporary file, so a huge upload cannot fill the disk."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        largest = settings.IMPORT_MAX_BYTES + settings.CONSENT_PROOF_MAX_BYTES + _OVERHEAD
        if content_length and content_length > largest:
            raise RequestDataTooBig(
                f"The upload is {filesizeformat(content_length)}; files may be at most "
                f"{filesizeformat(settings.IMPORT_MAX_BYTES)}."
            )

    def receive_data_chunk(self, raw_data, start):
        return raw_data

    def file_complete(self, file_size):
        return None
