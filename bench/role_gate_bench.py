"""What the team roles cost a request: the role check (accounts.roles) on the API and the pages.

    .venv/bin/python bench/role_gate_bench.py [--requests 400] \
        [--database-url postgres://postgres@127.0.0.1:5432/i21_team_bench]

It migrates the given database (created if missing), makes an account with a list, an editor and
their API token, then times in-process requests (Django's test client, no network):

- figure:  GET /api/v1/lists/ with the editor's token, GET /lists/ as the editor, with the role
           check as shipped;
- ceiling: the same requests with the role check switched off (MemberRole and check_page
           patched to allow everything), i.e. the same stack doing no role work.

It prints requests per second for both, the ratio figure/ceiling (1.00 = the check costs
nothing measurable), and the database queries per request with and without the check (the
check reads the role from the user and token rows already loaded: no query of its own).
Each side runs interleaved in rounds, so a noisy neighbour hits both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


@contextmanager
def _no_role_check():
    with (
        mock.patch("accounts.roles.MemberRole.has_permission", return_value=True),
        mock.patch("accounts.roles.check_page", return_value=None),
    ):
        yield


def _rate(client, url: str, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    return n / (time.perf_counter() - start)


def _queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return len(captured)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="per side and URL")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/i21_team_bench"
    )
    args = parser.parse_args()
    _ensure_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["DEBUG"] = "false"
    # The API's rate limits would cut the run short; they are not what is measured.
    for name in ("THROTTLE_TOKEN", "THROTTLE_ACCOUNT"):
        os.environ[name] = "100000000/min"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    import logging

    logging.disable(logging.INFO)
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    from accounts.models import Account, User
    from accounts.services import api_token_create
    from lists.services.lists import list_create

    email = "role-bench-editor@example.com"
    user = User.objects.filter(email=email).first()
    if user is None:
        account = Account.objects.create(
            company_name="Role bench Ltd", contact_name="B", phone="1", postal_address="x"
        )
        User.objects.create_user(email="role-bench-owner@example.com", account=account)
        user = User.objects.create_user(email=email, account=account, role="editor")
    if not user.account.lists.exists():
        list_create(
            account=user.account,
            name="Bench list",
            purpose="Bench purpose.",
            privacy_policy_url="https://bench.example.com/privacy",
        )
    from accounts.services import terms_accept
    from accounts.terms import current_versions

    if not user.terms_acceptances.filter(terms_version=current_versions()["terms"]).exists():
        terms_accept(user=user)
    _, key = api_token_create(user=user, name="role bench")
    api = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Token {key}")
    pages = Client(HTTP_HOST="localhost")
    pages.force_login(user)
    cases = [
        ("API GET /api/v1/lists/", api, "/api/v1/lists/"),
        ("page GET /lists/", pages, "/lists/"),
    ]

    print(f"requests per side per round: {args.requests}, rounds: {args.rounds}")
    print(f"{'request':28} {'figure req/s':>13} {'ceiling req/s':>14} {'ratio':>6} {'queries':>8}")
    for label, client, url in cases:
        for _ in range(20):  # warm both paths
            client.get(url)
        with_check, without = [], []
        for _ in range(args.rounds):
            with_check.append(_rate(client, url, args.requests))
            with _no_role_check():
                without.append(_rate(client, url, args.requests))
        figure, ceiling = statistics.median(with_check), statistics.median(without)
        queries = _queries(client, url)
        with _no_role_check():
            queries_without = _queries(client, url)
        print(
            f"{label:28} {figure:13.0f} {ceiling:14.0f} {figure / ceiling:6.2f} "
            f"{queries:>3} vs {queries_without}"
        )


if __name__ == "__main__":
    main()
