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


@pytest.mark.django_db
def test_postgresql_computes_the_same_keyed_hash_as_python(settings):
    """Suppressions are matched inside the audience's INSERT ... SELECT by the hash PostgreSQL
    computes: it must be the one Python stored."""
    from django.db import connection
    from django.db.models import Value
    from django.db.models.sql import Query

    from lists.addresses import KeyedAddressHash
    from lists.models import MailingList

    if connection.vendor != "postgresql":
        pytest.skip("the hash is computed in SQL on PostgreSQL only")
    compiler = Query(MailingList).get_compiler(connection=connection)
    addresses = ["Ann.Lee@Example.org", "bob+news@mail.example", "x" * 60 + "@y.example"]
    for key in ("short-key", "k" * 100):  # a key longer than SHA-256's block is hashed first
        settings.SUPPRESSION_HASH_KEY = key
        for account_id in (0, 7):
            for address in addresses:
                sql, params = compiler.compile(
                    KeyedAddressHash(Value(address), account_id=account_id)
                )
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT {sql}", params)
                    assert cursor.fetchone()[0] == address_hash(account_id, address)
