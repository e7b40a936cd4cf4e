import pytest
from email_validator import validate_email

from accounts.addresses import InvalidAddress, normalise_address


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
