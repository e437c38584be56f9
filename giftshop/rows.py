"""Statements of the hot paths, composed once per process instead of once per call.

Django's ORM composes every statement anew on each call: about 0.3 ms of CPU for an insert and 0.4
for a `get()` here, where the round trip itself costs the web process under 0.1. The accept (a
group gift's recipients accepting by the thousand at once) makes a handful of them per request, so
its reads and writes go through here:

- `get_row(model, where, ...)`: one row by equality on some columns, `FOR UPDATE` if asked, read
  into a model instance as a query would (the backend's and the fields' converters);
- `write_rows(update=..., inserts=...)`: the update of a row the transaction holds locked and the
  rows inserted with it. On PostgreSQL they are one statement (data-modifying `WITH`), one round trip
  for all; on the other databases (the demo's SQLite) they are saved by the ORM one by one.

What the ORM does around a save and these do not: model signals are not sent (the models written
here have no receivers: `tests/test_rows.py` checks) and `pre_save` only fills the fields' own
automatic values (`auto_now_add`). A statement is composed from the model's fields, so a migration
that changes them changes it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import AutoField, BigAutoField, Field, Model, SmallAutoField
from django.db.transaction import TransactionManagementError

_AUTO = (AutoField, BigAutoField, SmallAutoField)


def _written(model: type[Model]) -> list[Field]:
    return [f for f in model._meta.local_concrete_fields if not isinstance(f, _AUTO)]


@cache
def row_shape(model: type[Model], alias: str) -> tuple[str, str, list[str], list[tuple]]:
    """What a composed statement that reads whole rows of `model` needs: the quoted table, its
    columns (quoted, comma-separated), the attributes they fill, and for each column what converts
    its value as a query would (the backend's converters take the column expression)."""
    conn = connections[alias]
    table = model._meta.db_table
    fields = list(model._meta.concrete_fields)
    columns = ", ".join(conn.ops.quote_name(f.column) for f in fields)
    converters = []
    for field in fields:
        column = field.get_col(table)
        converters.append((column, (*conn.ops.get_db_converters(column), *field.get_db_converters(conn))))
    return conn.ops.quote_name(table), columns, [f.attname for f in fields], converters


@cache
def _select(model: type[Model], where: tuple[str, ...], for_update: bool, alias: str) -> tuple[str, list, list]:
    """SELECT of every column by equality on `where` (attribute names); the attributes it reads and
    each column's converters."""
    conn = connections[alias]
    table, columns, attnames, converters = row_shape(model, alias)
    conditions = " AND ".join(f"{conn.ops.quote_name(model._meta.get_field(name).column)} = %s" for name in where)
    lock = " FOR UPDATE" if for_update and conn.features.has_select_for_update else ""
    sql = f"SELECT {columns} FROM {table} WHERE {conditions}{lock}"  # noqa: S608 (names from the model)
    return sql, attnames, converters


def statement_cursor(alias: str = DEFAULT_DB_ALIAS):
    """The cursor this module's statements run on. On PostgreSQL it binds parameters on the server,
    so that psycopg prepares a statement a connection runs again and again (after
    `prepare_threshold` runs) and PostgreSQL plans it once instead of on every run: an accept spent
    about half a millisecond of the database's CPU planning its three statements. Django's own
    cursors bind on the client (the `server_side_binding` option would change every query of the
    site). `DATABASE_PREPARE_THRESHOLD` (empty: never prepare, for a pooler in transaction mode that
    cannot keep prepared statements). Still a Django cursor: execute wrappers see its statements.

    Statements run here compare constants as literals, not parameters, where a partial index depends
    on them: a plan made once for every parameter value could not use the index."""
    conn = connections[alias]
    threshold = settings.DATABASE_PREPARE_THRESHOLD
    # While Django logs queries (DEBUG, a test's capture) Django's own cursor runs them: its log reads
    # the statement back from a client-binding cursor and would show None for this one.
    if conn.vendor != "postgresql" or threshold is None or conn.queries_logged:
        return conn.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    conn.close_if_health_check_failed()
    conn.ensure_connection()
    # Django turns psycopg's preparing off for the whole connection (for poolers in transaction
    # mode); its own cursors bind on the client, which never prepares, so this reaches ours only.
    if conn.connection.prepare_threshold != threshold:
        conn.connection.prepare_threshold = threshold
    conn.validate_thread_sharing()
    with conn.wrap_database_errors:
        return conn.make_cursor(ServerBindingCursor(conn.connection))


def sql_literal(value: str) -> str:
    """A constant of the code (a status) as an SQL literal, for `statement_cursor`'s statements."""
    if not value.replace("_", "").isalnum():
        raise ValueError(f"not a plain constant: {value!r}")
    return f"'{value}'"


def row_to_instance(model: type[Model], attnames: list[str], converters: list[tuple], row, alias: str) -> Model:
    """A model instance from a row of a composed statement, as a query would have made it."""
    conn = connections[alias]
    values = []
    for value, (column, convert_all) in zip(row, converters, strict=True):
        for convert in convert_all:
            value = convert(value, column, conn)
        values.append(value)
    return model.from_db(alias, attnames, values)


def get_row(model: type[Model], where: dict, *, for_update: bool = False, using: str = DEFAULT_DB_ALIAS):
    """The one row whose columns equal `where` (attribute names: `gift_id`, not `gift`), or None.

    `where` must name a unique key: a second match is not looked for."""
    names = tuple(where)
    if any(value is None for value in where.values()):
        raise TypeError("get_row() compares with =: a None would match nothing.")
    conn = connections[using]
    if for_update and not conn.in_atomic_block:
        raise TransactionManagementError("get_row(for_update=True) must run inside a transaction.")
    sql, attnames, converters = _select(model, names, for_update, using)
    params = [model._meta.get_field(name).get_db_prep_value(where[name], conn) for name in names]
    with statement_cursor(using) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else row_to_instance(model, attnames, converters, row, using)


@cache
def _insert(model: type[Model], alias: str) -> tuple[str, list[Field]]:
    conn = connections[alias]
    fields = _written(model)
    for field in fields:
        if hasattr(field, "get_placeholder"):
            raise TypeError(f"{model.__name__}.{field.name} needs its own placeholder: save it with the ORM.")
    columns = ", ".join(conn.ops.quote_name(f.column) for f in fields)
    pk = conn.ops.quote_name(model._meta.pk.column)
    table = conn.ops.quote_name(model._meta.db_table)
    values = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {table} ({columns}) VALUES ({values}) RETURNING {pk}", fields  # noqa: S608


@cache
def _update(model: type[Model], names: tuple[str, ...], alias: str) -> tuple[str, list[Field]]:
    conn = connections[alias]
    meta = model._meta
    fields = [meta.get_field(name) for name in names]
    sets = ", ".join(f"{conn.ops.quote_name(f.column)} = %s" for f in fields)
    table, pk = conn.ops.quote_name(meta.db_table), conn.ops.quote_name(meta.pk.column)
    return f"UPDATE {table} SET {sets} WHERE {pk} = %s RETURNING 1", fields  # noqa: S608


def write_rows(
    *,
    update: tuple[Model, Iterable[str]] | None = None,
    inserts: Sequence[Model] = (),
    then: tuple[str, list] | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> tuple | None:
    """Save `update`'s row (an instance and the field names to write) and insert each of `inserts`
    (unsaved instances; each gets its primary key), together. Call it inside the transaction that
    locked the updated row: a row that is not there raises DatabaseError, as the ORM's save does.

    `then`: a query (SQL, parameters) of one row read in the same round trip; its row is returned
    (None if it found none). It sees the database as it was before these writes, on every database
    (PostgreSQL's sub-statements of one `WITH` share one snapshot)."""
    conn = connections[using]
    if not conn.in_atomic_block:  # on PostgreSQL the inserts would stay when the update finds no row
        raise TransactionManagementError("write_rows() must run inside the transaction that locked the row.")
    if conn.vendor != "postgresql":
        seen = None
        if then is not None:
            with conn.cursor() as cursor:
                cursor.execute(*then)
                seen = cursor.fetchone()
        if update is not None:
            obj, names = update
            obj.save(using=using, update_fields=list(names))
        for obj in inserts:
            obj.save(using=using, force_insert=True)
        return seen
    for obj in (*([update[0]] if update else []), *inserts):
        obj._prepare_related_fields_for_save(operation_name="save")  # a related row saved since: its id
    parts, params, results = [], [], []
    if update is not None:
        obj, names = update
        sql, fields = _update(type(obj), tuple(dict.fromkeys(names)), using)
        parts.append(f"u AS ({sql})")
        params += [f.get_db_prep_save(f.pre_save(obj, False), conn) for f in fields] + [obj.pk]
        results.append("(SELECT count(*) FROM u)")
    for n, obj in enumerate(inserts):
        sql, fields = _insert(type(obj), using)
        parts.append(f"i{n} AS ({sql})")
        params += [f.get_db_prep_save(f.pre_save(obj, True), conn) for f in fields]
        results.append(f"(SELECT * FROM i{n})")  # noqa: S608 (names made here)
    if not parts:
        raise TypeError("write_rows() needs an update or an insert.")
    select = f"SELECT {', '.join(results)}"
    if then is not None:  # one row whatever `then` finds: NULLs when it finds none
        select = f"SELECT * FROM ({select}) AS w LEFT JOIN ({then[0]}) AS t ON true"  # noqa: S608
        params += list(then[1])
    sql = f"WITH {', '.join(parts)} {select}"
    with statement_cursor(using) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if update is not None:
        if not row[0]:
            raise DatabaseError(f"{type(update[0]).__name__} {update[0].pk} is not there to update.")
        row = row[1:]
    for obj, pk in zip(inserts, row, strict=False):
        obj.pk = pk
        obj._state.adding, obj._state.db = False, using
    if then is None:
        return None
    seen = tuple(row[len(inserts) :])
    return None if all(value is None for value in seen) else seen
