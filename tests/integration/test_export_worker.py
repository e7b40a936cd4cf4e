"""Exports on a real worker (issue 22): the API starts one, a Celery worker on Redis writes the
file with its progress, e-mails the requester over SMTP, and the file downloads."""

import csv
import io
import re

import pytest

from tests.integration.conftest import wait_for
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.slow]


def test_a_large_csv_export_runs_on_the_worker_and_mails_its_link(
    celery_worker_process, token_client, mail_sink, settings, tmp_path
):
    exports = tmp_path / "exports"
    settings.EXPORTS_ROOT = str(exports)
    settings.EXPORT_STREAM_MAX_ROWS = 100
    celery_worker_process(
        {
            "EXPORTS_ROOT": str(exports),
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(mail_sink.port),
            "SITE_URL": "http://testserver",
        }
    )
    mailing_list = MailingListFactory(account=token_client.user.account, name="Field notes")
    SubscriberFactory.create_batch(150, mailing_list=mailing_list)

    response = token_client.get(f"/api/v1/lists/{mailing_list.pk}/export/?format=csv")
    assert response.status_code == 202, response.content
    url = response["Location"]

    def finished():
        body = token_client.get(url).json()
        return body if body["status"] in ("done", "failed") else None

    body = wait_for(finished, timeout=60, what="the export to finish")
    assert (body["status"], body["rows_total"], body["rows_done"]) == ("done", 150, 150), body
    download = token_client.get(body["download_url"])
    assert download.status_code == 200
    text = b"".join(download.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 150 and all(row["consent_source"] == "web_form" for row in rows)

    message = wait_for(mail_sink.messages, timeout=30, what="the export e-mail")[0]
    assert message.to == token_client.user.email
    assert "Field notes" in message.subject
    assert re.search(r"http://testserver/exports/link/\S+/", message.text)

    # Asked again after it finished: a new export (the finished one is kept as it is).
    again = token_client.post(
        "/api/v1/exports/",
        {"source": "list", "id": mailing_list.pk, "format": "xlsx"},
        format="json",
    )
    assert again.status_code == 202 and again.json()["id"] != body["id"]
