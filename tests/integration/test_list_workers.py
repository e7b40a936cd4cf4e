"""Lists on a real worker: imports and double opt-in mail run as Celery tasks on Redis."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from lists.models import Subscriber, SubscriberStatus
from tests.integration.conftest import wait_for
from tests.lists.factories import MailingListFactory

pytestmark = [pytest.mark.slow]


def test_an_import_runs_on_the_worker_with_progress(
    celery_worker_process, token_client, settings, tmp_path
):
    media = tmp_path / "media"
    settings.MEDIA_ROOT = str(media)
    settings.IMPORT_BATCH_SIZE = 50
    celery_worker_process({"MEDIA_ROOT": str(media), "IMPORT_BATCH_SIZE": "50"})
    mailing_list = MailingListFactory(account=token_client.user.account)
    rows = "".join(f"reader{i}@example.org;Reader {i}\n" for i in range(400))
    upload = SimpleUploadedFile("readers.csv", ("email;name\n" + rows + "bad-address;X\n").encode())

    response = token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/imports/",
        {"file": upload, "consent_source": "client_reconfirmed", "proof": "Consent campaign 2026"},
        format="multipart",
    )
    assert response.status_code == 202
    url = f"/api/v1/imports/{response.json()['id']}/"

    seen = set()

    def finished():
        body = token_client.get(url).json()
        seen.add(body["processed"])
        return body if body["status"] in ("done", "failed") else None

    body = wait_for(finished, timeout=60, what="the import to finish")
    assert body["status"] == "done", body
    assert (body["total_rows"], body["imported"], body["skipped"]) == (401, 400, 1)
    assert body["progress"] == 1.0
    assert body["errors"][0]["row"] == 402
    assert mailing_list.subscribers.filter(status=SubscriberStatus.SUBSCRIBED).count() == 400
    assert not list(media.rglob("*.csv"))  # the upload is deleted when the import ends


def test_the_worker_mails_the_double_opt_in_link(celery_worker_process, mail_sink, client):
    celery_worker_process(
        {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(mail_sink.port),
            "SITE_URL": "http://testserver",
        }
    )
    mailing_list = MailingListFactory(name="Field notes")
    client.post(
        f"/subscribe/{mailing_list.public_id}/",
        {"email": "walker@example.org", "consent": "on"},
    )

    message = wait_for(mail_sink.messages, timeout=60, what="the confirmation e-mail")[0]
    assert message.to == "walker@example.org"
    assert "Field notes" in message.subject
    path = re.search(r"http://testserver(/confirm/[^\s]+/)", message.text).group(1)
    client.post(path)
    assert Subscriber.objects.get().status == SubscriberStatus.SUBSCRIBED
