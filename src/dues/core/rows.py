"""Set-based row writes for the billing run's hot paths.

``bulk_create`` and ``bulk_update`` build a model instance per row and prepare every value
through its field, which costs more than the database does when a run writes a dozen rows
per member. These helpers take plain tuples instead: values must already be what the
field stores (ints for money and ids, ``str``, ``bool``, ``date``, aware ``datetime``,
``dict``/``list`` for JSON). Both run on the connection of the current transaction.

PostgreSQL gets ``COPY``, or, when ids are needed and for updates, one statement per
chunk with one array parameter per column (``unnest``), bound server-side; SQLite gets a
prepared statement run by ``executemany``, or multi-row ``VALUES ... RETURNING`` when ids
are needed. Rows are inserted in the order
given and returned ids follow that order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import psycopg
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, models

PG_CHUNK = 5000
SQLITE_MAX_PARAMS = 32000  # SQLITE_MAX_VARIABLE_NUMBER is 32766 since SQLite 3.32

Convert = Callable[[Any], Any]


def _sqlite_datetime() -> Convert:
    seen: dict[datetime, str | None] = {}
    adapt = connection.ops.adapt_datetimefield_value

    def convert(value: datetime | None) -> str | None:
        # A batch shares a handful of timestamps ("now"): adapt each once.
        if value is None:
            return None
        out = seen.get(value)
        if out is None:
            out = seen[value] = adapt(value)
        return out

    return convert


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _converter(field: models.Field[Any, Any]) -> Convert | None:
    kind = field.get_internal_type()
    if kind == "JSONField":
        return _json
    if connection.vendor == "sqlite":
        if kind == "DateTimeField":
            return _sqlite_datetime()
        if kind == "DateField":
            return lambda v: None if v is None else v.isoformat()
    return None


def _column(field: models.Field[Any, Any]) -> str:
    return connection.ops.quote_name(str(field.column))


def _columns(model: type[models.Model], fields: Sequence[str]) -> list[models.Field[Any, Any]]:
    meta = model._meta
    cols = []
    for name in fields:
        try:
            field = meta.get_field(name)
        except FieldDoesNotExist:
            field = None
        if not isinstance(field, models.Field) or not field.concrete:
            raise ValueError(f"{model.__name__}.{name} is not a column")
        cols.append(field)
    return cols


def _prepare(cols: Sequence[models.Field[Any, Any]], rows: Sequence[Sequence[Any]]) -> list[Any]:
    """Rows as lists with the few values that need it converted for the driver."""
    width = len(cols)
    convert = [(i, c) for i, c in enumerate(_converter(f) for f in cols) if c is not None]
    out: list[Any] = []
    for row in rows:
        if len(row) != width:
            raise ValueError(f"expected {width} values per row, got {len(row)}")
        if convert:
            row = list(row)
            for i, c in convert:
                row[i] = c(row[i])
        out.append(row)
    return out


def _pg_type(field: models.Field[Any, Any]) -> str:
    if field.get_internal_type() == "JSONField":
        return "text"  # sent as JSON text, cast on the way in
    db_type = field.rel_db_type(connection) if field.is_relation else field.db_type(connection)
    assert db_type, f"{field} has no column type"
    return db_type


def _pg_select(cols: Sequence[models.Field[Any, Any]]) -> tuple[str, str]:
    """``unnest`` of one array per column, and the select list casting JSON text."""
    arrays = ", ".join(f"%b::{_pg_type(f)}[]" for f in cols)
    names = [f"c{i}" for i in range(len(cols))]
    select = ", ".join(
        f"u.{n}::jsonb" if f.get_internal_type() == "JSONField" else f"u.{n}"
        for n, f in zip(names, cols, strict=True)
    )
    return f"unnest({arrays}) WITH ORDINALITY AS u({', '.join(names)}, ord)", select


def _pg_cursor() -> psycopg.Cursor[Any]:
    """A server-side binding cursor on the transaction's connection: arrays go over the
    wire as parameters instead of being spliced into the SQL text."""
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def rows_insert(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning: bool = False,
) -> list[int]:
    """Insert ``rows`` (values in ``fields`` order); return their ids if ``returning``."""
    if not rows:
        return []
    cols = _columns(model, fields)
    values = _prepare(cols, rows)
    ids: list[int] = []
    with connection.wrap_database_errors:  # driver errors as Django's (IntegrityError, ...)
        _insert(model, cols, values, returning, ids)
    return ids


def _insert(
    model: type[models.Model],
    cols: Sequence[models.Field[Any, Any]],
    values: list[Any],
    returning: bool,
    ids: list[int],
) -> None:
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    names = ", ".join(_column(f) for f in cols)
    assert model._meta.pk is not None
    pk = _column(model._meta.pk)
    if connection.vendor == "postgresql" and not returning:
        # COPY: the cheapest way in, for the server and for the driver.
        with _pg_cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        return
    if connection.vendor == "postgresql":
        source, select = _pg_select(cols)
        sql = f"INSERT INTO {table} ({names}) SELECT {select} FROM {source} ORDER BY u.ord"
        if returning:
            sql += f" RETURNING {pk}"
        with _pg_cursor() as cursor:
            for lo in range(0, len(values), PG_CHUNK):
                columns = [list(c) for c in zip(*values[lo : lo + PG_CHUNK], strict=True)]
                cursor.execute(sql, columns)
                if returning:
                    ids.extend(r[0] for r in cursor.fetchall())
        return
    raw = connection.connection.cursor()
    try:
        if not returning:
            raw.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(cols))})", values
            )
            return
        per = max(1, SQLITE_MAX_PARAMS // len(cols))
        row_sql = f"({', '.join('?' * len(cols))})"
        for lo in range(0, len(values), per):
            chunk = values[lo : lo + per]
            raw.execute(
                f"INSERT INTO {table} ({names}) VALUES "
                + ", ".join([row_sql] * len(chunk))
                + f" RETURNING {pk}",
                [v for row in chunk for v in row],
            )
            ids.extend(r[0] for r in raw.fetchall())
    finally:
        raw.close()


def rows_update(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Set ``fields`` of each row: every row is ``(pk, *values in fields order)``."""
    if not rows:
        return
    pk_field = model._meta.pk
    assert pk_field is not None
    cols = [pk_field, *_columns(model, fields)]
    values = _prepare(cols, rows)
    with connection.wrap_database_errors:
        _update(model, cols, values)


def _update(
    model: type[models.Model], cols: Sequence[models.Field[Any, Any]], values: list[Any]
) -> None:
    pk_field = cols[0]
    table = connection.ops.quote_name(model._meta.db_table)
    if connection.vendor == "postgresql":
        source, _ = _pg_select(cols)
        sets = ", ".join(
            f"{_column(f)} = u.c{i}" + ("::jsonb" if f.get_internal_type() == "JSONField" else "")
            for i, f in enumerate(cols)
            if i
        )
        sql = f"UPDATE {table} AS t SET {sets} FROM {source} WHERE t.{_column(pk_field)} = u.c0"
        with _pg_cursor() as cursor:
            for lo in range(0, len(values), PG_CHUNK):
                cursor.execute(
                    sql, [list(c) for c in zip(*values[lo : lo + PG_CHUNK], strict=True)]
                )
        return
    sets = ", ".join(f"{_column(f)} = ?" for f in cols[1:])
    raw = connection.connection.cursor()
    try:
        raw.executemany(
            f"UPDATE {table} SET {sets} WHERE {_column(pk_field)} = ?",
            [[*row[1:], row[0]] for row in values],
        )
    finally:
        raw.close()
