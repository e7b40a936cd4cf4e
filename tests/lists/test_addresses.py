import pytest

from lists.addresses import address_hash
from lists.models import is_role_address


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
