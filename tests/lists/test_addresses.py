import pytest
from email_validator import validate_email

from lists.addresses import InvalidAddress, address_hash, normalise_address
from lists.models import is_role_address


@pytest.mark.parametrize(
    "raw",
    [
        "Jane.Doe@Example.ORG",
        " jane+news@example.org ",
        "o'brien@example.co.uk",
        "user@bücher.example",
        "δοκιμή@παράδειγμα.δοκιμή",
        "a_b-c%d@sub.example.com",
    ],
)
def test_fast_path_agrees_with_email_validator(raw):
    expected = validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    assert normalise_address(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "plainaddress",
        "@example.org",
        "jane@",
        "jane..doe@example.org",
        "jane@localhost",
        "jane@example",
        '"quoted local"@example.org',
        "jane@exa mple.org",
    ],
)
def test_invalid_addresses_are_refused_with_email_validators_reason(raw):
    with pytest.raises(InvalidAddress) as refused:
        normalise_address(raw)
    assert refused.value.field == "email"
    assert refused.value.message


@pytest.mark.parametrize(
    ("email", "role"),
    [
        ("info@example.org", True),
        ("Sales@example.org", True),
        ("no-reply@example.org", True),
        ("support+eu@example.org", True),
        ("jane@example.org", False),
        ("information@example.org", False),
    ],
)
def test_role_addresses(email, role):
    assert is_role_address(email) is role


def test_address_hash_is_keyed_per_account_and_case_blind():
    assert address_hash(1, "Jane@Example.org") == address_hash(1, "jane@example.org")
    assert address_hash(1, "jane@example.org") != address_hash(2, "jane@example.org")
    assert len(address_hash(1, "jane@example.org")) == 64
