"""Fast bulk writes for every app: COPY on PostgreSQL (bulk_create elsewhere), staged updates,
lookups and a read-ahead iterator. Lists (imports), campaigns (the send's deliveries) and
complaints (events) use them, so they sit at the base of the layers."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from django.db import connection, models
from django.db.models import ForeignObjectRel
from django.utils import timezone

T = TypeVar("T")


def insert_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[tuple],
    *,
    shared: dict | None = None,
    return_ids: bool = True,
) -> list[int]:
    """Insert `rows` (tuples of values for the fields named in `columns`, by attname) as new
    `model` rows; return their ids, in order. `shared` holds values (by attname) the same on
    every row; other fields get their defaults, auto_now ones now.

    On PostgreSQL the ids (when asked for) are reserved from the table's sequence in one query
    and the rows are streamed with COPY: many times faster than INSERT for a million-row import,
    and still inside the caller's transaction (all or nothing). A unique violation raises
    Django's IntegrityError as an INSERT would.
    """
    if not rows:
        return []
    shared = shared or {}
    if connection.vendor != "postgresql":
        objects = [model(**dict(zip(columns, row, strict=True)), **shared) for row in rows]
        return [obj.pk for obj in model._default_manager.bulk_create(objects, batch_size=1000)]
    meta = model._meta
    by_attname = {f.attname: f for f in meta.concrete_fields}
    now = timezone.now()
    given = [by_attname[name] for name in columns]
    rest = [f for f in meta.concrete_fields if not f.primary_key and f.attname not in columns]
    fixed = {
        f.attname: shared[f.attname] if f.attname in shared else _default(f, now) for f in rest
    }
    formatters = [_formatter(f) for f in given]
    fields = [*given, *rest] if not return_ids else [meta.pk, *given, *rest]
    names = ", ".join(connection.ops.quote_name(column_of(f)) for f in fields)
    table = connection.ops.quote_name(meta.db_table)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        ids: list[int] = []
        if return_ids:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, len(rows)],
            )
            ids = [row[0] for row in cursor.fetchall()]
        # The fields left out are the same on every row: formatted once, appended to each.
        constants = "".join("\t" + _formatter(f)(fixed[f.attname]) for f in rest)
        with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            lines = []
            for i, row in enumerate(rows):
                text = "\t".join([fmt(value) for fmt, value in zip(formatters, row, strict=True)])
                lines.append(f"{ids[i]}\t{text}" if return_ids else text)
                if len(lines) == 1000:
                    copy.write(_lines(lines, constants))
                    lines = []
            if lines:
                copy.write(_lines(lines, constants))
    return ids


# COPY's text format: backslash escapes for the characters that delimit rows and columns.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def concrete(field: models.Field | ForeignObjectRel) -> models.Field:
    """`field` as the concrete field these helpers read and write (a reverse relation, which
    `_meta.get_field` may also return, is a caller's mistake)."""
    if not isinstance(field, models.Field):
        raise TypeError(f"{field!r} is a relation, not a field of the model's own table")
    return field


def column_of(field: models.Field | ForeignObjectRel) -> str:
    """The column of a concrete field."""
    column = concrete(field).column
    if column is None:
        raise TypeError(f"{field!r} has no column of its own")
    return column


def _copy_text(value) -> str:
    """One value in COPY's text format (psycopg's write_row does this per value, slowly)."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _lines(lines: list[str], suffix: str) -> str:
    return "".join(f"{line}{suffix}\n" for line in lines)


def _default(field: models.Field, now):
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    if field.has_default():
        return field.get_default()
    return None if field.null else ""


def _formatter(field: models.Field):
    """The fastest way to put this field's values in COPY text (a million rows add up)."""
    if isinstance(field, models.JSONField):
        return lambda value: "\\N" if value is None else json.dumps(value).translate(_COPY_ESCAPES)
    if isinstance(field, models.BooleanField) and not field.null:
        return lambda value: "t" if value else "f"
    if isinstance(field, models.CharField | models.TextField) and not field.null:
        return lambda value: value.translate(_COPY_ESCAPES)
    return _copy_text


def lookup_in(model: type[models.Model], *, key: str, values: list, result: str, **equals) -> dict:
    """{key: result} for the rows whose `key` is one of `values` and whose other fields equal
    `equals` (field name -> value or model instance).

    On PostgreSQL one `= ANY(array)` parameter replaces the thousands of IN placeholders that
    make a batch lookup slow to build and parse.
    """
    if not values:
        return {}
    equals = {k: v.pk if isinstance(v, models.Model) else v for k, v in equals.items()}
    if connection.vendor != "postgresql":
        queryset = model._default_manager.filter(**equals, **{f"{key}__in": values})
        return dict(queryset.values_list(key, result))
    meta = model._meta

    def column(name: str) -> str:
        return connection.ops.quote_name(column_of(meta.get_field(name)))

    conditions = [f"{column(name)} = %s" for name in equals] + [f"{column(key)} = ANY(%s)"]
    # Only quoted column and table names from the model are interpolated; values are parameters.
    sql = (
        f"SELECT {column(key)}, {column(result)} FROM {connection.ops.quote_name(meta.db_table)} "  # noqa: S608
        f"WHERE {' AND '.join(conditions)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*equals.values(), list(values)])
        return dict(cursor.fetchall())


def run_ahead(iterator: Iterator[T], *, depth: int = 2) -> Iterator[T]:
    """Yield what `iterator` yields, computing up to `depth` items ahead in a thread.

    For CPU work that does not touch the database (Django connections are per thread) to
    overlap with the caller's waits on it. An exception in the iterator is raised here, in
    order; when the caller stops early, the thread stops at its next item.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        items.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put((done, None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            items.put((done, exc))

    worker = threading.Thread(target=produce, name="run-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, error = items.get()
            if item is done:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


def insert_select(model: type[models.Model], values: dict, queryset: models.QuerySet) -> int:
    """INSERT INTO `model` the rows of `queryset`, one per row, computed by the database:
    `values` maps `model`'s field attnames to expressions over `queryset`'s model (F, Value,
    functions); every other field gets its default. One statement, nothing read into Python:
    a million rows are copied at the speed of the database. Returns the rows inserted."""
    meta = model._meta
    by_attname = {f.attname: f for f in meta.concrete_fields}
    now = timezone.now()
    rest = [f for f in meta.concrete_fields if not f.primary_key and f.attname not in values]
    selected = {f"_v{index}": expression for index, expression in enumerate(values.values())}
    for field in rest:
        selected[f"_v{len(selected)}"] = models.Value(_default(field, now), output_field=field)
    columns = [by_attname[name] for name in values] + rest
    # The queryset's own ordering stays: DISTINCT ON needs it.
    select_sql, params = (
        queryset.annotate(**selected).values_list(*selected).query.sql_with_params()
    )
    names = ", ".join(connection.ops.quote_name(column_of(f)) for f in columns)
    table = connection.ops.quote_name(meta.db_table)
    with connection.cursor() as cursor:
        # Only the model's own table and column names are interpolated; values are parameters.
        cursor.execute(f"INSERT INTO {table} ({names}) {select_sql}", params)  # noqa: S608
        return cursor.rowcount


class Row(Protocol):
    """A model instance, or any object with its `pk` and the attnames written."""

    @property
    def pk(self) -> Any: ...


def update_rows(model: type[models.Model], objects: Sequence[Row], fields: Sequence[str]):
    """Write `fields` (attnames) of `objects` to their rows in one statement: on PostgreSQL an
    UPDATE ... FROM unnest(one array per column), which costs about as much as the rows it
    writes (Django's bulk_update builds a CASE of every row for every column: quadratic, and
    its compiling alone dominates a batch of a few hundred). Elsewhere (SQLite, local runs) an
    UPDATE per row. `objects` may be any objects with `pk` and the fields' attnames."""
    if not objects or not fields:
        return
    if connection.vendor != "postgresql":
        for obj in objects:
            values = {name: getattr(obj, name) for name in fields}
            model._default_manager.filter(pk=obj.pk).update(**values)
        return
    meta = model._meta
    pk = meta.pk
    chosen = [concrete(meta.get_field(name)) for name in fields]
    table = connection.ops.quote_name(meta.db_table)
    columns = [connection.ops.quote_name(column_of(f)) for f in chosen]
    arrays = [f"%s::{pk.db_type(connection)}[]"] + [
        f"%s::{f.db_type(connection)}[]" for f in chosen
    ]
    names = ", ".join(["pk_", *(f"v{n}" for n in range(len(chosen)))])
    assignments = ", ".join(f"{column} = v.v{n}" for n, column in enumerate(columns))
    # Only quoted names from the model's meta are formatted in; every value is a parameter.
    sql = (
        f"UPDATE {table} SET {assignments} FROM unnest({', '.join(arrays)}) AS v({names}) "  # noqa: S608
        f"WHERE {table}.{connection.ops.quote_name(column_of(pk))} = v.pk_"
    )
    params = [[obj.pk for obj in objects]] + [
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in objects] for f in chosen
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def insert_new_rows(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[tuple]
) -> None:
    """Insert `rows` (values for the fields named in `columns`, by attname; other fields get
    their defaults, auto_now ones now) except those that would break a unique constraint: kept
    as they are, like get_or_create's "get" (within `rows`, the first stays). On PostgreSQL one
    INSERT ... SELECT FROM unnest(one array per column) ON CONFLICT DO NOTHING; bulk_create
    with ignore_conflicts elsewhere."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        model._default_manager.bulk_create(objects, ignore_conflicts=True, batch_size=500)
        return
    meta = model._meta
    by_attname = {f.attname: f for f in meta.concrete_fields}
    now = timezone.now()
    given = [by_attname[name] for name in columns]
    rest = [f for f in meta.concrete_fields if not f.primary_key and f.attname not in columns]
    names = ", ".join(connection.ops.quote_name(column_of(f)) for f in [*given, *rest])
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in given)
    aliases = ", ".join(f"v{n}" for n in range(len(given)))
    constants = "".join(", %s" for _ in rest)
    table = connection.ops.quote_name(meta.db_table)
    # Only quoted names from the model's meta are formatted in; every value is a parameter.
    sql = (
        f"INSERT INTO {table} ({names}) SELECT {aliases}{constants} "  # noqa: S608
        f"FROM unnest({arrays}) WITH ORDINALITY AS v({aliases}, n_) ORDER BY n_ "
        "ON CONFLICT DO NOTHING"
    )
    # In the statement's order: the constants (in the SELECT list), then the arrays.
    params = [f.get_db_prep_save(_default(f, now), connection) for f in rest] + [
        [field.get_db_prep_save(row[n], connection) for row in rows]
        for n, field in enumerate(given)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def copy_text(values: Sequence) -> str:
    """One line of COPY's text format (no newline) from plain values: str, bool, None, int,
    datetime; dicts and lists as JSON."""
    return "\t".join(
        json.dumps(value).translate(_COPY_ESCAPES)
        if isinstance(value, dict | list)
        else _copy_text(value)
        for value in values
    )


def stage_rows(table: str, columns: Sequence[tuple[str, str]], lines: Iterable[str]) -> None:
    """Create the temporary table `table` (dropped at commit: it lives in the caller's
    transaction) with `columns` (name, SQL type) and COPY `lines` (COPY text, see
    `copy_text`) into it. PostgreSQL only. Not analysed: the planner sizes a table it has no
    statistics for from its pages, which is close enough here, and ANALYZE cost more than
    the joins it would plan."""
    name = connection.ops.quote_name(table)
    definition = ", ".join(f"{connection.ops.quote_name(c)} {kind}" for c, kind in columns)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        # An earlier batch of the same outer transaction (a test's) may have left it.
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
        cursor.execute(f"CREATE TEMPORARY TABLE {name} ({definition}) ON COMMIT DROP")
        with cursor.cursor.copy(f"COPY {name} FROM STDIN") as copy:
            chunk: list[str] = []
            for line in lines:
                chunk.append(line)
                if len(chunk) == 5000:
                    copy.write("\n".join(chunk) + "\n")
                    chunk = []
            if chunk:
                copy.write("\n".join(chunk) + "\n")


def insert_select_sql(
    model: type[models.Model], *, selected: dict[str, str], shared: dict, source: str
) -> tuple[str, list]:
    """`INSERT INTO <model> (...) SELECT ... FROM <source>` and its parameters: `selected` maps
    attnames to SQL expressions over `source` (trusted SQL, never user input); `shared` gives
    values (parameters) the same on every row; every other field gets its default, auto_now
    ones now. For the caller to run, or to wrap in a CTE."""
    meta = model._meta
    now = timezone.now()
    columns, expressions, params = [], [], []
    for field in meta.concrete_fields:
        if field.primary_key and field.attname not in selected:
            continue
        columns.append(connection.ops.quote_name(column_of(field)))
        if field.attname in selected:
            expressions.append(selected[field.attname])
            continue
        value = shared[field.attname] if field.attname in shared else _default(field, now)
        expressions.append("%s")
        params.append(field.get_db_prep_save(value, connection))
    table = connection.ops.quote_name(meta.db_table)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(expressions)} FROM {source}"
    )
    return sql, params
