"""DEBUG-only pages that show what the local SMTP sink received."""

from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from outbox.sink import read_messages


def _messages():
    return list(reversed(read_messages(Path(settings.OUTBOX_DIR))))


def outbox_list(request: HttpRequest) -> HttpResponse:
    return render(request, "outbox/list.html", {"stored": _messages()})


def outbox_detail(request: HttpRequest, name: str) -> HttpResponse:
    for stored in _messages():
        if stored.name == name:
            return render(
                request, "outbox/detail.html", {"stored": stored, "headers": stored.message.items()}
            )
    raise Http404("No such message.")
