"""The hosted subscription form shows every error at once (issue 23, item 8): the consent box,
the age confirmation and the address come back together on the first try."""

import pytest

from lists.models import Subscriber
from tests.lists.factories import MailingListFactory

pytestmark = pytest.mark.django_db


def test_one_try_shows_the_consent_the_age_and_the_address_errors(client):
    mailing_list = MailingListFactory(adult_content=True)

    response = client.post(
        f"/subscribe/{mailing_list.public_id}/",
        {"email": "not an address", "name": "Rea Der"},
        REMOTE_ADDR="198.51.100.23",
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "Tick the box to agree" in html
    assert "adults only" in html
    # One list of errors each: the address's, the age's and the consent box's.
    assert html.count('<ul class="errorlist" role="alert">') == 3
    assert not Subscriber.objects.exists()
