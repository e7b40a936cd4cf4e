import pytest

from lists.models import ConsentRecord
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    staff = django_user_model.objects.create_superuser(
        email="staff@example.com", password="a-long-staff-password"
    )
    client.force_login(staff)
    return client


def test_moderators_see_lists_made_mostly_of_role_addresses(staff_client):
    roles = MailingListFactory(name="Mostly roles")
    SubscriberFactory(mailing_list=roles, email="info@example.org", is_role_address=True)
    SubscriberFactory(mailing_list=roles, email="sales@example.org", is_role_address=True)
    SubscriberFactory(mailing_list=roles, email="ann@example.org")
    people = MailingListFactory(name="People")
    SubscriberFactory(mailing_list=people, email="bob@example.org")

    page = staff_client.get("/admin/lists/mailinglist/").text

    assert "67% ⚑ mostly role addresses" in page
    assert page.count("⚑ mostly role addresses") == 1  # not the list of people
    assert ">0%<" in page


def test_consent_history_is_shown_read_only(staff_client):
    subscriber = SubscriberFactory(email="ann@example.org")
    page = staff_client.get(f"/admin/lists/subscriber/{subscriber.pk}/change/")
    assert page.status_code == 200
    assert "203.0.113.9" in page.text
    assert 'name="consent_records-0-proof"' not in page.text  # not an editable field
    search = staff_client.get("/admin/lists/subscriber/?q=ann@")
    assert "ann@example.org" in search.text
    assert ConsentRecord.objects.count() == 1
