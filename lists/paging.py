"""Paging a list's subscribers on a million rows: page numbers and "jump to page" without a
COUNT(*) of the list, and without reading the rows an OFFSET skips.

- The total of an unsearched list comes from the counters (config.api.CountedPaginator).
- A search counts its matches only up to SEARCH_COUNT_CAP (a LIMITed subquery): past it the
  page says "more than …" and offers the pages up to the cap; a narrower search finds the rest.
- A page's rows are found by a deferred join: the OFFSET walks only the primary keys (an
  index-only scan of the list's (mailing_list, id) or (mailing_list, status, -id) index), then
  the page's 50 rows are read by key. An OFFSET over whole rows would read every row it skips
  from the table. A page past the middle of an unsearched list is read from the other end, so
  the OFFSET never walks more than half the list.
"""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import F, QuerySet
from django.utils.functional import cached_property

from config.api import CountedPaginator

SEARCH_COUNT_CAP = 10_000


class _DeferredJoin(Paginator):
    """Pages by primary key first, then reads the page's rows (see the module's docstring)."""

    object_list: QuerySet

    # Whether a page past the middle may be read from the other end (an exact count).
    from_the_end = False

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        if self.from_the_end and bottom > self.count // 2:
            # The last pages are the first ones backwards: the OFFSET never passes the middle.
            start = self.count - top
            ids = list(
                self.object_list.reverse().values_list("pk", flat=True)[
                    start : start + top - bottom
                ]
            )
            ids.reverse()
        else:
            # LIMIT a whole page, never fewer: LIMIT 1 makes PostgreSQL walk the list backwards
            # by id hoping to meet the one match soon, a scan of the whole list when it is rare.
            ids = list(
                self._ordered_for_paging().values_list("pk", flat=True)[
                    bottom : bottom + self.per_page
                ]
            )
        # The ids come from the account's queryset: the rows are read by key alone.
        rows = self.object_list.model._default_manager.filter(pk__in=ids).in_bulk()
        return Page([rows[pk] for pk in ids if pk in rows], number, self)

    def _ordered_for_paging(self):
        return self.object_list


class ListPaginator(_DeferredJoin, CountedPaginator):
    """An unsearched list: the total is known from the counters."""

    from_the_end = True


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

    def _ordered_for_paging(self):
        if self.count_capped:
            # Many matches: walking the list newest first meets a page of them at once.
            return self.object_list
        # At most SEARCH_COUNT_CAP matches, which may be rare: ordered by an expression, which
        # no index gives, so PostgreSQL finds them by the trigram indexes and sorts them,
        # instead of walking the list by id until it has met enough (seconds on a million).
        return self.object_list.order_by((F("pk") + 0).desc())


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
