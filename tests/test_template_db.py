"""The test databases are copies of a migrated template (tests/template_db.py)."""

from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from tests.template_db import migrations_digest


@pytest.mark.django_db
def test_the_test_database_is_a_copy_of_the_template_of_these_migrations():
    if connection.vendor != "postgresql":
        pytest.skip("templates are PostgreSQL's")
    template = connection.settings_dict["TEST"]["TEMPLATE"]
    assert template.endswith("_template_" + migrations_digest())
    loader = MigrationLoader(connection)
    assert set(loader.disk_migrations) <= loader.applied_migrations.keys()


def test_the_digest_changes_with_a_migration_file(tmp_path, monkeypatch):
    (tmp_path / "migrations").mkdir()
    migration = tmp_path / "migrations" / "0001_initial.py"
    migration.write_text("operations = []\n")
    app = SimpleNamespace(label="example", path=str(tmp_path))
    monkeypatch.setattr(apps, "get_app_configs", lambda: [app])
    before = migrations_digest()
    assert migrations_digest() == before
    migration.write_text("operations = ['changed']\n")
    changed = migrations_digest()
    assert changed != before
    (tmp_path / "migrations" / "0002_more.py").write_text("operations = []\n")
    assert migrations_digest() not in (before, changed)
