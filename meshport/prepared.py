"""Prepared reads and bulk writes for the ingestion hot path.

Ingestion writes the same few tables thousands of times a second. Django's ``bulk_create``
and ``bulk_update`` compile SQL per row and adapt every value through the whole field
machinery; here each statement is built once per (table, columns) and each column gets one
converter chosen from its field type, then rows go through ``executemany``. The values
written are exactly those ``Model.save()`` would write (the converters call the backend's
own adapters), so the ORM reads them back unchanged.

Reads are the same: compiling a queryset costs ~0.1–0.2 ms, more than running the indexed
lookup it asks for, and a single posted event needs a dozen of them. :func:`select_where`
builds its ``SELECT`` from the columns' names and turns each value back through the
converters the ORM itself would apply, so it returns what the ORM would.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import tzinfo
from functools import cache, partial
from typing import Any, TypeVar

import orjson
from django.conf import settings
from django.db import connection, models

Convert = Callable[[Any], Any]
M = TypeVar("M", bound=models.Model)


class JsonText(str):
    """JSON already serialized (the canonical text of an event): written as is."""


# orjson writes what ``json.dumps`` would (compact, UTF-8 text), ~5x faster. Dates and
# dataclasses pass through to ``json.dumps`` so that they fail as they always did; what
# orjson refuses (an int past 64 bits, a key that is not a string) goes there too.
_ORJSON_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _dump_json(value: Any) -> Any:
    if value is None or isinstance(value, JsonText):
        return value
    try:
        return orjson.dumps(value, option=_ORJSON_STRICT).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _sqlite_datetime(zone: tzinfo) -> Convert:
    """What Django's SQLite adapter writes for a datetime (naive in the connection's zone,
    as ``str``), less its checks for expressions and settings on every value."""

    def adapt(value: Any) -> Any:
        if value is None:
            return None
        if value.utcoffset() is not None:
            value = value.astimezone(zone).replace(tzinfo=None)
        return str(value)

    return adapt


def _identity(value: Any) -> Any:
    return value


def concrete_field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field) and field.concrete, f"{name} is not a column"
    return field


def _converter(field: models.Field[Any, Any], vendor: str, *, clip: bool = True) -> Convert:
    if isinstance(field, models.JSONField):
        return _dump_json
    if isinstance(field, models.DateTimeField):
        zone = connection.timezone
        if vendor == "sqlite" and settings.USE_TZ and zone is not None:
            return _sqlite_datetime(zone)
        adapt = connection.ops.adapt_datetimefield_value
        return lambda v: None if v is None else adapt(v)
    if isinstance(field, models.UUIDField) and not connection.features.has_native_uuid_field:
        return lambda v: None if v is None else v.hex
    if isinstance(field, models.DateField | models.DecimalField | models.TimeField):
        return lambda v: field.get_db_prep_save(v, connection)
    if clip and isinstance(field, models.CharField) and field.max_length:
        return _clip(field.max_length)
    return _identity


def _clip(limit: int) -> Convert:
    """Text cut to its column, as the catalog cuts descriptor text: a facet's value past
    the column (a 5,000-character job type) is description, and PostgreSQL refuses the
    whole row for it. The event's own names and namespaces are held to their columns when
    it is validated (a 400); one named only inside a facet (a symlink, a column-lineage
    input) is cut like any facet text."""

    def clip(value: Any) -> Any:
        return value[:limit] if isinstance(value, str) and len(value) > limit else value

    return clip


@cache
def _columns(
    model: type[models.Model], names: tuple[str, ...], vendor: str, clip: bool = True
) -> tuple[list[str], list[str], list[Convert]]:
    """(attribute names, quoted column names, converters) of ``names`` on ``model``.
    Without ``clip``, for values looked up rather than written: text is not cut to its
    column (a longer value matches no row)."""
    fields = [concrete_field(model, n) for n in names]
    quote = connection.ops.quote_name
    return (
        [f.attname for f in fields],
        [quote(str(f.column)) for f in fields],
        [_converter(f, vendor, clip=clip) for f in fields],
    )


def _insert_head(model: type[models.Model], columns: list[str]) -> str:
    return f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({', '.join(columns)})"


def _on_conflict(model: type[models.Model], unique: Sequence[str], update: Sequence[str]) -> str:
    """``ON CONFLICT`` on ``unique``: leave the row alone, or overwrite ``update``."""
    target = ", ".join(_columns(model, tuple(unique), connection.vendor)[1])
    if not update:
        return f" ON CONFLICT ({target}) DO NOTHING"
    sets = ", ".join(
        f"{c} = excluded.{c}" for c in _columns(model, tuple(update), connection.vendor)[1]
    )
    return f" ON CONFLICT ({target}) DO UPDATE SET {sets}"


def insert_rows(
    model: type[models.Model],
    rows: Sequence[Mapping[str, Any]],
    *,
    unique: Sequence[str] = (),
    update: Sequence[str] = (),
) -> None:
    """Insert ``rows`` (dicts keyed by field name; every row has the same keys).

    With ``unique``, a conflicting row is left alone (``ON CONFLICT DO NOTHING``) or, with
    ``update``, has those columns overwritten; SQLite and PostgreSQL both speak this SQL.
    """
    if not rows:
        return
    names = tuple(rows[0])
    _, columns, converters = _columns(model, names, connection.vendor)
    sql = f"{_insert_head(model, columns)} VALUES ({', '.join(['%s'] * len(columns))})"
    if unique:
        sql += _on_conflict(model, unique, update)
    params = [[conv(row[n]) for n, conv in zip(names, converters, strict=True)] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def update_rows(
    model: type[models.Model], rows: Iterable[models.Model], names: Sequence[str]
) -> None:
    """Write the fields ``names`` of each model instance with one prepared UPDATE."""
    attnames, columns, converters = _columns(model, tuple(names), connection.vendor)
    quote = connection.ops.quote_name
    pk = model._meta.pk
    assert pk is not None
    sql = (
        f"UPDATE {quote(model._meta.db_table)} SET {', '.join(c + ' = %s' for c in columns)} "
        f"WHERE {quote(str(pk.column))} = %s"
    )
    params = [
        [conv(getattr(row, a)) for a, conv in zip(attnames, converters, strict=True)] + [row.pk]
        for row in rows
    ]
    if params:
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)


def insert_returning(
    model: type[models.Model],
    rows: Sequence[Mapping[str, Any]],
    *,
    unique: Sequence[str],
    returning: Sequence[str],
    chunk: int = 64,
) -> list[tuple[Any, ...]]:
    """Insert rows that do not conflict on ``unique`` and return ``returning`` of those
    inserted — one statement per ``chunk`` rows, instead of a read before and after."""
    if not rows:
        return []
    names = tuple(rows[0])
    _, columns, converters = _columns(model, names, connection.vendor)
    back = ", ".join(_columns(model, tuple(returning), connection.vendor)[1])
    marks = f"({', '.join(['%s'] * len(columns))})"
    head = _insert_head(model, columns)
    conflict = _on_conflict(model, unique, ())
    found: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            params = [
                conv(row[n]) for row in part for n, conv in zip(names, converters, strict=True)
            ]
            cursor.execute(
                f"{head} VALUES {', '.join([marks] * len(part))}{conflict} RETURNING {back}",
                params,
            )
            found.extend(cursor.fetchall())
    return found


@cache
def _defaults(model: type[models.Model]) -> dict[str, Any]:
    return {f.attname: f.get_default() for f in model._meta.concrete_fields if not f.primary_key}


def new_row(model: type[models.Model], **values: Any) -> dict[str, Any]:
    """A full row of ``model`` for :func:`insert_rows`: field defaults, then ``values``.

    Defaults are computed once per model, so callers pass every time-dependent column
    (``created_at``, ``updated_at``...) themselves.
    """
    return {**_defaults(model), **values}


# --- reads ----------------------------------------------------------------------------------

# A backend's or a field's converter of a value read: (value, expression, connection).
Read = Callable[[Any, Any, Any], Any]


@cache
def _select_head(
    model: type[models.Model], names: tuple[str, ...] | None, vendor: str
) -> tuple[str, list[str], list[tuple[int, list[Read], Any]]]:
    """``SELECT … FROM table``, the attribute names read, and the converters of each
    column that has any (as the ORM's compiler finds them), for ``names`` or every
    concrete field."""
    table = model._meta.db_table
    if names is None:
        names = tuple(f.attname for f in model._meta.concrete_fields)
    attnames, columns, _ = _columns(model, names, vendor)
    readers = []
    for index, field in enumerate(concrete_field(model, n) for n in names):
        col = field.get_col(table)
        own = col.get_db_converters(connection)
        if isinstance(field, models.JSONField) and field.decoder is None:
            own = [partial(_read_json, field)]
        found = connection.ops.get_db_converters(col) + own
        if found:
            readers.append((index, found, col))
    head = f"SELECT {', '.join(columns)} FROM {connection.ops.quote_name(table)}"
    return head, attnames, readers


def _read_json(field: models.JSONField[Any], value: Any, expression: Any, conn: Any) -> Any:
    """``JSONField.from_db_value`` through orjson, which leaves it what it cannot read (an
    int past 64 bits)."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            pass
    return field.from_db_value(value, expression, conn)


def select_where(
    model: type[M],
    where: Mapping[str, Collection[Any]],
    *,
    columns: Sequence[str] | None = None,
    for_update: bool = False,
) -> list[Any]:
    """Rows of ``model`` whose every column in ``where`` is one of the values given.

    Without ``columns``, model instances as the ORM loads them (every concrete field);
    with ``columns``, tuples of those fields' values. ``for_update`` locks the rows where
    the database can (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's transaction already
    holds the write lock). No order; an empty collection matches nothing.
    """
    if any(not values for values in where.values()):
        return []
    vendor = connection.vendor
    head, attnames, readers = _select_head(
        model, tuple(columns) if columns is not None else None, vendor
    )
    _, quoted, converters = _columns(model, tuple(where), vendor, clip=False)
    clauses: list[str] = []
    params: list[Any] = []
    for column, convert, values in zip(quoted, converters, where.values(), strict=True):
        clauses.append(f"{column} IN ({', '.join(['%s'] * len(values))})")
        params.extend(convert(v) for v in values)
    sql = f"{head} WHERE {' AND '.join(clauses)}"
    if for_update and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if readers:
        converted = []
        for row in rows:
            values = list(row)
            for index, found, col in readers:
                value = values[index]
                for read in found:
                    value = read(value, col, connection)
                values[index] = value
            converted.append(values)
        rows = converted
    if columns is not None:
        return [tuple(row) for row in rows]
    alias = connection.alias
    return [model.from_db(alias, attnames, row) for row in rows]
