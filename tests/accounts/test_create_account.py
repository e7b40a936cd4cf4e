import pytest
from django.core.management import CommandError, call_command

from accounts.models import SenderDomain, User


@pytest.mark.django_db
def test_create_account_command_makes_a_verified_owner_and_domain(capsys):
    call_command(
        "create_account",
        "Owner@Shop.example",
        "--password",
        "a-long-unusual-passphrase",
        "--company",
        "Shop Ltd",
        "--verified-domain",
        "shop.example",
    )
    user = User.objects.get()
    assert user.email == "owner@shop.example"
    assert user.is_email_verified and not user.is_staff
    assert user.check_password("a-long-unusual-passphrase")
    assert user.account.company_name == "Shop Ltd"
    domain = SenderDomain.objects.get()
    assert (domain.account_id, domain.domain, domain.is_verified) == (
        user.account_id,
        "shop.example",
        True,
    )
    assert "Created user owner@shop.example" in capsys.readouterr().out


@pytest.mark.django_db
def test_create_account_command_staff_and_duplicate():
    call_command(
        "create_account",
        "mod@example.com",
        "--password",
        "pw-12345678",
        "--company",
        "Mods",
        "--staff",
    )
    assert User.objects.get().is_staff
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_account", "MOD@example.com", "--password", "x", "--company", "Y")
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_seed_demo_is_idempotent(capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    assert User.objects.count() == 2
    assert "demo@example.com / demo-password-1" in capsys.readouterr().out
    from campaigns.models import Campaign

    demo, waiting = Campaign.objects.order_by("id")
    assert (demo.name, demo.status, demo.from_email) == (
        "Winter menu",
        "draft",
        "news@demo-bakery.example",
    )
    # One waits in the moderators' queue, with the analyser's findings stored.
    assert (waiting.name, waiting.status) == ("Advent opening hours", "submitted")
    assert isinstance(waiting.findings, list)
