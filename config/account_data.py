"""Deleting an account's data is a list of steps, one per app, each deleting its own data
(`<app>.services.account_data_delete`); moderation runs them in order in one transaction and
writes one audit entry (moderation.enforcement.deletion).

Each step declares the models it covers: those whose rows of the account it deletes, and those
it keeps on purpose, with why. The account row survives (anonymised), so nothing cascades from
it: a model with a path to the account that no step covers would silently keep its data, and
tests/moderation/test_account_data_steps.py fails for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Model, QuerySet

from config.bulk import column_of

ModelRef = type[Model] | str  # a model, or its label ("admin.LogEntry")


@dataclass(frozen=True)
class AccountDataStep:
    """One app's part: `run(account=...)` deletes the account's rows of the models in `deletes`
    inside the caller's transaction (files after commit) and returns what it counted; `keeps`
    maps each model whose rows of the account stay to why they stay."""

    app: str
    run: Callable[..., dict[str, int]]
    deletes: tuple[ModelRef, ...]
    keeps: Mapping[ModelRef, str] = field(default_factory=dict)

    def covers(self) -> set[type[Model]]:
        """Every model this step answers for, deleted or kept."""
        return {_model(ref) for ref in (*self.deletes, *self.keeps)}


def _model(ref: ModelRef) -> type[Model]:
    return apps.get_model(ref) if isinstance(ref, str) else ref


def rows_delete(model: type[Model], *, field: str, keys: QuerySet[Any]) -> int:
    """DELETE FROM <model's table> WHERE <field's column> IN (<the SELECT of `keys`>): one
    statement, returning how many rows went. `keys` is a queryset of one column (`.values("pk")`
    of the rows `field` points at).

    QuerySet.delete() is one statement only for a model nothing refers to (and without delete
    signals): otherwise its collector first loads every row, which for the deliveries of a big
    account means millions in memory and a statement per hundred. Here there is no collector,
    so no cascade, SET_NULL or signal: the caller has deleted (or detached) whatever refers to
    these rows first. A column compared with the keys (not "pk IN (SELECT pk ... )" of the same
    table, which took five times as long over 100,000 deliveries) keeps the plan an index scan.
    """
    connection = connections[keys.db]
    try:
        keys_sql, params = keys.order_by().query.sql_with_params()
    except EmptyResultSet:  # keys that can match nothing (.none(), pk__in=[]): nothing to do
        return 0
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(column_of(model._meta.get_field(field)))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {column} IN ({keys_sql})", params)  # noqa: S608
        return cursor.rowcount


def deleted(queryset: QuerySet[Any]) -> int:
    """QuerySet.delete() (Django's collector: cascades, SET_NULL and signals applied), counting
    only the rows of the queryset's own model."""
    return queryset.delete()[1].get(queryset.model._meta.label, 0)
