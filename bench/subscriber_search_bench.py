"""Subscriber search and deep pages on a list of a million subscribers (issue 22: under 100 ms).

    .venv/bin/python bench/subscriber_search_bench.py [--rows 1000000] [--database-url ...]

For each search the figure is what the list page does for it (lists.selectors.subscribers_for,
then lists.paging.SearchPaginator: the bounded count and the first page of 50 by deferred join),
and the ceiling the same work as bare SQL against the same trigram indexes: one LIMIT 50 query
and one bounded count. Median of 5 runs after a warm-up; printed with the ratio. Then the list's
deep pages (no search), the page's work against one bare OFFSET query.

Run on a quiet machine for figures to quote; the benches in the branch report were taken on a
busy one (2 cores shared with other work).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.big_list import DEFAULT_URL, big_list, setup_django  # noqa: E402

RUNS = 5
PAGE = 50


def median_ms(work) -> float:
    work()  # warm-up
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    setup_django(args.database_url)
    from django.db import connection

    from lists import selectors
    from lists.paging import SEARCH_COUNT_CAP, ListPaginator, SearchPaginator

    mailing_list = big_list(args.rows)
    account = mailing_list.account
    sample = mailing_list.subscribers.order_by("id").values_list("email", "name")[args.rows // 2]
    searches = {
        "rare part of an address": sample[0].split(".")[1][:6],
        "part of a name": sample[1].split(" ")[1][1:6].lower(),
        "a whole address": sample[0],
        "a domain (1 in 500)": "@shop123.exa",
        "common (every address)": "example",
        "short prefix (2 chars)": "us",
    }

    def page_work(search: str):
        def work():
            queryset = selectors.subscribers_for(
                account=account, mailing_list=mailing_list, search=search
            )
            paginator = SearchPaginator(queryset, PAGE)
            page = paginator.page(1)
            return paginator.count, [s.email for s in page.object_list]

        return work

    def bare_work(search: str):
        pattern = "%" + search.replace("%", r"\%").replace("_", r"\_") + "%"
        if len(search) < selectors.SEARCH_SUBSTRING_MIN:
            pattern = pattern[1:]
        where = "mailing_list_id = %s AND (email LIKE %s OR lower(name) LIKE %s)"
        params = [mailing_list.pk, pattern, pattern]
        if selectors._WHOLE_ADDRESS.fullmatch(search):  # the same rule as the selector's
            where = "mailing_list_id = %s AND (email = %s OR lower(name) LIKE %s)"
            params = [mailing_list.pk, search, pattern]

        def work():
            with connection.cursor() as cursor:
                # Constants only in the f-strings; the search is a parameter.
                cursor.execute(
                    f"SELECT count(*) FROM (SELECT 1 FROM lists_subscriber WHERE {where} "  # noqa: S608
                    f"LIMIT {SEARCH_COUNT_CAP + 1}) found",
                    params,
                )
                cursor.execute(
                    f"SELECT id, email, name, status, created_at FROM lists_subscriber "  # noqa: S608
                    f"WHERE {where} ORDER BY id DESC LIMIT {PAGE}",
                    params,
                )
                return cursor.fetchall()

        return work

    print(f"Search on a list of {args.rows:,} subscribers (median of {RUNS}, ms)")
    print(f"{'search':28} {'matches':>8} {'figure':>8} {'ceiling':>8} {'ratio':>6}")
    for label, search in searches.items():
        matches, _ = page_work(search)()
        figure = median_ms(page_work(search))
        ceiling = median_ms(bare_work(search))
        shown = f"{matches}" if matches < SEARCH_COUNT_CAP else f">{SEARCH_COUNT_CAP}"
        print(f"{label:28} {shown:>8} {figure:8.1f} {ceiling:8.1f} {figure / ceiling:6.2f}")

    total = sum(selectors.status_counts(mailing_list=mailing_list).values())
    last = (total + PAGE - 1) // PAGE
    print(f"\nPages of the unsearched list ({last:,} pages of {PAGE}; median of {RUNS}, ms)")
    print(f"{'page':>8} {'figure':>8} {'ceiling':>8} {'ratio':>6}")
    for number in (1, 100, last // 2, last):

        def page_of(number=number):
            queryset = selectors.subscribers_for(account=account, mailing_list=mailing_list)
            page = ListPaginator(queryset, PAGE, count=total).page(number)
            return [s.email for s in page.object_list]

        def bare_page(number=number):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT id, email, name, status, created_at FROM lists_subscriber "
                    "WHERE mailing_list_id = %s ORDER BY id DESC OFFSET %s LIMIT %s",
                    [mailing_list.pk, (number - 1) * PAGE, PAGE],
                )
                return cursor.fetchall()

        figure, ceiling = median_ms(page_of), median_ms(bare_page)
        print(f"{number:>8} {figure:8.1f} {ceiling:8.1f} {figure / ceiling:6.2f}")


if __name__ == "__main__":
    main()
