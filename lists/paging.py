"""Paging a list's subscribers on a million rows: page numbers and "jump to page" without a
COUNT(*) of the list, and without reading the rows an OFFSET skips.

- The total of an unsearched list comes from the counters (config.api.CountedPaginator).
- A search counts its matches only up to SEARCH_COUNT_CAP (a LIMITed subquery): past it the
  page says "more than …" and offers the pages up to the cap; a narrower search finds the rest.
- A page's rows are found by a deferred join: the OFFSET walks only the primary keys (an
  index-only scan of the list's (mailing_list, status, -id) index), then the page's 50 rows are
  read by key. An OFFSET over whole rows would read every row it skips from the table.
"""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.utils.functional import cached_property

from config.api import CountedPaginator

SEARCH_COUNT_CAP = 10_000


class _DeferredJoin:
    """Pages by primary key first, then reads the page's rows (see the module's docstring)."""

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in self.object_list.filter(pk__in=ids).order_by()}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)


class ListPaginator(_DeferredJoin, CountedPaginator):
    """An unsearched list: the total is known from the counters."""


class SearchPaginator(_DeferredJoin, Paginator):
    """A search: its matches counted up to SEARCH_COUNT_CAP (`count_capped` when there are
    more)."""

    @cached_property
    def _bounded_count(self) -> int:
        return self.object_list.order_by()[: SEARCH_COUNT_CAP + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._bounded_count, SEARCH_COUNT_CAP)

    @property
    def count_capped(self) -> bool:
        return self._bounded_count > SEARCH_COUNT_CAP


def page_numbers(page: Page, *, around: int = 2) -> list[int | None]:
    """The page numbers to link: the first, the last, and `around` either side of the current
    one; None where numbers are left out (shown as "…")."""
    last = page.paginator.num_pages
    shown = {1, last, *range(page.number - around, page.number + around + 1)}
    numbers: list[int | None] = []
    previous = 0
    for number in sorted(n for n in shown if 1 <= n <= last):
        if number > previous + 1:
            numbers.append(None)
        numbers.append(number)
        previous = number
    return numbers
