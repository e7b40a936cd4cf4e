"""DEBUG-only pages that show what the local SMTP sink received."""

from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from config.security import allows_mail_preview
from outbox.sink import read_messages


def _messages():
    return list(reversed(read_messages(Path(settings.OUTBOX_DIR))))


def outbox_list(request: HttpRequest) -> HttpResponse:
    return render(request, "outbox/list.html", {"stored": _messages()})


# The HTML part is shown as the campaign preview shows it (a sandboxed srcdoc frame, which needs
# the preview's widened policy for the mail's inline styles and images).
@allows_mail_preview
def outbox_detail(request: HttpRequest, name: str) -> HttpResponse:
    for stored in _messages():
        if stored.name == name:
            preview = {
                "from": str(stored.message["From"] or ""),
                "to": stored.to,
                "subject": stored.subject,
                "html": stored.html,
                "text": stored.text,
            }
            return render(
                request,
                "outbox/detail.html",
                {"stored": stored, "headers": stored.message.items(), "preview": preview},
            )
    raise Http404("No such message.")
