import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import Account, SenderDomain, User


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
def test_staff_makes_a_moderator_without_a_sending_account(client, capsys):
    call_command("create_account", "Mod@Example.com", "--password", "pw-12345678", "--staff")

    moderator = User.objects.get()
    assert (moderator.email, moderator.is_staff, moderator.account_id) == (
        "mod@example.com",
        True,
        None,
    )
    assert moderator.is_email_verified and not moderator.is_superuser
    assert not Account.objects.exists() and not SenderDomain.objects.exists()
    assert "Created moderator mod@example.com (no sending account)." in capsys.readouterr().out

    # They log in, land on the moderation queue and can work there.
    response = client.post(
        reverse("login"), {"username": "mod@example.com", "password": "pw-12345678"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("moderation_queue")
    queue = client.get(response["Location"])
    assert queue.status_code == 200
    assert 'id="nav-moderation"' in queue.text
    assert reverse("campaigns") not in queue.text  # no sender menu: there is no account
    # A sender page sends them back to the queue instead of failing.
    assert client.get(reverse("lists")).url == reverse("moderation_queue")
    assert client.get(reverse("home")).url == reverse("moderation_queue")


@pytest.mark.django_db
def test_with_account_gives_the_moderator_a_sending_account_too(capsys):
    call_command(
        "create_account",
        "ops@example.com",
        "--password",
        "pw-12345678",
        "--staff",
        "--with-account",
        "--company",
        "Operator Ltd",
        "--verified-domain",
        "ops.example",
    )
    user = User.objects.get()
    assert user.is_staff
    assert user.account.company_name == "Operator Ltd"
    assert SenderDomain.objects.get().account_id == user.account_id
    assert "Created staff user ops@example.com in account #" in capsys.readouterr().out


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args, message",
    [
        (["--staff", "--company", "Mods"], "--company"),
        (["--staff", "--verified-domain", "mods.example"], "--verified-domain"),
        (["--with-account", "--company", "Mods"], "--with-account"),
        ([], "--company"),
    ],
)
def test_options_that_do_not_fit_are_refused_and_nothing_is_made(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_account", "mod@example.com", "--password", "pw-12345678", *args)
    assert not User.objects.exists() and not Account.objects.exists()


@pytest.mark.django_db
def test_an_existing_address_is_refused():
    call_command("create_account", "mod@example.com", "--password", "pw-12345678", "--staff")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_account", "MOD@example.com", "--password", "x", "--company", "Y")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_account", "MOD@example.com", "--password", "x", "--staff")
    assert User.objects.count() == 1 and not Account.objects.exists()


@pytest.mark.django_db
def test_seed_demo_is_idempotent(capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    assert User.objects.count() == 2
    moderator = User.objects.get(email="moderator@example.com")
    assert moderator.is_staff and moderator.account_id is None  # moderators do not send
    assert Account.objects.count() == 1
    out = capsys.readouterr().out
    assert "demo@example.com / demo-password-1" in out
    assert "moderator@example.com / staff-password-1" in out
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
