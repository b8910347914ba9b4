"""Bring a database made by an earlier build up to the entities: add the columns it lacks.

Pony creates missing tables but never changes an existing one, and its check refuses a table
that lacks a column (`no such column: Image.finished_at`): without this, an upgrade that adds
an attribute would stop the service at start-up until ./var was deleted. New attributes are
Optional (nullable), so a column can be added to a table that already has rows; a missing
Required column cannot be, and is named in the error instead. Runs under the schema lock.
"""

from __future__ import annotations

from typing import Any

from pony.orm import Database, db_session
from pony.orm.dbapiprovider import DatabaseError


class SchemaError(RuntimeError):
    """The database cannot be brought up to the entities without losing or inventing data."""


def checked_or_upgraded(db: Database) -> list[str]:
    """Pony's own table check (one query a table); only when it fails, a look at each column
    and the missing ones added, then the check again. The `table.column` names added."""
    try:
        db.check_tables()
        return []
    except DatabaseError:
        added = add_missing_columns(db)
    db.check_tables()
    return added


def add_missing_columns(db: Database) -> list[str]:
    """Add every Optional attribute's missing column; the `table.column` names added."""
    added = []
    for entity in db.entities.values():
        table = db.provider.quote_name(entity._table_)
        for attr in entity._new_attrs_:
            if attr.is_collection or not attr.columns or _has_column(db, table, attr):
                continue
            if attr.is_required:
                raise SchemaError(_cannot_add(entity._table_, attr))
            _add_column(db, table, attr)
            added.append(f"{entity._table_}.{attr.columns[0]}")
    return added


def _has_column(db: Database, table: str, attr: Any) -> bool:
    column = db.provider.quote_name(attr.columns[0])
    try:
        with db_session:  # qualified: SQLite reads an unknown "name" alone as a string
            db.execute(f"SELECT {table}.{column} FROM {table} WHERE 1 = 0")
    except DatabaseError:  # its own session: PostgreSQL aborts a transaction on any error
        return False
    return True


def _add_column(db: Database, table: str, attr: Any) -> None:
    column = db.provider.quote_name(attr.columns[0])
    sql_type = attr.converters[0].get_sql_type()
    with db_session(ddl=True):
        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")


def _cannot_add(table: str, attr: Any) -> str:
    return (
        f"the database's table {table} has no column {attr.columns[0]}, which this version "
        "requires and cannot fill in for existing rows; it was made by an incompatible build"
    )
