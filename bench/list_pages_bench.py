"""Time the pages and API calls that browse a big list (run after `import_bench.py --keep`).

    .venv/bin/python bench/list_pages_bench.py [--database-url postgres://...]

It logs in as a throwaway user of the account that owns the largest list in the bench database
and prints the median time of each request over five runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/consentmail_bench"
    )
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import warnings

    import django

    # collectstatic has not run for a bench; whitenoise says so once per client.
    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    from django.db.models import Count
    from django.test import Client

    from accounts.models import User
    from accounts.services import api_token_create
    from lists.models import MailingList

    mailing_list = (
        MailingList.objects.annotate(n=Count("subscribers"))
        .order_by("-n")
        .select_related("account")
        .first()
    )
    if mailing_list is None or not mailing_list.n:
        sys.exit("No list in the bench database: run bench/import_bench.py --keep first.")
    user, _ = User.objects.get_or_create(
        email="list-pages-bench@example.com", defaults={"account": mailing_list.account}
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    _, key = api_token_create(user=user, name="list pages bench")
    api = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Token {key}")
    some = mailing_list.subscribers.order_by("id").values_list("email", flat=True)[
        500_000 % max(1, mailing_list.n)
    ]
    base = f"/lists/{mailing_list.pk}/"
    requests = [
        ("lists index", client, "/lists/"),
        ("list page 1", client, base),
        ("list page 1000", client, base + "?page=1000"),
        ("filter by status", client, base + "?status=subscribed"),
        ("search a prefix", client, base + f"?q={some[:8]}"),
        ("search an address", client, base + f"?q={some}"),
        ("API subscribers", api, f"/api/v1/lists/{mailing_list.pk}/subscribers/"),
        ("API search", api, f"/api/v1/lists/{mailing_list.pk}/subscribers/?search={some}"),
        ("API export", api, f"/api/v1/subscribers/export/?email={some}"),
    ]
    print(f"list {mailing_list.pk} with {mailing_list.n:,} subscribers")
    for label, http, url in requests:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            response = http.get(url)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, (url, response.status_code)
        print(f"{label:20s} {statistics.median(times) * 1000:8.1f} ms   {url}")
    user.delete()


if __name__ == "__main__":
    main()
