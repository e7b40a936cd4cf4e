"""Serving an uploaded file (a consent proof, an appeal's signed forms) to someone allowed to see
it: always as a download, typed by what the upload check found, never rendered in our origin."""

from django.db.models.fields.files import FieldFile
from django.http import FileResponse

# The types the upload checks accept (by the file's first bytes; the stored name carries the
# type found). Anything else, say an older file, is served as bytes to save.
SAFE_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "gif": "image/gif",
}


def private_file_response(stored: FieldFile) -> FileResponse:
    """The file as an attachment; an HTML or SVG file (or one named so) is never served inline
    nor as markup: `nosniff`, a sandboxing policy that allows nothing, and a type from the
    allow-list above or application/octet-stream."""
    name = (stored.name or "").rsplit("/", 1)[-1]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    response = FileResponse(
        stored.open("rb"),
        as_attachment=True,
        filename=name,
        content_type=SAFE_TYPES.get(extension, "application/octet-stream"),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
