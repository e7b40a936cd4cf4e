import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_check_deploy_is_clean_with_production_settings():
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "x" * 20 + "a-random-production-secret-value-1234567890",
        "SUPPRESSION_HASH_KEY": "another-random-production-secret-value-0987654321",
        "DKIM_KEY_SECRET": "a-third-random-production-secret-value-5678901234",
        "ALLOWED_HOSTS": "mail.example.com",
        "SITE_URL": "https://mail.example.com",
        "DATABASE_URL": "sqlite:///:memory:",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
