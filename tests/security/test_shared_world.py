"""The world built once per module (tests/security/conftest.py) is as built at each test's start:
what a test changed, in the database or in memory, is gone for the next."""

import pytest

from lists.models import MailingList


@pytest.mark.parametrize("turn", ["first", "second"])
def test_a_test_finds_the_world_as_built_whatever_the_one_before_did(shared_world, turn):
    mailing_list = shared_world.objects["list"]
    assert MailingList.objects.filter(pk=mailing_list.pk).exists()
    assert mailing_list.name.endswith(" list")
    assert (
        shared_world.client(shared_world.owner).get(f"/lists/{mailing_list.pk}/")
    ).status_code == 200

    mailing_list.name = "changed in memory"
    MailingList.objects.filter(pk=mailing_list.pk).delete()
    assert not MailingList.objects.filter(pk=mailing_list.pk).exists()
