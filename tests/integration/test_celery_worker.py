import re

import pytest

from accounts.models import User
from accounts.services import account_sign_up
from accounts.tasks import ping
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.slow]


def test_a_real_worker_on_redis_completes_a_task(celery_worker_process):
    celery_worker_process()

    result = ping.delay("hello from the test")

    assert result.get(timeout=60) == "hello from the test"
    assert result.successful()


def test_the_worker_sends_the_verification_mail_through_smtp(
    celery_worker_process, mail_sink, client, settings
):
    celery_worker_process(
        {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(mail_sink.port),
            "SITE_URL": "http://testserver",
        }
    )

    user = account_sign_up(
        company_name="Worker Test Ltd",
        contact_name="Wes",
        email="wes@example.com",
        phone="+1 555 0101",
        postal_address="3 Queue Lane",
        password="a-long-unusual-passphrase",
        accepted_terms=True,
        accepted_privacy=True,
    )

    messages = wait_for(mail_sink.messages, timeout=60, what="the verification e-mail")
    assert len(messages) == 1
    assert messages[0].to == "wes@example.com"
    link = re.search(r"http://testserver(/verify/[^\s]+/)", messages[0].text).group(1)
    assert client.get(link).status_code == 200
    assert User.objects.get(pk=user.pk).is_email_verified
